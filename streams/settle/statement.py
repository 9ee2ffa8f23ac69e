"""The statement: the Seller's bill to the Buyer for one agreement, one billing period and one
currency, as values both parties compute alike and sign by hash.

Model (:class:`Statement`, :class:`StatementItem`, :class:`AnchorRef`) and its canonical form
(:meth:`Statement.canonical`, :meth:`Statement.canonical_hash`); the MEF 141 JSON edge is
:mod:`streams.settle.mef141`, the computation :func:`build_statements`
(:mod:`streams.settle.period_close`). The rules are written for auditors in
``docs/spec/settlement.md``; in short:

* one statement per currency (MEF's ``amountDue`` is one Money): the agreement's currency
  always, another one when a tariff or an accepted Sonata charge item is priced in it;
* ``id`` is ``<agreement id>-<YYYY-MM>-<currency>`` for monthly periods (``YYYY-MM-DD`` of the
  period's first local day for day and week periods); items are numbered ``<id>-0001``... in
  canonical item order;
* ``bill_date`` is the period's end plus the agreement's ``settlement.grace_seconds`` and
  ``payment_due`` that plus ``payment_days``: terms, never a clock reading, so the Buyer
  recomputes the same statement, hash included;
* amounts are signed (negative: traffic the Buyer terminated, which the Buyer bills the
  Seller; two-way traffic nets in one bill) and rounded to the agreement's scale per item;
  :attr:`Statement.amount_due` is their sum.

The hash covers every billed fact (items, their amounts, quantities, rates, products, the
anchors each usage item sums, dates, parties and their billing contacts, versions) and leaves
out the findings, which are advice to people and may legitimately differ between the parties'
views (a window one side still waits for). :meth:`Statement.from_canonical` reads a statement
document back (the Buyer reads the Seller's that way and compares the hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from streams.agreement.model import Contact
from streams.core.canonical import canonical_json, decimal_text, tagged
from streams.core.clock import from_ms, to_ms
from streams.settle.charges import Finding

if TYPE_CHECKING:
    from collections.abc import Iterable

    from streams.agreement.model import Agreement, AgreementBook
    from streams.rating.inventory import Inventory
    from streams.settle.period_close import StatementWindow

__all__ = [
    "ITEM_KINDS",
    "STATEMENT_DOMAIN",
    "AnchorRef",
    "Statement",
    "StatementItem",
    "StatementParty",
    "build_statements",
]

STATEMENT_DOMAIN = "statement.v1"
"""Domain tag of the statement hash (:func:`streams.core.canonical.tagged`)."""

ITEM_KINDS = ("recurring", "nonRecurring", "usageBased")
"""MEF ``MEFPriceType`` values, in canonical item order within a product."""


@dataclass(frozen=True, slots=True)
class AnchorRef:
    """One anchored window revision of one party's chain (an ``anchor`` ledger entry)."""

    party: str
    sequence: int
    """The anchor entry's sequence on ``party``'s chain."""
    window_start_ms: int
    window_end_ms: int
    revision: int
    root: str
    """The batch's Merkle root, 64 lowercase hex digits."""

    @property
    def source(self) -> str:
        """``anchor:<party>#<sequence>/<start_ms>-<end_ms>r<revision>``."""
        return (
            f"anchor:{self.party}#{self.sequence}/"
            f"{self.window_start_ms}-{self.window_end_ms}r{self.revision}"
        )

    @property
    def order(self) -> tuple[int, int, str, int, int]:
        """Canonical order: window, then party, revision and sequence."""
        return (self.window_start_ms, self.window_end_ms, self.party, self.revision, self.sequence)

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any]) -> AnchorRef:
        return cls(
            _text(data, "party"),
            _int(data, "sequence"),
            _int(data, "window_start_ms"),
            _int(data, "window_end_ms"),
            _int(data, "revision"),
            _text(data, "root"),
        )

    def canonical(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "sequence": self.sequence,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "revision": self.revision,
            "root": self.root,
        }


