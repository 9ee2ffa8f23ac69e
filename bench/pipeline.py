"""Benchmark of the pipeline through real Kafka: the rating worker against the pipe it sits on.

One run on the local stack (started as ``bilat demo`` starts it unless ``--kafka``/``--redis``
name services), every case against a baseline measured in the same run on the same messages:

1. **raw passthrough** (baseline): the N usage messages already on ``usage.cdr``, consumed and
   produced to another topic by a plain confluent-kafka loop (consume 500, produce, wait for
   every acknowledgement, acks=all and idempotent, then commit synchronously, as the worker
   does): the pipe's limit under the worker's delivery contract. Beside it the same loop with
   commits not awaited: they queue up behind it (each synchronous commit costs milliseconds on
   the broker), its wall time shows the lag.
2. **Faust no-op** (``bench/faust_noop.py``): a Faust app with the worker's settings that
   forwards each message unchanged and awaits each batch's acknowledgements: the framework's
   ceiling, what decides whether a worker on Faust can reach the target at all.
3. **the rating worker**: ``bilat worker --until-caught-up`` as a user runs it (a child
   process; whatever ``bilat worker`` is now is what is measured) over the same N messages;
   its peak resident memory (VmHWM); then, in a second ``bilat worker`` on the same topics,
   the latency from produce to rated of a tail of records produced at a fixed rate.
4. **ingest**: ``bilat ingest`` of the CSV the messages came from, against a raw produce of
   the same records with the producer settings ingest uses.
5. **batcher**: ``BatcherLoop.run(once=True)`` over one event-time window of rated usage
   (``--batcher-records``, default 1,000,000), against a raw consume of the same records;
   the genesis is written as ``bilat demo`` writes it (demo keys, both signatures). The window
   is held open until every record is read (as in production, where it closes after its
   grace), so it is anchored once. Should the anchoring fail because a message is too large
   (one ``BatchLeaves`` message per window did, before the leaf store was written in parts),
   the run says so and measures the largest window that fits as well.
6. **scale-out**: 1 and 2 workers (separate processes, one consumer group) on 2 and 4
   partitions.

How rates are measured: the usage topics of each run are created with broker append times
(``message.timestamp.type=LogAppendTime``); a throughput is the outputs counted over the time
from the first output to the last on the broker (startup and group joins excluded, the same
way for every case; over 100,000 messages this overstates by one batch, <1%). "wall" is the
whole process, start to exit, as a user waits for it. Latency is the broker append time of
each rated record minus that of its usage record.

Each run uses fresh topics (``bench-<time>-<random>.<case>.``) and deletes them, its consumer
groups and its dedup claims at the end. Progress goes to stderr; the table to stdout; JSON to
``bench/results/pipeline.json`` (``pipeline-quick.json`` with ``--quick``). Exit 1 when a
case lost or doubled records or a worker failed; never because of a speed.

    bilat bench [--records 100000] [--batcher-records 1000000] [--repeat 1] [--quick]
    python -m bench.pipeline (the same options)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from rich.console import Console
from rich.table import Table

from bench.common import RESULTS
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.synth import PRODUCT_ID, synth_order, synth_pair
from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.contract.records import RatedUsage
from streams.core import resources
from streams.core.clock import to_ms
from streams.core.errors import BilatError, StackError
from streams.core.keys import demo_keypair
from streams.core.redact import redact_url
from streams.ledger.anchoring import leaves_record
from streams.ledger.batching import Batcher
from streams.rating.inventory import Inventory, OrderEvent
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage
from streams.runtime.batcher import BatcherLoop, init_ledger
from streams.runtime.config import DEFAULT_BASE_PORT, Settings
from streams.runtime.produce import publish
from streams.runtime.progress import end_offsets
from streams.runtime.readback import read_messages
from streams.runtime.registry import make_codec
from streams.runtime.security import KafkaSecurity, RedisSecurity, kafka_config, redis_from_url
from streams.runtime.topics import delete_topics, ensure_topics
from streams.runtime.workers import message_count, start_worker, stop_worker

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE = 25_000
"""Issue 12: one worker end to end, records/s."""
TARGET_SHARE = 0.35
"""Issue 12: one worker, share of the raw passthrough measured in the same run."""
TARGET_SCALE = 1.7
"""Issue 12: 2 workers against one, where the cores allow it."""
BATCH = 500
"""Messages per consume of the raw passthrough: the worker's batch."""
MESSAGE_LIMIT = 1_000_000
"""librdkafka's ``message.max.bytes`` default: the largest message a producer sends."""
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
USAGE_TOPICS = ("usage.cdr", "usage.rated", "usage.dlq")
OUTPUTS = ("usage.rated", "usage.dlq")
RAW = "raw confluent consume → produce"
QUICK = {"records": 2_000, "batcher_records": 2_000, "tail_records": 200, "tail_rate": 500}

Messages = list[tuple[bytes, bytes]]
err = Console(stderr=True, highlight=False, soft_wrap=True)


def say(text: str) -> None:
    err.print(f"[bench] {text}", markup=False, style="dim")


# ---------------------------------------------------------------------------------------------
# Data


def usage_messages(count: int, now: datetime, tag: str = "") -> tuple[Messages, str]:
    """The Seller's file of :func:`synth_pair` for ``count`` calls (with its malformed lines,
    about 1 in 50) as ``usage.cdr`` messages (key, single-object Avro UsageRecord), and the CSV
    text. Lines ``bilat ingest`` would dead-letter are left out; the others go in as they are,
    so the worker rates most and dead-letters a few (validation, no tariff, duplicates).
    ``tag`` prefixes every record id (distinct usage keys for a second batch)."""
    seller, _ = synth_pair(count, now)
    codec = make_codec()
    messages: Messages = []
    for line in GenericCsv().lines(io.StringIO(seller.text), "bench"):
        if line.fields is None:
            continue
        fields = dict(line.fields, record_id=tag + line.fields["record_id"])
        key = f"{fields['source']}/{fields['record_id']}".encode()
        messages.append((key, codec.encode("usage_record", fields)))
    return messages, seller.text


