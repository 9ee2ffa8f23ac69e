"""Reading a topic as it stands now, up to its current end (demo summaries, tests, audits,
``bilat read``).

Every read here is outside any consumer group (nothing is committed), so it can run beside
live workers, and ``read_committed``: the ledger is written in Kafka transactions, and records
of an aborted transaction never show.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from streams.core.errors import StackError
from streams.runtime.config import Settings
from streams.runtime.security import kafka_config

__all__ = ["Message", "read_messages", "read_topic", "topic_names"]


@dataclass(frozen=True, slots=True)
class Message:
    """One message as read: where it sits, its broker timestamp, its key and value bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    """The message's timestamp (producer create time, or broker append time); None if unset."""
    key: bytes | None
    value: bytes | None
    """None for a message without a value (a tombstone)."""


def read_topic(
    settings: Settings, topic: str, timeout: float = 30.0
) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield ``(key, value)`` of every message now in ``topic``, partition by partition.

    Reads up to the high watermarks taken at the start. A missing topic yields nothing; a
    tombstone's value is ``b""``.
    """
    for message in read_messages(settings, topic, timeout=timeout):
        yield message.key, message.value if message.value is not None else b""


def read_messages(
    settings: Settings,
    topic: str,
    *,
    partitions: Collection[int] | None = None,
    first: int | None = None,
    last: int | None = None,
    timeout: float = 30.0,
    missing_ok: bool = True,
) -> Iterator[Message]:
    """Yield messages now in ``topic``, in offset order within each partition.

    ``partitions`` limits the read to those partitions (all when None). Per partition, the
    read covers every message up to the high watermark taken at the start, or only its first
    ``first`` messages, or only its last ``last`` ones (transaction markers take offsets
    too, so the offset range is widened until it holds ``last`` messages or reaches the
    partition's start). Give at most one of ``first`` and ``last``.

    A missing topic yields nothing, or with ``missing_ok=False`` raises :class:`StackError`
    naming the topics of the broker that end in the same name (a forgotten topic prefix is
    the usual cause). A partition that does not exist raises :class:`StackError`. An
    unreachable broker, or a read that stalls ``timeout`` seconds, raises too.
    """
    if first is not None and last is not None:
        raise ValueError("give first or last, not both")
    if first == 0 or last == 0:
        return
    bootstrap = settings.kafka
    consumer = Consumer(
        kafka_config(
            settings,
            {
                "group.id": f"bilat-readback-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",  # never aborted transactional records
                "auto.offset.reset": "earliest",
            },
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if (
            metadata is not None
            and metadata.error is not None
            and metadata.error.code()
            in (
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.CLUSTER_AUTHORIZATION_FAILED,
            )
        ):
            # Not "missing": a missing ACL must never read as an empty topic.
            raise StackError(
                f"{topic} on {bootstrap}: this client ({settings.security.describe}) may not "
                "read it: the operator grants the role's ACLs (docs/security.md)"
            )
        if metadata is None or metadata.error is not None:
            if missing_ok:
                return
            raise StackError(_missing(consumer, bootstrap, topic, timeout))
        wanted = sorted(metadata.partitions if partitions is None else partitions)
        unknown = [p for p in wanted if p not in metadata.partitions]
        if unknown:
            raise StackError(
                f"{topic} on {bootstrap}: got partition {unknown[0]}, want one of "
                f"0..{len(metadata.partitions) - 1}"
            )
        for partition in wanted:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout)
            if high <= low:
                continue
            if last is None:
                yield from _read_range(consumer, topic, partition, low, high, first, timeout)
                continue
            span = max(last, 1)
            while True:
                start = max(low, high - span)
                got = list(_read_range(consumer, topic, partition, start, high, None, timeout))
                if len(got) >= last or start == low:
                    yield from got[-last:]
                    break
                span *= 2
    except KafkaException as exc:
        raise StackError(f"reading {topic} on {bootstrap}: {exc}") from exc
    finally:
        consumer.close()


def topic_names(settings: Settings, timeout: float = 10.0) -> list[str]:
    """Names of every topic on the broker, sorted (internal ``__`` topics left out)."""
    bootstrap = settings.kafka
    consumer = Consumer(kafka_config(settings, {"group.id": "bilat-topic-names"}))
    try:
        return sorted(t for t in consumer.list_topics(timeout=timeout).topics if t[:2] != "__")
    except KafkaException as exc:
        raise StackError(f"Kafka at {bootstrap} did not answer ({exc})") from exc
    finally:
        consumer.close()


def _read_range(
    consumer: Consumer,
    topic: str,
    partition: int,
    start: int,
    end: int,
    count: int | None,
    timeout: float,
) -> Iterator[Message]:
    """Messages of one partition from offset ``start`` until ``end`` (exclusive), or until
    ``count`` were read, or until the end of what can be read (``read_committed`` stops at
    the last stable offset)."""
    consumer.assign([TopicPartition(topic, partition, start)])
    read = 0
    try:
        while True:
            msg = consumer.poll(timeout)
            if msg is None:
                raise StackError(f"reading {topic} partition {partition} stalled for {timeout} s")
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return
                raise StackError(f"reading {topic} partition {partition}: {error}")
            if msg.partition() != partition:
                continue  # a late message of a partition read before: not this one's
            offset = msg.offset() or 0
            if offset >= end:
                return
            kind, stamp = msg.timestamp()
            yield Message(
                topic=topic,
                partition=partition,
                offset=offset,
                timestamp_ms=None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
                key=msg.key(),
                value=msg.value(),
            )
            read += 1
            if offset + 1 >= end or (count is not None and read >= count):
                return
    finally:
        consumer.unassign()


def _missing(consumer: Consumer, bootstrap: str, topic: str, timeout: float) -> str:
    """Why ``topic`` cannot be read, naming the topics there with the same logical name."""
    name = topic.rsplit(".", 2)[-2:]
    suffix = ".".join(name)
    alike = sorted(  # the closest to what was asked first: the longest common start
        (t for t in consumer.list_topics(timeout=timeout).topics if t.endswith(suffix)),
        key=lambda t: (-_common_start(t, topic), t),
    )
    hint = (
        f"; topics there ending in {suffix}: {', '.join(alike[:10])}"
        + (f" and {len(alike) - 10} more" if len(alike) > 10 else "")
        + " (set --topic-prefix or BILAT_TOPIC_PREFIX)"
        if alike
        else "; nothing was written to it yet, or another --kafka or --party is meant"
    )
    return f"{topic}: no such topic on {bootstrap}{hint}"


def _common_start(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share."""
    same = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        same += 1
    return same
