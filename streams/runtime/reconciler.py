"""``bilat reconcile``: the thin shell around :class:`~streams.reconcile.engine.Engine`.

The loop tails, from the beginning and ``read_committed``, this party's chain
(``ledger.anchors``), its leaf store (``ledger.batches``) and its own reconciliation outputs,
and the partner's mirrored chain, digests, requests and answers (``<alias>.<topic>`` on this
party's cluster, copied by MirrorMaker 2). Whenever something new arrived it evaluates the
engine and publishes what is new, in ONE Kafka transaction per round:

* drill-down requests on ``recon.requests`` and answers to the partner's on ``recon.answers``
  (both mirrored to the partner);
* countersigning requests on ``recon.cosign`` (the batcher, the chain's only writer, appends
  the entries);
* alerts on ``recon.alerts``, then into the Redis stream dashboards read
  (``bilat:<app>:recon:alerts``, :func:`alert_fields`); each window's status into the Redis
  hash ``bilat:<app>:recon:windows`` (field ``<start_ms>-<end_ms>``, value
  ``WindowStatus.to_json()``, written when it changed) and who reconciles what, with the last
  round's time, into ``bilat:<app>:recon:about`` (``bilat dashboard`` reads all three).

Exactly once without local state: everything published is identified by content (request id,
alert id, partner sequence) and read back at start, so a restart (a crash anywhere, even
mid-transaction: the transaction is aborted) publishes nothing twice and misses nothing. The
Redis stream is filled from the committed alerts, each id once (a Redis set guards it), so it
catches up after Redis or the reconciler was down.

Mirroring down, the partner's cluster or reconciler down: the copies stop growing and windows
stay ``waiting`` or ``drilling``; nothing is alerted for want of data (deadlines are measured
on the partner's chain, not the wall clock).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash
from streams.agreement.trust import TrustedKeys
from streams.contract.codec import Codec
from streams.core.clock import Clock, SystemClock, to_ms
from streams.core.errors import CodecError, StackError
from streams.ledger.anchoring import join_leaf_parts, leaves_from_record
from streams.ledger.entries import LedgerEntry, LedgerError
from streams.reconcile.engine import Engine, Outcome
from streams.reconcile.exchange import Digest, split_answer
from streams.reconcile.mirroring import mirrored_topic
from streams.reconcile.status import WindowStatus
from streams.runtime import metrics
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config, redis_from_url
from streams.runtime.topics import ensure_topics

__all__ = [
    "ReconcilerLoop",
    "about_key",
    "alert_fields",
    "alerts_stream_key",
    "partner_of",
    "window_field",
    "windows_key",
]

log = logging.getLogger("bilat.reconcile")

TIMEOUT = 30.0


def partner_of(settings: Settings) -> str:
    """The other party of the agreement in ``settings``."""
    parties = load_book(settings.agreement).latest.parties
    if settings.party not in parties:
        raise StackError(
            f"party {settings.party!r} is not a party of {settings.agreement} "
            f"({' and '.join(parties)}): set BILAT_PARTY or --party"
        )
    return next(p for p in parties if p != settings.party)


def alerts_stream_key(settings: Settings) -> str:
    """The Redis stream dashboards read this deployment's alerts from."""
    return f"bilat:{settings.app_id}:recon:alerts"


def windows_key(settings: Settings) -> str:
    """The Redis hash of every window's status: ``<start_ms>-<end_ms>`` -> JSON."""
    return f"bilat:{settings.app_id}:recon:windows"


def about_key(settings: Settings) -> str:
    """The Redis hash naming the bilateral (party, partner, agreement_id) and the time of the
    reconciler's last round (``round_ms``)."""
    return f"bilat:{settings.app_id}:recon:about"


def window_field(window: tuple[int, int]) -> str:
    return f"{window[0]}-{window[1]}"


def alert_fields(alert: Mapping[str, Any]) -> dict[str, str]:
    """One ``recon_alert`` record as the flat string fields of its Redis stream entry: None as
    ``""``, ``record_keys`` comma-separated, ``facts`` as JSON (the proofs are JSON already)."""
    fields = {
        k: ("" if v is None else str(v))
        for k, v in alert.items()
        if k not in ("facts", "record_keys")
    }
    fields["record_keys"] = ",".join(alert.get("record_keys", []))
    fields["facts"] = json.dumps(dict(alert.get("facts") or {}), sort_keys=True)
    return fields


@dataclass
class _Seen:
    """What this party already published (read back from its own topics)."""

    requests: set[str] = field(default_factory=set)
    answers: set[str] = field(default_factory=set)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    cosigns: set[tuple[str, int]] = field(default_factory=set)


