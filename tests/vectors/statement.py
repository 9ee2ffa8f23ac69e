"""The statement vector of ``docs/spec/settlement.md`` (the worked example): one statement built
from the model by hand, its canonical JSON, its hash and its MEF 141 JSON. Called by
:mod:`tests.vectors.generate`; imports nothing from it.

The statement: agreement ``vec-2026`` v1, Seller ``hgc``, Buyer ``dcc``, March 2026 (UTC), EUR,
scale 4; a monthly recurring charge of 1200.0000, 10 minutes of voice the Seller terminated at
0.0150 (0.1500) over two windows, 2 minutes the Buyer terminated (-0.0300):
1200.0000 + 0.1500 - 0.0300 = 1200.1200 due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.agreement.model import Contact
from streams.core.canonical import canonical_json
from streams.core.clock import to_ms
from streams.settle.mef141 import bill_items, customer_bill, dumps
from streams.settle.statement import (
    STATEMENT_DOMAIN,
    AnchorRef,
    Statement,
    StatementItem,
    StatementParty,
)

__all__ = ["statement_vectors", "worked_example"]

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
W1 = to_ms(datetime(2026, 3, 2, 9, tzinfo=UTC))
W2 = W1 + 3_600_000
HOUR = 3_600_000


def _anchor(party: str, sequence: int, start: int, root: str) -> AnchorRef:
    return AnchorRef(party, sequence, start, start + HOUR, 0, root * 64)


def worked_example() -> Statement:
    """The statement of the module docstring."""
    sid = "vec-2026-2026-03-EUR"
    anchors = (
        _anchor("dcc", 4, W1, "b"),
        _anchor("hgc", 2, W1, "a"),
        _anchor("dcc", 5, W2, "d"),
        _anchor("hgc", 3, W2, "c"),
    )
    common = {
        "product_id": "PRD-VOICE-1",
        "product_name": "voice-interconnect",
        "order_id": "PO-1",
        "order_item_id": "1",
        "period_start": START,
        "period_end": END,
        "unit": "minute",
        "unit_rate": Decimal("0.0150"),
        "currency": "EUR",
        "sources": tuple(a.source for a in anchors),
        "anchors": anchors,
        "rate_id": "voice-any",
        "billed_by": "agreed",
    }
    items = (
        StatementItem(
            id=f"{sid}-0001",
            kind="recurring",
            description="recurring charge (agreement:evc-eline-1g): 1200.00 EUR/month x "
            "2678400 s / 2678400 s",
            product_id="PRD-EVC-1",
            product_name="evc-eline-1g",
            order_id="PO-7001",
            order_item_id="1",
            period_start=START,
            period_end=END,
            quantity=Decimal(1),
            unit="charge",
            unit_rate=Decimal("1200.0000"),
            amount=Decimal("1200.0000"),
            currency="EUR",
            sources=("agreement:evc-eline-1g",),
        ),
        StatementItem(
            id=f"{sid}-0002",
            kind="usageBased",
            description="voice usage terminated by hgc, voice-any (agreement v1): 4 records, "
            "10 minute",
            quantity=Decimal(10),
            amount=Decimal("0.1500"),
            direction="inbound",
            **common,  # type: ignore[arg-type]
        ),
        StatementItem(
            id=f"{sid}-0003",
            kind="usageBased",
            description="voice usage terminated by dcc, voice-any (agreement v1): 1 record, "
            "2 minute",
            quantity=Decimal(2),
            amount=Decimal("-0.0300"),
            direction="outbound",
            **common,  # type: ignore[arg-type]
        ),
    )
    bill_date = END + timedelta(seconds=86_400)
    return Statement(
        id=sid,
        bill_no=sid,
        agreement_id="vec-2026",
        agreement_versions=("1",),
        seller="hgc",
        buyer="dcc",
        currency="EUR",
        period_start=START,
        period_end=END,
        bill_date=bill_date,
        payment_due=bill_date + timedelta(days=30),
        items=items,
        scale=4,
        parties=(
            StatementParty(
                "seller", "hgc", "HGC", Contact("HGC Settlement", "s@hgc.example", "+85221234567")
            ),
            StatementParty("buyer", "dcc", "DCC", None),
        ),
        period_label="2026-03",
    )


def statement_vectors() -> dict[str, Any]:
    """``settle/statement.json``: the worked example's canonical JSON (as text: those are the
    hashed bytes), its hash, and its MEF CustomerBill and items (as JSON text: Money values
    are exact numbers)."""
    statement = worked_example()
    body = canonical_json(statement.canonical())
    return {
        "settle/statement.json": {
            "description": "docs/spec/settlement.md, worked example: the statement's canonical "
            f"JSON, its hash SHA-256(tag({STATEMENT_DOMAIN!r}, canonical JSON)) and its MEF 141 "
            "JSON",
            "amount_due": "1200.12",
            "canonical_json": body.decode("utf-8"),
            "statement_hash": statement.canonical_hash().hex(),
            "customer_bill_json": dumps(customer_bill(statement)),
            "customer_bill_items_json": dumps(bill_items(statement)),
            "statement": json.loads(body),
        }
    }