@dataclass(frozen=True, slots=True)
class StatementItem:
    """One line of a statement (one MEF ``CustomerBillItem``)."""

    id: str
    """``<statement id>-<n:04d>``, ``n`` from 1 in canonical item order."""
    kind: str
    """One of :data:`ITEM_KINDS`."""
    description: str
    product_id: str
    product_name: str
    order_id: str
    order_item_id: str
    """The Sonata product and the order item that added it (from the inventory); for usage no
    product can be found for, the placeholders of :mod:`streams.settle.period_close`."""
    period_start: datetime
    period_end: datetime
    quantity: Decimal
    """In :attr:`unit`: the tariff's ``per`` unit for usage, ``1`` for a charge."""
    unit: str
    unit_rate: Decimal
    """Price per :attr:`unit`, never negative (see ``docs/spec/settlement.md``)."""
    amount: Decimal
    """Signed, rounded to the agreement's scale; negative: traffic the Buyer terminated."""
    currency: str
    sources: tuple[str, ...]
    """What the item sums: ``anchor:…`` refs (usage), ``agreement:<offering>``,
    ``sonata:<charge>/<item>``, ``tiers:<tariff id>``."""
    anchors: tuple[AnchorRef, ...] = ()
    """Usage items: every anchor (both parties', each revision) of the windows summed."""
    rate_id: str | None = None
    direction: str | None = None
    """Usage: the Seller's view, ``inbound`` (the Seller terminated it: billed to the Buyer) or
    ``outbound`` (the Buyer terminated it: credited to the Buyer, amount negative)."""
    billed_by: str | None = None
    """Usage: ``agreed`` when every record summed was agreed exactly, else the agreement's
    ``within_tolerance`` rule (``seller``, ``buyer``, ``lower``) whose amounts were billed."""

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any]) -> StatementItem:
        return cls(
            id=_text(data, "id"),
            kind=_text(data, "kind"),
            description=_text(data, "description"),
            product_id=_text(data, "product_id"),
            product_name=_text(data, "product_name"),
            order_id=_text(data, "order_id"),
            order_item_id=_text(data, "order_item_id"),
            period_start=from_ms(_int(data, "period_start_ms")),
            period_end=from_ms(_int(data, "period_end_ms")),
            quantity=_decimal(data, "quantity"),
            unit=_text(data, "unit"),
            unit_rate=_decimal(data, "unit_rate"),
            amount=_decimal(data, "amount"),
            currency=_text(data, "currency"),
            sources=tuple(_texts(data, "sources")),
            anchors=tuple(AnchorRef.from_canonical(a) for a in _list(data, "anchors")),
            rate_id=_optional_text(data, "rate_id"),
            direction=_optional_text(data, "direction"),
            billed_by=_optional_text(data, "billed_by"),
        )

    def canonical(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "order_id": self.order_id,
            "order_item_id": self.order_item_id,
            "period_start_ms": to_ms(self.period_start),
            "period_end_ms": to_ms(self.period_end),
            "quantity": decimal_text(self.quantity),
            "unit": self.unit,
            "unit_rate": decimal_text(self.unit_rate),
            "amount": decimal_text(self.amount),
            "currency": self.currency,
            "sources": list(self.sources),
            "anchors": [a.canonical() for a in self.anchors],
            "rate_id": self.rate_id,
            "direction": self.direction,
            "billed_by": self.billed_by,
        }


