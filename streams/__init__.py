"""Bilat: a bilateral settlement pipeline for telecom wholesale partners.

The package is split into a pure core that imports no Kafka, Faust, Redis or HTTP client and a
thin I/O shell that wires I/O to it.

* Core: :mod:`streams.core` (canonical encoding, keys, errors, clock, units),
  :mod:`streams.contract` (records, Avro schemas and codecs), :mod:`streams.agreement`,
  :mod:`streams.rating`, :mod:`streams.merkle`, :mod:`streams.ledger`, :mod:`streams.settle` and
  :mod:`streams.reconcile`.
* Shell: :mod:`streams.runtime` (the Faust rating worker, the batcher, topic reads and writes),
  :mod:`streams.cli` (the ``bilat`` command), :mod:`streams.devstack` (the local Kafka and Redis
  of ``bilat up``) and the ``connectors`` package (mediation files, MEF Sonata).

``lint-imports`` holds the core to that (``[tool.importlinter]`` in pyproject.toml). The files
Bilat reads at run time are package data, found through :mod:`streams.core.resources`. The
version has one source, ``version`` in pyproject.toml: ``importlib.metadata.version("bilat")``
(what ``bilat --version`` prints).
"""
