"""Settlement payloads of ledger entries: a bill's statement, the Buyer's acceptance or dispute,
the Seller's resolution and payment. Pure.

A bill (one statement: one agreement, one period, one currency) is settled through five entry
kinds, each signed by one role on its own chain (mirrored to the partner):

=============  ======  =====================================================================
kind           signer  what it says
=============  ======  =====================================================================
statement      Seller  the bill: its canonical hash, period, bill date, amount due, item count
acceptance     Buyer   the Buyer accepts the bill (or, naming a resolution, that resolution)
dispute        Buyer   the Buyer disputes items, citing records, alerts and an evidence hash
resolution     Seller  the outcome of a dispute, per item: credit, withDrawn or paymentDue
payment        Seller  money received against the bill
=============  ======  =====================================================================

Each ``*_payload`` builder gives the payload object :func:`streams.ledger.entries.make_entry`
encodes (lists sorted and distinct, so one decision has one payload, hence one payload hash: a
writer asked twice appends once); each ``*_problems`` lists every way a stored payload is
misshapen, never raising whatever the values (``null``, wrong types, huge integers, non-hex).
Whether a well-formed payload is *allowed* (the item exists, the dispute is in time, the credit
fits the item) needs the bill: that is :mod:`streams.settle.disputes`'s fold.

Conventions (``docs/spec/ledger.md``, "Settlement payloads"): money as canonical decimal text
(:func:`~streams.core.canonical.decimal_text`), hashes as 64 lowercase hex digits, times as
integer epoch milliseconds UTC, a reference to another entry as ``{"sequence", "entry_hash"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from streams.core.canonical import MAX_SAFE_INT, decimal_text, is_hex
from streams.core.clock import to_ms
from streams.ledger.entries import LedgerEntry, LedgerError, is_aware

__all__ = [
    "ACCEPTANCE_FIELDS",
    "DISPUTE_FIELDS",
    "OUTCOME_STATES",
    "PAYMENT_FIELDS",
    "RESOLUTION_FIELDS",
    "SETTLEMENT_KINDS",
    "STATEMENT_FIELDS",
    "EntryRef",
    "acceptance_payload",
    "acceptance_problems",
    "dispute_payload",
    "dispute_problems",
    "entry_ref",
    "is_decimal_text",
    "normalise_item_state",
    "payment_payload",
    "payment_problems",
    "resolution_payload",
    "resolution_problems",
    "settlement_problems",
    "statement_payload",
    "statement_problems",
]

SETTLEMENT_KINDS = ("statement", "acceptance", "dispute", "resolution", "payment")
"""The entry kinds of a bill's settlement, in the order a bill usually meets them."""

STATEMENT_FIELDS = (
    "agreement_id",
    "bill_id",
    "currency",
    "period_start_ms",
    "period_end_ms",
    "bill_date_ms",
    "statement_hash",
    "amount_due",
    "item_count",
)
ACCEPTANCE_FIELDS = (
    "agreement_id",
    "bill_id",
    "statement_hash",
    "statement_entry",
    "resolution_entry",
)
DISPUTE_FIELDS = (
    "agreement_id",
    "dispute_id",
    "bill_id",
    "statement_hash",
    "statement_entry",
    "items",
    "records",
    "alerts",
    "evidence_hash",
    "reason",
)
RESOLUTION_FIELDS = ("agreement_id", "dispute_id", "bill_id", "dispute_entry", "outcomes", "note")
PAYMENT_FIELDS = ("agreement_id", "bill_id", "payment_id", "amount", "currency", "paid_ms")
_OUTCOME_FIELDS = ("item", "state", "credit")

OUTCOME_STATES = ("credit", "withDrawn", "paymentDue")
"""What a resolution may make of a disputed item (MEF 141 ``StateValue`` spelling)."""

_SPELLINGS = {"withdrawn": "withDrawn"}
"""MEF 141's prose spells ``withdrawn``, its enum ``withDrawn``: accepted on input, not emitted."""

_CANONICAL_DECIMAL = re.compile(r"0|-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")
_MAX_DECIMAL = 64
"""Longest decimal text accepted (a bound on work, far above any amount Bilat writes)."""

EntryRef = LedgerEntry | tuple[int, bytes]
"""Another entry, named by its sequence and entry hash: the entry itself, or the pair."""


