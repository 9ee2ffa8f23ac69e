"""``bilat settle``: period close, the Buyer's review, disputes, resolutions and payments (the
thin shell around :mod:`streams.settle`).

What each party does, all through its own chain (appended by its batcher, the chain's only
writer, from ``ledger.requests``) and the mirrored copies of the partner's:

* **Seller, period close** (:meth:`Settler.issue`): the statements of a billing period (one
  per currency, :func:`streams.settle.statement.build_statements`) from the windows both
  chains agree on (equal roots, or records all within tolerance), the inventory and the
  agreement; each statement's canonical JSON goes to ``settle.documents`` (mirrored), its hash
  into a ``statement`` entry. A bill is issued once: a second close of the period finds the
  entry and issues nothing.
* **Buyer, review** (:meth:`Settler.review`): each statement entry on the Seller's chain whose
  document hashes to what the entry names is recomputed from the Buyer's own ledger; equal
  items are accepted (``acceptance`` entry), differing ones disputed (``dispute`` entry with an
  evidence document of records, inclusion proofs and alerts). A resolution of its dispute is
  accepted the same way.
* **Either, by hand**: :meth:`Settler.dispute` (Buyer), :meth:`Settler.resolve` and
  :meth:`Settler.pay` (Seller).
* **View** (:meth:`Settler.publish`): each bill as MEF 141 JSON, its items, disputes and state
  (a fold over both chains, :func:`streams.settle.disputes.bill_status`) to the Redis hash
  ``bilat:<app>:settle:bills``; a create or state change also goes to the stream
  ``bilat:<app>:settle:events``, which the billing API's notifier tails.

Nothing here is kept between runs: every call reads the topics again, so a crash anywhere
loses nothing, and asking twice appends once (the batcher recognises a repeated payload).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from confluent_kafka import Producer

from streams.agreement.loader import load_book
from streams.agreement.model import AgreementBook
from streams.agreement.signing import book_hash
from streams.agreement.trust import TrustedKeys
from streams.contract.codec import Codec
from streams.core.canonical import canonical_json, decimal_text
from streams.core.clock import Clock, SystemClock, from_ms, to_ms
from streams.core.errors import StackError
from streams.ledger.batching import Leaf
from streams.ledger.check import check_ledger
from streams.ledger.entries import LedgerEntry
from streams.ledger.settlement import (
    SETTLEMENT_KINDS,
    acceptance_payload,
    dispute_payload,
    normalise_item_state,
    payment_payload,
    resolution_payload,
    statement_payload,
)
from streams.merkle.buckets import bucket_of
from streams.rating.inventory import Inventory
from streams.reconcile.alerts import Alert
from streams.reconcile.engine import Engine, Outcome
from streams.reconcile.mirroring import mirrored_topic
from streams.reconcile.proofs import bucket_proof
from streams.runtime import metrics
from streams.runtime.config import Settings
from streams.runtime.reader import read_records
from streams.runtime.reconciler import ReconcilerLoop, partner_of
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config, redis_from_url
from streams.settle import mef141
from streams.settle.charges import billing_period
from streams.settle.disputes import BillStatus, DisputeStatus, bill_status
from streams.settle.documents import DocumentError, statement_document, statement_from_document
from streams.settle.evidence import (
    EvidenceRecord,
    anchors_by_party_sequence,
    build_evidence,
    check_evidence,
    evidence_hash,
)
from streams.settle.mef141 import bill_items, customer_bill
from streams.settle.period_close import StatementWindow, disagreements
from streams.settle.statement import AnchorRef, Statement, StatementItem, build_statements

__all__ = [
    "Bill",
    "Issued",
    "Ledgers",
    "Settler",
    "Snapshot",
    "bills_key",
    "events_key",
    "request_entry",
]

log = logging.getLogger("bilat.settle")

TIMEOUT = 30.0


def bills_key(settings: Settings) -> str:
    """The Redis hash of this deployment's bills (bill id → JSON view)."""
    return f"bilat:{settings.app_id}:settle:bills"


def events_key(settings: Settings) -> str:
    """The Redis stream of bill create and state-change events (the API's notifier tails it)."""
    return f"bilat:{settings.app_id}:settle:events"


@dataclass
class Ledgers:
    """One read of both chains and both parties' settlement documents."""

    own: list[LedgerEntry]
    partner: list[LedgerEntry]
    documents: dict[tuple[str, bytes], dict[str, Any]] = field(default_factory=dict)
    """``(kind, hash)`` → the ``settle_document`` record (either party's)."""

    def entries(self, party: str, kind: str) -> list[LedgerEntry]:
        """``party``'s entries of ``kind``, in chain order."""
        chain = self.own if self.own and self.own[0].party == party else self.partner
        return sorted(
            (e for e in chain if e.party == party and e.kind == kind), key=lambda e: e.sequence
        )

    def document(self, kind: str, digest: bytes) -> dict[str, Any] | None:
        return self.documents.get((kind, digest))


