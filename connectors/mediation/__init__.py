"""Mediation connectors: network usage files in, ``UsageRecord`` fields out.

One module per file format behind the :class:`~connectors.mediation.base.MediationFormat`
interface; :mod:`connectors.mediation.ingest` is the only module that talks to Kafka.
"""
