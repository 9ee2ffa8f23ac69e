"""``python -m streams.cli``: the ``bilat`` command, as the console script runs it."""

from streams.cli.main import main

if __name__ == "__main__":
    main()
