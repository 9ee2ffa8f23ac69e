"""``bilat``, the command line: thin commands that parse options, call the package, print.

Part of the I/O shell. :mod:`~streams.cli.main` is the entry point (console script ``bilat``,
``python -m streams.cli``); every other module is one command group.

* :mod:`~streams.cli.main`: the root group, and the registration of every command.
* :mod:`~streams.cli.common`: what every command shares: party options, settings, times,
  friendly errors.
* :mod:`~streams.cli.usage`: ``bilat ingest``, ``worker`` and ``rerate``: usage in, rated
  usage out.
* :mod:`~streams.cli.charges`: ``bilat charges``: the inventory's charges of one billing period.
* :mod:`~streams.cli.agreement`: ``bilat agreement check|example``.
* :mod:`~streams.cli.keys`: ``bilat keys new|show|trusted`` and ``bilat agreement
  sign|verify-signatures``.
* :mod:`~streams.cli.ledger`: ``bilat ledger init|rotate-key|check``.
* :mod:`~streams.cli.batcher`: ``bilat batcher``: this party's batcher, in the foreground.
* :mod:`~streams.cli.verify`: ``bilat verify``: one record's proof, live or from an audit bundle.
* :mod:`~streams.cli.read`: ``bilat read TOPIC``: a topic decoded, as a table or JSON.
* :mod:`~streams.cli.stack`: ``bilat up``, ``down`` and ``status``: the local stack.
* :mod:`~streams.cli.demo`: ``bilat demo``: the two-party pipeline on generated traffic.
"""
