"""Whole-topic reads for the batch commands (``bilat rerate``, ``bilat charges``).

These read a topic from the beginning to its current end, outside any consumer group, and
hand plain values to the pure core.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from streams.codec import make_codec
from streams.config import Settings
from streams.errors import CodecError, InvalidRecord
from streams.inventory import Inventory, OrderEvent
from streams.ops.produce import publish
from streams.ops.readback import read_topic
from streams.records import UsageRecord
from streams.rerate import RatingRun
from streams.validation import parse_usage

__all__ = ["load_inventory", "publish_run", "valid_usage"]


def valid_usage(settings: Settings, now: datetime) -> Iterator[UsageRecord]:
    """Every valid usage record on ``usage.cdr``, in offset order per partition.

    Records that fail decoding or validation were dead-lettered by the worker; they are
    skipped here, not reported twice.
    """
    codec = make_codec(settings.schema_registry)
    for _key, value in read_topic(settings.kafka, settings.topic("usage.cdr")):
        try:
            yield parse_usage(codec.decode("usage_record", value), now=now)
        except (CodecError, InvalidRecord):
            continue


def load_inventory(settings: Settings) -> Inventory:
    """The product inventory folded from everything on ``sonata.orders``."""
    codec = make_codec(settings.schema_registry)
    inventory = Inventory()
    for _key, value in read_topic(settings.kafka, settings.topic("sonata.orders")):
        inventory.apply(OrderEvent.from_avro(codec.decode("sonata_order_event", value)))
    return inventory


def publish_run(settings: Settings, run: RatingRun) -> int:
    """Append a re-rating run's records to ``usage.rated``, keyed by usage key."""
    return publish(
        settings,
        "usage.rated",
        "rated_usage",
        [r.to_avro() for r in run.records],
        lambda r: f"{r['source']}/{r['record_id']}",
    )
