"""The rating worker: a Faust app whose one agent drives :class:`~streams.pipeline.UsagePipeline`.

Delivery contract (nothing lost, nothing counted twice):

* the agent takes messages in batches and judges each rated record against the dedup claims
  in Redis (:mod:`streams.dedup`): fresh records are published to ``usage.rated``, mediation
  duplicates become ``duplicate`` dead letters, replays of an already-claimed batch are skipped;
* it waits until the broker has acknowledged *every* message of the batch, then claims the
  fresh keys, and only then lets Faust acknowledge (and later commit) the batch's offsets;
* a crash anywhere re-delivers the unacknowledged batch: claimed records are recognised as
  replays, unclaimed ones are published again with identical content (see
  :mod:`streams.dedup` for the one window in which a key can appear twice on the topic).

Agent concurrency stays 1 (STACK.md: faust can commit past in-flight messages otherwise);
workers scale by partitions. Usage that names a product is rated against the product
inventory, which a feed thread keeps current from ``sonata.orders`` (loaded before rating).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import faust
import redis.asyncio as aioredis

from streams.agreement_loader import load_book
from streams.clock import Clock, SystemClock
from streams.codec import make_codec
from streams.config import Settings
from streams.dedup import claim_key, judge, origin_id
from streams.errors import StackError
from streams.ops.inventory_feed import InventoryFeed, LockedInventory
from streams.pipeline import Origin, Outcome, UsagePipeline
from streams.rating import ProductLookup, Rater
from streams.records import RatedUsage

__all__ = ["DEDUP_TTL", "build_pipeline", "create_app", "run_worker"]

log = logging.getLogger("bilat.worker")

BATCH_SIZE = 500
BATCH_WITHIN = 0.2  # seconds to wait for a batch to fill before processing what arrived
DEDUP_TTL = timedelta(days=400)
"""How long a usage key stays claimed: longer than any billing period plus dispute window."""


def build_pipeline(
    settings: Settings, clock: Clock | None = None, inventory: ProductLookup | None = None
) -> UsagePipeline:
    """The pipeline a worker runs: the agreement file, codec and clock of ``settings``."""
    rater = Rater(load_book(settings.agreement), inventory)
    return UsagePipeline(make_codec(settings.schema_registry), rater, clock or SystemClock())


def _origin(origin: Origin) -> str:
    return origin_id(origin.topic, origin.partition, origin.offset)


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
    claims = aioredis.Redis.from_url(settings.redis, decode_responses=True)
    ttl = int(DEDUP_TTL.total_seconds())
    counts: Counter[str] = Counter()

    async def process(events: list[Any]) -> None:
        outcomes: list[tuple[bytes, Origin, Outcome]] = []
        for event in events:
            msg = event.message
            origin = Origin(msg.topic, msg.partition, msg.offset, msg.key)
            outcomes.append((msg.value, origin, pipeline.process(msg.value, origin)))
        rated = {i: o for i, (_, _, o) in enumerate(outcomes) if isinstance(o, RatedUsage)}
        position = {i: p for p, i in enumerate(rated)}
        keys = [claim_key(settings.app_id, o.agreement_id, o.key) for o in rated.values()]
        origins = [_origin(outcomes[i][1]) for i in rated]
        found = await claims.mget(keys) if keys else []
        verdicts = judge(keys, origins, found)
        pending, fresh = [], []
        for i, (value, origin, outcome) in enumerate(outcomes):
            verdict = verdicts[position[i]] if i in position else None
            if verdict == "replay":
                counts["replayed"] += 1
                continue
            if verdict == "duplicate":
                first = found[position[i]] or "earlier in the same batch"
                outcome = pipeline.dead_letter(
                    value, origin, "dedup", "duplicate", [f"usage key already rated from {first}"]
                )
            elif verdict == "fresh":
                fresh.append(position[i])
            name, key, encoded = pipeline.encode(outcome)
            pending.append(await sinks[name].send(key=key, value=encoded))
            counts[name] += 1
        # Durable before claimed, claimed before acknowledged: a failed delivery raises here,
        # the agent crashes, the worker stops and the batch is consumed again after restart.
        await asyncio.gather(*pending)
        if fresh:
            async with claims.pipeline(transaction=False) as batch:
                for p in fresh:
                    batch.set(keys[p], origins[p], nx=True, ex=ttl)
                await batch.execute()

    @app.agent(source, name="rate-usage", concurrency=1)
    async def rate_usage(stream: Any) -> None:  # faust.Stream: its stub lacks take_events
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            await process(list(events))

    @app.timer(10.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        if counts:
            log.warning(
                "rated %d, dead-lettered %d, replays skipped %d",
                counts["usage.rated"],
                counts["usage.dlq"],
                counts["replayed"],
            )

    return app


def _check_redis(url: str) -> None:
    """Fail fast, with what to do, when the dedup store is not there."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise StackError(
            f"Redis at {url} did not answer ({exc}): start it with `bilat up` or set BILAT_REDIS"
        ) from exc


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT (blocks)."""
    from streams.ops.topics import ensure_topics

    ensure_topics(settings)
    _check_redis(settings.redis)
    codec = make_codec(settings.schema_registry)
    inventory = LockedInventory()
    feed = InventoryFeed(settings, codec, inventory)
    feed.start()
    try:
        app = create_app(settings, build_pipeline(settings, inventory=inventory))
        faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
    finally:
        feed.stop()