def read_ledgers(settings: Settings, alias: str, codec: Codec) -> Ledgers:
    """Both chains (this party's, and the partner's mirrored copy) and every settlement
    document (ours and the mirrored copy of the partner's), read to their ends."""
    own_party = settings.party
    own = [e for e in read_records(settings, "ledger.anchors", codec=codec) if e.party == own_party]
    partner_topic = mirrored_topic(alias, settings.topic("ledger.anchors"))
    partner = [
        e
        for e in read_records(settings, "ledger.anchors", topic=partner_topic, codec=codec)
        if e.party != own_party
    ]
    docs: dict[tuple[str, bytes], dict[str, Any]] = {}
    for topic in (
        settings.topic("settle.documents"),
        mirrored_topic(alias, settings.topic("settle.documents")),
    ):
        for doc in read_records(settings, "settle.documents", topic=topic, codec=codec):
            docs.setdefault((doc["kind"], bytes(doc["hash"])), doc)
    return Ledgers(own, partner, docs)


def request_entry(
    settings: Settings,
    producer: Producer,
    codec: Codec,
    *,
    kind: str,
    payload: Mapping[str, Any],
    request_id: str,
    now: datetime,
) -> None:
    """Ask this party's chain writer (the batcher) to append one settlement entry."""
    record = {
        "request_id": request_id,
        "party": settings.party,
        "agreement_id": payload["agreement_id"],
        "kind": kind,
        "payload": canonical_json(payload).decode(),
        "requested_ms": to_ms(now),
    }
    _produce(
        producer,
        settings.topic("ledger.requests"),
        request_id,
        codec.encode("ledger_request", record),
    )


def publish_document(
    settings: Settings,
    producer: Producer,
    codec: Codec,
    *,
    kind: str,
    document_id: str,
    agreement_id: str,
    body: bytes,
    digest: bytes,
    now: datetime,
) -> None:
    """Publish one settlement document (statement or evidence) on ``settle.documents``."""
    record = {
        "document_id": document_id,
        "kind": kind,
        "party": settings.party,
        "agreement_id": agreement_id,
        "hash": digest,
        "body": body.decode(),
        "published_ms": to_ms(now),
    }
    _produce(
        producer,
        settings.topic("settle.documents"),
        document_id,
        codec.encode("settle_document", record),
    )


def _produce(producer: Producer, topic: str, key: str, value: bytes) -> None:
    errors: list[str] = []
    producer.produce(
        topic,
        key=key.encode(),
        value=value,
        on_delivery=lambda err, _m: errors.append(str(err)) if err else None,
    )
    if producer.flush(TIMEOUT) or errors:
        raise StackError(f"publishing to {topic} failed: {errors or 'not delivered in time'}")


def open_producer(settings: Settings) -> Producer:
    return Producer(
        kafka_config(
            settings,
            {
                "enable.idempotence": True,
            },
        )
    )


class SettlerBase:
    """What every settlement action needs: settings, the agreement, both chains' names."""

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
        self.book: AgreementBook = load_book(settings.agreement)
        self.partner = partner_of(settings)
        self.alias = partner_alias or self.partner
        self.redis_url = settings.redis if redis_url is None else redis_url
        agreement = self.book.latest
        self.role = "seller" if settings.party == agreement.seller.id else "buyer"
        self.trusted = TrustedKeys.of_book(self.book, f"agreement {settings.agreement}")
        self.seller = agreement.seller.id
        self.buyer = agreement.buyer.id

    def ask(
        self, kind: str, payload: Mapping[str, Any], identity: str, producer: Producer | None = None
    ) -> None:
        """Ask this party's batcher to append a ``kind`` entry of ``payload`` (request id
        ``<kind>:<identity>``; asking again appends nothing more)."""
        request_entry(
            self.settings,
            producer or open_producer(self.settings),
            self.codec,
            kind=kind,
            payload=payload,
            request_id=f"{kind}:{identity}",
            now=self.clock.now(),
        )

    def ledgers(self) -> Ledgers:
        return read_ledgers(self.settings, self.alias, self.codec)

    def wait_for(
        self, kind: str, test: Callable[[LedgerEntry], bool], timeout: float = 30.0
    ) -> LedgerEntry | None:
        """The first entry of ``kind`` on this party's chain passing ``test``, waiting up to
        ``timeout`` seconds for the batcher to append it; None if it did not."""
        deadline = time.monotonic() + timeout
        while True:
            own = [
                e
                for e in read_records(self.settings, "ledger.anchors", codec=self.codec)
                if e.party == self.settings.party and e.kind == kind
            ]
            found = next((e for e in own if test(e)), None)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise StackError(message)


