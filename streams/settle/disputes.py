"""The state of a bill, folded from the settlement entries of both parties' chains. Pure.

Nothing is edited in place: a bill's state is a function of its statement and the settlement
entries on the two chains (:mod:`streams.ledger.settlement`), recomputed from scratch whenever
an entry arrives. Item states follow MEF 141 (``StateValue``; the enum's spelling
``withDrawn`` is emitted, the prose's ``withdrawn`` accepted on input):

========================  ==========================  ========================================
from                      entry                       to
========================  ==========================  ========================================
generated                 acceptance (Buyer)          paymentDue
generated                 dispute (Buyer) naming it   disputeBeingInvestigated
generated                 dispute not naming it       paymentDue (the Buyer accepted the rest)
disputeBeingInvestigated  resolution (Seller)         credit | withDrawn | paymentDue (rejected)
paymentDue                payment(s) covering the     settled
                          amount due (Seller)
========================  ==========================  ========================================

The bill is ``settled`` when every item is ``settled``, ``credit`` or ``withDrawn`` and a
payment covered the amount due (or nothing is due: a bill whose amount due is 0 or less, its
items out of ``generated`` and ``disputeBeingInvestigated``, settles without a payment; every
``paymentDue`` item is then ``settled``); ``paymentDue`` when no item is ``generated`` or
``disputeBeingInvestigated``; else ``generated``. Amounts: ``amount_due`` = sum of the amounts
of the items not ``withDrawn`` minus the credits; ``remaining`` = ``amount_due`` - ``paid``.

An entry the rules do not allow is *refused*: it changes nothing and becomes a
:class:`SettleFinding` (errors as data; the chain stays valid, the entry stays in it). Refused:
a payload not well formed; an entry on the wrong party's chain (statement, resolution and
payment are the Seller's, acceptance and dispute the Buyer's); an entry naming another
statement hash or statement entry; a dispute after ``bill_date + dispute_days``, naming items
the bill does not have or items no longer ``generated``; a resolution of an unknown dispute
(by id and entry), of items not under that dispute or already resolved, or crediting more than
the item's amount; an acceptance naming an unknown resolution; a payment while an item is
still ``generated`` or ``disputeBeingInvestigated``, when nothing remains due, or in another
currency; a second entry repeating a decision (the same payload, a dispute id or payment id
used again). The same entry given twice (Kafka delivers at least once) is one entry.

Order: each chain is taken in sequence order; the two are merged causally (an entry is applied
once what it names is: a dispute after the statement it names, a resolution after its dispute,
an acceptance after the resolution it names, a payment once nothing is ``generated`` or
``disputeBeingInvestigated``), so the state depends on the two chains, never on how their
entries were interleaved when read.

Contract: the entries come from chains whose signatures and links the caller checked against
pinned keys (:func:`streams.ledger.check.check_ledger`); this module does not check them again.
Entries of other kinds or of other bills (another ``bill_id``) are ignored, so a whole chain
may be passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from streams.core.canonical import decimal_text
from streams.core.clock import to_ms
from streams.ledger.entries import LedgerEntry, LedgerError
from streams.ledger.settlement import SETTLEMENT_KINDS, normalise_item_state, settlement_problems

__all__ = [
    "BILL_STATES",
    "FINDING_KINDS",
    "ITEM_STATES",
    "BillItem",
    "BillStatus",
    "BillSummary",
    "DisputeStatus",
    "Outcome",
    "SettleFinding",
    "bill_status",
    "normalise_item_state",
]

ITEM_STATES = (
    "generated",
    "disputeBeingInvestigated",
    "credit",
    "withDrawn",
    "paymentDue",
    "settled",
)
"""MEF 141 ``CustomerBillItem`` states, enum spelling."""
BILL_STATES = ("generated", "paymentDue", "settled")
"""MEF 141 ``CustomerBill`` states this fold derives."""
FINDING_KINDS = (
    "bad-payload",
    "wrong-signer",
    "wrong-statement",
    "no-statement",
    "late-dispute",
    "unknown-item",
    "item-not-open",
    "unknown-dispute",
    "item-not-disputed",
    "bad-credit",
    "unknown-resolution",
    "not-due",
    "wrong-currency",
    "duplicate",
)
"""Why an entry was refused (see the module docstring)."""

_SELLER_KINDS = ("statement", "resolution", "payment")
_OPEN = ("generated", "disputeBeingInvestigated")


# --- inputs --------------------------------------------------------------------------------


class _ItemLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...


class StatementLike(Protocol):
    """What :meth:`BillSummary.of` reads of a statement (``streams.settle.statement``)."""

    @property
    def id(self) -> str: ...
    @property
    def bill_date(self) -> datetime: ...
    @property
    def items(self) -> Sequence[_ItemLike]: ...
    def canonical_hash(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BillItem:
    """One item of a bill: its id and amount as billed (signed)."""

    id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BillSummary:
    """What the fold needs of a statement: the bill's identity, items and dispute window.

    ``seller``, ``buyer``, ``currency`` and ``agreement_id`` are checked against the entries
    when known; when None, the seller is the party of the statement entry, the buyer the other
    party, and the currency and agreement those of the statement entry.
    """

    bill_id: str
    statement_hash: bytes
    """``Statement.canonical_hash()``: what the statement entry signs."""
    items: tuple[BillItem, ...]
    bill_date: datetime
    dispute_days: int
    """Disputes are allowed until ``bill_date + dispute_days`` days (entry time, inclusive)."""
    agreement_id: str | None = None
    seller: str | None = None
    buyer: str | None = None
    currency: str | None = None

    @classmethod
    def of(cls, statement: StatementLike, dispute_days: int) -> BillSummary:
        """The summary of a statement (anything with ``id``, ``canonical_hash()``, ``items``
        of ``id`` and ``amount``, ``bill_date``; ``agreement_id``, ``seller``, ``buyer`` and
        ``currency`` are read when present)."""
        return cls(
            bill_id=statement.id,
            statement_hash=statement.canonical_hash(),
            items=tuple(BillItem(item.id, item.amount) for item in statement.items),
            bill_date=statement.bill_date,
            dispute_days=dispute_days,
            agreement_id=getattr(statement, "agreement_id", None),
            seller=getattr(statement, "seller", None),
            buyer=getattr(statement, "buyer", None),
            currency=getattr(statement, "currency", None),
        )

    @property
    def dispute_deadline(self) -> datetime:
        return self.bill_date + timedelta(days=self.dispute_days)

    @property
    def amount(self) -> Decimal:
        """The bill's amount as stated: the sum of its items."""
        return sum((item.amount for item in self.items), Decimal(0))


