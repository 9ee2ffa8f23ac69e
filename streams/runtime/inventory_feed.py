"""Keeps a worker's product inventory current from the ``sonata.orders`` topic.

Every worker needs the *whole* inventory (usage is partitioned by usage key, orders by
product), so this is not a consumer-group member: a thread reads every partition from the
beginning, without committing anything, and keeps following. The worker starts rating only
after the feed has caught up with the topic's end as it was at start-up, so a restart never
rates usage against a partial inventory. Re-reading is harmless: the inventory ignores events
it has already applied.

An event that cannot be applied is logged and skipped; a feed that stops for any other reason
halts the whole worker (:func:`~streams.runtime.halt.halt`), since rating on against an inventory
that no longer follows the orders would dead-letter billable usage.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streams.contract.codec import Codec
from streams.core.errors import StackError
from streams.core.redact import redact_text
from streams.rating.inventory import Inventory, OrderEvent
from streams.runtime.config import Settings
from streams.runtime.halt import EXIT_LOOP_FAILED, halt
from streams.runtime.security import kafka_config

__all__ = ["InventoryFeed", "LockedInventory"]

log = logging.getLogger("bilat.inventory")


class LockedInventory:
    """An :class:`Inventory` shared between the feed thread and the rating agent."""

    def __init__(self, inventory: Inventory | None = None) -> None:
        self.inventory = inventory or Inventory()
        self._lock = threading.Lock()

    def apply(self, event: OrderEvent) -> bool:
        with self._lock:
            return self.inventory.apply(event)

    def check(self, product_id: str, at: datetime) -> None:
        with self._lock:
            self.inventory.check(product_id, at)


class InventoryFeed:
    """A daemon thread applying every ``sonata.orders`` event to a :class:`LockedInventory`."""

    def __init__(self, settings: Settings, codec: Codec, inventory: LockedInventory) -> None:
        self.topic = settings.topic("sonata.orders")
        self.codec = codec
        self.inventory = inventory
        self.rejected = 0
        self._consumer = Consumer(
            kafka_config(
                settings,
                {
                    "group.id": f"{settings.app_id}-inventory",  # never committed: no group state
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                },
            )
        )
        self._ends: dict[int, int] = {}
        self._position: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inventory-feed", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        """Start following; return once caught up with the topic's current end."""
        meta = self._consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        if meta is None or meta.error is not None:
            raise StackError(f"topic {self.topic} is missing: run `bilat worker` (it creates it)")
        for partition in meta.partitions:
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), 10
            )
            self._ends[partition] = high
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in meta.partitions])
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.caught_up():
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise StackError(
                    f"inventory feed from {self.topic} did not catch up in {timeout} s"
                )
            time.sleep(0.05)
        log.info("inventory loaded from %s: %d events", self.topic, len(self.inventory.inventory))

    def caught_up(self) -> bool:
        return all(self._position.get(p, 0) >= end for p, end in self._ends.items())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self._consumer.poll(0.5)
                if msg is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.error("inventory feed: %s", error)
                    continue
                try:
                    self.inventory.apply(
                        OrderEvent.from_avro(
                            self.codec.decode("sonata_order_event", msg.value() or b"")
                        )
                    )
                except Exception as exc:  # one bad event is logged and skipped, never fatal
                    # The listener validates what it publishes; this is someone else's record.
                    self.rejected += 1
                    log.error(
                        "inventory feed: skipping %s/%s: %s", msg.partition(), msg.offset(), exc
                    )
                finally:
                    self._position[msg.partition() or 0] = (msg.offset() or 0) + 1
        except BaseException as exc:  # the feed is gone: the worker must not rate on without it
            halt(
                EXIT_LOOP_FAILED,
                log,
                logging.CRITICAL,
                "inventory feed from %s stopped: %s: %s; stopping the worker",
                self.topic,
                type(exc).__name__,
                redact_text(str(exc)),
            )
        finally:
            self._consumer.close()
