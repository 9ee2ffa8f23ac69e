"""One billing period of the example agreement, as both parties hold it, for the statement
tests: November 2026 in Europe/Berlin (2026-10-31T23:00Z to 2026-11-30T23:00Z).

The story, every amount hand-computed in ``tests/unit/settle/test_statement.py``:

* Sonata inventory: ``PRD-VOICE-1``, ``PRD-SMS-1``, ``PRD-DATA-1`` (order ``PO-1`` items 1-3,
  the agreement's usage offerings, active since October) and ``PRD-EVC-1`` (order
  ``PO-7001`` item 1, ``evc-eline-1g``, completed 2026-11-24T10:00Z, with an accepted monthly
  charge item of 1250 USD);
* window A (10:00-11:00Z on the 24th) agreed: two calls and an SMS the Seller terminated, a
  call the Buyer terminated, 150,000 MB of roaming data;
* window B (11:00-12:00Z) agreed within tolerance: one call, 0.0500 EUR and 300 s by the
  Seller, 0.0499 EUR and 301 s by the Buyer;
* window C (12:00-13:00Z) diverged: one call, not billed.

:func:`windows` gives either party's view: its own leaves (directions as that party saw them,
the Buyer's amount for the call agreed within tolerance) and both parties' anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from streams.agreement.loader import load_book
from streams.agreement.model import AgreementBook
from streams.core.clock import to_ms
from streams.ledger.batching import Leaf
from streams.rating.inventory import ChargeItem, Inventory, OrderEvent
from streams.settle.period_close import Disagreement, StatementWindow
from streams.settle.statement import AnchorRef
from tests.paths import REPO

__all__ = ["AT", "BOOK", "BUYER", "SELLER", "A", "B", "C", "anchor", "inventory", "windows"]

SELLER, BUYER = "hgc", "dcc"
BOOK: AgreementBook = load_book(REPO / "examples" / "agreement.yaml")
AT = datetime(2026, 11, 20, tzinfo=UTC)
"""Any moment of the period."""

ACTIVE = datetime(2026, 10, 1, tzinfo=UTC)
EVC_COMPLETED = datetime(2026, 11, 24, 10, tzinfo=UTC)
HOUR = 3_600_000
A = to_ms(datetime(2026, 11, 24, 10, tzinfo=UTC))
B, C = A + HOUR, A + 2 * HOUR


def _added(
    product: str, order: str, item: str, offering: str, at: datetime, *charges: ChargeItem
) -> OrderEvent:
    return OrderEvent(
        f"e-{product}", "productOrderItemStateChangeEvent", at, order, item, "completed",
        "add", product, offering, at, BUYER, SELLER, charges,
    )  # fmt: skip


USD_MRC = ChargeItem(
    "CHG-7001-1", "1", "acceptedByBuyer", "recurring", "month", "other", Decimal("1250"), "USD"
)


def inventory() -> Inventory:
    return Inventory(
        [
            _added("PRD-VOICE-1", "PO-1", "1", "voice-interconnect", ACTIVE),
            _added("PRD-SMS-1", "PO-1", "2", "sms-interconnect", ACTIVE),
            _added("PRD-DATA-1", "PO-1", "3", "data-roaming-access", ACTIVE),
            _added("PRD-EVC-1", "PO-7001", "1", "evc-eline-1g", EVC_COMPLETED, USD_MRC),
        ]
    )


@dataclass(frozen=True)
class _Usage:
    key: str
    start_ms: int
    quantity: str
    unit: str
    rate_id: str
    amount: str
    seller_sees: str
    """Direction as the Seller saw it (the Buyer sees the other)."""
    buyer_amount: str | None = None
    buyer_quantity: str | None = None


USAGE = {
    A: [
        _Usage("ix/r1", A + 60_000, "120", "second", "voice-de-fixed", "0.0230", "inbound"),
        _Usage("ix/r2", A + 120_000, "61", "second", "voice-de-fixed", "0.0230", "inbound"),
        _Usage("ix/r3", A + 180_000, "60", "second", "voice-de-fixed", "0.0140", "outbound"),
        _Usage("ix/s1", A + 240_000, "1", "message", "sms-any", "0.0040", "inbound"),
        _Usage("ix/d1", A + 300_000, "150000000000", "byte", "data-roaming", "375.0000",
               "inbound"),
    ],
    B: [
        _Usage("ix/r4", B + 60_000, "300", "second", "voice-de-fixed", "0.0500", "inbound",
               buyer_amount="0.0499", buyer_quantity="301"),
    ],
    C: [_Usage("ix/r6", C + 60_000, "120", "second", "voice-de-fixed", "0.0230", "inbound")],
}  # fmt: skip
STATES = {A: "agreed", B: "agreed-within-tolerance", C: "diverged"}
SEQUENCES = {SELLER: {A: 5, B: 6, C: 7}, BUYER: {A: 11, B: 12, C: 13}}

_FLIP = {"inbound": "outbound", "outbound": "inbound"}


def _leaf(usage: _Usage, party: str) -> Leaf:
    seller = party == SELLER
    amount = usage.amount if seller or usage.buyer_amount is None else usage.buyer_amount
    quantity = usage.quantity if seller or usage.buyer_quantity is None else usage.buyer_quantity
    return Leaf(
        usage.key, bytes(32), Decimal(amount), "EUR", "1", usage.start_ms, quantity, usage.unit,
        usage.rate_id, None, usage.seller_sees if seller else _FLIP[usage.seller_sees],
    )  # fmt: skip


def anchor(party: str, start: int) -> AnchorRef:
    root = f"{SEQUENCES[party][start]:02x}" * 32
    return AnchorRef(party, SEQUENCES[party][start], start, start + HOUR, 0, root)


def windows(party: str, order: tuple[int, ...] = (A, B, C)) -> list[StatementWindow]:
    """``party``'s view of the period's three windows, in ``order``."""
    result = []
    for start in order:
        differing = {
            u.key: Disagreement(
                Decimal(u.amount), Decimal(u.buyer_amount), u.quantity, u.buyer_quantity
            )
            for u in USAGE[start]
            if u.buyer_amount is not None
        }
        result.append(
            StatementWindow(
                start,
                start + HOUR,
                STATES[start],
                (anchor(SELLER, start), anchor(BUYER, start)),
                tuple(_leaf(u, party) for u in USAGE[start]),
                differing,
            )
        )
    return result