def rated_messages(count: int, now: datetime) -> tuple[Messages, datetime, datetime]:
    """``count`` rated records (``usage.rated`` messages) of one closed event-time window of
    the example agreement: real ratings of synthetic calls, each given its own record id and a
    start spread over the window. Returns the messages and the window's start and end."""
    book = load_book(resources.example_agreement())
    rater = Rater(book, Inventory([OrderEvent.from_avro(synth_order(now))]))
    seller, _ = synth_pair(2_000, now)
    templates = []
    for line in GenericCsv().lines(io.StringIO(seller.text), "bench"):
        if line.fields is None:
            continue
        try:
            usage = parse_usage(line.fields, now=now)
            templates.append(rater.rate(usage, now).to_avro())
        except BilatError:
            continue
    size = book.latest.window_seconds * 1000
    start_ms = (to_ms(now - timedelta(days=1)) // size) * size
    codec = make_codec()
    messages: Messages = []
    for i in range(count):
        fields = dict(
            templates[i % len(templates)],
            record_id=f"b-{i:08d}",
            start_ms=start_ms + i * size // count,
            window_start_ms=start_ms,
            window_end_ms=start_ms + size,
            rated_at_ms=to_ms(now),
            leaf_hash=None,
        )
        key = f"{fields['source']}/{fields['record_id']}".encode()
        messages.append((key, codec.encode("rated_usage", fields)))
    window = datetime.fromtimestamp(start_ms / 1000, UTC)
    return messages, window, window + timedelta(milliseconds=size)


# ---------------------------------------------------------------------------------------------
# Kafka plumbing


def refusals(errors: list[str]) -> Callable[[KafkaError | None, Message], None]:
    """A delivery callback adding every refusal to ``errors``."""

    def delivered(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            errors.append(str(error))

    return delivered


def _on(kafka: str) -> Settings:
    """Settings of the broker ``kafka``, secured as the ``BILAT_KAFKA_*`` variables say."""
    return Settings(kafka=kafka, security=KafkaSecurity.from_env())


def produce(kafka: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> float:
    """Produce ``messages`` with the settings ``bilat ingest`` uses (idempotent, acks=all,
    lz4, 20 ms linger); seconds until every one is acknowledged. Raises StackError otherwise."""
    producer = Producer(
        kafka_config(
            _on(kafka),
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
            },
        )
    )
    errors: list[str] = []
    delivered = refusals(errors)
    started = time.perf_counter()
    count = 0
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        count += 1
    left = producer.flush(120)
    seconds = time.perf_counter() - started
    if errors or left:
        raise StackError(f"producing to {topic}: {len(errors) + left} of {count} not acknowledged")
    return seconds


def create_topics(kafka: str, names: Sequence[str], partitions: int) -> None:
    """Create ``names`` with broker append times (see the module docstring)."""
    admin = AdminClient(kafka_config(_on(kafka)))
    topics = [NewTopic(n, num_partitions=partitions, replication_factor=1, config=APPEND_TIME)
              for n in names]  # fmt: skip
    for topic, future in admin.create_topics(topics, operation_timeout=30).items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(f"cannot create topic {topic} on {kafka}: {exc}") from exc


@dataclass
class Outputs:
    """What a run left on its output topics: counts and broker append times."""

    counts: dict[str, int]
    stamps: list[int]
    """Every output's timestamp (ms), sorted."""

    @classmethod
    def read(cls, kafka: str, topics: Sequence[str]) -> Outputs:
        counts: dict[str, int] = {}
        stamps: list[int] = []
        for topic in topics:
            counts[topic] = 0
            for message in read_messages(_on(kafka), topic, timeout=60):
                counts[topic] += 1
                if message.timestamp_ms is not None:
                    stamps.append(message.timestamp_ms)
        stamps.sort()
        return cls(counts, stamps)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def span(self) -> float:
        """Seconds from the first output to the last (broker times)."""
        return (self.stamps[-1] - self.stamps[0]) / 1000 if self.stamps else 0.0


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), bytes; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    return next((line.strip() for line in reversed(lines) if line.strip()), "empty log")


@dataclass
class Watched:
    """Child processes run to their end: wall time, peak memory, exit codes."""

    wall: float
    peaks: list[int]
    codes: list[int]
    error: str | None


def watch(
    procs: Sequence[subprocess.Popen[bytes]],
    logs: Sequence[Path],
    label: str,
    progress: Callable[[], str],
    timeout: float,
    started: float,
) -> Watched:
    """Wait for ``procs`` to exit by themselves (``timeout`` seconds at most, then stop them),
    sampling their peak memory; progress on stderr every 5 s."""
    peaks = [0] * len(procs)
    error = None
    said = time.perf_counter()
    try:
        while any(p.poll() is None for p in procs):
            for i, proc in enumerate(procs):
                peaks[i] = max(peaks[i], peak_rss(proc.pid))
            now = time.perf_counter()
            if now - started > timeout:
                error = f"{label}: not done after {timeout:.0f} s"
                break
            if now - said >= 5:
                say(f"{label}: {progress()}")
                said = now
            time.sleep(0.2)
        wall = time.perf_counter() - started
    finally:
        codes = [stop_worker(p) for p in procs]
    for code, log in zip(codes, logs, strict=True):
        if error is None and code != 0:
            error = f"{label}: exit code {code}: {last_line(log)} (log {log})"
    return Watched(wall, peaks, codes, error)


# ---------------------------------------------------------------------------------------------
# One benchmark run


@dataclass
class Measure:
    """One case: items over the measured seconds, and the wall time around it."""

    section: str
    name: str
    items: int
    seconds: float
    wall: float | None = None
    baseline: str | None = None
    """The name of the row this one is compared with; None for a baseline."""
    notes: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 and self.error is None else 0.0


def best(runs: Sequence[Measure]) -> Measure:
    """The fastest of ``runs``, a failed one only if all failed; every run kept in its extra."""
    chosen = max(runs, key=lambda m: (m.error is None, m.rate))
    if len(runs) > 1:
        chosen.extra["runs"] = [
            {"seconds": m.seconds, "wall": m.wall, "rate": m.rate, "error": m.error} for m in runs
        ]
    return chosen


@dataclass
class Bench:
    """The services, the run's topic prefix (``token``) and folder, and what was measured."""

    kafka: str
    redis: str
    token: str
    workdir: Path
    now: datetime
    rows: list[Measure] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Every worker run: counts, consistency, memory."""
    worker_args: list[str] = field(default_factory=list)
    """Given to every ``bilat worker`` (``--worker-args``)."""

    def settings(self, case: str, partitions: int = 4) -> Settings:
        return Settings.from_env(
            {},
            party="hgc",
            kafka=self.kafka,
            redis=self.redis,
            topic_prefix=f"{self.token}.{case}.",
            run_dir=self.workdir,
            partitions=partitions,
            security=KafkaSecurity.from_env(),  # the bench's own variables, not its prefix
            redis_security=RedisSecurity.from_env(),
        )

    def usage_case(self, case: str, partitions: int, messages: Messages) -> tuple[Settings, float]:
        """Fresh usage topics for ``case`` (broker append times), the Sonata order that makes the
        synthetic circuit billable, and ``messages`` on ``usage.cdr``: the produce's seconds."""
        settings = self.settings(case, partitions)
        create_topics(self.kafka, [settings.topic(n) for n in USAGE_TOPICS], partitions)
        ensure_topics(settings)
        order = synth_order(self.now)
        publish(settings, "sonata.orders", "sonata_order_event", [order], lambda r: PRODUCT_ID)
        return settings, produce(self.kafka, settings.topic("usage.cdr"), messages)

    # -- the Kafka cases ---------------------------------------------------------------------

    def raw_passthrough(
        self, source: str, sink: str, expected: int, group: str, wait_commits: bool = True
    ) -> Measure:
        """Consume a batch, produce it, wait for every acknowledgement, commit its offsets:
        synchronously, as the worker does (``wait_commits``), or without waiting (the commits
        queue up behind the loop; the last is waited for, so the wall time shows the lag)."""
        consumer = Consumer(
            kafka_config(
                _on(self.kafka),
                {
                    "group.id": group,
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                },
            )
        )
        producer = Producer(
            kafka_config(_on(self.kafka), {"acks": "all", "enable.idempotence": True})
        )
        errors: list[str] = []
        delivered = refusals(errors)
        started = time.perf_counter()
        moved = 0
        error = None
        consumer.subscribe([source])
        try:
            while moved < expected:
                # Never wait for more than remain: the last batch returns as soon as it is in.
                batch = consumer.consume(min(BATCH, expected - moved), timeout=1.0)
                for msg in batch:
                    if msg.error() is not None:
                        raise StackError(f"reading {source}: {msg.error()}")
                    producer.produce(sink, key=msg.key(), value=msg.value(), on_delivery=delivered)
                if batch:
                    left = producer.flush(30)
                    if errors or left:
                        raise StackError(f"producing to {sink}: {errors[:1] or left}")
                    if wait_commits:
                        consumer.commit(asynchronous=False)
                    else:
                        consumer.commit(asynchronous=True)
                    moved += len(batch)
                if time.perf_counter() - started > 60 + expected / 1_000:
                    raise StackError(f"raw passthrough: {moved} of {expected} after a timeout")
            if not wait_commits:
                consumer.commit(asynchronous=False)  # after all the queued ones
        except StackError as exc:
            error = str(exc)
        finally:
            consumer.close()
        wall = time.perf_counter() - started
        out = Outputs.read(self.kafka, [sink])
        if error is None and out.total != expected:
            error = f"raw passthrough: {out.total} messages out, want {expected}"
        if wait_commits:
            return Measure("kafka", RAW, out.total, out.span, wall, error=error)
        return Measure("kafka", "raw, commits not awaited (they lag behind)", out.total, out.span,
                       wall, baseline=RAW, error=error)  # fmt: skip

    def faust_noop(self, source: str, sink: str, expected: int, case: str) -> Measure:
        app_id = f"bench-faust-{self.token}-{case}"
        log = self.workdir / f"{case}.log"
        datadir = self.workdir / "faust" / app_id
        datadir.mkdir(parents=True, exist_ok=True)
        args = ["--kafka", self.kafka, "--source", source, "--sink", sink, "--app-id", app_id,
                "--datadir", str(datadir), "--count", str(expected)]  # fmt: skip
        paths = [str(ROOT), os.environ.get("PYTHONPATH")]
        started = time.perf_counter()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.faust_noop", *args],
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths))),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        done = watch(
            [proc], [log], "Faust no-op",
            lambda: f"{sum(end_offsets(_on(self.kafka), sink).values()):,}/{expected:,} forwarded",
            120 + expected / 500, started,
        )  # fmt: skip
        out_ = Outputs.read(self.kafka, [sink])
        error = done.error
        if error is None and out_.total < expected:
            error = f"Faust no-op: {out_.total} messages out, want {expected}"
        return Measure("kafka", "Faust no-op passthrough", out_.total, out_.span, done.wall,
                       baseline=RAW, error=error,
                       extra={"peak_rss_bytes": done.peaks[0]})  # fmt: skip

    def workers(
        self,
        settings: Settings,
        expected: int,
        count: int,
        label: str,
        args: Sequence[str] = (),
    ) -> Measure:
        """``count`` times ``bilat worker --until-caught-up`` over ``expected`` messages, each
        with its own ``BILAT_WORKER_ID`` (as a user scales out), ``args`` after
        :attr:`worker_args`."""
        logs = [self.workdir / f"{label}-worker{i}.log" for i in range(count)]
        args = [*self.worker_args, *args]
        command = " ".join(["bilat worker", *args, "--until-caught-up"])
        say(f"{label}: {count} × {command} over {expected:,} messages")
        started = time.perf_counter()
        procs = [
            start_worker(settings, log, "--until-caught-up", *args,
                         extra_env={"BILAT_WORKER_ID": str(i + 1)})
            for i, log in enumerate(logs)
        ]  # fmt: skip
        done = watch(
            procs, logs, label,
            lambda: f"{message_count(settings, *OUTPUTS):,}/{expected:,} rated or dead-lettered",
            120 + expected / 200, started,
        )  # fmt: skip
        out = Outputs.read(self.kafka, [settings.topic(n) for n in OUTPUTS])
        rated, dead = (out.counts[settings.topic(n)] for n in OUTPUTS)
        error = done.error
        if error is None and out.total != expected:
            error = f"{label}: {rated} rated + {dead} dead-lettered = {out.total}, want {expected}"
        run = {
            "label": label,
            "workers": count,
            "partitions": settings.partitions,
            "produced": expected,
            "rated": rated,
            "dead_lettered": dead,
            "consistent": out.total == expected,
            "wall_seconds": done.wall,
            "span_seconds": out.span,
            "exit_codes": done.codes,
            "peak_rss_bytes": done.peaks,
            "error": error,
        }
        self.runs.append(run)
        say(f"{label}: {rated:,} rated + {dead:,} dead-lettered of {expected:,} in "
            f"{done.wall:.1f} s" + (f": {error}" if error else ""))  # fmt: skip
        name = f"{count} worker{'s' if count > 1 else ''}, {settings.partitions} partitions"
        return Measure("scale-out", name, out.total, out.span, done.wall, error=error, extra=run)

    def latency(self, settings: Settings, tail: Messages, warm: Messages, rate: float) -> Measure:
        """A second ``bilat worker`` on ``settings`` (caught up already): ``warm`` first and
        waited for, then ``tail`` at ``rate``/s; latency per usage key, usage.cdr → usage.rated."""
        log = self.workdir / "latency-worker.log"
        proc = start_worker(settings, log, *self.worker_args, extra_env={"BILAT_WORKER_ID": "1"})
        # One producer for both, connected by the warm-up: the tail is sent as it is paced.
        producer = Producer(
            kafka_config(
                _on(self.kafka), {"acks": "all", "enable.idempotence": True, "linger.ms": 0}
            )
        )
        try:
            before = message_count(settings, *OUTPUTS)
            for key, value in warm:
                producer.produce(settings.topic("usage.cdr"), key=key, value=value)
            if producer.flush(60):
                raise StackError("latency warm-up: not every record was acknowledged")
            self._wait_outputs(settings, before + len(warm), proc, log, 120)
            say(f"latency: {len(tail):,} records at {rate:,.0f}/s while the worker runs")
            started = time.perf_counter()
            for i, (key, value) in enumerate(tail):
                ahead = started + i / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
                producer.produce(settings.topic("usage.cdr"), key=key, value=value)
                producer.poll(0)
            if producer.flush(60):
                raise StackError("latency tail: not every record was acknowledged")
            self._wait_outputs(settings, before + len(warm) + len(tail), proc, log, 120)
        finally:
            stop_worker(proc)
        keys = {key for key, _ in tail}
        produced: dict[bytes, int] = {}
        for m in read_messages(settings, settings.topic("usage.cdr"), timeout=60):
            if m.key in keys and m.timestamp_ms is not None:
                produced.setdefault(m.key, m.timestamp_ms)
        waits = []
        for m in read_messages(settings, settings.topic("usage.rated"), timeout=60):
            if m.key in produced and m.timestamp_ms is not None:
                waits.append(m.timestamp_ms - produced[m.key])
        waits.sort()
        p50, p99 = percentile(waits, 50), percentile(waits, 99)
        notes = f"p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(waits):,} rated at {rate:,.0f}/s"
        say(f"latency: {notes}")
        return Measure(
            "kafka",
            "worker latency, produce → rated",
            len(waits),
            0.0,
            notes=notes,
            extra={"p50_ms": p50, "p99_ms": p99, "max_ms": waits[-1] if waits else None,
                   "tail_records": len(tail), "tail_rate": rate, "rated": len(waits)},
        )  # fmt: skip

    def _wait_outputs(
        self,
        settings: Settings,
        want: int,
        proc: subprocess.Popen[bytes],
        log: Path,
        timeout: float,
    ) -> None:
        deadline = time.monotonic() + timeout
        while message_count(settings, *OUTPUTS) < want:
            if proc.poll() is not None:
                raise StackError(f"latency worker exited {proc.returncode}: {last_line(log)}")
            if time.monotonic() > deadline:
                raise StackError(f"latency worker: fewer than {want} outputs after {timeout} s")
            time.sleep(0.1)

    def ingest(self, csv: Path, case: str) -> tuple[Measure, Measure]:
        settings = self.settings(case)
        env = dict(os.environ, BILAT_KAFKA=self.kafka, BILAT_TOPIC_PREFIX=settings.topic_prefix,
                   BILAT_PARTITIONS="4", BILAT_REDIS=self.redis)  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli.main", "ingest", str(csv)],
            env=env, capture_output=True, text=True, check=False, timeout=3_600,
        )  # fmt: skip
        wall = time.perf_counter() - started
        found = re.search(r"(\d+) lines in ([\d.]+) s", done.stdout)
        error = None
        if done.returncode != 0 or found is None:
            error = f"bilat ingest exited {done.returncode}: {(done.stderr or done.stdout)[-300:]}"
        lines, own = (int(found[1]), float(found[2])) if found else (0, 0.0)
        base = "raw confluent produce"
        return (
            Measure("ingest", "bilat ingest (process, start to exit)", lines, wall, wall,
                    baseline=base, error=error, notes="lines/s"),
            Measure("ingest", "bilat ingest (its own timer)", lines, own, wall, baseline=base,
                    error=error, notes="lines/s; the time it prints (0.1 s)"),
        )  # fmt: skip

    # -- the batcher -------------------------------------------------------------------------

    def batcher(self, count: int, case: str) -> tuple[Measure, Measure]:
        """Raw consume of ``count`` rated records of one window (baseline), then the batcher."""
        say(f"{case}: generating {count:,} rated records of one window")
        messages, start, end = rated_messages(count, self.now)
        settings = self.settings(case)
        ensure_topics(settings)
        book = load_book(settings.agreement)
        keys = {p: demo_keypair(p) for p in ("hgc", "dcc")}
        init_ledger(settings, [sign_agreement(book, k, p) for p, k in keys.items()], keys["hgc"])
        say(f"{case}: producing them to {settings.topic('usage.rated')}")
        produce(self.kafka, settings.topic("usage.rated"), messages)
        del messages
        read = raw_consume(self.kafka, settings.topic("usage.rated"), count, f"{self.token}-read")
        hold = HeldClock(end + timedelta(seconds=book.latest.grace_seconds - 1), count)
        loop = CountingLoop(settings, keys["hgc"], clock=hold, say=lambda _m: None)
        say(f"{case}: BatcherLoop.run(once=True) over {count:,} records")
        started = time.perf_counter()
        error, opened = None, 0.0
        try:
            loop.open()
            opened = time.perf_counter() - started
            loop.run(once=True)
        except StackError as exc:
            error = str(exc)
        seconds = time.perf_counter() - started
        leaves = 0
        if error is not None:
            due = loop.batcher.due(hold.now())
            leaves = len(due[0].leaves) if due else 0
            say(f"{case}: failed after {seconds:.1f} s with {leaves:,} leaves: {error}")
        name = f"batcher: one window of {count:,} records"
        return (
            Measure("batcher", f"raw confluent consume of {count:,} rated", count, read),
            Measure("batcher", name, count, seconds, seconds,
                    baseline=f"raw confluent consume of {count:,} rated", error=error,
                    notes="run(once=True): consume, leaves, tree, sign, one transaction",
                    extra={"open_seconds": opened, "window_start": start.isoformat(),
                           "failed_leaves": leaves}),
        )  # fmt: skip

    def cleanup(self) -> None:
        """Delete the run's topics, consumer groups and dedup claims."""
        admin = AdminClient(kafka_config(_on(self.kafka)))
        topics = [t for t in admin.list_topics(timeout=30).topics if self.token in t]
        say(f"deleting {len(topics)} topics, the consumer groups and the claims of {self.token}")
        delete_topics(_on(self.kafka), topics)
        try:
            listed = admin.list_consumer_groups().result(timeout=30)
            groups = [g.group_id for g in listed.valid if self.token in g.group_id]
        except KafkaException as exc:
            groups = []
            say(f"consumer groups of {self.token} not listed: {exc}")
        kept = 0
        for future in admin.delete_consumer_groups(groups).values() if groups else ():
            try:
                future.result(timeout=30)
            except KafkaException:
                kept += 1  # static members that did not leave: the broker expires them
        if kept:
            say(f"{kept} consumer groups still have static members; Kafka expires them")
        client = redis_from_url(self.redis, RedisSecurity.from_env())
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"bilat:*{self.token}*", count=5_000):
            batch.append(key)
            if len(batch) >= 5_000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)