def is_decimal_text(value: Any) -> bool:
    """``value`` is canonical decimal text (``docs/spec/ledger.md``, Decimals) of at most 64
    characters: what a settlement amount, and a leaf's quantity and amount, must be."""
    return (
        isinstance(value, str)
        and len(value) <= _MAX_DECIMAL
        and _CANONICAL_DECIMAL.fullmatch(value) is not None
        and value != "-0"
    )


def normalise_item_state(state: str) -> str:
    """The MEF 141 enum spelling of an item state: ``withdrawn`` becomes ``withDrawn``; every
    other value is returned unchanged (whether it is a state is the caller's question)."""
    return _SPELLINGS.get(state, state)


def entry_ref(entry: EntryRef) -> dict[str, Any]:
    """``{"sequence", "entry_hash": hex}`` of an entry (or of a ``(sequence, hash)`` pair)."""
    if isinstance(entry, LedgerEntry):
        return {"sequence": entry.sequence, "entry_hash": entry.entry_hash().hex()}
    sequence, entry_hash = entry
    if type(sequence) is not int or sequence < 0 or not isinstance(entry_hash, bytes):
        raise LedgerError(f"entry reference: got {entry!r}, want (sequence >= 0, 32 bytes)")
    if len(entry_hash) != 32:
        raise LedgerError(f"entry reference: got a {len(entry_hash)}-byte hash, want 32 bytes")
    return {"sequence": sequence, "entry_hash": entry_hash.hex()}


# --- builders ------------------------------------------------------------------------------


def _raise_if(problems: list[str], what: str) -> None:
    if problems:
        raise LedgerError(what, problems)


def statement_payload(
    *,
    agreement_id: str,
    bill_id: str,
    currency: str,
    period_start: datetime,
    period_end: datetime,
    bill_date: datetime,
    statement_hash: bytes,
    amount_due: Decimal,
    item_count: int,
) -> dict[str, Any]:
    """The payload of the Seller's ``statement`` entry: the bill whose canonical statement hashes
    to ``statement_hash`` (``streams.settle.statement``). Times become epoch ms, the amount
    decimal text. Raises :class:`LedgerError` listing every problem
    (:func:`statement_problems`, and times that are not aware)."""
    times = {"period_start": period_start, "period_end": period_end, "bill_date": bill_date}
    naive = [name for name, value in times.items() if not is_aware(value)]
    if naive:
        raise LedgerError(f"statement {bill_id}", [f"{n}: want an aware datetime" for n in naive])
    payload = {
        "agreement_id": agreement_id,
        "bill_id": bill_id,
        "currency": currency,
        "period_start_ms": to_ms(period_start),
        "period_end_ms": to_ms(period_end),
        "bill_date_ms": to_ms(bill_date),
        "statement_hash": _hex_of(statement_hash),
        "amount_due": _text_of(amount_due),
        "item_count": item_count,
    }
    _raise_if(statement_problems(payload), f"statement {bill_id}")
    return payload


def acceptance_payload(
    *,
    agreement_id: str,
    bill_id: str,
    statement_hash: bytes,
    statement_entry: EntryRef,
    resolution_entry: EntryRef | None = None,
) -> dict[str, Any]:
    """The payload of the Buyer's ``acceptance`` entry: it accepts the bill of the statement entry
    (every item still ``generated`` becomes ``paymentDue``), or, naming ``resolution_entry``,
    the Seller's resolution of its dispute. Raises :class:`LedgerError` listing every problem."""
    payload = {
        "agreement_id": agreement_id,
        "bill_id": bill_id,
        "statement_hash": _hex_of(statement_hash),
        "statement_entry": entry_ref(statement_entry),
        "resolution_entry": None if resolution_entry is None else entry_ref(resolution_entry),
    }
    _raise_if(acceptance_problems(payload), f"acceptance of {bill_id}")
    return payload


def dispute_payload(
    *,
    agreement_id: str,
    dispute_id: str,
    bill_id: str,
    statement_hash: bytes,
    statement_entry: EntryRef,
    items: Sequence[str],
    records: Sequence[str],
    alerts: Sequence[str],
    evidence_hash: bytes,
    reason: str,
) -> dict[str, Any]:
    """The payload of the Buyer's ``dispute`` entry: ``items`` (item ids of the bill) are
    disputed, citing usage ``records`` (usage keys), reconciliation ``alerts`` (alert ids) and the
    evidence document whose hash is ``evidence_hash`` (:mod:`streams.settle.evidence`). The lists
    are written sorted and distinct. Raises :class:`LedgerError` listing every problem."""
    payload = {
        "agreement_id": agreement_id,
        "dispute_id": dispute_id,
        "bill_id": bill_id,
        "statement_hash": _hex_of(statement_hash),
        "statement_entry": entry_ref(statement_entry),
        "items": sorted(set(items)),
        "records": sorted(set(records)),
        "alerts": sorted(set(alerts)),
        "evidence_hash": _hex_of(evidence_hash),
        "reason": reason,
    }
    _raise_if(dispute_problems(payload), f"dispute {dispute_id} of {bill_id}")
    return payload


