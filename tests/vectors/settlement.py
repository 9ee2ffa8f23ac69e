"""The settlement vectors of ``docs/spec/ledger.md`` ("Settlement"): two bills settled across
both parties' chains, one ending in a credit and one withdrawn, the entries each rule refuses,
and a dispute's evidence document. Called by :mod:`tests.vectors.generate` with its world (so
this module imports nothing from it): hgc's chain (the Seller) and dcc's (the Buyer), both
with their genesis and the anchors of the vectors' batches.

The statement document is a stand-in (``docs/spec/settlement.md`` specifies the real one):
its hash is ``SHA-256(tag("statement.v1", canonical JSON of "statement_document"))``, and the
bill's items and amounts are those the document lists.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.core.canonical import canonical_json, tagged
from streams.core.clock import to_ms
from streams.core.keys import KeyPair
from streams.ledger.batching import Batch
from streams.ledger.bundle_format import entry_to_json
from streams.ledger.entries import LedgerEntry, make_entry
from streams.ledger.settlement import (
    acceptance_payload,
    dispute_payload,
    payment_payload,
    resolution_payload,
    statement_payload,
)
from streams.reconcile.alerts import make_alert
from streams.settle.disputes import BillStatus, BillSummary, bill_status
from streams.settle.evidence import (
    EvidenceRecord,
    anchors_by_party_sequence,
    build_evidence,
    check_evidence,
    evidence_hash,
)

__all__ = ["settlement_vectors"]

PERIOD = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
BILL_DATE = datetime(2026, 3, 2, tzinfo=UTC)
ISSUED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
"""The statement entry's time; each later decision is an hour after the one before."""


@dataclass
class _Item:
    id: str
    amount: Decimal


@dataclass
class _Statement:
    """A stand-in statement: what BillSummary.of reads."""

    id: str
    agreement_id: str
    items: tuple[_Item, ...]
    bill_date: datetime = BILL_DATE
    seller: str = "hgc"
    buyer: str = "dcc"
    currency: str = "EUR"

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agreement_id": self.agreement_id,
            "currency": self.currency,
            "items": [{"id": i.id, "amount": str(i.amount)} for i in self.items],
        }

    def canonical_hash(self) -> bytes:
        return hashlib.sha256(tagged("statement.v1", canonical_json(self.document()))).digest()


def _statement(agreement_id: str, month: str) -> _Statement:
    bill = f"{agreement_id}-{month}-EUR"
    amounts = ("120.5", "40.25", "-12")
    items = tuple(_Item(f"{bill}-{n:04d}", Decimal(a)) for n, a in enumerate(amounts, 1))
    return _Statement(bill, agreement_id, items)