def raw_consume(kafka: str, topic: str, expected: int, group: str) -> float:
    """Seconds a plain consumer (read committed, its own group) takes to read ``expected``."""
    consumer = Consumer(kafka_config(_on(kafka), {"group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"}))  # fmt: skip
    started = time.perf_counter()
    consumer.subscribe([topic])
    read = 0
    try:
        while read < expected:
            read += len(consumer.consume(min(BATCH, expected - read), timeout=1.0))
            if time.perf_counter() - started > 60 + expected / 2_000:
                raise StackError(f"raw consume of {topic}: {read} of {expected}")
    finally:
        consumer.close()
    return time.perf_counter() - started


class HeldClock:
    """Before ``records`` are read: ``hold`` (the window still open); after: the real time."""

    def __init__(self, hold: datetime, records: int) -> None:
        self.hold = hold
        self.records = records
        self.read = 0

    def now(self) -> datetime:
        return self.hold if self.read < self.records else datetime.now(UTC)


class CountingLoop(BatcherLoop):
    """The batcher, counting what it takes into its :class:`HeldClock`."""

    def take(self, value: bytes, partition: int, offset: int) -> None:
        super().take(value, partition, offset)
        if isinstance(self.clock, HeldClock):
            self.clock.read += 1


def leaves_fit(count: int, now: datetime) -> int:
    """The most leaves of :func:`rated_messages` whose ``BatchLeaves`` message fits
    :data:`MESSAGE_LIMIT` (measured on the encoding of two small batches)."""
    book = load_book(resources.example_agreement())
    codec = make_codec()
    sizes = []
    for n in (1_000, 2_000):
        batcher = Batcher(book.latest.id, 0, book.latest.digest_depth, book_hash(book))
        messages, _, _ = rated_messages(n, now)
        for offset, (_key, value) in enumerate(messages):
            batcher.add(RatedUsage.from_avro(codec.decode("rated_usage", value)), 0, offset)
        (batch,) = batcher.due(now)
        sizes.append(len(codec.encode("batch_leaves", leaves_record(batch, "hgc", 1))))
    per_leaf = (sizes[1] - sizes[0]) / 1_000
    overhead = sizes[0] - 1_000 * per_leaf
    # Record ids are fixed width up to 10^8 records, so the size per leaf does not grow.
    return min(count, int((MESSAGE_LIMIT - 1_024 - overhead) / per_leaf))