# --- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettleFinding:
    """An entry refused by the fold, as data."""

    kind: str
    """One of :data:`FINDING_KINDS`."""
    party: str
    sequence: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.party}#{self.sequence}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A resolution's decision on one item."""

    item: str
    state: str
    """``credit``, ``withDrawn`` or ``paymentDue``."""
    credit: Decimal


@dataclass(frozen=True, slots=True)
class DisputeStatus:
    """One dispute of the bill and what became of it."""

    dispute_id: str
    items: tuple[str, ...]
    records: tuple[str, ...]
    alerts: tuple[str, ...]
    reason: str
    evidence_hash: str
    """Hex SHA-256 of the evidence document (:mod:`streams.settle.evidence`)."""
    state: str
    """``open`` until every item has an outcome, then ``resolved``."""
    outcomes: tuple[Outcome, ...]
    entry: tuple[int, bytes]
    """(sequence, entry hash) of the Buyer's dispute entry: what a resolution names."""
    resolutions: tuple[tuple[int, bytes], ...] = ()
    """(sequence, entry hash) of each Seller resolution of it: what an acceptance names."""
    accepted: bool = False
    """The Buyer accepted a resolution of it."""


@dataclass(frozen=True, slots=True)
class BillStatus:
    """The state of one bill after the fold (see the module docstring)."""

    bill_id: str
    state: str
    """One of :data:`BILL_STATES`."""
    item_states: Mapping[str, str]
    credited: Mapping[str, Decimal]
    """Item id → credit, for items in state ``credit``."""
    amount_due: Decimal
    credits: Decimal
    paid: Decimal
    remaining: Decimal
    last_update: datetime
    """Time of the last entry applied (``bill_date`` when none was)."""
    disputes: tuple[DisputeStatus, ...]
    findings: tuple[SettleFinding, ...]
    statement_entry: tuple[int, bytes] | None = None
    """(sequence, entry hash) of the Seller's statement entry, once applied."""
    accepted: bool = False
    """The Buyer accepted the bill (an acceptance entry naming no resolution)."""
    payments: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form: amounts as canonical decimal text, times as epoch ms, hashes hex."""
        return {
            "bill_id": self.bill_id,
            "state": self.state,
            "item_states": dict(sorted(self.item_states.items())),
            "credited": {k: decimal_text(v) for k, v in sorted(self.credited.items())},
            "amount_due": decimal_text(self.amount_due),
            "credits": decimal_text(self.credits),
            "paid": decimal_text(self.paid),
            "remaining": decimal_text(self.remaining),
            "last_update_ms": to_ms(self.last_update),
            "accepted": self.accepted,
            "payments": list(self.payments),
            "statement_entry": None
            if self.statement_entry is None
            else {"sequence": self.statement_entry[0], "entry_hash": self.statement_entry[1].hex()},
            "disputes": [
                {
                    "dispute_id": d.dispute_id,
                    "items": list(d.items),
                    "records": list(d.records),
                    "alerts": list(d.alerts),
                    "reason": d.reason,
                    "evidence_hash": d.evidence_hash,
                    "state": d.state,
                    "accepted": d.accepted,
                    "outcomes": [
                        {"item": o.item, "state": o.state, "credit": decimal_text(o.credit)}
                        for o in d.outcomes
                    ],
                }
                for d in self.disputes
            ],
            "findings": [
                {"kind": f.kind, "party": f.party, "sequence": f.sequence, "detail": f.detail}
                for f in self.findings
            ],
        }


# --- the fold ------------------------------------------------------------------------------


class _Refused(Exception):
    """Internal: the entry being applied is refused (kind, detail)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class _Dispute:
    payload: dict[str, Any]
    entry: tuple[int, bytes]
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    resolutions: list[tuple[int, bytes]] = field(default_factory=list)
    accepted: bool = False