@dataclass(frozen=True)
class Bill:
    """One bill as both chains have it: the Seller's statement entry, its document (None
    until it is mirrored here, or when it does not hash to what the entry names) and its
    state folded from both chains."""

    entry: LedgerEntry
    statement: Statement | None
    status: BillStatus | None
    problem: str = ""

    @property
    def bill_id(self) -> str:
        return str(self.entry.payload_json()["bill_id"])

    @property
    def statement_hash(self) -> bytes:
        return bytes.fromhex(self.entry.payload_json()["statement_hash"])


@dataclass(frozen=True)
class Snapshot:
    """One read of everything settlement needs: both chains, the documents and where
    reconciliation stands (its engine holds this party's leaves)."""

    ledgers: Ledgers
    outcome: Outcome
    engine: Engine
    inventory: Inventory


class Settler(SettlerBase):
    """One party's settlement actions (see the module docstring)."""

    # --- reading --------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Read both chains, the documents, the leaves, the inventory; evaluate reconciliation
        (publishing nothing)."""
        loop = ReconcilerLoop(
            self.settings, self.alias, clock=self.clock, say=self.say, redis_url=""
        )
        outcome = loop.snapshot()
        inventory = Inventory()
        for event in read_records(self.settings, "sonata.orders", codec=self.codec):
            inventory.apply(event)
        return Snapshot(self.ledgers(), outcome, loop.engine, inventory)

    def bills(self, snap: Snapshot) -> list[Bill]:
        """Every bill the Seller's chain states (the partner's chain up to its first finding
        against the pinned keys), with its document and state."""
        partner = self.trusted_partner(snap.ledgers.partner)
        chains = {self.settings.party: snap.ledgers.own, self.partner: partner}
        settlement = [e for chain in chains.values() for e in chain if e.kind in SETTLEMENT_KINDS]
        dispute_days = self.book.latest.tolerances.dispute_days
        bills = []
        for entry in chains[self.seller]:
            if entry.kind != "statement" or entry.party != self.seller:
                continue
            digest = bytes.fromhex(entry.payload_json()["statement_hash"])
            doc = snap.ledgers.document("statement", digest)
            if doc is None:
                bills.append(Bill(entry, None, None, "its statement document is not here yet"))
                continue
            try:
                statement = statement_from_document(doc["body"], digest)
            except DocumentError as exc:
                bills.append(Bill(entry, None, None, str(exc)))
                continue
            status = bill_status(statement, settlement, dispute_days=dispute_days)
            bills.append(Bill(entry, statement, status))
        return bills

    def trusted_partner(self, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        """The partner's entries up to its chain's first finding (signatures against the
        agreement's pinned keys, links, sequence): nothing after a bad entry is used."""
        findings = check_ledger(entries, self.partner, trusted=self.trusted)
        if not findings:
            return list(entries)
        first = min((f.sequence for f in findings if f.sequence is not None), default=-1)
        return [e for e in entries if 0 <= e.sequence < first]

    # --- statements -------------------------------------------------------------------------

    def windows(self, snap: Snapshot, start: datetime, end: datetime) -> list[StatementWindow]:
        """What reconciliation knows of each window starting in ``[start, end)``."""
        own = _anchors(snap.ledgers.own, self.settings.party)
        theirs = _anchors(snap.ledgers.partner, self.partner)
        tolerated = disagreements(snap.outcome.alerts, seller_side=self.role == "seller")
        result = []
        low, high = to_ms(start), to_ms(end)
        for status in snap.outcome.windows:
            begin, finish = status.window
            if not low <= begin < high:
                continue
            refs = []
            ours = own.get((begin, finish, status.here_revision or 0))
            if ours is not None and status.here_revision is not None:
                refs.append(_ref(ours))
            partner = theirs.get((begin, finish, status.partner_revision or 0))
            if partner is not None and status.partner_revision is not None:
                refs.append(_ref(partner))
            leaves: tuple[Leaf, ...] = ()
            if status.here_revision is not None:
                leaves = snap.engine.own_leaves.get((begin, finish, status.here_revision), ())
            result.append(
                StatementWindow(
                    begin,
                    finish,
                    status.state,
                    tuple(refs),
                    leaves,
                    tolerated.get((begin, finish), {}),
                )
            )
        return result

    def statements(self, snap: Snapshot, period_at: datetime) -> list[Statement]:
        """This party's view of the statements of the billing period containing ``period_at``
        (Seller and Buyer compute the same from agreed windows)."""
        start, end = billing_period(self.book.in_force(period_at), period_at)
        return build_statements(
            self.book,
            self.settings.party,
            period_at,
            self.windows(snap, start, end),
            snap.inventory,
        )

    def issue(self, period_at: datetime, snap: Snapshot | None = None) -> list[Issued]:
        """Seller: publish the statements of the period containing ``period_at`` and ask for
        their ``statement`` entries; a bill already on the chain is not issued again."""
        require(
            self.role == "seller",
            f"only the Seller ({self.seller}) issues statements; this is {self.buyer}",
        )
        snap = snap or self.snapshot()
        done = {
            e.payload_json()["bill_id"]: e for e in snap.ledgers.entries(self.seller, "statement")
        }
        now = self.clock.now()
        producer = open_producer(self.settings)
        issued = []
        for statement in self.statements(snap, period_at):
            if statement.id in done:
                issued.append(Issued(statement, done[statement.id], fresh=False))
                continue
            body, digest = statement_document(statement)
            publish_document(
                self.settings,
                producer,
                self.codec,
                kind="statement",
                document_id=statement.id,
                agreement_id=statement.agreement_id,
                body=body,
                digest=digest,
                now=now,
            )
            payload = statement_payload(
                agreement_id=statement.agreement_id,
                bill_id=statement.id,
                currency=statement.currency,
                period_start=statement.period_start,
                period_end=statement.period_end,
                bill_date=statement.bill_date,
                statement_hash=digest,
                amount_due=statement.amount_due,
                item_count=len(statement.items),
            )
            self.ask("statement", payload, statement.id, producer)
            issued.append(Issued(statement, None, fresh=True))
        return issued

    # --- the Buyer's review ---------------------------------------------------------------

    def review(self, snap: Snapshot | None = None, dry_run: bool = False) -> list[str]:
        """Buyer: accept or dispute every bill not reviewed yet, and accept the resolution of
        each of its disputes. Returns what was asked, one line each; with ``dry_run`` only
        what each unreviewed bill's check finds, nothing asked."""
        require(
            self.role == "buyer",
            f"only the Buyer ({self.buyer}) reviews statements; this is {self.seller}",
        )
        snap = snap or self.snapshot()
        said = []
        producer: Producer | None = None
        for bill in self.bills(snap):
            if bill.statement is None or bill.status is None:
                said.append(f"{bill.bill_id}: waiting ({bill.problem})")
                continue
            status = bill.status
            unsettled = self.unsettled_windows(snap, bill.statement)
            if not (status.accepted or status.disputes) and unsettled:
                # Our own reconciliation of the period is not done: a recomputation now could
                # differ only because of that, and a dispute would be wrong. Review later.
                said.append(
                    f"{bill.bill_id}: waiting (reconciliation of {unsettled} window(s) of the "
                    "period still waits for the partner or drills down)"
                )
                continue
            if not (status.accepted or status.disputes):
                if dry_run:
                    said.append(self.check(snap, bill)[1])
                    continue
                producer = producer or open_producer(self.settings)
                said.append(self._review_bill(snap, bill, producer))
            for dispute in status.disputes:
                if dry_run or dispute.state != "resolved" or dispute.accepted:
                    continue
                if not dispute.resolutions:
                    continue
                producer = producer or open_producer(self.settings)
                payload = acceptance_payload(
                    agreement_id=self.book.id,
                    bill_id=bill.bill_id,
                    statement_hash=bill.statement_hash,
                    statement_entry=bill.entry,
                    resolution_entry=dispute.resolutions[-1],
                )
                self.ask("acceptance", payload, f"{bill.bill_id}/{dispute.dispute_id}", producer)
                said.append(f"{bill.bill_id}: accepted the resolution of {dispute.dispute_id}")
        return said

    def unsettled_windows(self, snap: Snapshot, statement: Statement) -> int:
        """How many windows of ``statement``'s period this party's reconciliation still
        waits on (``waiting`` for the partner's anchor or digest, ``drilling`` for an answer)."""
        low, high = to_ms(statement.period_start), to_ms(statement.period_end)
        return sum(
            1
            for w in snap.outcome.windows
            if low <= w.window[0] < high and w.state in ("waiting", "drilling")
        )

    def check(self, snap: Snapshot, bill: Bill) -> tuple[list[str], str]:
        """The items of a stated bill that differ from this party's own computation of the
        period (none when its hash is the statement's), and one line saying so."""
        statement = bill.statement
        assert statement is not None
        mine = {s.id: s for s in self.statements(snap, statement.period_start)}
        expected = mine.get(statement.id)
        if expected is not None and expected.canonical_hash() == bill.statement_hash:
            return [], (
                f"{bill.bill_id}: every item matches {self.settings.party}'s ledger "
                f"({statement.amount_due} {statement.currency})"
            )
        differing = differing_items(statement, expected)
        return differing, (
            f"recomputed from {self.settings.party}'s own ledger, {len(differing)} item(s) differ: "
            + "; ".join(explain_difference(statement, expected, item) for item in differing[:5])
        )

    def _review_bill(self, snap: Snapshot, bill: Bill, producer: Producer) -> str:
        assert bill.statement is not None
        differing, finding = self.check(snap, bill)
        if not differing:
            payload = acceptance_payload(
                agreement_id=self.book.id,
                bill_id=bill.bill_id,
                statement_hash=bill.statement_hash,
                statement_entry=bill.entry,
            )
            self.ask("acceptance", payload, bill.bill_id, producer)
            return f"{finding}: accepted"
        dispute_id = self.dispute(
            bill.bill_id, differing, (), finding, snap=snap, producer=producer
        )
        return f"{bill.bill_id}: disputed {', '.join(differing)} as {dispute_id}: {finding}"

    # --- by hand ----------------------------------------------------------------------------

    def dispute(
        self,
        bill_id: str,
        items: Sequence[str],
        records: Sequence[str],
        reason: str,
        *,
        snap: Snapshot | None = None,
        producer: Producer | None = None,
    ) -> str:
        """Buyer: dispute ``items`` of a bill, citing ``records`` (usage keys; those of the items'
        windows when none are named) with their inclusion proofs and the reconciliation alerts
        of those windows. Returns the dispute id.

        Raises :class:`StackError` for an unknown bill or item, or a bill past its dispute
        window (the Seller's fold would refuse the entry: it is never asked for).
        """
        require(
            self.role == "buyer", f"only the Buyer ({self.buyer}) disputes; this is {self.seller}"
        )
        snap = snap or self.snapshot()
        bill = self._bill(snap, bill_id)
        statement = bill.statement
        assert statement is not None and bill.status is not None
        unknown = [i for i in items if statement.item(i) is None]
        require(
            bool(items) and not unknown,
            f"{bill_id}: no such item {unknown[0] if unknown else '(none named)'}; items: "
            + ", ".join(i.id for i in statement.items),
        )
        not_open = [i for i in items if bill.status.item_states.get(i) != "generated"]
        require(
            not not_open,
            f"{bill_id}: {', '.join(not_open)} no longer 'generated' "
            f"({', '.join(bill.status.item_states[i] for i in not_open)}): nothing to dispute",
        )
        now = self.clock.now()
        deadline = statement.bill_date + timedelta(days=self.book.latest.tolerances.dispute_days)
        require(
            now <= deadline,
            f"{bill_id}: the dispute window closed on {deadline.isoformat()} "
            f"({self.book.latest.tolerances.dispute_days} days after the bill date)",
        )
        chosen = [statement.item(i) for i in items]
        evidence_records, alerts = self._evidence(
            snap, [i for i in chosen if i is not None], records
        )
        dispute_id = (
            f"{bill_id}/d-"
            + hashlib.sha256(
                canonical_json(
                    {"items": sorted(items), "records": sorted(records), "reason": reason}
                )
            ).hexdigest()[:12]
        )
        document = build_evidence(
            agreement_id=self.book.id,
            bill_id=bill_id,
            dispute_id=dispute_id,
            statement_hash=bill.statement_hash,
            items=items,
            records=evidence_records,
            alerts=alerts,
        )
        digest = evidence_hash(document)
        producer = producer or open_producer(self.settings)
        publish_document(
            self.settings,
            producer,
            self.codec,
            kind="evidence",
            document_id=dispute_id,
            agreement_id=self.book.id,
            body=canonical_json(document),
            digest=digest,
            now=now,
        )
        payload = dispute_payload(
            agreement_id=self.book.id,
            dispute_id=dispute_id,
            bill_id=bill_id,
            statement_hash=bill.statement_hash,
            statement_entry=bill.entry,
            items=items,
            records=sorted({r.fields["key"] for r in evidence_records}),
            alerts=sorted({a.alert_id for a in alerts}),
            evidence_hash=digest,
            reason=reason,
        )
        self.ask("dispute", payload, dispute_id, producer)
        return dispute_id

    def _evidence(
        self, snap: Snapshot, items: Sequence[StatementItem], named: Sequence[str]
    ) -> tuple[list[EvidenceRecord], list[Alert]]:
        """This party's records cited for ``items`` (``named`` usage keys, or every record of
        the items' windows with the item's rate, at most :data:`MAX_EVIDENCE_RECORDS`), each
        with its proof against this party's anchor, and the alerts of those windows."""
        own = _anchors(snap.ledgers.own, self.settings.party)
        windows = {(a.window_start_ms, a.window_end_ms) for i in items for a in i.anchors}
        rates = {i.rate_id for i in items if i.rate_id}
        wanted = set(named)
        records: list[EvidenceRecord] = []
        for (begin, finish, revision), entry in sorted(own.items()):
            if (begin, finish) not in windows and not wanted:
                continue
            leaves = snap.engine.own_leaves.get((begin, finish, revision), ())
            chosen = [
                leaf
                for leaf in leaves
                if (leaf.usage_key in wanted) or (not wanted and leaf.rate_id in rates)
            ]
            if not chosen:
                continue
            members, hashes = snap.engine.members((begin, finish, revision))
            for leaf in chosen:
                bucket = bucket_of(leaf.usage_key, snap.engine.depth, snap.engine.salt)
                proof = bucket_proof(hashes, members.get(bucket, []), bucket, leaf.usage_key)
                if proof is not None and len(records) < MAX_EVIDENCE_RECORDS:
                    records.append(EvidenceRecord(leaf.fields(self.book.id), entry, proof))
        missing = wanted - {r.fields["key"] for r in records}
        require(
            not missing,
            f"no record {', '.join(sorted(missing))} in "
            f"{self.settings.party}'s anchored batches: name usage keys as `bilat read "
            "ledger.batches` shows them",
        )
        keys = {r.fields["key"] for r in records}
        alerts = [
            a
            for a in snap.outcome.alerts
            if (a.window_start_ms, a.window_end_ms) in windows or keys & set(a.record_keys)
        ]
        return records, alerts

    def resolve(
        self, dispute_id: str, outcomes: Mapping[str, tuple[str, Decimal | None]], note: str = ""
    ) -> str:
        """Seller: resolve a dispute: per item ``(state, credit)``, the state ``credit``,
        ``withDrawn`` (``withdrawn``) or ``paymentDue`` (the dispute rejected for it); a
        ``credit`` without an amount credits the whole item. Returns the bill id."""
        require(
            self.role == "seller",
            f"only the Seller ({self.seller}) resolves disputes; this is {self.buyer}",
        )
        snap = self.snapshot()
        found = [
            (b, d)
            for b in self.bills(snap)
            if b.status
            for d in b.status.disputes
            if d.dispute_id == dispute_id
        ]
        require(
            bool(found),
            f"no dispute {dispute_id} on {self.buyer}'s chain (yet): "
            "`bilat settle status` lists them",
        )
        bill, dispute = found[0]
        assert bill.statement is not None
        require(dispute.state == "open", f"dispute {dispute_id} is already resolved")
        unknown = sorted(set(outcomes) - set(dispute.items))
        require(
            not unknown,
            f"dispute {dispute_id} does not name {', '.join(unknown)}; it names "
            + ", ".join(dispute.items),
        )
        missing = sorted(set(dispute.items) - set(outcomes))
        require(not missing, f"dispute {dispute_id}: say the outcome of {', '.join(missing)} too")
        full: dict[str, tuple[str, Decimal]] = {}
        for item_id, (state, credit) in outcomes.items():
            item = bill.statement.item(item_id)
            assert item is not None
            state = normalise_item_state(state)
            amount = (
                Decimal(0) if state != "credit" else (item.amount if credit is None else credit)
            )
            full[item_id] = (state, amount)
        payload = resolution_payload(
            agreement_id=self.book.id,
            dispute_id=dispute_id,
            bill_id=bill.bill_id,
            dispute_entry=dispute.entry,
            outcomes=full,
            note=note,
        )
        self.ask("resolution", payload, dispute_id)
        return bill.bill_id

    def pay(self, bill_id: str, amount: Decimal | None = None, payment_id: str = "") -> Decimal:
        """Seller: record a payment received against a bill (the remaining amount when none is
        given). Returns the amount recorded."""
        require(
            self.role == "seller",
            f"only the Seller ({self.seller}) records payments; this is {self.buyer}",
        )
        snap = self.snapshot()
        bill = self._bill(snap, bill_id)
        assert bill.status is not None and bill.statement is not None
        require(
            bill.status.state == "paymentDue",
            f"{bill_id} is {bill.status.state}, not paymentDue: nothing can be paid yet",
        )
        paid = bill.status.remaining if amount is None else amount
        require(paid > 0, f"{bill_id}: nothing remains due ({bill.status.remaining})")
        now = self.clock.now()
        payment_id = payment_id or f"{bill_id}/p-{to_ms(now)}"
        payload = payment_payload(
            agreement_id=self.book.id,
            bill_id=bill_id,
            payment_id=payment_id,
            amount=paid,
            currency=bill.statement.currency,
            paid=now,
        )
        self.ask("payment", payload, payment_id)
        return paid

    def _bill(self, snap: Snapshot, bill_id: str) -> Bill:
        bills = {b.bill_id: b for b in self.bills(snap)}
        bill = bills.get(bill_id)
        require(
            bill is not None,
            f"no bill {bill_id} on {self.seller}'s chain (yet); bills: "
            + (", ".join(sorted(bills)) or "none"),
        )
        assert bill is not None
        require(bill.statement is not None, f"{bill_id}: {bill.problem}")
        return bill

    # --- the view dashboards and the billing API read ---------------------------------------

    def evidence_problems(self, snap: Snapshot, dispute: DisputeStatus) -> list[str]:
        """Every problem of a dispute's evidence document, checked against both chains (the
        partner's up to its first finding against the pinned keys); ``[]`` when it holds."""
        digest = bytes.fromhex(dispute.evidence_hash)
        doc = snap.ledgers.document("evidence", digest)
        if doc is None:
            return ["the evidence document is not here (yet)"]
        chains = [*snap.ledgers.own, *self.trusted_partner(snap.ledgers.partner)]
        entry = next(
            (
                e
                for e in chains
                if e.kind == "dispute" and (e.sequence, e.entry_hash()) == dispute.entry
            ),
            None,
        )
        try:
            document = json.loads(doc["body"])
        except ValueError as exc:
            return [f"layout: not JSON ({exc})"]
        return check_evidence(
            document,
            anchors_by_party_sequence(chains),
            salt=book_hash(self.book),
            dispute=None if entry is None else entry.payload_json(),
        )

    def views(self, snap: Snapshot) -> dict[str, dict[str, Any]]:
        """Each bill as the Redis view holds it (see the module docstring)."""
        views = {}
        for bill in self.bills(snap):
            if bill.statement is None or bill.status is None:
                continue
            statement, status = bill.statement, bill.status
            views[bill.bill_id] = {
                "bill": customer_bill(statement, status),
                "items": bill_items(statement, status),
                "statement_hash": bill.statement_hash.hex(),
                "role": self.role,
                "agreement_id": statement.agreement_id,
                "currency": statement.currency,
                "seller": statement.seller,
                "buyer": statement.buyer,
                "amount_due": decimal_text(status.amount_due),
                "remaining": decimal_text(status.remaining),
                "state": status.state,
                "statement_entry": bill.entry.sequence,
                "disputes": [
                    {
                        "dispute_id": d.dispute_id,
                        "items": list(d.items),
                        "records": list(d.records),
                        "alerts": list(d.alerts),
                        "state": d.state,
                        "reason": d.reason,
                        "evidence_hash": d.evidence_hash,
                        "outcomes": [
                            {"item": o.item, "state": o.state, "credit": decimal_text(o.credit)}
                            for o in d.outcomes
                        ],
                        "accepted": d.accepted,
                        "evidence_ok": not (found := self.evidence_problems(snap, d)),
                        "evidence_problems": found,
                    }
                    for d in status.disputes
                ],
                "findings": [str(f) for f in status.findings],
                "updated_ms": to_ms(status.last_update),
            }
        return views

    def publish(self, snap: Snapshot) -> list[dict[str, str]]:
        """Write every bill's view to Redis; a new bill or a changed state also becomes an
        event on the stream. Returns the events written (none without Redis)."""
        if not self.redis_url:
            return []
        client = redis_from_url(self.redis_url, self.settings.redis_security, decode_responses=True)
        key, stream = bills_key(self.settings), events_key(self.settings)
        events = []
        try:
            for bill_id, view in sorted(self.views(snap).items()):
                before = client.hget(key, bill_id)
                old_state = json.loads(before)["state"] if before else None
                client.hset(key, bill_id, mef141.dumps(view))
                if old_state == view["state"]:
                    continue
                event = {
                    "event": "customerBillCreateEvent"
                    if old_state is None
                    else "customerBillStateChangeEvent",
                    "bill_id": bill_id,
                    "state": view["state"],
                    "time": self.clock.now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
                }
                client.xadd(stream, event)  # type: ignore[arg-type]
                events.append(event)
        except redis.RedisError as exc:
            raise StackError(f"writing the bills to Redis at {self.redis_url}: {exc}") from exc
        finally:
            client.close()
        return events

    # --- the agent --------------------------------------------------------------------------

    def step(self) -> list[str]:
        """One round of the agent: the Seller closes every period whose bill date has passed
        and is not issued yet; the Buyer reviews; both publish the view."""
        snap = self.snapshot()
        said: list[str] = []
        if self.role == "seller":
            for period_at in self.due_periods(snap):
                for issued in self.issue(period_at, snap):
                    if issued.fresh:
                        said.append(f"issued {issued.statement.id}: {issued.summary()}")
        else:
            said.extend(line for line in self.review(snap) if "waiting" not in line)
        metrics.observe_bills(
            (
                b.status.state,
                b.statement.currency,
                b.status.item_states,
                b.status.amount_due,
                b.status.remaining,
                sum(d.state == "open" for d in b.status.disputes),
            )
            for b in self.bills(snap)
            if b.status is not None and b.statement is not None
        )
        for event in self.publish(snap):
            said.append(f"{event['bill_id']}: {event['event']} ({event['state']})")
        return said

    def due_periods(self, snap: Snapshot) -> list[datetime]:
        """Periods with anchored usage whose bill date (period end + the settlement grace) has
        passed and that have no statement on this chain yet."""
        now = self.clock.now()
        issued = {
            (e.payload_json()["period_start_ms"])
            for e in snap.ledgers.entries(self.seller, "statement")
        }
        starts = {}
        for status in snap.outcome.windows:
            at = from_ms(status.window[0])
            terms = self.book.in_force(at)
            start, end = billing_period(terms, at)
            if to_ms(start) in issued:
                continue
            if now >= end + timedelta(seconds=terms.settle.grace_seconds):
                starts[to_ms(start)] = start
        return [starts[k] for k in sorted(starts)]

    def run(self, interval: float = 10.0, max_seconds: float | None = None) -> int:
        """Run :meth:`step` every ``interval`` seconds until stopped (or ``max_seconds``).
        Returns the rounds run."""
        started = time.monotonic()
        rounds = 0
        while True:
            rounds += 1
            for line in self.step():
                self.say(line)
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                return rounds
            time.sleep(interval)


MAX_EVIDENCE_RECORDS = 200
"""Records cited in one automatic dispute (each with its proof); a person can name more."""


@dataclass(frozen=True)
class Issued:
    """One statement of a period close: issued now (``fresh``) or found on the chain."""

    statement: Statement
    entry: LedgerEntry | None
    fresh: bool

    def summary(self) -> str:
        s = self.statement
        return (
            f"{len(s.items)} items, amount due {s.amount_due} {s.currency}, "
            f"bill date {s.bill_date.date().isoformat()}"
        )


def _anchors(entries: Sequence[LedgerEntry], party: str) -> dict[tuple[int, int, int], LedgerEntry]:
    """``party``'s anchor entries by (window start, window end, revision)."""
    found = {}
    for entry in entries:
        if entry.party == party and entry.kind == "anchor":
            p = entry.payload_json()
            found[(p["window_start_ms"], p["window_end_ms"], p["revision"])] = entry
    return found


def _ref(entry: LedgerEntry) -> AnchorRef:
    p = entry.payload_json()
    return AnchorRef(
        entry.party,
        entry.sequence,
        p["window_start_ms"],
        p["window_end_ms"],
        p["revision"],
        p["root"],
    )


def differing_items(stated: Statement, expected: Statement | None) -> list[str]:
    """Ids of the stated items that are not exactly as ``expected`` has them (all of them when
    nothing is expected; all when only the header differs)."""
    if expected is None:
        return [i.id for i in stated.items]
    ours = {i.id: i.canonical() for i in expected.items}
    differ = [i.id for i in stated.items if ours.get(i.id) != i.canonical()]
    return differ or [i.id for i in stated.items]


def explain_difference(stated: Statement, expected: Statement | None, item_id: str) -> str:
    """One phrase: the item as stated and as this party computes it."""
    item = stated.item(item_id)
    assert item is not None
    ours = expected.item(item_id) if expected is not None else None
    if ours is None:
        return (
            f"{item_id} ({item.description}, {item.amount} {item.currency}) is not on our statement"
        )
    if ours.amount != item.amount:
        return f"{item_id} ({item.description}): {item.amount} stated, {ours.amount} by our ledger"
    return f"{item_id} ({item.description}): stated differently ({item.sources[:1]})"