def percentile(values: Sequence[int], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return float(values[index])


# ---------------------------------------------------------------------------------------------
# Report


def ratio(row: Measure, rows: Sequence[Measure]) -> float | None:
    base = next((r for r in rows if r.name == row.baseline), None)
    if base is None or not base.rate or not row.rate:
        return None
    return row.rate / base.rate


def table(rows: Sequence[Measure], title: str) -> Table:
    out = Table(title=title, title_justify="left")
    for column in ("case", "items", "seconds", "per s", "vs baseline", "wall s", "notes"):
        out.add_column(column, justify="left" if column in ("case", "notes") else "right")
    section = None
    for row in rows:
        if section is not None and row.section != section:
            out.add_section()
        section = row.section
        share = ratio(row, rows)
        name = row.name if row.baseline else f"baseline: {row.name}"
        rate = f"{row.rate:,.0f}" if row.rate else "-"
        notes = f"[red]FAILED: {row.error}[/red]" if row.error else row.notes
        out.add_row(
            name,
            f"{row.items:,}",
            f"{row.seconds:.2f}" if row.seconds else "-",
            rate,
            f"{share:.2f}x" if share is not None else ("1.00x" if not row.baseline and row.rate
                                                       else "-"),
            f"{row.wall:.1f}" if row.wall is not None else "-",
            notes,
        )  # fmt: skip
    return out


@dataclass
class Target:
    name: str
    value: float | None
    want: float
    shown_as: str
    """How to print the numbers: a format spec such as ``,.0f``, ``.0%``, ``.2f``."""
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value is not None and self.value >= self.want

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:{self.shown_as}}{self.unit}"
        want = f"{self.want:{self.shown_as}}{self.unit}"
        verdict = "[green]met[/green]" if self.met else "[red]not met[/red]"
        return f"target: {self.name} >= {want}: {shown}: {verdict}"