def _ref(value: Mapping[str, Any]) -> tuple[int, bytes]:
    return (value["sequence"], bytes.fromhex(value["entry_hash"]))


class _Fold:
    """The mutable state of one fold; :func:`bill_status` is its only user."""

    def __init__(self, summary: BillSummary, seller: str, buyer: str) -> None:
        self.summary = summary
        self.seller, self.buyer = seller, buyer
        self.amounts = {item.id: item.amount for item in summary.items}
        self.states = dict.fromkeys(self.amounts, "generated")
        self.statement: tuple[int, bytes] | None = None
        self.currency = summary.currency
        self.disputes: dict[str, _Dispute] = {}
        self.resolutions: dict[tuple[int, bytes], str] = {}  # entry → dispute id
        self.payments: dict[str, Decimal] = {}
        self.applied: set[tuple[str, bytes]] = set()  # (kind, payload hash)
        self.accepted = False
        self.last_update = summary.bill_date
        self.findings: list[SettleFinding] = []

    # readiness: what an entry names is applied (only orders the merge; apply() decides)
    def ready(self, entry: LedgerEntry, payload: Mapping[str, Any]) -> bool:
        if entry.kind == "statement":
            return True
        if entry.kind in ("acceptance", "dispute"):
            named = payload.get("resolution_entry")
            return self.statement is not None and (named is None or _ref(named) in self.resolutions)
        if entry.kind == "resolution":
            return any(d.entry == _ref(payload["dispute_entry"]) for d in self.disputes.values())
        return self.open_items() == []  # payment

    def open_items(self) -> list[str]:
        return [item for item, state in self.states.items() if state in _OPEN]

    def apply(self, entry: LedgerEntry, payload: dict[str, Any]) -> None:
        seller_kind = entry.kind in _SELLER_KINDS
        try:
            signer = self.seller if seller_kind else self.buyer
            if entry.party != signer:
                role = "Seller" if seller_kind else "Buyer"
                raise _Refused(
                    "wrong-signer", f"{entry.kind} on {entry.party}'s chain, want the {role}'s"
                )
            if (entry.kind, entry.payload_hash) in self.applied:
                raise _Refused("duplicate", f"the same {entry.kind} as an earlier entry")
            getattr(self, "_" + entry.kind)(entry, payload)
        except _Refused as refused:
            self.findings.append(
                SettleFinding(refused.kind, entry.party, entry.sequence, refused.detail)
            )
            return
        self.applied.add((entry.kind, entry.payload_hash))
        self.last_update = max(self.last_update, entry.time)
        self._settle_if_paid()

    def _names_statement(self, payload: Mapping[str, Any]) -> None:
        if payload["statement_hash"] != self.summary.statement_hash.hex():
            raise _Refused(
                "wrong-statement",
                f"statement_hash: got {payload['statement_hash']}, "
                f"want {self.summary.statement_hash.hex()}",
            )
        if self.statement is None:
            raise _Refused("no-statement", "the bill's statement entry is not (yet) on the chain")
        if _ref(payload["statement_entry"]) != self.statement:
            raise _Refused(
                "wrong-statement",
                f"statement_entry: got #{payload['statement_entry']['sequence']} "
                f"{payload['statement_entry']['entry_hash'][:16]}…, want #{self.statement[0]} "
                f"{self.statement[1].hex()[:16]}…",
            )

    def _statement(self, entry: LedgerEntry, payload: Mapping[str, Any]) -> None:
        if self.statement is not None:
            first = self.statement[0]
            raise _Refused("duplicate", f"a second statement of the bill (first #{first})")
        s = self.summary
        want = {
            "statement_hash": s.statement_hash.hex(),
            "amount_due": decimal_text(s.amount),
            "item_count": len(s.items),
            "bill_date_ms": to_ms(s.bill_date),
        }
        if s.currency is not None:
            want["currency"] = s.currency
        wrong = [f"{k}: got {payload[k]!r}, want {v!r}" for k, v in want.items() if payload[k] != v]
        if wrong:
            raise _Refused("wrong-statement", "; ".join(wrong))
        self.statement = (entry.sequence, entry.entry_hash())
        self.currency = payload["currency"]

    def _acceptance(self, entry: LedgerEntry, payload: Mapping[str, Any]) -> None:
        self._names_statement(payload)
        named = payload["resolution_entry"]
        if named is not None:
            dispute_id = self.resolutions.get(_ref(named))
            if dispute_id is None:
                raise _Refused(
                    "unknown-resolution", f"resolution_entry #{named['sequence']} is not known"
                )
            self.disputes[dispute_id].accepted = True
        else:
            self.accepted = True
        for item in self.states:
            if self.states[item] == "generated":
                self.states[item] = "paymentDue"

    def _dispute(self, entry: LedgerEntry, payload: dict[str, Any]) -> None:
        self._names_statement(payload)
        deadline = self.summary.dispute_deadline
        if entry.time > deadline:
            raise _Refused(
                "late-dispute",
                f"at {entry.time.isoformat()}, after the dispute window closed "
                f"{deadline.isoformat()} (bill date + {self.summary.dispute_days} days)",
            )
        if payload["dispute_id"] in self.disputes:
            raise _Refused("duplicate", f"dispute id {payload['dispute_id']!r} used already")
        unknown = [item for item in payload["items"] if item not in self.states]
        if unknown:
            raise _Refused("unknown-item", f"items not on the bill: {', '.join(unknown)}")
        closed = [i for i in payload["items"] if self.states[i] != "generated"]
        if closed:
            shown = ", ".join(f"{i} ({self.states[i]})" for i in closed)
            raise _Refused("item-not-open", f"items no longer generated: {shown}")
        disputed = set(payload["items"])
        for item in self.states:
            if self.states[item] == "generated":
                self.states[item] = "disputeBeingInvestigated" if item in disputed else "paymentDue"
        self.disputes[payload["dispute_id"]] = _Dispute(
            payload, (entry.sequence, entry.entry_hash())
        )

    def _resolution(self, entry: LedgerEntry, payload: Mapping[str, Any]) -> None:
        dispute = self.disputes.get(payload["dispute_id"])
        if dispute is None or dispute.entry != _ref(payload["dispute_entry"]):
            raise _Refused(
                "unknown-dispute",
                f"dispute {payload['dispute_id']!r} at #{payload['dispute_entry']['sequence']} "
                "is not a dispute of this bill",
            )
        outcomes = []
        for raw in payload["outcomes"]:
            item = raw["item"]
            if item not in dispute.payload["items"] or item in dispute.outcomes:
                why = "resolved already" if item in dispute.outcomes else "not under it"
                raise _Refused("item-not-disputed", f"item {item}: {why}")
            outcome = Outcome(item, normalise_item_state(raw["state"]), Decimal(raw["credit"]))
            if outcome.state == "credit" and not 0 <= outcome.credit <= self.amounts[item]:
                raise _Refused(
                    "bad-credit",
                    f"item {item}: credit {raw['credit']}, want 0 to {self.amounts[item]}",
                )
            outcomes.append(outcome)
        for outcome in outcomes:
            dispute.outcomes[outcome.item] = outcome
            self.states[outcome.item] = outcome.state
        reference = (entry.sequence, entry.entry_hash())
        dispute.resolutions.append(reference)
        self.resolutions[reference] = payload["dispute_id"]

    def _payment(self, entry: LedgerEntry, payload: Mapping[str, Any]) -> None:
        if payload["payment_id"] in self.payments:
            raise _Refused("duplicate", f"payment id {payload['payment_id']!r} used already")
        if self.currency is not None and payload["currency"] != self.currency:
            raise _Refused(
                "wrong-currency", f"got {payload['currency']}, want the bill's {self.currency}"
            )
        still = self.open_items()
        if still:
            raise _Refused("not-due", f"items not yet paymentDue: {', '.join(sorted(still)[:5])}")
        if self.remaining() <= 0:
            raise _Refused("not-due", f"nothing remains due ({decimal_text(self.remaining())})")
        self.payments[payload["payment_id"]] = Decimal(payload["amount"])

    # amounts
    def credits(self) -> Decimal:
        outcomes = (o for d in self.disputes.values() for o in d.outcomes.values())
        return sum((o.credit for o in outcomes if o.state == "credit"), Decimal(0))

    def amount_due(self) -> Decimal:
        billed = sum(
            (a for item, a in self.amounts.items() if self.states[item] != "withDrawn"),
            Decimal(0),
        )
        return billed - self.credits()

    def paid(self) -> Decimal:
        return sum(self.payments.values(), Decimal(0))

    def remaining(self) -> Decimal:
        return self.amount_due() - self.paid()

    def _settle_if_paid(self) -> None:
        if self.statement is None or self.open_items() or self.remaining() > 0:
            return
        for item in self.states:
            if self.states[item] == "paymentDue":
                self.states[item] = "settled"

    def bill_state(self) -> str:
        if self.open_items():
            return "generated"
        done = all(s in ("settled", "credit", "withDrawn") for s in self.states.values())
        return "settled" if done and self.remaining() <= 0 else "paymentDue"