def resolution_payload(
    *,
    agreement_id: str,
    dispute_id: str,
    bill_id: str,
    dispute_entry: EntryRef,
    outcomes: Mapping[str, tuple[str, Decimal]],
    note: str = "",
) -> dict[str, Any]:
    """The payload of the Seller's ``resolution`` entry: per disputed item id, ``(state,
    credit)``, the state ``credit``, ``withDrawn`` (``withdrawn`` accepted) or ``paymentDue``
    (the dispute rejected for that item); ``credit`` is the amount credited, ``0`` unless the
    state is ``credit``. Outcomes are written sorted by item. Raises :class:`LedgerError`."""
    payload = {
        "agreement_id": agreement_id,
        "dispute_id": dispute_id,
        "bill_id": bill_id,
        "dispute_entry": entry_ref(dispute_entry),
        "outcomes": [
            {"item": item, "state": normalise_item_state(state), "credit": _text_of(credit)}
            for item, (state, credit) in sorted(outcomes.items())
        ],
        "note": note,
    }
    _raise_if(resolution_problems(payload), f"resolution of {dispute_id}")
    return payload


def payment_payload(
    *,
    agreement_id: str,
    bill_id: str,
    payment_id: str,
    amount: Decimal,
    currency: str,
    paid: datetime,
) -> dict[str, Any]:
    """The payload of the Seller's ``payment`` entry: ``amount`` (> 0, the bill's currency)
    received against the bill at ``paid``. Raises :class:`LedgerError` listing every problem."""
    if not is_aware(paid):
        raise LedgerError(f"payment {payment_id}", [f"paid: got {paid!r}, want an aware time"])
    payload = {
        "agreement_id": agreement_id,
        "bill_id": bill_id,
        "payment_id": payment_id,
        "amount": _text_of(amount),
        "currency": currency,
        "paid_ms": to_ms(paid),
    }
    _raise_if(payment_problems(payload), f"payment {payment_id} of {bill_id}")
    return payload


def _hex_of(value: bytes) -> Any:
    """Hex of 32 bytes; anything else is passed through for the problems check to name."""
    return value.hex() if isinstance(value, bytes) and len(value) == 32 else repr(value)


def _text_of(value: Decimal) -> Any:
    return decimal_text(value) if isinstance(value, Decimal) and value.is_finite() else repr(value)


# --- shape checks --------------------------------------------------------------------------


