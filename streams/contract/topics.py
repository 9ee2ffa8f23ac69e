"""The topic table: the Avro subject every logical topic carries (the README's topic table).

A logical name is what :meth:`~streams.runtime.config.Settings.topic` prefixes
(``usage.rated`` → ``<prefix>usage.rated``), what ``bilat read`` takes, and what the typed
reader (:mod:`streams.runtime.reader`) reads records of. Pure data: which record class decodes
each subject is the reader's business, since the ledger's and the inventory's classes live in
packages that import this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

__all__ = ["SUBJECTS", "TopicName", "sibling_topic"]

TopicName = Literal[
    "usage.cdr",
    "usage.rated",
    "usage.dlq",
    "sonata.orders",
    "ledger.anchors",
    "ledger.digests",
    "ledger.batches",
    "recon.requests",
    "recon.answers",
    "recon.alerts",
    "recon.cosign",
    "ledger.requests",
    "settle.documents",
]
"""Every logical topic of one party's deployment (``streams.runtime.config.TOPICS``)."""

SUBJECTS: Mapping[TopicName, str] = MappingProxyType(
    {
        "usage.cdr": "usage_record",
        "usage.rated": "rated_usage",
        "usage.dlq": "dead_letter",
        "sonata.orders": "sonata_order_event",
        "ledger.anchors": "ledger_entry",
        "ledger.digests": "batch_digest",
        "ledger.batches": "batch_leaves",
        "recon.requests": "recon_request",
        "recon.answers": "recon_answer",
        "recon.alerts": "recon_alert",
        "recon.cosign": "cosign_request",
        "ledger.requests": "ledger_request",
        "settle.documents": "settle_document",
    }
)
"""The Avro subject of the values on each logical topic."""


def sibling_topic(full_name: str, of: TopicName, want: TopicName) -> str | None:
    """The full name of ``want`` beside ``full_name``, which is the full name of ``of`` with
    whatever prefix it carries (a deployment's topic prefix, MirrorMaker 2's ``<alias>.``):
    ``sibling_topic("dcc.ledger.anchors", "ledger.anchors", "ledger.digests")`` is
    ``"dcc.ledger.digests"``. ``None`` if ``full_name`` does not end in ``of``."""
    if not full_name.endswith(of):
        return None
    return full_name[: len(full_name) - len(of)] + want