@dataclass
class _Chains:
    """Both chains of one scenario and the state after each settlement entry."""

    statement: _Statement
    dispute_days: int
    keys: dict[str, KeyPair]
    chains: dict[str, list[LedgerEntry]]
    now: datetime = ISSUED
    steps: list[dict[str, Any]] = field(default_factory=list)

    def append(self, party: str, kind: str, payload: Any, at: datetime | None = None) -> Any:
        chain = self.chains[party]
        entry = make_entry(chain[-1], party=party, agreement_id=chain[-1].agreement_id,
                           kind=kind, payload=payload, signer=self.keys[party],
                           time=at or self.now)  # fmt: skip
        self.now += timedelta(hours=1)
        chain.append(entry)
        status = self.status()
        self.steps.append({"entry": {"party": party, "sequence": entry.sequence, "kind": kind},
                           "want": _status_json(status)})  # fmt: skip
        return entry

    def status(self) -> BillStatus:
        summary = BillSummary.of(self.statement, self.dispute_days)
        return bill_status(summary, [e for c in self.chains.values() for e in c])

    # the decisions, built with Bilat's payload builders
    def issue(self) -> LedgerEntry:
        s = self.statement
        payload = statement_payload(
            agreement_id=s.agreement_id, bill_id=s.id, currency=s.currency,
            period_start=PERIOD[0], period_end=PERIOD[1], bill_date=s.bill_date,
            statement_hash=s.canonical_hash(), item_count=len(s.items),
            amount_due=sum((i.amount for i in s.items), Decimal(0)),
        )  # fmt: skip
        entry: LedgerEntry = self.append("hgc", "statement", payload)
        return entry

    def stated(self) -> LedgerEntry:
        return next(e for e in self.chains["hgc"] if e.kind == "statement")

    def dispute(self, items: list[str], dispute_id: str, **changes: Any) -> Any:
        s = self.statement
        fields = dict(
            agreement_id=s.agreement_id, dispute_id=dispute_id, bill_id=s.id,
            statement_hash=s.canonical_hash(), statement_entry=self.stated(), items=items,
            records=["ix-fra-01/cdr-0002"], alerts=[], evidence_hash=bytes(32),
            reason="the partner's amounts exceed ours",
        )  # fmt: skip
        at = changes.pop("at", None)
        return self.append("dcc", "dispute", dispute_payload(**(fields | changes)), at)

    def resolve(self, dispute: LedgerEntry, decided: dict[str, Any], **changes: Any) -> Any:
        s = self.statement
        payload = resolution_payload(
            agreement_id=s.agreement_id, dispute_id=dispute.payload_json()["dispute_id"],
            bill_id=s.id, dispute_entry=dispute, outcomes=decided, note="checked",
        ) | changes  # fmt: skip
        return self.append("hgc", "resolution", payload)

    def accept(self, resolution: Any = None) -> Any:
        s = self.statement
        payload = acceptance_payload(
            agreement_id=s.agreement_id, bill_id=s.id, statement_hash=s.canonical_hash(),
            statement_entry=self.stated(), resolution_entry=resolution,
        )  # fmt: skip
        return self.append("dcc", "acceptance", payload)

    def pay(self, amount: str, payment_id: str, currency: str = "EUR") -> Any:
        s = self.statement
        payload = payment_payload(
            agreement_id=s.agreement_id, bill_id=s.id, payment_id=payment_id,
            amount=Decimal(amount), currency=currency, paid=self.now,
        )  # fmt: skip
        return self.append("hgc", "payment", payload)


def _status_json(status: BillStatus) -> dict[str, Any]:
    """What a settlement vector pins of the state (not the findings' wording)."""
    data = status.to_json()
    return {
        "state": data["state"],
        "item_states": data["item_states"],
        "amount_due": data["amount_due"],
        "credits": data["credits"],
        "paid": data["paid"],
        "remaining": data["remaining"],
        "accepted": data["accepted"],
        "disputes": [
            {k: d[k] for k in ("dispute_id", "state", "accepted", "outcomes")}
            for d in data["disputes"]
        ],
        "findings": sorted({(f["kind"], f["party"], f["sequence"]) for f in data["findings"]}),
    }


def _scenario_vector(desc: str, run: _Chains) -> dict[str, Any]:
    s = run.statement
    return {
        "desc": desc,
        "bill": {
            "bill_id": s.id,
            "agreement_id": s.agreement_id,
            "seller": s.seller,
            "buyer": s.buyer,
            "currency": s.currency,
            "bill_date_ms": to_ms(s.bill_date),
            "dispute_days": run.dispute_days,
            "statement_document": s.document(),
            "statement_hash": s.canonical_hash().hex(),
            "items": [{"id": i.id, "amount": str(i.amount)} for i in s.items],
        },
        "chains": {p: [entry_to_json(e) for e in c] for p, c in sorted(run.chains.items())},
        "steps": run.steps,
    }