def _merge(fold: _Fold, chains: Mapping[str, list[tuple[LedgerEntry, dict[str, Any]]]]) -> None:
    """Apply both chains' entries in a causal merge (see the module docstring): at each step the
    head of the Seller's chain if what it names is applied, else the Buyer's; when neither is,
    the head that can never become ready is applied (and refused): the Buyer's if what it names
    is nowhere in the Seller's remaining entries, else the Seller's."""
    seller = deque(chains.get(fold.seller, []))
    buyer = deque(chains.get(fold.buyer, []))
    while seller or buyer:
        for queue in (seller, buyer):
            if queue and fold.ready(*queue[0]):
                fold.apply(*queue.popleft())
                break
        else:
            if not seller or (buyer and not _waits_on(buyer[0][1], seller)):
                fold.apply(*buyer.popleft())
            else:
                fold.apply(*seller.popleft())


def _waits_on(payload: Mapping[str, Any], queue: Iterable[tuple[LedgerEntry, Any]]) -> bool:
    """Whether an entry's statement or resolution reference names an entry in ``queue``."""
    named = {_ref(payload[n]) for n in ("statement_entry", "resolution_entry") if payload.get(n)}
    return any((e.sequence, e.entry_hash()) in named for e, _ in queue)


def bill_status(
    summary: BillSummary | StatementLike,
    events: Iterable[LedgerEntry],
    *,
    dispute_days: int | None = None,
) -> BillStatus:
    """The state of one bill: its statement (a :class:`BillSummary`, or a statement and
    ``dispute_days``) and the settlement entries of both chains, in any order, duplicates
    allowed (see the module docstring for the rules and the contract).

    Raises ``ValueError`` when a statement is given without ``dispute_days``.
    """
    if not isinstance(summary, BillSummary):
        if dispute_days is None:
            raise ValueError("bill_status(statement, ...): want dispute_days with a statement")
        summary = BillSummary.of(summary, dispute_days)
    findings: list[SettleFinding] = []
    chains: dict[str, list[tuple[LedgerEntry, dict[str, Any]]]] = {}
    seen: set[tuple[str, int, bytes]] = set()
    for entry in sorted(events, key=lambda e: (e.party, e.sequence, e.entry_hash())):
        identity = (entry.party, entry.sequence, entry.entry_hash())
        if entry.kind not in SETTLEMENT_KINDS or identity in seen:
            continue
        seen.add(identity)
        payload = _payload(entry, summary, findings)
        if payload is not None:
            chains.setdefault(entry.party, []).append((entry, payload))
    seller, buyer = _roles(summary, chains)
    for party in sorted(set(chains) - {seller, buyer}):
        findings += [
            SettleFinding("wrong-signer", party, e.sequence, f"{party} is not a party of the bill")
            for e, _ in chains[party]
        ]
    fold = _Fold(summary, seller, buyer)
    _merge(fold, chains)
    return _status(fold, findings)


