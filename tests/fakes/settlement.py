"""A bill between two chains, for the settlement fold's tests: a statement-like object, each
party's chain (a genesis the fold ignores, then settlement entries built with the real payload
builders and signed with fixed keys), and one method per decision."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.core.canonical import canonical_json
from streams.core.keys import KeyPair
from streams.ledger.entries import LedgerEntry, make_entry
from streams.ledger.settlement import (
    acceptance_payload,
    dispute_payload,
    payment_payload,
    resolution_payload,
    statement_payload,
)
from streams.settle.disputes import BillStatus, BillSummary, bill_status

SELLER, BUYER, AGREEMENT = "hgc", "dcc", "agr-2026"
PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
BILL_DATE = PERIOD_END + timedelta(days=1)
DISPUTE_DAYS = 10
KEYS = {SELLER: KeyPair.from_seed(bytes([1]) * 32), BUYER: KeyPair.from_seed(bytes([2]) * 32)}


@dataclass(frozen=True)
class FakeItem:
    id: str
    amount: Decimal


@dataclass(frozen=True)
class FakeStatement:
    """What :meth:`BillSummary.of` reads of H1's Statement."""

    id: str = f"{AGREEMENT}-2026-03-EUR"
    items: tuple[FakeItem, ...] = (
        FakeItem(f"{AGREEMENT}-2026-03-EUR-0001", Decimal("100.00")),
        FakeItem(f"{AGREEMENT}-2026-03-EUR-0002", Decimal("50.00")),
        FakeItem(f"{AGREEMENT}-2026-03-EUR-0003", Decimal("-20.00")),
    )
    agreement_id: str = AGREEMENT
    seller: str = SELLER
    buyer: str = BUYER
    currency: str = "EUR"
    bill_date: datetime = BILL_DATE

    def canonical_hash(self) -> bytes:
        body = [self.id, [[i.id, str(i.amount)] for i in self.items]]
        return hashlib.sha256(canonical_json(body)).digest()

    @property
    def amount_due(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal(0))


I1, I2, I3 = (item.id for item in FakeStatement().items)


@dataclass
class Chain:
    party: str
    entries: list[LedgerEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        genesis = make_entry(
            None,
            party=self.party,
            agreement_id=AGREEMENT,
            kind="genesis",
            payload={"note": "the fold ignores genesis"},
            signer=KEYS[self.party],
            time=PERIOD_START,
        )
        self.entries.append(genesis)

    def append(self, kind: str, payload: dict[str, Any], time: datetime) -> LedgerEntry:
        entry = make_entry(
            self.entries[-1],
            party=self.party,
            agreement_id=AGREEMENT,
            kind=kind,
            payload=payload,
            signer=KEYS[self.party],
            time=time,
        )
        self.entries.append(entry)
        return entry


@dataclass
class Bill:
    """Both chains of one bill; each method appends one decision and returns its entry."""

    statement: FakeStatement = field(default_factory=FakeStatement)
    seller: Chain = field(default_factory=lambda: Chain(SELLER))
    buyer: Chain = field(default_factory=lambda: Chain(BUYER))
    now: datetime = BILL_DATE

    @property
    def summary(self) -> BillSummary:
        return BillSummary.of(self.statement, DISPUTE_DAYS)

    def status(self) -> BillStatus:
        return bill_status(self.summary, [*self.seller.entries, *self.buyer.entries])

    def tick(self, hours: int = 1) -> datetime:
        self.now += timedelta(hours=hours)
        return self.now

    def issue(self, **changes: Any) -> LedgerEntry:
        s = self.statement
        fields: dict[str, Any] = {
            "agreement_id": AGREEMENT,
            "bill_id": s.id,
            "currency": s.currency,
            "period_start": PERIOD_START,
            "period_end": PERIOD_END,
            "bill_date": s.bill_date,
            "statement_hash": s.canonical_hash(),
            "amount_due": s.amount_due,
            "item_count": len(s.items),
        }
        return self.seller.append("statement", statement_payload(**(fields | changes)), self.now)

    def statement_entry(self) -> LedgerEntry:
        return next(e for e in self.seller.entries if e.kind == "statement")

    def dispute(
        self, items: list[str], dispute_id: str = "d1", at: datetime | None = None, **changes: Any
    ) -> LedgerEntry:
        fields: dict[str, Any] = {
            "agreement_id": AGREEMENT,
            "dispute_id": dispute_id,
            "bill_id": self.statement.id,
            "statement_hash": self.statement.canonical_hash(),
            "statement_entry": self.statement_entry(),
            "items": items,
            "records": ["msc-1/cdr-7"],
            "alerts": ["a" * 32],
            "evidence_hash": hashlib.sha256(b"evidence").digest(),
            "reason": "amounts differ from our records",
        }
        payload = dispute_payload(**(fields | changes))
        return self.buyer.append("dispute", payload, at or self.tick())

    def resolve(
        self, dispute: LedgerEntry, outcomes: dict[str, tuple[str, Decimal]], **changes: Any
    ) -> LedgerEntry:
        fields: dict[str, Any] = {
            "agreement_id": AGREEMENT,
            "dispute_id": dispute.payload_json()["dispute_id"],
            "bill_id": self.statement.id,
            "dispute_entry": dispute,
            "outcomes": outcomes,
            "note": "checked against our switch records",
        }
        payload = resolution_payload(**(fields | changes))
        return self.seller.append("resolution", payload, self.tick())

    def accept(self, resolution: LedgerEntry | None = None) -> LedgerEntry:
        payload = acceptance_payload(
            agreement_id=AGREEMENT,
            bill_id=self.statement.id,
            statement_hash=self.statement.canonical_hash(),
            statement_entry=self.statement_entry(),
            resolution_entry=resolution,
        )
        return self.buyer.append("acceptance", payload, self.tick())

    def pay(self, amount: str, payment_id: str = "p1", currency: str = "EUR") -> LedgerEntry:
        payload = payment_payload(
            agreement_id=AGREEMENT,
            bill_id=self.statement.id,
            payment_id=payment_id,
            amount=Decimal(amount),
            currency=currency,
            paid=self.now,
        )
        return self.seller.append("payment", payload, self.tick())
