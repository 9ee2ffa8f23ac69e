"""Publishing ``SonataOrderEvent`` records to ``sonata.orders``, awaiting every acknowledgement.

The producer is idempotent with ``acks=all``: a record the broker acknowledged is on every
in-sync replica, and the producer's own retries never duplicate it. :meth:`publish` returns
only when *every* record of the call is acknowledged, so the listener can answer the Seller
after it, and raises :class:`~connectors.sonata.PublishError` otherwise (the Seller then
retries the notification, which republishes identical records under the same ``event_id``).

Keys come from :func:`~connectors.sonata.orders.record_key` (product id, else order/item).
The ``murmur2_random`` partitioner is the Java client's (and aiokafka's) default, so a key
lands on the same partition whichever client produces it.

The confluent-kafka producer is driven from the event loop: ``produce`` queues, and
``poll(0)`` (non-blocking) serves delivery callbacks between short sleeps while a publish
waits. No thread is involved, and concurrent publishes share the one producer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from connectors.sonata import PublishError
from connectors.sonata.orders import SUBJECT, record_key
from streams.contract.codec import Codec
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config

__all__ = ["TOPIC", "KafkaOrderPublisher"]

TOPIC = "sonata.orders"
"""The logical topic (prefixed by ``Settings.topic``)."""

log = logging.getLogger("bilat.sonata.publisher")


class KafkaOrderPublisher:
    """Produces records to ``<prefix>sonata.orders`` of ``settings.kafka``.

    ``delivery_timeout`` bounds how long one record may wait for its acknowledgement
    (librdkafka's ``message.timeout.ms``): past it, the record fails and :meth:`publish`
    raises. ``config`` adds or overrides producer settings.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        codec: Codec | None = None,
        delivery_timeout: float = 20.0,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = settings.topic(TOPIC)
        self.codec = codec or make_codec(settings.schema_registry)
        self.delivery_timeout = delivery_timeout
        self._producer: Producer | None = Producer(
            kafka_config(
                settings,
                {
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "compression.type": "lz4",
                    "partitioner": "murmur2_random",
                    "message.timeout.ms": int(delivery_timeout * 1000),
                    **(config or {}),
                },
            )
        )

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Encode and produce ``records`` in order; return once Kafka acknowledged them all.

        Raises :class:`PublishError` naming the first broker error when any record is not
        acknowledged, and lets :class:`~streams.core.errors.EncodeError` (a record that does not
        fit the schema: a bug, not the broker) through.
        """
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise PublishError(f"{self.topic}: the publisher is closed")
        values = [self.codec.encode(SUBJECT, record) for record in records]  # all or none
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for record, value in zip(records, values, strict=True):
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            try:
                _produce(producer, self.topic, record, value, future)
            except (KafkaException, BufferError) as exc:
                for pending in futures:
                    pending.cancel()  # their late callbacks find them done and do nothing
                raise PublishError(
                    f"cannot queue record {record.get('event_id')!r} for {self.topic}: {exc}"
                ) from exc
        done = asyncio.gather(*futures)
        # librdkafka calls back every record within message.timeout.ms; the margin only
        # guards against a callback that never comes.
        give_up = loop.time() + self.delivery_timeout + 5
        pause = 0.001
        while not done.done():
            producer.poll(0)
            if loop.time() > give_up:
                done.cancel()
                raise PublishError(
                    f"{self.topic}: no acknowledgement within {self.delivery_timeout + 5:.0f} s "
                    f"for {sum(not f.done() for f in futures)} of {len(futures)} records"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
        try:
            done.result()
        except KafkaDeliveryError as exc:
            raise PublishError(
                f"{self.topic}: Kafka did not acknowledge {exc.event_id!r}: {exc.error}; "
                "the notification is not acknowledged and will be retried by the Seller"
            ) from exc

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is queued and release the producer; returns how many messages were
        still unacknowledged. Idempotent; :meth:`publish` raises after it."""
        producer, self._producer = self._producer, None
        if producer is None:
            return 0
        remaining: int = producer.flush(timeout)
        if remaining:
            log.warning("%s: %d messages unacknowledged at close", self.topic, remaining)
        return remaining  # the last reference to the producer goes here, and its connections


def _produce(
    producer: Producer,
    topic: str,
    record: Mapping[str, Any],
    value: bytes,
    future: asyncio.Future[None],
) -> None:
    """Queue one record; its delivery resolves ``future`` (from ``poll``, on the loop)."""
    event_id = str(record.get("event_id"))

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if future.done():  # the publish gave up already
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaDeliveryError(event_id, error))

    key = record_key(record)
    try:
        producer.produce(topic, value=value, key=key, on_delivery=delivered)
    except BufferError:  # local queue full: serve callbacks to drain it, then try once more
        producer.poll(0.5)
        producer.produce(topic, value=value, key=key, on_delivery=delivered)


class KafkaDeliveryError(Exception):
    """One record's delivery failed (internal: :meth:`publish` turns it into PublishError)."""

    def __init__(self, event_id: str, error: KafkaError) -> None:
        self.event_id = event_id
        self.error = error
        super().__init__(f"{event_id}: {error}")