def _payload(
    entry: LedgerEntry, summary: BillSummary, findings: list[SettleFinding]
) -> dict[str, Any] | None:
    """The payload of a settlement entry of this bill; None (with a finding if misshapen) when
    it is not one."""
    try:
        payload = entry.payload_json()
    except LedgerError as exc:
        findings.append(SettleFinding("bad-payload", entry.party, entry.sequence, str(exc)))
        return None
    if payload.get("bill_id") != summary.bill_id:
        return None  # another bill's entry
    problems = settlement_problems(entry.kind, payload, summary.agreement_id or entry.agreement_id)
    if problems:
        findings.append(
            SettleFinding("bad-payload", entry.party, entry.sequence, "; ".join(problems))
        )
        return None
    return payload


def _roles(
    summary: BillSummary, chains: Mapping[str, Sequence[tuple[LedgerEntry, Any]]]
) -> tuple[str, str]:
    """(seller, buyer): the summary's, else the statement entry's party and the other one."""
    seller = summary.seller
    if seller is None:
        stating = sorted(p for p, es in chains.items() if any(e.kind == "statement" for e, _ in es))
        seller = stating[0] if stating else ""
    buyer = summary.buyer
    if buyer is None:
        others = sorted(p for p in chains if p != seller)
        buyer = others[0] if others else ""
    return seller, buyer