def settlement_vectors(
    *,
    agreement_id: str,
    dispute_days: int,
    keys: dict[str, KeyPair],
    hgc: Sequence[LedgerEntry],
    dcc: Sequence[LedgerEntry],
    batches: Sequence[Batch],
    salt: bytes,
) -> dict[str, Any]:
    """Every ``settle/*.json`` file."""

    def fresh(month: str) -> _Chains:
        return _Chains(_statement(agreement_id, month), dispute_days, keys,
                       {"hgc": list(hgc), "dcc": list(dcc)})  # fmt: skip

    credit = fresh("2026-02")
    i1, i2, _ = (i.id for i in credit.statement.items)
    credit.issue()
    d1 = credit.dispute([i2], "d1")
    r1 = credit.resolve(d1, {i2: ("credit", Decimal("15.25"))})
    credit.accept(r1)
    credit.pay("133.5", "pay-1")
    assert credit.status().state == "settled", credit.status()

    withdrawn = fresh("2026-02")
    withdrawn.issue()
    d1 = withdrawn.dispute([i2], "d1")
    # the prose spelling on input: a payload written by hand, signed as any other
    outcome = {"item": i2, "state": "withdrawn", "credit": "0"}
    r1 = withdrawn.resolve(d1, {i2: ("withDrawn", Decimal(0))}, outcomes=[outcome])
    withdrawn.accept(r1)
    withdrawn.pay("60", "pay-1")
    withdrawn.pay("48.5", "pay-2")
    assert withdrawn.status().state == "settled", withdrawn.status()

    refused = fresh("2026-02")
    refused.issue()
    refused.pay("10", "early")  # not-due: items still generated
    refused.dispute([f"{i1}-x"], "d0")  # unknown-item
    refused.dispute([i1], "d9", statement_hash=b"\x01" * 32)  # wrong-statement
    late = refused.statement.bill_date + timedelta(days=dispute_days, milliseconds=1)
    refused.dispute([i1], "d8", at=late)  # late-dispute
    d1 = refused.dispute([i2], "d1")
    refused.dispute([i1], "d2")  # item-not-open: accepted by d1
    refused.resolve(d1, {i2: ("credit", Decimal("40.26"))})  # bad-credit: above 40.25
    refused.resolve(d1, {i1: ("credit", Decimal("1"))})  # item-not-disputed
    refused.accept((d1.sequence, d1.entry_hash()))  # unknown-resolution (names the dispute)
    r1 = refused.resolve(d1, {i2: ("paymentDue", Decimal(0))})  # rejected: billed as stated
    refused.pay("148.75", "pay-usd", currency="USD")  # wrong-currency
    refused.pay("148.75", "pay-1")
    refused.pay("1", "pay-1")  # duplicate payment id
    refused.pay("1", "pay-2")  # not-due: nothing remains
    kinds = {f.kind for f in refused.status().findings}
    assert kinds == {"not-due", "unknown-item", "wrong-statement", "late-dispute",
                     "item-not-open", "bad-credit", "item-not-disputed", "unknown-resolution",
                     "wrong-currency", "duplicate"}, kinds  # fmt: skip
    assert refused.status().state == "settled" and r1

    return {
        "settle/credit.json": _scenario_vector(
            "a bill of three items (one negative: traffic the Buyer terminated): dcc disputes "
            "item 2, hgc credits 15.25 of it, dcc accepts the resolution, hgc records the "
            "payment of the 133.5 due: settled, item 2 in credit", credit),
        "settle/withdrawn.json": _scenario_vector(
            "the same bill: hgc withdraws item 2, its resolution written with MEF's prose "
            "spelling 'withdrawn' (read as withDrawn); two payments cover the 108.5 due",
            withdrawn),
        "settle/refused.json": _scenario_vector(
            "entries each rule refuses, between the valid ones of a bill whose dispute is "
            "rejected (item 2 back to paymentDue) and which is paid in full", refused),
        "settle/evidence.json": _evidence_vector(agreement_id, keys, hgc, dcc, batches, salt),
    }  # fmt: skip


