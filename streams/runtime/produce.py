"""Publishing Avro records to a topic and waiting until Kafka has them all (tools, demo, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streams.core.errors import StackError
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config

__all__ = ["publish"]


def publish(
    settings: Settings,
    logical_topic: str,
    subject: str,
    records: Iterable[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
) -> int:
    """Encode ``records`` as ``subject`` and produce them to ``logical_topic`` (prefixed).

    Idempotent producer, ``acks=all``; returns the count once every record is acknowledged.
    Raises :class:`StackError` naming the first refusal otherwise.
    """
    codec = make_codec(settings.schema_registry)
    producer = Producer(
        kafka_config(
            settings,
            {
                "enable.idempotence": True,
            },
        )
    )
    errors: list[str] = []

    def delivered(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            errors.append(str(error))

    count = 0
    for record in records:
        producer.produce(
            settings.topic(logical_topic),
            key=key(record).encode(),
            value=codec.encode(subject, record),
            on_delivery=delivered,
        )
        count += 1
    left = producer.flush(30)
    if errors or left:
        raise StackError(f"{len(errors) + left} of {count} records not acknowledged: {errors[:1]}")
    return count