def _status(fold: _Fold, findings: list[SettleFinding]) -> BillStatus:
    disputes = tuple(
        DisputeStatus(
            dispute_id=dispute_id,
            items=tuple(d.payload["items"]),
            records=tuple(d.payload["records"]),
            alerts=tuple(d.payload["alerts"]),
            reason=d.payload["reason"],
            evidence_hash=d.payload["evidence_hash"],
            state="resolved" if set(d.outcomes) == set(d.payload["items"]) else "open",
            outcomes=tuple(d.outcomes[item] for item in sorted(d.outcomes)),
            entry=d.entry,
            resolutions=tuple(d.resolutions),
            accepted=d.accepted,
        )
        for dispute_id, d in sorted(fold.disputes.items())
    )
    credited = {
        o.item: o.credit
        for d in disputes
        for o in d.outcomes
        if o.state == "credit" and fold.states[o.item] == "credit"
    }
    all_findings = sorted(
        findings + fold.findings, key=lambda f: (f.party, f.sequence, f.kind, f.detail)
    )
    return BillStatus(
        bill_id=fold.summary.bill_id,
        state=fold.bill_state(),
        item_states=MappingProxyType(dict(fold.states)),
        credited=MappingProxyType(credited),
        amount_due=fold.amount_due(),
        credits=fold.credits(),
        paid=fold.paid(),
        remaining=fold.remaining(),
        last_update=fold.last_update,
        disputes=disputes,
        findings=tuple(all_findings),
        statement_entry=fold.statement,
        accepted=fold.accepted,
        payments=tuple(sorted(fold.payments)),
    )
