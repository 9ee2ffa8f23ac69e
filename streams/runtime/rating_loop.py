"""The rating worker's hot path on librdkafka (confluent-kafka): the same delivery contract as
the Faust agent (:mod:`streams.runtime.worker`), at the speed of the pipe it sits on.

Why not Faust here: measured by ``bilat bench`` on this machine, a Faust agent that does nothing
but forward each message (``take_events`` batches, ``Topic.send`` per message, waiting for the
acknowledgements) moves a small fraction of what a plain confluent-kafka consume → produce loop
moves on the same broker: aiokafka decodes fetch responses and builds every record in pure
Python, and Faust adds a future and a callback chain per sent message. The rating itself is
not the bottleneck. So the worker's loop talks to Kafka through librdkafka and keeps Faust's
delivery semantics explicitly.

Delivery contract, per batch of at most :data:`BATCH_SIZE` messages read from ``usage.cdr``:

1. every message is handled (:meth:`UsagePipeline.handle` never raises): a rated record or a
   dead letter;
2. the batch's claims in Redis are read (``MGET``) and planned (:func:`plan_batch`): fresh
   records are produced, mediation duplicates become ``dedup:duplicate`` dead letters, replays
   of a batch already claimed are skipped;
3. every output is produced, then the loop waits until the broker acknowledged *all* of them
   (``flush``); one failed delivery stops the process (exit 70) before anything is committed;
4. only then are the keys claimed in Redis (``SET NX EX``, one pipeline);
5. only then are the batch's offsets committed (synchronously).

A crash anywhere replays at most the uncommitted batch: claimed keys are recognised as replays,
unclaimed records are produced again with the same content. Rebalances happen only inside
``consume`` (between batches, never in the middle of one), so a revoked partition never has
work in flight. Static membership (``group.instance.id``, :func:`instance_id`) lets a
restarted worker take back its partitions at once instead of waiting out its session.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import FrameType
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streams.contract.records import DeadLetter, RatedUsage
from streams.core.clock import ManualClock, SystemClock
from streams.core.redact import redact_text
from streams.rating.dedup import BatchItem, claim_key, lookups, origin_id, plan_batch
from streams.rating.pipeline import Origin, Output, UsagePipeline
from streams.runtime.config import Settings
from streams.runtime.halt import EXIT_LOOP_FAILED, halt
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.security import kafka_config, redis_client

__all__ = ["BATCH_SIZE", "RatingLoop", "instance_id"]

log = logging.getLogger("bilat.worker")

BATCH_SIZE = 2000
"""Messages per batch: per-batch costs (one MGET, one flush, one claim pipeline, one commit)
spread over many records; a crash replays at most the two batches in hand."""
POLL_TIMEOUT = 0.05
"""Seconds ``consume`` waits for a batch to fill before the loop works on what arrived."""
FLUSH_TIMEOUT = 60.0
"""Seconds to wait for a batch's acknowledgements before giving up (exit 70)."""
REPORT_EVERY = 10.0
CLAIM_SCRIPT = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'NX', 'EX', ARGV[1])
end
return #KEYS
"""
"""Claims a batch's keys in one command (``SET key value NX EX ttl`` for each): the same
effect as a pipeline of SETs, without packing and parsing one command per key. A single
Redis (not a cluster: the keys of a batch would span slots)."""


def instance_id(settings: Settings, given: str | None = None) -> str | None:
    """The static group membership id of this worker: ``BILAT_WORKER_ID`` or ``given`` (e.g.
    ``1``, ``2`` for two workers of one party), prefixed by the app id; None (dynamic
    membership) when neither is set."""
    name = given or os.environ.get("BILAT_WORKER_ID")
    return f"{settings.app_id}-worker-{name}" if name else None


@dataclass
class _Delivery:
    """Acknowledgements of one batch's produced messages."""

    failed: list[str] = field(default_factory=list)

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        if error is not None and len(self.failed) < 5:
            self.failed.append(f"{message.topic()}: {error}")


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Handled:
    """A batch read and handled: each message with its origin, its output, and per partition
    the offset to commit once it is settled."""

    read: list[tuple[Message, Origin]]
    outputs: list[Output]
    ends: dict[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A batch produced, not yet settled: the claims to write and the offsets to commit once
    every message is acknowledged."""

    claims: list[tuple[str, str]]
    ends: dict[tuple[str, int], int]
    delivery: _Delivery


class RatingLoop:
    """One worker's consume → rate → produce → claim → commit loop (see the module docstring).

    Constructing one does no I/O; :meth:`run` connects and loops until stopped.
    """

    def __init__(
        self,
        settings: Settings,
        pipeline: UsagePipeline,
        *,
        batch_clock: ManualClock | None = None,
        member: str | None = None,
        fault: str | None = None,
        say: Callable[[str], object] | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.batch_clock = batch_clock
        """The clock the pipeline reads, set once per batch (``rated_at``, the validation's
        "not in the future"): reading the wall clock per record cost 6% of the loop."""
        self.wall = SystemClock()
        self.member = member
        self.fault = fault
        self.say = say or log.warning
        self.counts: Counter[str] = Counter()
        """Running totals: ``usage.rated``, ``usage.dlq``, ``replayed``, ``dead:<stage>``."""
        self.metrics = WorkerMetrics(settings.topic("usage.cdr"))
        self.deployment = settings.app_id
        self.stopping = False
        self.topics = {name: settings.topic(name) for name in ("usage.rated", "usage.dlq")}
        self.claims = redis_client(settings, decode_responses=True)
        self._claim = self.claims.register_script(CLAIM_SCRIPT)
        self.ttl = 0
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        self._pending: _Pending | None = None
        self._in_flight = ""

    def open(self) -> None:
        """Connect: the producer (idempotent, acks=all) and the consumer group (read
        committed, manual commits, static membership when :attr:`member` is set)."""
        from streams.runtime.worker import DEDUP_TTL

        settings = self.settings
        self.ttl = int(DEDUP_TTL.total_seconds())
        self.producer = Producer(
            kafka_config(
                settings,
                {
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "batch.num.messages": 10_000,
                    "compression.type": "lz4",
                    "client.id": f"{settings.app_id}-worker@{socket.gethostname()}",
                },
            )
        )
        config: dict[str, Any] = kafka_config(
            settings,
            {
                "group.id": settings.app_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 2_000,
                "fetch.min.bytes": 1,
                "queued.min.messages": 20_000,
                **self.metrics.consumer_config(),  # lag, from librdkafka's statistics
            },
        )
        if self.member:
            config["group.instance.id"] = self.member
        self.consumer = Consumer(config)
        self.consumer.subscribe([settings.topic("usage.cdr")], on_revoke=self._revoked)

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Called inside ``consume``: the batch in flight (produced, not yet settled) is
        settled first, so a revoked partition has nothing uncommitted that was handled here."""
        self._guard(partial(self._settle_pending, True), "settling the batch before a rebalance")
        log.info("rebalance: partitions %s revoked", sorted(tp.partition for tp in partitions))

    def stop(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        """Finish the batches in hand, then return from :meth:`run` (SIGTERM, SIGINT)."""
        self.stopping = True

    def run(self, until: Callable[[], bool] | None = None) -> Counter[str]:
        """Loop until stopped (a signal, or ``until()`` true, checked when a read found nothing
        new, at most twice a second);
        returns the counts. A failure inside the loop halts the process with exit 70 before
        anything it had not settled is committed.

        One batch is overlapped with the next: batch N+1 is read and handled (the CPU work)
        while batch N's messages are on their way to the broker; then N is settled
        (acknowledged, claimed, committed), and only then is N+1 planned against the claims
        and produced. So a crash replays at most two batches, and never one whose claims it
        could have missed.
        """
        if self.consumer is None:
            self.open()
        consumer = self.consumer
        assert consumer is not None
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        last_report = last_check = time.monotonic()
        try:
            while not self.stopping:
                messages = consumer.consume(BATCH_SIZE, timeout=POLL_TIMEOUT)
                handled = self._guard(partial(self.handle, messages), "handling a batch")
                self._guard(self._settle_pending, "settling a batch")
                if handled is not None:
                    self._guard(partial(self.send, handled), "sending a batch")
                    if len(messages) < BATCH_SIZE:  # not saturated: settle now, not next round
                        self._guard(self._settle_pending, "settling a batch")
                self.metrics.observe(len(handled.read) if handled else 0, self.counts)
                now = time.monotonic()
                if now - last_report >= REPORT_EVERY and self.counts:
                    self._report()
                    last_report = now
                # Only when idle: the check asks the broker (tens of ms), which would stall a
                # loop that still has messages to rate.
                if until is not None and not messages and now - last_check >= 0.5:
                    last_check = now
                    self._guard(partial(self._settle_pending, True), "settling a batch")
                    if until():
                        break
            self._guard(partial(self._settle_pending, True), "settling the last batch")
        finally:
            if self.counts:
                self._report()
            consumer.close()
        return self.counts

    def _report(self) -> None:
        self.say(
            f"rated {self.counts['usage.rated']}, dead-lettered {self.counts['usage.dlq']}, "
            f"replays skipped {self.counts['replayed']}"
        )

    def _guard(self, step: Callable[[], _T], what: str) -> _T:
        """Run one step of the loop; anything it raises stops the process (exit 70) before
        the batches in hand are committed."""
        try:
            return step()
        except BaseException as exc:  # whatever it is: stop before anything is committed
            where = self._in_flight or "no batch"
            halt(
                EXIT_LOOP_FAILED,
                log,
                logging.CRITICAL,
                "worker stopped: %s: %s (while %s); %s not committed, nothing past it either: "
                "fix the cause and start the worker again (it is read again)",
                type(exc).__name__,
                redact_text(str(exc)),
                what,
                where,
            )

    def process(self, messages: Sequence[Message]) -> None:
        """One batch end to end, not overlapped: handle, send, settle (tests, tools)."""
        handled = self.handle(messages)
        if handled is not None:
            self.send(handled)
        self._settle_pending()

    def handle(self, messages: Sequence[Message]) -> _Handled | None:
        """Step 1: an outcome for every message (no I/O); None for an empty batch."""
        read: list[tuple[Message, Origin]] = []
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            read.append((message, Origin(topic, partition, offset, message.key())))
            ends[(topic, partition)] = offset + 1
        if not read:
            return None
        if self.batch_clock is not None:
            self.batch_clock.current = self.wall.now()
        handle = self.pipeline.handle
        outputs = [handle(message.value(), origin) for message, origin in read]
        return _Handled(read, outputs, ends)

    def send(self, handled: _Handled) -> None:
        """Steps 2 and 3a: plan against the claims (after the previous batch's are written),
        produce every output; :meth:`_settle_pending` waits for them."""
        producer = self.producer
        assert producer is not None
        deployment = self.deployment
        items = [
            BatchItem(
                origin_id(origin.topic, origin.partition, origin.offset),
                claim_key(deployment, out.outcome.agreement_id, out.outcome.key)
                if isinstance(out.outcome, RatedUsage)
                else None,
            )
            for (_message, origin), out in zip(handled.read, handled.outputs, strict=True)
        ]
        keys = lookups(deployment, items)
        found = dict(zip(keys, self.claims.mget(keys), strict=True)) if keys else {}
        plan = plan_batch(deployment, items, found)
        delivery = _Delivery()
        topics, counts = self.topics, self.counts
        for (message, origin), output, decision in zip(
            handled.read, handled.outputs, plan.decisions, strict=True
        ):
            if decision.verdict == "replay":
                counts["replayed"] += 1
                continue
            if decision.verdict == "duplicate":
                output = self._duplicate(message, origin, decision.first)
            self._produce(producer, topics[output.topic], output, delivery)
            counts[output.topic] += 1
            if output.topic == "usage.dlq" and isinstance(output.outcome, DeadLetter):
                counts["dead:" + output.outcome.stage] += 1  # by stage, for the metrics
        producer.poll(0)
        first = handled.read[0][1]
        self._in_flight = (
            f"batch of {len(handled.read)} from {first.topic}[{first.partition}]@{first.offset}"
        )
        self._pending = _Pending(list(plan.claims), handled.ends, delivery)

    def _settle_pending(self, sync_commit: bool = False) -> None:
        """Steps 3b to 5 for the batch sent last, if any: every message acknowledged (else
        raise), the keys claimed, the offsets committed."""
        pending, producer, consumer = self._pending, self.producer, self.consumer
        if pending is None:
            return
        assert producer is not None and consumer is not None
        remaining = producer.flush(FLUSH_TIMEOUT)
        if remaining or pending.delivery.failed:
            raise KafkaException(
                f"{remaining} messages unacknowledged after {FLUSH_TIMEOUT:.0f} s"
                if remaining
                else "; ".join(pending.delivery.failed)
            )
        if pending.claims:  # claimed before committed: one round trip, one command
            keys = [key for key, _ in pending.claims]
            self._claim(keys=keys, args=[self.ttl, *(value for _, value in pending.claims)])
        if self.fault == "after-claims":
            halt(137, log, logging.ERROR, "BILAT_FAULT=worker-%s: exiting abruptly", self.fault)
        # Asynchronous: the commit only has to follow the claims, which it does; one that has
        # not landed when the process dies replays a batch the claims recognise. The last
        # commit (stopping, a rebalance) is synchronous.
        offsets = [TopicPartition(t, p, end) for (t, p), end in pending.ends.items()]
        if sync_commit:
            consumer.commit(offsets=offsets, asynchronous=False)
        else:
            consumer.commit(offsets=offsets, asynchronous=True)
        self._pending = None
        self._in_flight = ""

    def _duplicate(self, message: Message, origin: Origin, first: str | None) -> Output:
        return self.pipeline.encode(
            self.pipeline.dead_letter(
                message.value(),
                origin,
                "dedup",
                "duplicate",
                [f"usage key already rated from {first}"],
            )
        )

    @staticmethod
    def _produce(producer: Producer, topic: str, output: Output, delivery: _Delivery) -> None:
        while True:
            try:
                producer.produce(topic, value=output.value, key=output.key, on_delivery=delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                producer.poll(0.1)
