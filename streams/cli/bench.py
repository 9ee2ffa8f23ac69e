"""``bilat bench``: the pipeline's throughput through real Kafka, measured against the pipe.

The measuring code is ``bench/pipeline.py`` (also ``python -m bench.pipeline``), beside the
other benchmarks of the checkout; this command runs it with the options given, which it parses
itself (``bilat bench --help``). :mod:`streams.cli.main` registers it.
"""

from __future__ import annotations

import sys

import click

from streams.cli.common import friendly
from streams.core import resources
from streams.core.errors import BilatError

__all__ = ["bench_command"]


@click.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@friendly
def bench_command(args: tuple[str, ...]) -> None:
    """Benchmark the pipeline on the local stack: raw Kafka, Faust, the worker, ingest, batcher.

    \b
    Examples:
      bilat bench                  the full run (about 5 minutes here), table + bench/results/
      bilat bench --quick          small sizes, a smoke test
      bilat bench --help           every option
    """
    root = resources.checkout()
    if root is None:
        raise BilatError(
            "bilat bench runs from a checkout of Bilat: the benchmarks live in its bench/ "
            "folder, which an installed package does not carry"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench.pipeline import main as run_bench

    sys.exit(run_bench(list(args)))