# ---------------------------------------------------------------------------------------------
# Main


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bilat bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument(
        "--records",
        type=int,
        default=100_000,
        help="calls of synthetic traffic (about 1.4%% more messages; default 100,000)",
    )
    p.add_argument(
        "--batcher-records",
        type=int,
        default=1_000_000,
        help="rated records in the batcher's window (default 1,000,000)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each Kafka case, best kept (default 1; the batcher runs once)",
    )
    p.add_argument(
        "--tail-records",
        type=int,
        default=5_000,
        help="records of the latency tail (default 5,000)",
    )
    p.add_argument(
        "--tail-rate",
        type=float,
        default=1_000.0,
        help="records/s of the latency tail (default 1,000)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke test: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    p.add_argument(
        "--worker-args",
        default="",
        help='more arguments for every `bilat worker`, one string (e.g. "--engine faust")',
    )
    p.add_argument("--json-only", action="store_true", help="print the JSON, no table")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the JSON file [default: bench/results/pipeline.json, "
        "pipeline-quick.json with --quick]",
    )
    p.add_argument("--kafka", help="a running broker to use instead of the local stack's")
    p.add_argument("--redis", help="a running Redis (URL) to use instead of the local stack's")
    p.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help="Kafka port of the local stack (default %(default)s, as bilat demo)",
    )
    p.add_argument(
        "--redis-port",
        type=int,
        default=6390,
        help="Redis port of the local stack (default %(default)s)",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run folder of the local stack [default: $BILAT_RUN_DIR or .bilat/run]",
    )
    p.add_argument("--workdir", type=Path, default=resources.work_dir() / "bench",
                   help="worker logs and the CSV (default %(default)s)")  # fmt: skip
    return p


