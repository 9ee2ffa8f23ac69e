"""MEF 141 bills for the billing API's tests: ``CustomerBill`` and ``CustomerBillItem`` dicts,
and the Redis entry the settle runtime writes for a bill (``bilat:<app>:settle:bills``).

Hand-built rather than through ``streams.settle.mef141`` so that these tests pin the API, not
the statement builder: every dict here is checked against the vendored schemas by the tests
that use it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis

from connectors.billing.events import Subscription

__all__ = ["MemoryHub", "bill", "bill_items", "loaded", "stored"]


def loaded(url: str, timeout: float = 15.0) -> str:
    """``url`` once that Redis has loaded its data set (a Redis the test launcher has just
    started answers ``LOADING`` while it replays its append-only file)."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return url
            except redis.exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def _money(value: str, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": Decimal(value)}


def bill(
    ident: str,
    *,
    account: str = "dcc",
    month: int = 3,
    state: str = "generated",
    category: str = "normal",
    currency: str = "EUR",
    amount: str = "1250.125",
    items: int = 2,
) -> dict[str, Any]:
    """A valid MEF ``CustomerBill`` for the billing period ``2026-<month>``."""
    start = f"2026-{month:02d}-01T00:00:00Z"
    end = f"2026-{month + 1:02d}-01T00:00:00Z" if month < 12 else "2027-01-01T00:00:00Z"
    bill_date = f"2026-{month + 1:02d}-02T00:00:00Z" if month < 12 else "2027-01-02T00:00:00Z"
    zero = _money("0", currency)
    return {
        "id": ident,
        "href": f"/customerBill/{ident}",
        "amountDue": _money(amount, currency),
        "appliedPayment": [],
        "billCycle": f"2026-{month:02d}",
        "billDate": bill_date,
        "billDocument": {"url": f"/customerBill/{ident}"},
        "billNo": ident,
        "billingAccount": {"id": account},
        "billingPeriod": {"startDateTime": start, "endDateTime": end},
        "category": category,
        "credits": zero,
        "customerBillItem": [{"id": f"{ident}-{n:04d}"} for n in range(1, items + 1)],
        "discounts": zero,
        "fees": zero,
        "financialAccount": {"id": "hgc"},
        "lastUpdate": bill_date,
        "paymentDueDate": "2026-12-31T00:00:00Z",
        "relatedContactInformation": [
            {"emailAddress": "billing@hgc.example", "name": "HGC", "number": "", "role": "seller"}
        ],
        "remainingAmount": _money(amount, currency),
        "runType": "onCycle",
        "state": state,
        "taxExcludedAmount": _money(amount, currency),
        "taxIncludedAmount": _money(amount, currency),
        "taxItem": [],
    }


def bill_items(customer_bill: dict[str, Any]) -> list[dict[str, Any]]:
    """Valid MEF ``CustomerBillItem`` dicts for every item ``customer_bill`` references."""
    currency = customer_bill["amountDue"]["unit"]
    return [
        {
            "id": ref["id"],
            "appliedFee": [],
            "appliedTax": [],
            "customerBillItemType": "usageBased",
            "description": f"Voice termination, item {n}",
            "periodCoverage": customer_bill["billingPeriod"],
            "product": {"id": "PRD-1"},
            "productName": "Voice termination",
            "productOrderItem": {"productOrderId": "PO-7001", "productOrderItemId": "1"},
            "state": "generated",
            "taxExcludedAmount": _money("625.0625", currency),
            "unit": "minute",
            "unitQuantity": Decimal("12500.5"),
            "unitRate": _money("0.05", currency),
        }
        for n, ref in enumerate(customer_bill["customerBillItem"], start=1)
    ]


def stored(customer_bill: dict[str, Any], *, role: str = "seller") -> dict[str, Any]:
    """The JSON value the settle runtime keeps for a bill in ``bilat:<app>:settle:bills``."""
    return {
        "bill": customer_bill,
        "items": bill_items(customer_bill),
        "statement_hash": "ab" * 32,
        "role": role,
        "agreement_id": "hgc-dcc-2026",
        "currency": customer_bill["amountDue"]["unit"],
        "disputes": [],
        "updated_ms": 1_775_088_000_000,
    }


@dataclass
class MemoryHub:
    """The :class:`HubStore` calls the notifier makes, over a list of stream entries."""

    subscriptions: list[Subscription]
    entries: list[tuple[str, dict[str, str]]]
    cursors: dict[str, str] = field(default_factory=dict)

    class keys:  # mimics HubStore.keys
        events = "memory:events"

    async def all(self) -> list[Subscription]:
        return list(self.subscriptions)

    async def cursor(self, ident: str) -> str:
        return self.cursors.get(ident, "0-0")

    async def advance(self, ident: str, stream_id: str) -> bool:
        self.cursors[ident] = stream_id
        return any(s.id == ident for s in self.subscriptions)

    async def events_after(
        self, stream_id: str, *, count: int, block_ms: int
    ) -> list[tuple[str, dict[str, str]]]:
        after = [e for e in self.entries if _key(e[0]) > _key(stream_id)][:count]
        if not after:
            await asyncio.sleep(block_ms / 1000)
        return after


def _key(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)
