"""Bilat: a bilateral settlement pipeline for telecom wholesale partners.

The package is split into a pure core (records, validation, agreement, rating, codec) that
imports no Kafka, Faust, Redis or HTTP client, and a thin I/O shell (``streams.runtime.worker``,
``streams.ops``, ``streams.cli.main`` and the ``connectors`` package) that wires I/O to it.
"""

__version__ = "0.1.0"