def _show(value: Any) -> str:
    """``repr`` cut short: hostile payloads may hold megabytes."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Shape:
    """Collects the problems of one payload object; each method checks one member."""

    __slots__ = ("payload", "problems")

    def __init__(self, payload: Any, fields: Sequence[str]) -> None:
        self.problems: list[str] = []
        self.payload: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        if not isinstance(payload, Mapping):
            self.problems.append(f"payload: got {type(payload).__name__}, want an object")
            return
        keys = {k for k in payload if isinstance(k, str)}
        if keys != set(fields) or len(keys) != len(payload):
            self.problems.append(f"fields: got {sorted(map(str, payload))}, want {sorted(fields)}")

    def _bad(self, name: str, value: Any, want: str) -> None:
        self.problems.append(f"{name}: got {_show(value)}, want {want}")

    def text(self, name: str, value: Any, *, empty: bool = False) -> bool:
        if isinstance(value, str) and (empty or value) and _valid_unicode(value):
            return True
        self._bad(name, value, "text" if empty else "a non-empty string")
        return False

    def integer(self, name: str, minimum: int = 0) -> bool:
        value = self.payload.get(name)
        if type(value) is int and minimum <= value <= MAX_SAFE_INT:
            return True
        self._bad(name, value, f"an integer from {minimum} to 2**53-1")
        return False

    def hash(self, name: str) -> None:
        if not is_hex(self.payload.get(name)):
            self._bad(name, self.payload.get(name), "64 lowercase hex digits")

    def currency(self, name: str = "currency") -> None:
        value = self.payload.get(name)
        if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper()):
            self._bad(name, value, "an ISO 4217 code (3 capital letters)")

    def decimal(self, name: str, value: Any, *, sign: str = "any") -> Decimal | None:
        """Canonical decimal text; ``sign`` ``>=0`` or ``>0`` restricts it."""
        want = {"any": "", ">=0": " >= 0", ">0": " > 0"}[sign]
        if not is_decimal_text(value):
            self._bad(name, value, f"canonical decimal text{want} (like '12.5', not '12.50')")
            return None
        amount = Decimal(value)
        if (sign == ">=0" and amount < 0) or (sign == ">0" and amount <= 0):
            self._bad(name, value, f"an amount{want}")
            return None
        return amount

    def ref(self, name: str, *, nullable: bool = False) -> None:
        value = self.payload.get(name)
        if value is None and nullable:
            return
        if (
            isinstance(value, Mapping)
            and set(value) == {"sequence", "entry_hash"}
            and type(value["sequence"]) is int
            and 1 <= value["sequence"] <= MAX_SAFE_INT
            and is_hex(value["entry_hash"])
        ):
            return
        self._bad(
            name,
            value,
            ("null or " if nullable else "")
            + "{sequence: an integer >= 1, entry_hash: 64 lowercase hex digits}",
        )

    def ids(self, name: str, *, nonempty: bool) -> list[str]:
        """A list of non-empty strings in strictly increasing order (sorted, distinct: one
        spelling of one set)."""
        value = self.payload.get(name)
        if not (
            isinstance(value, list)
            and all(isinstance(v, str) and v and _valid_unicode(v) for v in value)
        ):
            self._bad(name, value, "a list of non-empty strings")
            return []
        if nonempty and not value:
            self._bad(name, value, "at least one")
        if any(a >= b for a, b in pairwise(value)):
            self._bad(name, value, "sorted and distinct (code point order)")
        return value


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _common(shape: _Shape, agreement_id: str | None) -> None:
    got = shape.payload.get("agreement_id")
    if shape.text("agreement_id", got) and agreement_id is not None and got != agreement_id:
        shape._bad("agreement_id", got, repr(agreement_id))
    shape.text("bill_id", shape.payload.get("bill_id"))


def statement_problems(payload: Any, agreement_id: str | None = None) -> list[str]:
    """What makes a ``statement`` payload misshapen; ``[]`` when well formed: exactly the nine
    members, ``agreement_id`` (``agreement_id`` when given) and ``bill_id`` non-empty strings,
    ``currency`` an ISO 4217 code, the three times integers with ``period_end_ms >
    period_start_ms`` and ``bill_date_ms >= period_end_ms``, ``statement_hash`` hex,
    ``amount_due`` canonical decimal text, ``item_count`` an integer >= 0."""
    shape = _Shape(payload, STATEMENT_FIELDS)
    if not isinstance(payload, Mapping):
        return shape.problems
    _common(shape, agreement_id)
    shape.currency()
    times = [shape.integer(n) for n in ("period_start_ms", "period_end_ms", "bill_date_ms")]
    if all(times):
        start, end, bill = (
            payload[n] for n in ("period_start_ms", "period_end_ms", "bill_date_ms")
        )
        if end <= start:
            shape.problems.append(f"period: got [{start}, {end}), want end > start")
        if bill < end:
            shape.problems.append(f"bill_date_ms: got {bill}, want >= period_end_ms {end}")
    shape.hash("statement_hash")
    shape.decimal("amount_due", payload.get("amount_due"))
    shape.integer("item_count")
    return shape.problems


def acceptance_problems(payload: Any, agreement_id: str | None = None) -> list[str]:
    """What makes an ``acceptance`` payload misshapen; ``[]`` when well formed: exactly the five
    members, ``statement_hash`` hex, ``statement_entry`` an entry reference, ``resolution_entry``
    ``null`` or an entry reference."""
    shape = _Shape(payload, ACCEPTANCE_FIELDS)
    if not isinstance(payload, Mapping):
        return shape.problems
    _common(shape, agreement_id)
    shape.hash("statement_hash")
    shape.ref("statement_entry")
    shape.ref("resolution_entry", nullable=True)
    return shape.problems


def dispute_problems(payload: Any, agreement_id: str | None = None) -> list[str]:
    """What makes a ``dispute`` payload misshapen; ``[]`` when well formed: exactly the ten
    members, ``dispute_id`` a non-empty string, ``statement_hash`` and ``evidence_hash`` hex,
    ``statement_entry`` an entry reference, ``items`` (at least one), ``records`` and ``alerts``
    lists of non-empty strings, sorted and distinct, ``reason`` a non-empty string."""
    shape = _Shape(payload, DISPUTE_FIELDS)
    if not isinstance(payload, Mapping):
        return shape.problems
    _common(shape, agreement_id)
    shape.text("dispute_id", payload.get("dispute_id"))
    shape.hash("statement_hash")
    shape.ref("statement_entry")
    shape.ids("items", nonempty=True)
    shape.ids("records", nonempty=False)
    shape.ids("alerts", nonempty=False)
    shape.hash("evidence_hash")
    shape.text("reason", payload.get("reason"))
    return shape.problems


def resolution_problems(payload: Any, agreement_id: str | None = None) -> list[str]:
    """What makes a ``resolution`` payload misshapen; ``[]`` when well formed: exactly the six
    members, ``dispute_id`` a non-empty string, ``dispute_entry`` an entry reference, ``note``
    text, ``outcomes`` a non-empty list of ``{item, state, credit}`` sorted by distinct
    ``item``, ``state`` one of :data:`OUTCOME_STATES` (or ``withdrawn``), ``credit`` canonical
    decimal text >= 0, and ``"0"`` unless the state is ``credit``."""
    shape = _Shape(payload, RESOLUTION_FIELDS)
    if not isinstance(payload, Mapping):
        return shape.problems
    _common(shape, agreement_id)
    shape.text("dispute_id", payload.get("dispute_id"))
    shape.ref("dispute_entry")
    shape.text("note", payload.get("note"), empty=True)
    outcomes = payload.get("outcomes")
    if not isinstance(outcomes, list) or not outcomes:
        shape._bad("outcomes", outcomes, "a non-empty list of {item, state, credit}")
        return shape.problems
    items: list[str] = []
    for i, outcome in enumerate(outcomes):
        where = f"outcomes[{i}]"
        if not (isinstance(outcome, Mapping) and set(outcome) == set(_OUTCOME_FIELDS)):
            shape._bad(where, outcome, "an object of exactly item, state, credit")
            continue
        if shape.text(f"{where}.item", outcome["item"]):
            items.append(outcome["item"])
        state = outcome["state"]
        if not isinstance(state, str) or normalise_item_state(state) not in OUTCOME_STATES:
            shape._bad(f"{where}.state", state, f"one of {', '.join(OUTCOME_STATES)}")
        credit = shape.decimal(f"{where}.credit", outcome["credit"], sign=">=0")
        if credit is not None and credit != 0 and state != "credit":
            shape._bad(f"{where}.credit", outcome["credit"], f"'0' for state {_show(state)}")
    if any(a >= b for a, b in pairwise(items)):
        shape._bad("outcomes", items, "sorted by item, each item once")
    return shape.problems


def payment_problems(payload: Any, agreement_id: str | None = None) -> list[str]:
    """What makes a ``payment`` payload misshapen; ``[]`` when well formed: exactly the six
    members, ``payment_id`` a non-empty string, ``amount`` canonical decimal text > 0,
    ``currency`` an ISO 4217 code, ``paid_ms`` an integer >= 0."""
    shape = _Shape(payload, PAYMENT_FIELDS)
    if not isinstance(payload, Mapping):
        return shape.problems
    _common(shape, agreement_id)
    shape.text("payment_id", payload.get("payment_id"))
    shape.decimal("amount", payload.get("amount"), sign=">0")
    shape.currency()
    shape.integer("paid_ms")
    return shape.problems


_PROBLEMS = {
    "statement": statement_problems,
    "acceptance": acceptance_problems,
    "dispute": dispute_problems,
    "resolution": resolution_problems,
    "payment": payment_problems,
}


def settlement_problems(kind: str, payload: Any, agreement_id: str | None = None) -> list[str]:
    """The problems of a settlement payload of ``kind`` (one of :data:`SETTLEMENT_KINDS`), each
    prefixed with the kind; what a chain writer checks before signing and
    :func:`streams.ledger.check.check_ledger` reports as ``bad-payload``."""
    check = _PROBLEMS.get(kind)
    if check is None:
        return [f"kind: got {kind!r}, want one of {', '.join(SETTLEMENT_KINDS)}"]
    return [f"{kind}: {p}" for p in check(payload, agreement_id)]
