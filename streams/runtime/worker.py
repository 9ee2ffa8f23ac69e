"""The rating worker: a Faust app whose one agent drives
:class:`~streams.rating.pipeline.UsagePipeline`.

Delivery contract (nothing lost, nothing counted twice):

* the agent takes messages in batches and judges each rated record against the dedup claims
  in Redis (:mod:`streams.rating.dedup`): fresh records are published to ``usage.rated``, mediation
  duplicates become ``duplicate`` dead letters, replays of an already-claimed batch are skipped;
* it waits until the broker has acknowledged *every* message of the batch, then claims the
  fresh keys, and only then lets Faust acknowledge (and later commit) the batch's offsets;
* a crash anywhere re-delivers the unacknowledged batch: claimed records are recognised as
  replays, unclaimed ones are published again with identical content (see
  :mod:`streams.rating.dedup` for the one window in which a key can appear twice on the topic);
  dead letters are claimed by origin the same way, so a replay never doubles them.

Every message gets an outcome (:meth:`UsagePipeline.handle` never raises). Anything else that
fails inside the loop (a send, Redis, the broker) stops the process at once with exit code 70
(:data:`~streams.runtime.halt.EXIT_LOOP_FAILED`), *before* the batch is acknowledged: Faust's
``take_events`` would acknowledge a batch whose body raised (its ``finally``), and its
offsets would be committed with the records neither rated nor dead-lettered. So the loop
never lets an exception reach Faust; after a restart the batch is read again.

Agent concurrency stays 1 (faust can commit past in-flight messages otherwise);
workers scale by partitions. Usage that names a product is rated against the product
inventory, which a feed thread keeps current from ``sonata.orders`` (loaded before rating).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import Counter
from datetime import timedelta
from typing import Any, NoReturn

import faust

from streams.agreement.loader import load_book
from streams.contract.records import RatedUsage
from streams.core.clock import Clock, ManualClock, SystemClock
from streams.core.errors import StackError
from streams.core.redact import redact_text, redact_url
from streams.rating.dedup import BatchItem, claim_key, lookups, origin_id, plan_batch
from streams.rating.pipeline import Origin, Output, UsagePipeline
from streams.rating.rater import ProductLookup, Rater
from streams.runtime.config import Settings
from streams.runtime.halt import EXIT_LOOP_FAILED, halt
from streams.runtime.inventory_feed import InventoryFeed, LockedInventory
from streams.runtime.registry import make_codec
from streams.runtime.security import aioredis_client, faust_broker_settings, redis_client

__all__ = ["DEDUP_TTL", "build_pipeline", "create_app", "run_worker"]

log = logging.getLogger("bilat.worker")

BATCH_SIZE = 500
BATCH_WITHIN = 0.2  # seconds to wait for a batch to fill before processing what arrived
DEDUP_TTL = timedelta(days=400)
"""How long a usage key stays claimed: longer than any billing period plus dispute window."""
CAUGHT_UP_POLL = 1.0
"""Seconds between checks of ``--until-caught-up``."""
FAULT_POINTS = ("after-claims",)
"""Crash points for tests (``BILAT_FAULT=worker-<point>``): the process exits abruptly
(``os._exit(137)``, as a SIGKILL would) right after the first batch's claims are written,
before Faust acknowledges the batch, so the batch is replayed on restart."""


def build_pipeline(
    settings: Settings, clock: Clock | None = None, inventory: ProductLookup | None = None
) -> UsagePipeline:
    """The pipeline a worker runs: the agreement file, codec and clock of ``settings``."""
    rater = Rater(load_book(settings.agreement), inventory)
    return UsagePipeline(make_codec(settings.schema_registry), rater, clock or SystemClock())


def _origin(origin: Origin) -> str:
    return origin_id(origin.topic, origin.partition, origin.offset)


def _die(events: list[Any], exc: BaseException) -> NoReturn:
    """Stop the process now, before Faust acknowledges ``events`` (see the module docstring)."""
    where = ", ".join(
        f"{e.message.topic}[{e.message.partition}]@{e.message.offset}" for e in events[:1]
    )
    if isinstance(exc, asyncio.CancelledError):
        halt(
            0,
            log,
            logging.WARNING,
            "stopped in the middle of a batch of %d from %s: it is read again on restart",
            len(events),
            where,
        )
    halt(
        EXIT_LOOP_FAILED,
        log,
        logging.CRITICAL,
        "worker stopped: %s: %s; batch of %d from %s not acknowledged, nothing past it "
        "committed: fix the cause and start the worker again (the batch is read again)",
        type(exc).__name__,
        redact_text(str(exc)),
        len(events),
        where,
    )


def create_app(
    settings: Settings,
    pipeline: UsagePipeline | None = None,
    *,
    until_caught_up: bool = False,
    fault: str | None = None,
) -> faust.App:
    """A Faust app rating ``<prefix>usage.cdr`` into ``usage.rated`` and ``usage.dlq``.

    With ``until_caught_up`` the worker stops (exit 0) once its consumer group has committed
    every message that was on ``usage.cdr`` when it started: a batch job.
    """
    pipeline = pipeline or build_pipeline(settings)
    datadir = settings.run_dir / "faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        **faust_broker_settings(settings),
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
    claims = aioredis_client(settings, decode_responses=True)
    ttl = int(DEDUP_TTL.total_seconds())
    counts: Counter[str] = Counter()
    deployment = settings.app_id

    async def process(events: list[Any]) -> None:
        origins = [
            Origin(e.message.topic, e.message.partition, e.message.offset, e.message.key)
            for e in events
        ]
        outputs = [
            pipeline.handle(e.message.value, o) for e, o in zip(events, origins, strict=True)
        ]
        items = [
            BatchItem(
                _origin(origin),
                claim_key(deployment, out.outcome.agreement_id, out.outcome.key)
                if isinstance(out.outcome, RatedUsage)
                else None,
            )
            for origin, out in zip(origins, outputs, strict=True)
        ]
        keys = lookups(deployment, items)
        found = dict(zip(keys, await claims.mget(keys), strict=True)) if keys else {}
        plan = plan_batch(deployment, items, found)
        pending = []
        for event, origin, output, decision in zip(
            events, origins, outputs, plan.decisions, strict=True
        ):
            if decision.verdict == "replay":
                counts["replayed"] += 1
                continue
            if decision.verdict == "duplicate":
                output = pipeline.encode(
                    pipeline.dead_letter(
                        event.message.value,
                        origin,
                        "dedup",
                        "duplicate",
                        [f"usage key already rated from {decision.first}"],
                    )
                )
            pending.append(await _send(output))
            counts[output.topic] += 1
        # Durable before claimed, claimed before acknowledged: a failed delivery raises here and
        # the process stops (_die) before the batch is acknowledged; it is read again.
        await asyncio.gather(*pending)
        if plan.claims:
            async with claims.pipeline(transaction=False) as batch:
                for key, value in plan.claims:
                    batch.set(key, value, nx=True, ex=ttl)
                await batch.execute()
        if fault == "after-claims":
            halt(137, log, logging.ERROR, "BILAT_FAULT=worker-%s: exiting abruptly", fault)

    async def _send(output: Output) -> Any:
        return await sinks[output.topic].send(key=output.key, value=output.value)

    @app.agent(source, name="rate-usage", concurrency=1)
    async def rate_usage(stream: Any) -> None:  # faust.Stream: its stub lacks take_events
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            batch = list(events)
            try:
                await process(batch)
            except BaseException as exc:  # whatever it is, stop before the batch is acknowledged
                _die(batch, exc)

    @app.timer(10.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        if counts:
            log.warning(
                "rated %d, dead-lettered %d, replays skipped %d",
                counts["usage.rated"],
                counts["usage.dlq"],
                counts["replayed"],
            )

    if until_caught_up:
        from streams.runtime.progress import committed_up_to, end_offsets

        topic = settings.topic("usage.cdr")
        targets = end_offsets(settings, topic)

        @app.timer(CAUGHT_UP_POLL)  # type: ignore[untyped-decorator]
        async def stop_when_caught_up() -> None:
            done = await asyncio.to_thread(
                committed_up_to, settings, settings.app_id, topic, targets
            )
            if done:
                log.warning(
                    "caught up: every message that was on %s at start is rated or "
                    "dead-lettered and committed (%d); stopping",
                    topic,
                    sum(targets.values()),
                )
                os.kill(os.getpid(), signal.SIGTERM)  # Faust's own clean shutdown

    return app


def _check_redis(settings: Settings) -> None:
    """Fail fast, with what to do, when the dedup store is not there."""
    import redis

    url = settings.redis
    try:
        redis_client(settings, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise StackError(
            f"Redis at {redact_url(url)} did not answer ({redact_text(str(exc))}): start it "
            "with `bilat up` or set BILAT_REDIS"
        ) from exc


def _fault_from_env() -> str | None:
    value = os.environ.get("BILAT_FAULT", "")
    if not value.startswith("worker-"):
        return None
    point = value.removeprefix("worker-")
    if point not in FAULT_POINTS:
        raise StackError(f"BILAT_FAULT: got {value!r}, want worker-<one of {list(FAULT_POINTS)}>")
    return point


ENGINES = ("kafka", "faust")
"""The worker's loops: ``kafka`` (default), :class:`~streams.runtime.rating_loop.RatingLoop` on
librdkafka; ``faust``, the Faust agent of :func:`create_app` (kept for comparison: ``bilat
bench`` measures both). Both keep the same delivery contract and the same consumer group."""

_LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING,
           "info": logging.INFO, "debug": logging.DEBUG}  # fmt: skip


def run_worker(
    settings: Settings,
    loglevel: str = "warn",
    *,
    until_caught_up: bool = False,
    engine: str = "kafka",
    member: str | None = None,
) -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT, or until caught up (blocks).

    ``member`` gives the worker a static group membership id (:func:`rating_loop.instance_id`;
    default ``BILAT_WORKER_ID``). Exits with :data:`EXIT_LOOP_FAILED` when the loop cannot go on
    (see the module docstring).
    """
    from streams.runtime.rating_loop import RatingLoop, instance_id
    from streams.runtime.topics import ensure_topics

    if engine not in ENGINES:
        raise StackError(f"engine: got {engine!r}, want one of {', '.join(ENGINES)}")
    ensure_topics(settings)
    _check_redis(settings)
    codec = make_codec(settings.schema_registry)
    inventory = LockedInventory()
    feed = InventoryFeed(settings, codec, inventory)
    feed.start()
    try:
        batch_clock = ManualClock(SystemClock().now())  # RatingLoop sets it once per batch
        pipeline = build_pipeline(
            settings, clock=batch_clock if engine == "kafka" else None, inventory=inventory
        )
        if engine == "kafka":
            logging.basicConfig(
                level=_LEVELS.get(loglevel, logging.WARNING),
                format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
            )
            loop = RatingLoop(
                settings,
                pipeline,
                batch_clock=batch_clock,
                member=instance_id(settings, member),
                fault=_fault_from_env(),
            )
            until = _caught_up_check(settings) if until_caught_up else None
            loop.run(until=until)
            if until_caught_up:
                log.warning("caught up: every message on usage.cdr at start is rated or "
                            "dead-lettered and committed; stopping")  # fmt: skip
            return
        app = create_app(
            settings, pipeline, until_caught_up=until_caught_up, fault=_fault_from_env()
        )
        runner = faust.Worker(app, loglevel=loglevel, quiet=True)
        # Faust's start-up spinner writes cursor escape codes even into a log file.
        runner.spinner = None
        runner.execute_from_commandline()
    finally:
        feed.stop()


def _caught_up_check(settings: Settings) -> Any:
    """A check that the group has committed every message on ``usage.cdr`` now."""
    from streams.runtime.progress import committed_up_to, end_offsets

    topic = settings.topic("usage.cdr")
    targets = end_offsets(settings, topic)
    return lambda: committed_up_to(settings, settings.app_id, topic, targets)