def _evidence_vector(
    agreement_id: str,
    keys: dict[str, KeyPair],
    hgc: Sequence[LedgerEntry],
    dcc: Sequence[LedgerEntry],
    batches: Sequence[Batch],
    salt: bytes,
) -> dict[str, Any]:
    """A document citing one record as both chains anchor it (window 1 revision 0: hgc's and
    dcc's sequence 1) and one alert, the dispute that names it, and one mutation per check."""
    batch = batches[0]
    leaf = batch.leaves[1]
    fields = leaf.fields(agreement_id)
    proof = batch.tree.proof(leaf.usage_key)
    records = [EvidenceRecord(fields, chain[1], proof) for chain in (hgc, dcc)]
    alert = make_alert(
        party="dcc", partner="hgc", agreement_id=agreement_id,
        window=(to_ms(batch.window_start), to_ms(batch.window_end)), revision=0,
        kind="amount-mismatch", detail="amount: ours 0.0100, theirs 0.0142",
        identity=[leaf.usage_key], record_keys=[leaf.usage_key], here=Decimal("0.01"),
        there=leaf.amount, currency="EUR", at_stake=leaf.amount - Decimal("0.01"),
    )  # fmt: skip
    statement = _statement(agreement_id, "2026-02")
    item = statement.items[1].id
    document = build_evidence(
        agreement_id=agreement_id, bill_id=statement.id, dispute_id="d1",
        statement_hash=statement.canonical_hash(), items=[item], records=records,
        alerts=[alert],
    )  # fmt: skip
    digest = evidence_hash(document)
    dispute = dispute_payload(
        agreement_id=agreement_id, dispute_id="d1", bill_id=statement.id,
        statement_hash=statement.canonical_hash(), statement_entry=(4, bytes(32)),
        items=[item], records=[leaf.usage_key], alerts=[alert.alert_id],
        evidence_hash=digest, reason="the partner's amount exceeds ours",
    )  # fmt: skip
    anchors = anchors_by_party_sequence([*hgc, *dcc])
    assert check_evidence(document, anchors, salt=salt, dispute=dispute) == []

    def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        doc = copy.deepcopy(document)
        change(doc)
        return doc

    def flip(text: str) -> str:
        return f"{int(text[:2], 16) ^ 1:02x}{text[2:]}"

    def set_at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
        def change(doc: dict[str, Any]) -> None:
            *parents, last = path.split(".")
            target: Any = doc
            for part in parents:
                target = target[int(part)] if part.isdigit() else target[part]
            key: Any = int(last) if last.isdigit() else last
            target[key] = value(target[key]) if callable(value) else value

        return change

    cases = {
        "amount changed": set_at("records.0.fields.amount", "0.0143"),
        "anchor entry hash of another entry": set_at("records.1.anchor.entry_hash", flip),
        "anchor window not what it signs":
            set_at("records.0.anchor.window_end_ms", lambda v: v + 1),
        "top path node changed": set_at("records.0.proof.top_path.0", flip),
        "agreement version changed: the leaf no longer hashes, the anchor lists no such version":
            set_at("records.0.fields.agreement_version", "9"),
        "alert detail changed after the dispute was signed": set_at("alerts.0.detail", "edited"),
        "records out of order": lambda d: d["records"].reverse(),
    }  # fmt: skip
    mutations = []
    for desc, change in cases.items():
        doc = mutated(change)
        problems = check_evidence(doc, anchors, salt=salt, dispute=dispute)
        failed = sorted({p.split(":", 1)[0] for p in problems})
        assert failed, desc
        mutations.append({"desc": desc, "document": doc, "want_failed": failed})
    return {
        "desc": "a dispute's evidence document: one record as hgc's and dcc's anchors at "
        "sequence 1 sign it (window 1 revision 0, one batch, one root), one reconciliation "
        "alert; its hash, the dispute payload naming it, and mutations with the checks they "
        "fail (layout, leaf, anchor, record, inclusion, dispute). anchors: the two anchor "
        "entries (of chains a verifier has checked); salt: the genesis book hash",
        "salt": salt.hex(),
        "anchors": [entry_to_json(e) for e in (hgc[1], dcc[1])],
        "document": document,
        "evidence_data_hex": tagged("dispute-evidence.v1", canonical_json(document)).hex(),
        "evidence_hash": digest.hex(),
        "dispute": dispute,
        "mutations": mutations,
    }  # fmt: skip