def services(args: argparse.Namespace) -> tuple[str, str]:
    """The broker and Redis: given, or the local stack's (started if it is not running)."""
    if args.kafka and args.redis:
        return args.kafka, args.redis
    from streams.cli.stack import party_specs
    from streams.devstack.localstack import LocalStack, RedisSpec

    stack = LocalStack(run_dir=args.run_dir, progress=say)
    kafka = args.kafka or stack.kafka_up(party_specs(["hgc"], args.base_port)[0]).bootstrap
    store = args.redis or stack.redis_up(RedisSpec(name="redis", port=args.redis_port)).url
    return kafka, store


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser().get_default(key):
                setattr(args, key, value)
    out_path = args.out or RESULTS / ("pipeline-quick.json" if args.quick else "pipeline.json")
    started = time.perf_counter()
    kafka, store = services(args)
    now = datetime.now(UTC)
    token = f"bench-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    workdir = args.workdir / token
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(kafka, store, token, workdir, now, worker_args=shlex.split(args.worker_args))
    say(f"run {token} on {kafka}, Redis {redact_url(store)}; logs in {workdir}")
    try:
        result = run(bench, args)
    except KafkaException as exc:
        raise StackError(f"Kafka at {kafka}: {exc}; the logs are in {workdir}") from exc
    finally:
        (workdir / "usage.csv").unlink(missing_ok=True)
        try:
            bench.cleanup()
        except (
            BilatError,
            KafkaException,
            OSError,
            redis.RedisError,
        ) as exc:  # never hides the run's own error
            say(f"cleaning up {token} failed: {exc}")
    result["seconds"] = time.perf_counter() - started
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if args.json_only:
        print(json.dumps(result, indent=2, default=str))
    else:
        from streams.cli.common import stdout_console

        console = stdout_console()
        console.print(table(bench.rows, result["title"]))
        for target in result["target_lines"]:
            console.print(target)
        for line in result["findings"]:
            console.print(line, markup=False)
        here = Path.cwd()
        shown = out_path.relative_to(here) if out_path.is_relative_to(here) else out_path
        console.print(f"wrote {shown} in {result['seconds']:.0f} s")
    return 0 if result["consistent"] else 1


