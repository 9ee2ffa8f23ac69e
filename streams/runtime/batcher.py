"""``bilat batcher``: rated usage in, signed anchors out, exactly once, one writer per chain.

The loop consumes ``usage.rated`` (read committed), feeds a
:class:`~streams.ledger.batching.Batcher` and, whenever windows are due, publishes each batch in ONE
Kafka transaction: the anchor entry on ``ledger.anchors``, the digest on ``ledger.digests``, the
leaves on ``ledger.batches``, and the consumer offsets up to which every record is anchored.

* Crash anywhere before the commit: the transaction is aborted, nothing is visible, the
  records are consumed again and the same batch (same root) is anchored on restart.
* Crash after the commit: the anchor, the leaves and the offsets are all durable; the leaf
  store reloads the batch and replayed records are recognised.
* Single writer: the transactional id is fixed per party and agreement, so a second batcher
  fences the first (its next commit fails and it exits); the new one reads the chain tip only
  *after* fencing, so two writers can never both extend one chain.

* Rebalance: the records of a window are anchored, and their offsets committed, only in the
  anchoring transaction; a rebalance (partitions revoked, then assigned again) makes the
  consumer resume from the committed offsets, and the records it reads twice are recognised
  (same usage key, same leaf). A crash in the middle of one loses nothing either: everything
  not anchored is read again after the restart.

Seams: constructing a :class:`BatcherLoop` reads the agreement file and nothing else;
:meth:`BatcherLoop.open` connects (fences, reads the chain and the leaf store, joins the
group), and :meth:`BatcherLoop.run` opens if nobody did. The transaction goes through a
:class:`~streams.runtime.ledger_writer.LedgerWriter`, so a test drives
:meth:`~BatcherLoop.resume`, :meth:`~BatcherLoop.take` and :meth:`~BatcherLoop.close_due` with
a fake writer and no broker. The loop calls its ``checkpoint`` hook at each of
:data:`FAULT_POINTS`; ``bilat batcher`` installs :func:`~streams.runtime.faults.fault_hook`
there, which exits abruptly at the point ``BILAT_FAULT`` names (the crash tests).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash
from streams.agreement.trust import TrustedKeys
from streams.contract.codec import Codec
from streams.contract.records import RatedUsage
from streams.core.canonical import canonical_json
from streams.core.clock import Clock, SystemClock
from streams.core.errors import CodecError, StackError
from streams.core.keys import KeyPair
from streams.ledger.anchoring import (
    anchor_entry,
    digest_record,
    join_leaf_parts,
    leaves_from_record,
    leaves_parts,
)
from streams.ledger.batching import Batch, Batcher
from streams.ledger.chain import ChainTip
from streams.ledger.entries import LedgerEntry, LedgerError, make_entry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import countersignature_payload, rotation_payload
from streams.ledger.settlement import SETTLEMENT_KINDS, settlement_problems
from streams.runtime import metrics
from streams.runtime.config import Settings
from streams.runtime.faults import Checkpoint, no_faults
from streams.runtime.ledger_writer import KafkaLedgerWriter, LedgerWriter, transactional_id
from streams.runtime.reader import read_records
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config
from streams.runtime.topics import ensure_topics

__all__ = [
    "FAULT_POINTS",
    "BatcherLoop",
    "init_ledger",
    "read_chain",
    "rotate_key",
    "transactional_id",
]

log = logging.getLogger("bilat.batcher")

FAULT_POINTS = (
    "before-anchor",
    "after-anchor",
    "before-commit",
    "after-commit",
    "during-rebalance",
)
"""Where the loop calls its checkpoint hook: before a batch's transaction begins, after its
messages are produced (not committed), after its offsets are sent (not committed), after the
commit, and whenever a rebalance revokes partitions."""
CLOSE_EVERY = 5.0  # seconds between closes while input keeps arriving


def _read_error(error: str) -> str:
    if "fenced" in error.lower():
        return (
            f"reading usage.rated: {error}: another batcher of this party has taken over "
            "(only one may run)"
        )
    return f"reading usage.rated: {error}"


def read_chain(settings: Settings, codec: Codec, party: str | None = None) -> list[LedgerEntry]:
    """Every committed entry on ``ledger.anchors`` (of ``party`` if given), in topic order."""
    entries = read_records(settings, "ledger.anchors", codec=codec)
    return [entry for entry in entries if party is None or entry.party == party]


class BatcherLoop:
    """One party's batcher for the agreement in ``settings`` (see the module docstring).

    Constructing one does no network I/O. :meth:`open` connects; :meth:`run` consumes and
    anchors (opening first if needed). Without Kafka, :meth:`resume` takes a writer and the
    chain instead of :meth:`open`, then :meth:`take` and :meth:`close_due` do the work.
    """

    def __init__(
        self,
        settings: Settings,
        signer: KeyPair,
        clock: Clock | None = None,
        say: Callable[[str], object] = log.info,
        checkpoint: Checkpoint = no_faults,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.clock = clock or SystemClock()
        self.say = say
        self.checkpoint = checkpoint
        """Called with each of :data:`FAULT_POINTS` as the loop passes it."""
        self.codec = make_codec(settings.schema_registry)
        self.book = load_book(settings.agreement)
        self.trusted = TrustedKeys.of_book(self.book, f"agreement {settings.agreement}")
        self.anchored = 0
        agreement = self.book.latest
        self.batcher = Batcher(
            agreement.id, agreement.grace_seconds, agreement.digest_depth, book_hash(self.book)
        )
        self.writer: LedgerWriter | None = None
        self.tip: ChainTip | None = None
        self.consumer: Consumer | None = None
        self.cosign_reader: Consumer | None = None
        """Tails ``recon.cosign`` (the reconciler's requests to countersign partner anchors) and
        ``ledger.requests`` (the settlement entries the settler asks for)."""
        self.countersigned = 0
        self.settled = 0
        """Settlement entries appended by this loop."""
        self.on_chain: set[tuple[str, bytes]] = set()
        """``(kind, payload hash)`` of every settlement entry on the chain: a repeated request
        is answered by the entry already there."""

    def open(self) -> None:
        """Connect: create the topics, fence any earlier writer of this chain, read the chain
        tip and the leaf store (:meth:`resume`), and join the batcher's consumer group.

        Raises :class:`StackError` when the chain has no genesis of this agreement or the
        signer is not its current key (see :meth:`resume`).
        """
        settings, agreement_id = self.settings, self.book.latest.id
        ensure_topics(settings)
        consumer = Consumer(
            kafka_config(
                settings,
                {
                    "group.id": f"{settings.app_id}-batcher",
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    # Static membership: a restarted batcher takes its place in the group at once
                    # instead of waiting out the crashed one's session.
                    "group.instance.id": transactional_id(settings, agreement_id),
                    "session.timeout.ms": 10_000,
                },
            )
        )
        try:
            # Fence first, read the tip after: two writers can never both extend one chain.
            writer = KafkaLedgerWriter.open(
                settings, agreement_id, consumer, settings.topic("usage.rated")
            )
            self.resume(
                writer,
                read_chain(settings, self.codec, settings.party),
                join_leaf_parts(read_records(settings, "ledger.batches", codec=self.codec)),
            )
            # The group is joined only now, when everything before the offsets is known.
            consumer.subscribe([settings.topic("usage.rated")], on_revoke=self._revoked)
        except BaseException:
            consumer.close()
            raise
        self.consumer = consumer
        # Every countersigning request, from the start: the chain says which are done.
        self.cosign_reader = Consumer(
            kafka_config(
                settings,
                {
                    "group.id": f"{settings.app_id}-cosign",
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                },
            )
        )
        self.cosign_reader.assign(
            [
                TopicPartition(settings.topic(name), 0, OFFSET_BEGINNING)
                for name in ("recon.cosign", "ledger.requests")
            ]
        )

    def resume(
        self,
        writer: LedgerWriter,
        entries: Sequence[LedgerEntry],
        stored: Iterable[Mapping[str, Any]],
    ) -> None:
        """Take up this party's chain: ``entries`` are its committed ledger entries (at least
        the genesis), ``stored`` the ``batch_leaves`` records of the leaf store (other
        parties' and agreements' are skipped). From then on batches are anchored through
        ``writer``. :meth:`open` calls it with what it read from Kafka.

        Raises :class:`StackError` when there is no genesis, the genesis signs another
        agreement, or the signer is not the chain's current key, trusted and valid now.
        """
        if not entries:
            raise StackError(
                f"no genesis entry on {self.settings.topic('ledger.anchors')}: nothing is "
                "anchored under an agreement both parties have not signed; run "
                "`bilat ledger init` with both parties' signatures first"
            )
        genesis = min(entries, key=lambda e: e.sequence).payload_json()
        if genesis.get("book_hash") != book_hash(self.book).hex():
            raise StackError(
                f"the genesis entry signs agreement {genesis.get('book_hash')}, but "
                f"{self.settings.agreement} hashes to {book_hash(self.book).hex()}: "
                "load the agreement both parties signed"
            )
        tip = ChainTip.from_entries(entries, self.settings.party, trusted=self.trusted)
        _check_signer(self.trusted, self.settings, self.signer, tip, self.clock)
        for data in stored:
            if data["party"] == self.settings.party and data["agreement_id"] == self.book.id:
                self.batcher.restore(*leaves_from_record(data))
        self.on_chain = {
            (e.kind, e.payload_hash)
            for e in entries
            if e.kind in SETTLEMENT_KINDS and e.party == self.settings.party
        }
        self.tip, self.writer = tip, writer

    def run(self, once: bool = False) -> int:
        """Consume and anchor until stopped (``once``: until caught up and nothing is due).

        Opens the loop first unless :meth:`open` was called. Returns the number of batches
        anchored.
        """
        if self.consumer is None:
            self.open()
        consumer = self.consumer
        assert consumer is not None  # open() sets it or raises
        last_close = time.monotonic()
        try:
            while True:
                messages = consumer.consume(500, timeout=0.5)
                metrics.BATCHER_IN.inc(len(messages))
                for msg in messages:
                    if msg.error() is not None:
                        raise StackError(_read_error(str(msg.error())))
                    self.take(msg.value() or b"", msg.partition() or 0, msg.offset() or 0)
                idle = not messages
                if idle or time.monotonic() - last_close > CLOSE_EVERY:
                    self.close_due()
                    last_close = time.monotonic()
                if once and idle and self._caught_up() and not self.batcher.due(self.clock.now()):
                    self._drain_requests()
                    return self.anchored
        finally:
            consumer.close()
            if self.cosign_reader is not None:
                self.cosign_reader.close()

    def _drain_requests(self, timeout: float = 30.0) -> None:
        """Act on every request now on ``recon.cosign`` and ``ledger.requests`` (``--once``
        returns only after them, so a script's next step sees the entries)."""
        reader = self.cosign_reader
        if reader is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = False
            requests = self.settings.topic("ledger.requests")
            for tp in reader.assignment():
                _low, high = reader.get_watermark_offsets(tp, timeout=10, cached=False)
                position = reader.position([tp])[0].offset
                # recon.cosign is written in transactions: a read-committed position may stop
                # just before the final marker; ledger.requests has none.
                marker = 0 if tp.topic == requests else 1
                if high > 0 and (position < 0 or position < high - marker):
                    behind = True
            if not behind:
                return
            self.close_due()

    def _caught_up(self) -> bool:
        """Assigned partitions and read to their end (what ``--once`` waits for)."""
        consumer = self.consumer
        assert consumer is not None  # only run() asks, after open()
        assignment = consumer.assignment()
        if not assignment:
            return False
        committed = {tp.partition: tp.offset for tp in consumer.committed(assignment, 10)}
        for tp in consumer.position(assignment):
            if tp.offset < 0:  # nothing fetched yet: the group's committed offset applies
                tp.offset = committed.get(tp.partition, 0)
            _low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            # A read-committed position may stop just before a final transaction marker.
            if high > 0 and tp.offset < high - 1:
                return False
        return True

    def take(self, value: bytes, partition: int, offset: int) -> None:
        """One message of ``usage.rated``, read at ``partition``/``offset``.

        Raises :class:`StackError` for a value that is not a RatedUsage: the worker wrote
        it, so that is a real fault, not input to skip.
        """
        try:
            record = RatedUsage.from_avro(self.codec.decode("rated_usage", value))
        except (CodecError, KeyError, ValueError) as exc:
            raise StackError(
                f"usage.rated {partition}/{offset} is not a RatedUsage: {exc}"
            ) from exc
        self.batcher.add(record, partition, offset)

    def close_due(self) -> None:
        """Anchor every due batch, each in its own transaction, in window order; then append
        the countersignatures the reconciler asked for."""
        for batch in self.batcher.due(self.clock.now()):
            self._anchor(batch)
        if self.cosign_reader is not None:
            requests = self.settings.topic("ledger.requests")
            for msg in self.cosign_reader.consume(100, timeout=0.1):
                if msg.error() is not None:
                    continue
                if msg.topic() == requests:
                    self.append_requested(self.codec.decode("ledger_request", msg.value() or b""))
                else:
                    self.countersign(self.codec.decode("cosign_request", msg.value() or b""))

    def append_requested(self, request: Mapping[str, Any]) -> LedgerEntry | None:
        """Append the settlement entry one ``ledger_request`` asks for, in its own transaction.

        None (nothing written) when the request is for another chain, when the chain already
        holds an entry of that kind with the same payload (asking twice appends once), or when
        the payload is refused: its problems are logged as an error and the request is
        skipped, never signed (the settler that wrote it has a bug to fix).
        """
        if self.writer is None or self.tip is None:
            raise RuntimeError("BatcherLoop: open() or resume() before appending")
        if request["party"] != self.settings.party or request["agreement_id"] != self.book.id:
            return None
        kind = request["kind"]
        try:
            payload = json.loads(request["payload"])
        except ValueError as exc:
            log.error("ledger request %s: payload is not JSON (%s)", request["request_id"], exc)
            return None
        problems = (
            settlement_problems(kind, payload, self.book.id)
            if kind in SETTLEMENT_KINDS
            else [f"kind: got {kind!r}, want one of {', '.join(SETTLEMENT_KINDS)}"]
        )
        if problems:
            log.error(
                "ledger request %s refused, nothing signed: %s",
                request["request_id"],
                "; ".join(problems),
            )
            return None
        identity = (kind, hashlib.sha256(canonical_json(payload)).digest())
        if identity in self.on_chain:
            return None
        tip = self.tip
        entry = tip.next_entry(kind, payload, self.signer, self.clock.now())
        _append(self.writer, self.settings, self.codec.encode("ledger_entry", entry.to_avro()))
        tip.advance(entry)
        self.on_chain.add(identity)
        self.settled += 1
        metrics.entry_appended(kind)
        self.say(f"appended {kind} {request['request_id']}: seq {entry.sequence}")
        return entry

    def countersign(self, request: Mapping[str, Any]) -> LedgerEntry | None:
        """Append a ``countersignature`` entry for one of the reconciler's requests, in its own
        transaction; None (nothing written) when the chain already countersigns that partner
        entry or the request is for another chain."""
        if self.writer is None or self.tip is None:
            raise RuntimeError("BatcherLoop: open() or resume() before countersigning")
        tip, party = self.tip, self.settings.party
        if request["party"] != party or request["agreement_id"] != self.book.id:
            return None
        if tip.countersigned(request["partner"], request["partner_sequence"]) is not None:
            return None
        payload = countersignature_payload(
            partner=request["partner"],
            partner_sequence=request["partner_sequence"],
            partner_entry_hash=bytes(request["partner_entry_hash"]),
            window_start_ms=request["window_start_ms"],
            window_end_ms=request["window_end_ms"],
            revision=request["revision"],
            root=bytes(request["root"]),
            anchor_sequence=request["anchor_sequence"],
        )
        entry = tip.next_entry("countersignature", payload, self.signer, self.clock.now())
        _append(self.writer, self.settings, self.codec.encode("ledger_entry", entry.to_avro()))
        tip.advance(entry)
        self.countersigned += 1
        metrics.entry_appended("countersignature")
        self.say(
            f"countersigned {request['partner']}'s anchor #{request['partner_sequence']} "
            f"(window {request['window_start_ms']}, root {bytes(request['root']).hex()[:16]}…): "
            f"seq {entry.sequence}"
        )
        return entry

    def _anchor(self, batch: Batch) -> None:
        if self.writer is None or self.tip is None:
            raise RuntimeError("BatcherLoop: open() or resume() before anchoring")
        writer, tip = self.writer, self.tip
        party, topic = self.settings.party, self.settings.topic
        self.checkpoint("before-anchor")
        entry = anchor_entry(batch, tip, party, self.signer, self.clock.now())
        key, seq, encode = party.encode(), entry.sequence, self.codec.encode
        try:
            writer.begin()
            writer.produce(
                [
                    (topic("ledger.anchors"), key, encode("ledger_entry", entry.to_avro())),
                    (
                        topic("ledger.digests"),
                        key,
                        encode("batch_digest", digest_record(batch, party, seq)),
                    ),
                    *(
                        (topic("ledger.batches"), key, encode("batch_leaves", part))
                        for part in leaves_parts(batch, party, seq)
                    ),
                ]
            )
            self.checkpoint("after-anchor")
            self.batcher.anchored(batch)
            writer.send_offsets(self.batcher.safe_offsets())
            self.checkpoint("before-commit")
            writer.commit()
        except StackError as exc:
            raise StackError(
                f"anchoring {batch.window_start.isoformat()} rev {batch.revision} failed: {exc}. "
                "If another batcher of this party started, it has taken over (only one may "
                "run); otherwise restart this one: nothing was anchored, nothing is lost"
            ) from exc
        tip.advance(entry)
        self.anchored += 1
        metrics.observe_anchor(batch.tree.leaf_count)
        self.say(
            f"anchored {batch.window_start.isoformat()} rev {batch.revision}: "
            f"{batch.tree.leaf_count} records, root {batch.root.hex()[:16]}…, seq {entry.sequence}"
        )
        self.checkpoint("after-commit")

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """A rebalance takes partitions away: what they gave is kept, nothing is committed."""
        log.info("rebalance: partitions %s revoked", sorted(tp.partition for tp in partitions))
        self.checkpoint("during-rebalance")


def _check_signer(
    trusted: TrustedKeys, settings: Settings, signer: KeyPair, tip: ChainTip, clock: Clock
) -> None:
    """Refuse to sign with anything but the chain's current key, trusted and valid now: what
    this party signs must pass its partner's checks."""
    if tip.key_id is not None and signer.key_id != tip.key_id:
        raise StackError(
            f"--key: got {signer.key_id}, but {settings.party}'s ledger is signed by "
            f"{tip.key_id} (named by its genesis or last key rotation): use that key, or rotate "
            "to this one first (`bilat ledger rotate-key`)"
        )
    problem = trusted.key_problem(settings.party, signer.key_id, clock.now())
    if problem is not None:
        raise StackError(f"--key: refusing to sign for {settings.party}: {problem}")


def init_ledger(
    settings: Settings, signatures: Sequence[Mapping[str, Any]], signer: KeyPair
) -> LedgerEntry | None:
    """Write ``settings.party``'s genesis entry: the agreement and both parties' signatures.

    Returns the entry, or None when the ledger already starts with this very genesis.
    Raises :class:`~streams.ledger.entries.LedgerError` for missing or invalid signatures (by keys
    the agreement does not list for their party, or not valid now) and :class:`StackError`
    for a ``signer`` that is not the key this party signed the agreement with, or a ledger
    that starts with another genesis.
    """
    book = load_book(settings.agreement)
    trusted = TrustedKeys.of_book(book, f"agreement {settings.agreement}")
    now = SystemClock().now()
    problem = trusted.key_problem(settings.party, signer.key_id, now)
    if problem is not None:
        raise StackError(f"--key: refusing to write {settings.party}'s genesis: {problem}")
    payload = genesis_payload(book, signatures, at=now)
    named = payload["parties"][settings.party]["key_id"]
    if signer.key_id != named:
        raise StackError(
            f"--key: got {signer.key_id}, but {settings.party} signed the agreement with "
            f"{named}: the genesis is signed with the key of the party's agreement signature"
        )
    ensure_topics(settings)
    writer = KafkaLedgerWriter.open(settings, book.id)  # fences any running batcher first
    codec = make_codec(settings.schema_registry)
    existing = read_chain(settings, codec, settings.party)
    if existing:
        if min(existing, key=lambda e: e.sequence).payload_json() == payload:
            return None
        raise StackError(
            f"{settings.topic('ledger.anchors')} already holds a different genesis for "
            f"{settings.party}: a ledger is never restarted; use a new topic prefix"
        )
    entry = make_entry(
        None,
        party=settings.party,
        agreement_id=book.id,
        kind="genesis",
        payload=payload,
        signer=signer,
        time=now,
    )
    _append(writer, settings, codec.encode("ledger_entry", entry.to_avro()))
    return entry


def rotate_key(
    settings: Settings, signer: KeyPair, new_key: KeyPair, clock: Clock | None = None
) -> LedgerEntry:
    """Append a ``key-rotation`` entry to ``settings.party``'s chain: from the next entry on,
    ``new_key`` signs it.

    ``signer`` must be the chain's current key; ``new_key`` a key the agreement lists for this
    party, valid now, other than the current one. The new *private* key is needed: the entry
    carries its signature over the rotation (proof of possession,
    :func:`~streams.ledger.payloads.rotation_payload`), so a chain is never handed to a key its
    party does not hold. Fences any running batcher of the chain first (it exits; restart it with
    the new key). Raises :class:`StackError` or :class:`~streams.ledger.entries.LedgerError` saying
    what is wrong; nothing is written then.
    """
    clock = clock or SystemClock()
    book = load_book(settings.agreement)
    trusted = TrustedKeys.of_book(book, f"agreement {settings.agreement}")
    now = clock.now()
    party = settings.party
    listing = next((k for k in trusted.of(party) if k.public_key == new_key.public.raw.hex()), None)
    if listing is None:
        raise StackError(f"--new-key: {trusted.key_problem(party, new_key.key_id)}")
    if not listing.valid_at(now):
        raise StackError(
            f"--new-key: {new_key.key_id} is {listing.window()}, not now ({now.isoformat()})"
        )
    writer = KafkaLedgerWriter.open(settings, book.id)  # fences any running batcher first
    codec = make_codec(settings.schema_registry)
    tip = ChainTip.from_entries(read_chain(settings, codec, party), party, trusted=trusted)
    _check_signer(trusted, settings, signer, tip, clock)
    if tip.key_id == new_key.key_id:
        raise LedgerError(f"--new-key: {new_key.key_id} already signs {party}'s ledger")
    payload = rotation_payload(
        new_key, listing.valid_from, agreement_id=book.id, party=party, old_key_id=signer.key_id
    )
    entry = tip.next_entry("key-rotation", payload, signer, now)
    _append(writer, settings, codec.encode("ledger_entry", entry.to_avro()))
    return entry


def _append(writer: LedgerWriter, settings: Settings, value: bytes) -> None:
    """Append one encoded entry to ``settings.party``'s chain, in a transaction of its own."""
    writer.begin()
    writer.produce([(settings.topic("ledger.anchors"), settings.party.encode(), value)])
    writer.commit()