class ReconcilerLoop:
    """One party's reconciler for the agreement in ``settings`` (see the module docstring).

    ``partner_alias`` is the MirrorMaker 2 alias of the partner's cluster (the prefix of the
    copies); it defaults to the partner's party id, as ``bilat mirror`` names it.
    """

    def __init__(
        self,
        settings: Settings,
        partner_alias: str | None = None,
        clock: Clock | None = None,
        say: Callable[[str], object] = log.info,
        redis_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.say = say
        self.codec: Codec = make_codec(settings.schema_registry)
        self.book = load_book(settings.agreement)
        self.partner = partner_of(settings)
        self.alias = partner_alias or self.partner
        self.redis_url = settings.redis if redis_url is None else redis_url
        self.engine = Engine(
            party=settings.party,
            partner=self.partner,
            agreement=self.book.latest,
            salt=book_hash(self.book),
            trusted=TrustedKeys.of_book(self.book, f"agreement {settings.agreement}"),
        )
        self.seen = _Seen()
        self.partner_requests: dict[str, dict[str, Any]] = {}
        self._leaf_parts: list[dict[str, Any]] = []
        topic = settings.topic
        self.own_topics = {
            topic("ledger.anchors"): "own-entry",
            topic("ledger.batches"): "own-leaves",
            topic("recon.requests"): "own-request",
            topic("recon.answers"): "own-answer",
            topic("recon.alerts"): "own-alert",
            topic("recon.cosign"): "own-cosign",
        }
        self.partner_topics = {
            mirrored_topic(self.alias, topic("ledger.anchors")): "partner-entry",
            mirrored_topic(self.alias, topic("ledger.digests")): "partner-digest",
            mirrored_topic(self.alias, topic("recon.requests")): "partner-request",
            mirrored_topic(self.alias, topic("recon.answers")): "partner-answer",
        }
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        self.assigned: set[str] = set()
        self.partitions: set[tuple[str, int]] = set()
        self.at_end: set[tuple[str, int]] = set()
        """Partitions read to their end, and nothing newer seen since."""
        self.last: Outcome | None = None
        self.rounds = 0
        self._windows_written: dict[str, str] = {}
        """Window statuses as last written to Redis (only changes are written again)."""

    # --- connecting ------------------------------------------------------------------------

    def open(self) -> None:
        """Create this party's topics, fence any earlier reconciler, start tailing."""
        settings = self.settings
        ensure_topics(settings)
        self.producer = Producer(
            kafka_config(
                settings,
                {
                    "transactional.id": f"bilat-recon-{settings.app_id}-{self.book.id}",
                    "enable.idempotence": True,
                    "transaction.timeout.ms": 60_000,
                },
            )
        )
        try:
            self.producer.init_transactions(TIMEOUT)
        except KafkaException as exc:
            raise StackError(f"starting the reconciler on {settings.kafka}: {exc}") from exc
        self._tail()

    def snapshot(self) -> Outcome:
        """Read everything now on the topics and evaluate, publishing nothing (``bilat recon
        status``)."""
        self._tail()
        try:
            deadline = time.monotonic() + TIMEOUT
            while not self.caught_up():
                if time.monotonic() > deadline:
                    raise StackError(
                        f"reading the reconciliation topics on {self.settings.kafka} "
                        f"stalled for {TIMEOUT:.0f} s"
                    )
                self.poll()
            self.last = self.engine.evaluate(to_ms(self.clock.now()))
            return self.last
        finally:
            self.close()

    def _tail(self) -> None:
        settings = self.settings
        self.consumer = Consumer(
            kafka_config(
                settings,
                {
                    "group.id": f"{settings.app_id}-reconcile",
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                },
            )
        )
        self._assign_new()

    def _assign_new(self) -> None:
        """Start tailing topics that exist now and are not tailed yet (a copy appears when
        MirrorMaker 2 first replicates it)."""
        assert self.consumer is not None
        admin = AdminClient(kafka_config(self.settings))
        try:
            existing = admin.list_topics(timeout=TIMEOUT).topics
        except KafkaException as exc:
            raise StackError(f"listing topics on {self.settings.kafka}: {exc}") from exc
        fresh = []
        for name in (*self.own_topics, *self.partner_topics):
            if name in self.assigned or name not in existing:
                continue
            fresh += [TopicPartition(name, p, OFFSET_BEGINNING) for p in existing[name].partitions]
            self.assigned.add(name)
        if fresh:
            self.consumer.incremental_assign(fresh)
            self.partitions.update((tp.topic, tp.partition) for tp in fresh)

    def caught_up(self) -> bool:
        """Whether every tailed partition was read to its end (at the last poll)."""
        return self.partitions <= self.at_end

    def missing_copies(self) -> list[str]:
        """The partner's mirrored topics not on this cluster (yet)."""
        return sorted(set(self.partner_topics) - self.assigned)

    # --- one round -------------------------------------------------------------------------

    def poll(self, timeout: float = 0.5) -> int:
        """Read what is new on every tailed topic; returns the number of records taken."""
        assert self.consumer is not None
        taken = 0
        idle_eofs = 0
        while True:
            messages = self.consumer.consume(1000, timeout=timeout)
            if not messages:
                return taken
            for message in messages:
                error = message.error()
                where = (message.topic() or "", message.partition() or 0)
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:  # caught up on one partition
                        idle_eofs += 1
                        self.at_end.add(where)
                        continue
                    raise StackError(f"reading {message.topic()}: {error}")
                self.at_end.discard(where)
                self._take(where[0], message.value() or b"")
                taken += 1
            if idle_eofs and len(messages) == idle_eofs:
                return taken
            idle_eofs = 0

    def _take(self, topic: str, value: bytes) -> None:
        role = self.own_topics.get(topic) or self.partner_topics.get(topic)
        subject = {
            "own-entry": "ledger_entry",
            "partner-entry": "ledger_entry",
            "own-leaves": "batch_leaves",
            "partner-digest": "batch_digest",
            "own-request": "recon_request",
            "partner-request": "recon_request",
            "own-answer": "recon_answer",
            "partner-answer": "recon_answer",
            "own-alert": "recon_alert",
            "own-cosign": "cosign_request",
        }[role or ""]
        try:
            data = self.codec.decode(subject, value)
        except CodecError as exc:
            if role and role.startswith("partner"):
                # A copy that does not decode is the partner's (or the mirror's) problem: say
                # it, keep going; the chain check reports what it breaks.
                self.say(f"unreadable record on {topic}: {exc}")
                return
            raise StackError(f"{topic}: {exc}") from exc
        engine, seen = self.engine, self.seen
        try:
            if role == "own-entry":
                engine.add_own_entry(LedgerEntry.from_avro(data))
            elif role == "partner-entry":
                engine.add_partner_entry(LedgerEntry.from_avro(data))
            elif role == "own-leaves":
                if data["party"] == self.settings.party and data["agreement_id"] == self.book.id:
                    self._leaf_parts.append(data)  # a batch's parts, joined once all are in
                    for whole in join_leaf_parts(self._leaf_parts):
                        start, end, revision, _root, leaves = leaves_from_record(whole)
                        engine.add_own_leaves((to_ms(start), to_ms(end)), revision, leaves)
                        self._leaf_parts = [
                            p
                            for p in self._leaf_parts
                            if p["anchor_sequence"] != whole["anchor_sequence"]
                        ]
            elif role == "partner-digest":
                engine.add_partner_digest(Digest.from_avro(data))
            elif role == "own-request":
                seen.requests.add(data["request_id"])
            elif role == "partner-request":
                self.partner_requests.setdefault(data["request_id"], data)
            elif role == "own-answer":
                seen.answers.add(data["request_id"])
            elif role == "partner-answer":
                engine.add_answer(data)
            elif role == "own-alert":
                seen.alerts.setdefault(data["alert_id"], data)
            elif role == "own-cosign":
                seen.cosigns.add((data["partner"], data["partner_sequence"]))
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            if role and role.startswith("partner"):
                self.say(f"malformed record on {topic}: {exc}")
                return
            raise StackError(f"{topic}: malformed record: {exc}") from exc

    def step(self) -> Outcome:
        """Evaluate and publish what is new, in one transaction; returns the outcome."""
        now_ms = to_ms(self.clock.now())
        outcome = self.engine.evaluate(now_ms)
        topic, encode = self.settings.topic, self.codec.encode
        out: list[tuple[str, bytes, bytes]] = []
        for request in outcome.requests:
            if request["request_id"] not in self.seen.requests:
                out.append(
                    (topic("recon.requests"), self.settings.party.encode(),
                     encode("recon_request", request))
                )  # fmt: skip
        for request_id, request in sorted(self.partner_requests.items()):
            if request_id in self.seen.answers:
                continue
            answer = self.engine.answer(request, now_ms)
            if answer is not None:
                for part in split_answer(answer):  # each well inside a Kafka message
                    out.append(
                        (topic("recon.answers"), self.settings.party.encode(),
                         encode("recon_answer", part))
                    )  # fmt: skip
        for cosign in outcome.cosigns:
            if (cosign["partner"], cosign["partner_sequence"]) not in self.seen.cosigns:
                out.append(
                    (topic("recon.cosign"), self.settings.party.encode(),
                     encode("cosign_request", cosign))
                )  # fmt: skip
        fresh_alerts = [a for a in outcome.alerts if a.alert_id not in self.seen.alerts]
        for alert in fresh_alerts:
            out.append(
                (topic("recon.alerts"), alert.alert_id.encode(),
                 encode("recon_alert", alert.to_avro(now_ms)))
            )  # fmt: skip
        if out:
            self._publish(out)
            for alert in fresh_alerts:
                self.seen.alerts[alert.alert_id] = alert.to_avro(now_ms)
                self.say(f"alert {alert.kind}: {alert.detail}")
            self.seen.requests.update(r["request_id"] for r in outcome.requests)
            self.seen.answers.update(self.partner_requests)
            self.seen.cosigns.update((c["partner"], c["partner_sequence"]) for c in outcome.cosigns)
        self._to_redis(self.seen.alerts.values(), outcome.windows, now_ms)
        metrics.observe_round(outcome.windows, outcome.alerts, fresh_alerts)
        self.last = outcome
        self.rounds += 1
        return outcome

    def _publish(self, messages: Iterable[tuple[str, bytes, bytes]]) -> None:
        producer = self.producer
        assert producer is not None
        try:
            producer.begin_transaction()
            for name, key, value in messages:
                producer.produce(name, key=key, value=value)
            producer.flush(TIMEOUT)
            producer.commit_transaction(TIMEOUT)
        except KafkaException as exc:
            raise StackError(
                f"publishing reconciliation results: {exc}. If another reconciler of this party "
                "started, it has taken over (only one may run); otherwise restart this one: "
                "nothing half-published is visible"
            ) from exc

    def _to_redis(
        self, alerts: Iterable[Mapping[str, Any]], windows: Iterable[WindowStatus], now_ms: int
    ) -> None:
        """Add every committed alert to the dashboards' Redis stream, each id once; write the
        windows whose status changed, and this round's time."""
        if not self.redis_url:
            return
        import redis  # the shell's own client; the core never sees it

        pending = list(alerts)
        changed = {
            field: text
            for field, text in (
                (window_field(w.window), json.dumps(w.to_json(), sort_keys=True)) for w in windows
            )
            if self._windows_written.get(field) != text
        }
        client = redis_from_url(self.redis_url, self.settings.redis_security)
        stream = alerts_stream_key(self.settings)
        ids = f"{stream}:ids"
        try:
            for alert in pending:
                if client.sadd(ids, alert["alert_id"]):
                    client.xadd(stream, alert_fields(alert))  # type: ignore[arg-type]
            if changed:
                client.hset(windows_key(self.settings), mapping=changed)  # type: ignore[arg-type]
                self._windows_written.update(changed)
            about = {
                "party": self.settings.party,
                "partner": self.partner,
                "agreement_id": self.book.id,
                "round_ms": str(now_ms),
            }
            client.hset(about_key(self.settings), mapping=about)  # type: ignore[arg-type]
        except redis.RedisError as exc:
            self.say(
                f"Redis at {self.redis_url} refused alerts or window states ({exc}); "
                "retried next round"
            )
        finally:
            client.close()

    # --- running ---------------------------------------------------------------------------

    def run(self, *, until_idle: float | None = None, max_seconds: float | None = None) -> Outcome:
        """Tail and reconcile until stopped; with ``until_idle``, return once nothing new has
        arrived for that many seconds and no request of ours is unanswered (or after
        ``max_seconds``)."""
        if self.consumer is None:
            self.open()
        started = quiet_since = time.monotonic()
        last_assign = 0.0
        outcome = self.step()
        try:
            while True:
                if time.monotonic() - last_assign > 2.0:
                    self._assign_new()
                    last_assign = time.monotonic()
                taken = self.poll()
                if taken:
                    outcome = self.step()
                    quiet_since = time.monotonic()
                settled = not outcome.requests  # countersigning is the batcher's
                now = time.monotonic()
                if until_idle is not None and settled and now - quiet_since >= until_idle:
                    return outcome
                if max_seconds is not None and now - started >= max_seconds:
                    return outcome
        finally:
            self.close()

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if self.producer is not None:
            self.producer.flush(5)
            self.producer = None
