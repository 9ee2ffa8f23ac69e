"""The rating worker: a Faust app whose one agent drives :class:`~streams.pipeline.UsagePipeline`.

Delivery contract (at-least-once, nothing lost): the agent takes messages in batches, publishes
each outcome (``usage.rated`` or ``usage.dlq``) and waits until the broker has acknowledged
*all* of them before the batch's offsets are acknowledged to Faust, which commits them later.
A crash anywhere re-delivers the unacknowledged batch; the pipeline is deterministic, so the
replayed outcomes carry the same keys and amounts and are recognised downstream by their
usage key. Agent concurrency stays 1 (STACK.md: faust can commit past in-flight messages
otherwise); workers scale by partitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import faust

from streams.agreement_loader import load_book
from streams.clock import Clock, SystemClock
from streams.codec import make_codec
from streams.config import Settings
from streams.pipeline import Origin, UsagePipeline
from streams.rating import Rater

__all__ = ["build_pipeline", "create_app", "run_worker"]

log = logging.getLogger("bilat.worker")

BATCH_SIZE = 500
BATCH_WITHIN = 0.2  # seconds to wait for a batch to fill before processing what arrived


def build_pipeline(settings: Settings, clock: Clock | None = None) -> UsagePipeline:
    """The pipeline a worker runs: the agreement file, codec and clock of ``settings``."""
    book = load_book(settings.agreement)
    return UsagePipeline(
        make_codec(settings.schema_registry), Rater(book), clock or SystemClock()
    )


def create_app(settings: Settings, pipeline: UsagePipeline | None = None) -> faust.App:
    """A Faust app rating ``<prefix>usage.cdr`` into ``usage.rated`` and ``usage.dlq``."""
    pipeline = pipeline or build_pipeline(settings)
    datadir = settings.run_dir / "faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka}",
        store="memory://",
        web_enabled=False,
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        # A crashed worker's partitions move to the survivors after this long (default 60 s).
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(settings.topic("usage.cdr"), **raw)
    sinks = {name: app.topic(settings.topic(name), **raw) for name in ("usage.rated", "usage.dlq")}
    counts: Counter[str] = Counter()

    @app.agent(source, name="rate-usage", concurrency=1)
    async def rate_usage(stream: Any) -> None:  # faust.Stream: its stub lacks take_events
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            pending = []
            for event in events:
                msg = event.message
                origin = Origin(msg.topic, msg.partition, msg.offset, msg.key)
                name, key, value = pipeline.encode(pipeline.process(msg.value, origin))
                pending.append(await sinks[name].send(key=key, value=value))
                counts[name] += 1
            # Durable before acknowledged: a failed delivery raises here, the agent crashes,
            # the worker stops and the batch is consumed again after restart.
            await asyncio.gather(*pending)

    @app.timer(10.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        if counts:
            log.warning("rated %d, dead-lettered %d", counts["usage.rated"], counts["usage.dlq"])

    return app


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT (blocks)."""
    from streams.ops.topics import ensure_topics

    ensure_topics(settings)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
