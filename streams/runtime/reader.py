"""Typed records of a topic: read it now, decode each value with its topic's subject, build the
record (``bilat read``'s sibling for code: the demo, the ledger readers, the batch commands).

:func:`read_records` is typed per topic, so ``read_records(settings, "usage.rated")`` is an
``Iterator[RatedUsage]``. The topic table (:data:`~streams.contract.topics.SUBJECTS`) gives the
subject; :data:`DECODERS` the record class. Topics whose values no record class models yet
yield the decoded Avro fields: ``usage.cdr`` (unvalidated input: the worker validates it),
``ledger.digests`` and ``ledger.batches`` (read by the pure checks as mappings).

The read is :func:`~streams.runtime.readback.read_topic`: every message now on the topic, outside
any consumer group, ``read_committed``, a missing topic being empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, overload

from streams.contract.codec import Codec
from streams.contract.records import DeadLetter, RatedUsage
from streams.contract.topics import SUBJECTS, TopicName
from streams.core.errors import CodecError
from streams.ledger.entries import LedgerEntry
from streams.rating.inventory import OrderEvent
from streams.runtime.config import Settings
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec

__all__ = ["DECODERS", "AvroFields", "read_records"]

AvroFields = dict[str, Any]
"""A value decoded by the codec and not (yet) a record."""


def _fields(data: AvroFields) -> AvroFields:
    return data


DECODERS: Mapping[TopicName, Callable[[AvroFields], object]] = {
    "usage.cdr": _fields,
    "usage.rated": RatedUsage.from_avro,
    "usage.dlq": DeadLetter.from_avro,
    "sonata.orders": OrderEvent.from_avro,
    "ledger.anchors": LedgerEntry.from_avro,
    "ledger.digests": _fields,
    "ledger.batches": _fields,
    "recon.requests": _fields,
    "recon.answers": _fields,
    "recon.alerts": _fields,
    "recon.cosign": _fields,
    "ledger.requests": _fields,
    "settle.documents": _fields,
}
"""What builds the record of each logical topic from its decoded value; the overloads of
:func:`read_records` give the same types."""


# One overload per topic: what the table above builds.
@overload
def read_records(
    settings: Settings,
    logical: Literal["usage.rated"],
    *,
    topic: str | None = ...,
    key: str | None = ...,
    codec: Codec | None = ...,
    skip_undecodable: bool = ...,
) -> Iterator[RatedUsage]: ...
@overload
def read_records(
    settings: Settings,
    logical: Literal["usage.dlq"],
    *,
    topic: str | None = ...,
    key: str | None = ...,
    codec: Codec | None = ...,
    skip_undecodable: bool = ...,
) -> Iterator[DeadLetter]: ...
@overload
def read_records(
    settings: Settings,
    logical: Literal["sonata.orders"],
    *,
    topic: str | None = ...,
    key: str | None = ...,
    codec: Codec | None = ...,
    skip_undecodable: bool = ...,
) -> Iterator[OrderEvent]: ...
@overload
def read_records(
    settings: Settings,
    logical: Literal["ledger.anchors"],
    *,
    topic: str | None = ...,
    key: str | None = ...,
    codec: Codec | None = ...,
    skip_undecodable: bool = ...,
) -> Iterator[LedgerEntry]: ...
@overload
def read_records(
    settings: Settings,
    logical: Literal[
        "usage.cdr",
        "ledger.digests",
        "ledger.batches",
        "recon.requests",
        "recon.answers",
        "recon.alerts",
        "recon.cosign",
        "ledger.requests",
        "settle.documents",
    ],
    *,
    topic: str | None = ...,
    key: str | None = ...,
    codec: Codec | None = ...,
    skip_undecodable: bool = ...,
) -> Iterator[AvroFields]: ...
def read_records(
    settings: Settings,
    logical: TopicName,
    *,
    topic: str | None = None,
    key: str | None = None,
    codec: Codec | None = None,
    skip_undecodable: bool = False,
) -> Iterator[object]:
    """The records now on the ``logical`` topic of ``settings``, in offset order per partition.

    ``topic`` reads another topic of the same kind instead of ``settings.topic(logical)`` (a
    mirrored ``dcc.ledger.anchors``); ``key`` keeps only the messages with that key (before
    decoding, so the others cost nothing); ``codec`` defaults to the one of ``settings``.
    A value that does not decode raises :class:`~streams.core.errors.CodecError`, or is
    skipped with ``skip_undecodable`` (``usage.cdr``, where poison messages are the worker's
    to dead-letter).
    """
    if codec is None:
        codec = make_codec(settings.schema_registry)
    subject, build = SUBJECTS[logical], DECODERS[logical]
    wanted = None if key is None else key.encode()
    for message_key, value in read_topic(settings, topic or settings.topic(logical)):
        if wanted is not None and message_key != wanted:
            continue
        try:
            data = codec.decode(subject, value)
        except CodecError:
            if skip_undecodable:
                continue
            raise
        yield build(data)