def run(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    rows = bench.rows
    say(f"generating {args.records:,} calls of synthetic traffic")
    messages, text = usage_messages(args.records, bench.now)
    count = len(messages)
    tail, _ = usage_messages(args.tail_records, bench.now, tag="tail-")
    warm, _ = usage_messages(20, bench.now, tag="warm-")
    tail, warm = dedupe(tail), dedupe(warm)[:20]

    # 1-3: raw passthrough, Faust no-op, the worker, on 4 partitions; the same messages.
    produced, raws, lagging, fausts, workers = [], [], [], [], []
    latency: Measure | None = None
    for r in range(args.repeat):
        say(f"producing {count:,} usage messages (repeat {r + 1} of {args.repeat})")
        settings, seconds = bench.usage_case(f"w1p4r{r}", 4, messages)
        produced.append(Measure("ingest", "raw confluent produce", count, seconds, seconds,
                                notes="msgs/s, ingest's producer settings"))  # fmt: skip
        source = settings.topic("usage.cdr")
        sink = f"{bench.token}.raw{r}.out"
        create_topics(bench.kafka, [sink], 4)
        say(f"raw passthrough of {count:,} messages")
        raws.append(bench.raw_passthrough(source, sink, count, f"{bench.token}-raw{r}"))
        sink = f"{bench.token}.rawasync{r}.out"
        create_topics(bench.kafka, [sink], 4)
        lagging.append(bench.raw_passthrough(source, sink, count, f"{bench.token}-rawa{r}", False))
        sink = f"{bench.token}.faust{r}.out"
        create_topics(bench.kafka, [sink], 4)
        say(f"Faust no-op passthrough of {count:,} messages")
        fausts.append(bench.faust_noop(source, sink, count, f"faust{r}"))
        workers.append(bench.workers(settings, count, 1, f"w1p4r{r}"))
        if latency is None:
            latency = bench.latency(settings, tail, warm, args.tail_rate)
    raw, faust, worker = best(raws), best(fausts), best(workers)
    scale_1p4 = worker
    worker = as_worker_row(worker, " ".join(["bilat worker", *bench.worker_args]), raw)
    # The worker's other engine, where `bilat worker` has one (--engine faust), once as well.
    engines = []
    if worker_has_engines() and "--engine" not in bench.worker_args:
        tries = []
        for r in range(args.repeat):
            case = f"faustengine{r}"
            say(f"{case}: producing {count:,} usage messages")
            settings, _ = bench.usage_case(case, 4, messages)
            tries.append(bench.workers(settings, count, 1, case, ["--engine", "faust"]))
        engines.append(as_worker_row(best(tries), "bilat worker --engine faust", raw))
    rows += [raw, best(lagging), faust, worker, *engines]
    if latency is not None:
        latency.baseline = raw.name
        rows.append(latency)

    # 4: ingest against a raw produce of the same records.
    csv = bench.workdir / "usage.csv"
    csv.write_text(text, encoding="utf-8")
    ingests = []
    for r in range(args.repeat):
        say(f"bilat ingest of {csv.name} (repeat {r + 1} of {args.repeat})")
        ingests.append(bench.ingest(csv, f"ingest{r}"))
    rows.append(best(produced))
    rows.append(best([i[0] for i in ingests]))
    rows.append(best([i[1] for i in ingests]))

    # 6: scale-out (the 1-worker, 4-partition run is the worker's above).
    scale: list[Measure] = []
    for partitions in (2, 4):
        for count_workers in (1, 2):
            if (partitions, count_workers) == (4, 1):
                scale.append(scale_1p4)
                continue
            tries = []
            for r in range(args.repeat):
                case = f"w{count_workers}p{partitions}r{r}"
                say(f"{case}: producing {count:,} usage messages")
                settings, _ = bench.usage_case(case, partitions, messages)
                tries.append(bench.workers(settings, count, count_workers, case))
            scale.append(best(tries))
    for row in scale:
        row.section = "scale-out"
        row.extra = dict(row.extra)
        if row.extra.get("workers", 1) > 1:
            row.baseline = f"1 worker, {row.extra['partitions']} partitions"
        rss = max(row.extra.get("peak_rss_bytes") or [0]) / 2**20
        row.notes = f"peak RSS {rss:.0f} MB per worker"
    rows += scale

    # 5: the batcher, at the size asked for; if that fails, the largest window that fits.
    base, batch = bench.batcher(args.batcher_records, "batcher")
    rows += [base, batch]
    fits = None
    if batch.error is not None and "too large" in batch.error.lower():
        fits = leaves_fit(args.batcher_records, bench.now)
        for attempt in range(3):
            say(f"the largest window whose BatchLeaves fits {MESSAGE_LIMIT:,} bytes: {fits:,}")
            smaller = bench.batcher(fits, f"batcher-fit{attempt}")
            if smaller[1].error is None or attempt == 2:
                smaller[1].notes = "the largest window whose BatchLeaves message fits 1 MB"
                rows += list(smaller)
                break
            fits = int(fits * 0.95)

    return summarise(bench, args, raw, faust, worker, latency, scale, batch, fits, count, engines)


def as_worker_row(run: Measure, command: str, raw: Measure) -> Measure:
    """A 1-worker run as a row of the Kafka section, compared with the raw passthrough."""
    rss = max(run.extra.get("peak_rss_bytes") or [0]) / 2**20
    notes = (f"{run.extra['rated']:,} rated + {run.extra['dead_lettered']:,} dead-lettered; "
             f"peak RSS {rss:.0f} MB")  # fmt: skip
    return Measure("kafka", f"{command} --until-caught-up", run.items, run.seconds, run.wall,
                   baseline=raw.name, notes=notes, error=run.error, extra=run.extra)  # fmt: skip


def worker_has_engines() -> bool:
    """Whether ``bilat worker`` offers ``--engine faust`` (the Faust loop beside another)."""
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "worker", "--help"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return "--engine" in done.stdout and "faust" in done.stdout


def dedupe(messages: Messages) -> Messages:
    """``messages`` with each key once (the synthetic file resends a few records)."""
    kept: dict[bytes, bytes] = {}
    for key, value in messages:
        kept.setdefault(key, value)
    return list(kept.items())


def summarise(
    bench: Bench,
    args: argparse.Namespace,
    raw: Measure,
    faust: Measure,
    worker: Measure,
    latency: Measure | None,
    scale: Sequence[Measure],
    batch: Measure,
    fits: int | None,
    count: int,
    engines: Sequence[Measure],
) -> dict[str, Any]:
    share = worker.rate / raw.rate if raw.rate and worker.rate else None
    cells = {(m.extra.get("workers"), m.extra.get("partitions")): m for m in scale}
    targets = [
        Target("one worker end to end", worker.rate or None, TARGET_RATE, ",.0f", " records/s"),
        Target("one worker / raw passthrough (same run)", share, TARGET_SHARE, ".0%"),
    ]
    for partitions in (2, 4):
        one, two = cells.get((1, partitions)), cells.get((2, partitions))
        scaled = two.rate / one.rate if one and two and one.rate and two.rate else None
        targets.append(Target(f"2 workers / 1 worker, {partitions} partitions", scaled,
                              TARGET_SCALE, ".2f", "x"))  # fmt: skip
    findings = []
    if batch.error is not None:
        findings.append(
            f"batcher: a window of {args.batcher_records:,} records FAILED after "
            f"{batch.seconds:.1f} s ({batch.extra.get('failed_leaves', 0):,} leaves in one "
            f"BatchLeaves message): {batch.error}"
        )
        if fits is not None:
            findings.append(f"batcher: the largest window that fits one message: {fits:,} records")
    if raw.rate and faust.rate:
        verdict = "can" if faust.rate >= TARGET_RATE else "cannot"
        findings.append(
            f"Faust ceiling: the no-op passthrough moves {faust.rate:,.0f} msgs/s, "
            f"{faust.rate / raw.rate:.0%} of the raw passthrough: a worker on Faust built this way "
            f"{verdict} reach {TARGET_RATE:,} records/s"
        )
    else:
        findings.append("Faust ceiling: the no-op passthrough did not finish")
    for row in engines:
        if row.rate and worker.rate:
            findings.append(f"{row.name}: {row.rate:,.0f} records/s, {row.rate / raw.rate:.0%} "
                            f"of the raw passthrough")  # fmt: skip
    consistent = all(r["consistent"] and r["error"] is None for r in bench.runs)
    title = (
        f"bilat bench: {count:,} usage messages ({args.records:,} calls), 4 partitions unless "
        f"named, best of {args.repeat}; per s = first to last output on the broker"
    )
    return {
        "title": title,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "kafka": bench.kafka,
        "run": bench.token,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "messages": count,
        "rows": [
            {"section": r.section, "name": r.name, "items": r.items, "seconds": r.seconds,
             "rate": r.rate, "wall_seconds": r.wall, "baseline": r.baseline,
             "vs_baseline": ratio(r, bench.rows), "notes": r.notes, "error": r.error,
             **{k: v for k, v in r.extra.items() if k != "label"}}
            for r in bench.rows
        ],
        "raw_passthrough": {"rate": raw.rate, "seconds": raw.seconds, "wall_seconds": raw.wall},
        "faust_noop": {"rate": faust.rate, "seconds": faust.seconds, "wall_seconds": faust.wall,
                       "vs_raw": faust.rate / raw.rate if raw.rate else None,
                       "peak_rss_bytes": faust.extra.get("peak_rss_bytes")},
        "worker": {"rate": worker.rate, "seconds": worker.seconds, "wall_seconds": worker.wall,
                   "wall_rate": count / worker.wall if worker.wall else None, "vs_raw": share,
                   "peak_rss_bytes": max(worker.extra.get("peak_rss_bytes") or [0]),
                   "latency": latency.extra if latency else None},
        "batcher": {"records": args.batcher_records, "rate": batch.rate, "error": batch.error,
                    "largest_fitting": fits,
                    **{k: v for k, v in batch.extra.items()}},
        "worker_engines": [{"name": m.name, "rate": m.rate, "wall_seconds": m.wall,
                            "vs_raw": ratio(m, bench.rows), "error": m.error} for m in engines],
        "worker_runs": bench.runs,
        "targets": [{"name": t.name, "value": t.value, "want": t.want, "met": t.met}
                    for t in targets],
        "target_lines": [t.line() for t in targets],
        "findings": findings,
        "consistent": consistent,
    }  # fmt: skip


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BilatError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