@dataclass(frozen=True, slots=True)
class StatementParty:
    """A party as the bill names it (from the agreement version the period is priced under)."""

    role: str
    """``seller`` or ``buyer``."""
    id: str
    name: str
    contact: Contact | None = None

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any]) -> StatementParty:
        contact = data.get("contact")
        return cls(
            _text(data, "role"),
            _text(data, "id"),
            _text(data, "name"),
            None
            if contact is None
            else Contact(_text(contact, "name"), _text(contact, "email"), _text(contact, "phone")),
        )

    def canonical(self) -> dict[str, Any]:
        c = self.contact
        return {
            "role": self.role,
            "id": self.id,
            "name": self.name,
            "contact": None if c is None else {"name": c.name, "email": c.email, "phone": c.phone},
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """The Seller's bill for one agreement, billing period and currency."""

    id: str
    bill_no: str
    agreement_id: str
    agreement_versions: tuple[str, ...]
    """Every agreement version the items were priced under, sorted."""
    seller: str
    buyer: str
    currency: str
    period_start: datetime
    period_end: datetime
    """``[start, end)`` as UTC instants (:func:`streams.settle.charges.billing_period`)."""
    bill_date: datetime
    """``period_end`` + ``settlement.grace_seconds``."""
    payment_due: datetime
    """``bill_date`` + ``settlement.payment_days`` days."""
    items: tuple[StatementItem, ...]
    findings: tuple[Finding, ...] = ()
    """What was not billed as the agreement says, for people; not in the hash."""
    scale: int = 4
    """The agreement's rounding scale: amounts are shown with this many decimals."""
    parties: tuple[StatementParty, ...] = ()
    """Seller then Buyer, with their billing contacts (from the agreement version)."""
    period_label: str = ""
    """The period as the id names it (``2026-11``, or ``2026-11-02`` for day and week periods):
    the MEF ``billCycle``."""

    @property
    def amount_due(self) -> Decimal:
        """Sum of the items' signed amounts, at the agreement's scale."""
        total = sum((item.amount for item in self.items), Decimal(0))
        return total.quantize(Decimal(1).scaleb(-self.scale))

    def item(self, item_id: str) -> StatementItem | None:
        """The item ``item_id``, None if the statement has none."""
        return next((i for i in self.items if i.id == item_id), None)

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready content the hash is computed over (``docs/spec/settlement.md``):
        times as epoch milliseconds, decimals as :func:`decimal_text`, findings left out."""
        return {
            "id": self.id,
            "bill_no": self.bill_no,
            "agreement_id": self.agreement_id,
            "agreement_versions": list(self.agreement_versions),
            "seller": self.seller,
            "buyer": self.buyer,
            "currency": self.currency,
            "period_start_ms": to_ms(self.period_start),
            "period_end_ms": to_ms(self.period_end),
            "bill_date_ms": to_ms(self.bill_date),
            "payment_due_ms": to_ms(self.payment_due),
            "amount_due": decimal_text(self.amount_due),
            "scale": self.scale,
            "bill_cycle": self.period_label,
            "parties": [p.canonical() for p in self.parties],
            "items": [item.canonical() for item in self.items],
        }

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any]) -> Statement:
        """The statement of a canonical document (:meth:`canonical`, or :meth:`to_json`, whose
        extra members are ignored), e.g. the Seller's as the Buyer reads it.

        Raises ``ValueError`` for a member missing or of the wrong type, or an ``amount_due``
        that is not the sum of the items; the caller compares :meth:`canonical_hash` with the
        hash the Seller signed.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"statement: got {type(data).__name__}, want an object")
        statement = cls(
            id=_text(data, "id"),
            bill_no=_text(data, "bill_no"),
            agreement_id=_text(data, "agreement_id"),
            agreement_versions=tuple(_texts(data, "agreement_versions")),
            seller=_text(data, "seller"),
            buyer=_text(data, "buyer"),
            currency=_text(data, "currency"),
            period_start=from_ms(_int(data, "period_start_ms")),
            period_end=from_ms(_int(data, "period_end_ms")),
            bill_date=from_ms(_int(data, "bill_date_ms")),
            payment_due=from_ms(_int(data, "payment_due_ms")),
            items=tuple(StatementItem.from_canonical(i) for i in _list(data, "items")),
            scale=_int(data, "scale"),
            parties=tuple(StatementParty.from_canonical(p) for p in _list(data, "parties")),
            period_label=_text(data, "bill_cycle"),
        )
        stated = _decimal(data, "amount_due")
        if stated != statement.amount_due:
            raise ValueError(
                f"statement {statement.id}: amount_due got {data['amount_due']}, want "
                f"{decimal_text(statement.amount_due)} (the sum of its items)"
            )
        return statement

    def canonical_hash(self) -> bytes:
        """``SHA-256(tagged("statement.v1", canonical_json(canonical())))``: what the Seller's
        ``statement`` ledger entry names and the Buyer's acceptance countersigns."""
        return hashlib.sha256(tagged(STATEMENT_DOMAIN, canonical_json(self.canonical()))).digest()

    def to_json(self) -> dict[str, Any]:
        """:meth:`canonical` plus the hash (hex) and the findings: the statement document."""
        return {
            **self.canonical(),
            "statement_hash": self.canonical_hash().hex(),
            "findings": [f.to_json() for f in self.findings],
        }


# --- reading canonical members: ValueError naming the member, never KeyError or TypeError ---


def _member(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], want: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"got {type(data).__name__}, want an object")
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key}: got {value!r}, want {want}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value: str = _member(data, key, str, "a string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


def _int(data: Mapping[str, Any], key: str) -> int:
    value: int = _member(data, key, int, "an integer")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value: list[Any] = _member(data, key, list, "an array")
    return value


def _texts(data: Mapping[str, Any], key: str) -> list[str]:
    values = _list(data, key)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key}: got {values!r}, want strings")
    return values


def _decimal(data: Mapping[str, Any], key: str) -> Decimal:
    text = _text(data, key)
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{key}: got {text!r}, want a decimal") from None
    if not value.is_finite() or decimal_text(value) != text:
        raise ValueError(f"{key}: got {text!r}, want a canonical decimal")
    return value


def build_statements(
    agreement: AgreementBook | Agreement,
    party: str,
    period_at: datetime,
    windows: Iterable[StatementWindow],
    inventory: Inventory,
) -> list[Statement]:
    """:func:`streams.settle.period_close.build_statements` (the computation lives there, beside
    its inputs :class:`~streams.settle.period_close.StatementWindow` and
    :class:`~streams.settle.period_close.Disagreement`)."""
    from streams.settle.period_close import build_statements as build  # it imports this module

    return build(agreement, party, period_at, windows, inventory)
