"""Reading a topic back from the beginning to its current end (demo summaries, tests, audits)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.errors import StackError

__all__ = ["read_topic"]


def read_topic(
    bootstrap: str, topic: str, timeout: float = 30.0
) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield ``(key, value)`` of every message now in ``topic``, partition by partition.

    Reads up to the high watermarks taken at the start, without a consumer group (nothing is
    committed), so it can run beside live workers; only committed transactional records are
    returned (the ledger is written in transactions). A missing topic yields nothing.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bilat-readback-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",  # never aborted transactional records
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return
        ends: dict[int, int] = {}
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout)
            if high > low:
                ends[partition] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        remaining = set(ends)
        while remaining:
            msg = consumer.poll(timeout)
            if msg is None:
                raise StackError(f"reading {topic} on {bootstrap} stalled for {timeout} s")
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(msg.partition() or 0)
                    continue
                raise StackError(f"reading {topic} on {bootstrap}: {error}")
            part, offset = msg.partition() or 0, msg.offset() or 0
            if part not in remaining or offset >= ends[part]:
                remaining.discard(part)
                continue
            if offset + 1 >= ends[part]:
                remaining.discard(part)
            value = msg.value()
            yield msg.key(), value if value is not None else b""
    except KafkaException as exc:
        raise StackError(f"reading {topic} on {bootstrap}: {exc}") from exc
    finally:
        consumer.close()
