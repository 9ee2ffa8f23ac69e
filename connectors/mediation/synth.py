"""Synthetic mediation output for the demo and tests: realistic traffic, deterministic by seed.

Both parties of a bilateral see the same calls: the Seller's switch records them as inbound
from the Buyer, the Buyer's as outbound to the Seller, under a shared usage key (the
interconnect trunk and call reference). Like real feeds, the two views are not identical: the
Buyer's switch misses a few records and rounds a few durations differently, and both files carry
a few malformed lines of every kind the pipeline must dead-letter.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.mediation.generic_csv import COLUMNS
from streams.core.clock import to_ms

__all__ = [
    "BAD_LINE_KINDS",
    "INTERCONNECTS",
    "PRODUCT_ID",
    "SynthFile",
    "synth_interconnect_orders",
    "synth_order",
    "synth_pair",
]

PRODUCT_ID = "evc-fra-lon-0001"
"""The Carrier Ethernet circuit the synthetic data usage runs over (see :func:`synth_order`)."""

_VOICE_DESTINATIONS = (
    ("4930", 0.25),
    ("4989", 0.15),
    ("49151", 0.15),
    ("49160", 0.1),
    ("49176", 0.1),
    ("4420", 0.15),
    ("447700", 0.1),
)

BAD_LINE_KINDS = (
    "parse:columns",
    "parse:naive-time",
    "parse:garbage-time",
    "validate:negative",
    "validate:unit",
    "validate:number",
    "validate:future",
    "rate:no-tariff",
    "rate:unknown-product",
    "dedup:resent",
)
"""Kinds of bad lines written, as ``stage:what``; the stage is where the pipeline stops them."""


@dataclass(frozen=True)
class SynthFile:
    """One party's generated CSV, and what a correct pipeline must make of it."""

    party: str
    text: str
    good: int
    """Lines that must come out rated."""
    bad: dict[str, int]
    """Bad lines per kind (see :data:`BAD_LINE_KINDS`)."""


def _rows(count: int, day: datetime, rng: random.Random) -> Iterator[dict[str, str]]:
    weights = [w for _, w in _VOICE_DESTINATIONS]
    prefixes = [p for p, _ in _VOICE_DESTINATIONS]
    for i in range(count):
        start = day + timedelta(milliseconds=rng.randrange(86_400_000))
        row = {
            "source": "ix-fra-01",
            "record_id": f"{day:%Y%m%d}-{i:07d}",
            "product_id": "",
            "a_number": f"4969{rng.randrange(10**7):07d}",
            "start": start.isoformat(timespec="milliseconds"),
        }
        kind = rng.random()
        if kind < 0.75:
            number = rng.choices(prefixes, weights)[0]
            number += "".join(rng.choice("0123456789") for _ in range(12 - len(number)))
            seconds = 0 if rng.random() < 0.05 else int(rng.expovariate(1 / 150)) + 1
            row.update(product="voice", b_number=number, quantity=str(seconds), unit="second")
        elif kind < 0.93:
            number = rng.choice(("49170", "4915", "4477")) + f"{rng.randrange(10**7):07d}"
            row.update(product="sms", b_number=number, quantity="1", unit="message")
        else:
            volume = int(rng.lognormvariate(14, 1.5))
            row.update(
                product="data",
                b_number="",
                quantity=str(volume),
                unit="byte",
                product_id="evc-fra-lon-0001",
            )
        yield row


def _bad(kind: str, row: dict[str, str], now: datetime) -> dict[str, str] | str:
    """A malformed variant of ``row``: a dict of fields, or a raw line for structural faults."""
    row = dict(row, record_id=row["record_id"] + "-x")
    match kind:
        case "parse:columns":
            return ",".join([row["source"], row["record_id"], row["agreement_id"]])
        case "parse:naive-time":
            row["start"] = row["start"][:19]
        case "parse:garbage-time":
            row["start"] = "yesterday 10:00"
        case "validate:negative":
            row.update(product="voice", unit="second", quantity="-42", b_number="4930123456")
        case "validate:unit":
            row.update(product="voice", unit="byte", quantity="60", b_number="4930123456")
        case "validate:number":
            row.update(product="voice", unit="second", quantity="60", b_number="49-30-ABC")
        case "validate:future":
            row["start"] = (now + timedelta(days=2)).isoformat(timespec="seconds")
        case "rate:no-tariff":
            row.update(product="voice", unit="second", quantity="75", b_number="33142345678")
        case "rate:unknown-product":
            row.update(
                product="data",
                unit="byte",
                quantity="5000",
                b_number="",
                product_id="evc-not-ordered",
            )
    return row


def synth_pair(
    count: int,
    now: datetime,
    seed: int = 7,
    agreement_id: str = "hgc-dcc-2026",
    seller: str = "hgc",
    buyer: str = "dcc",
) -> tuple[SynthFile, SynthFile]:
    """Generate the Seller's and the Buyer's CSV of ``count`` calls on the day before ``now``.

    Each file has one bad line of every kind in :data:`BAD_LINE_KINDS` per 500 calls (at
    least one of each once ``count`` >= 10); a ``dedup:resent`` line repeats the record
    before it exactly. The Buyer's file misses about 0.5% of the calls
    and has about 0.5% of voice durations off by one second.
    """
    rng = random.Random(seed)
    day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    base = list(_rows(count, day, rng))
    per_kind = max(1, count // 500)
    slots = per_kind * len(BAD_LINE_KINDS)
    interval = max(1, count // slots)
    files = []
    for party, partner, direction in ((seller, buyer, "inbound"), (buyer, seller, "outbound")):
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        good = 0
        bad: dict[str, int] = dict.fromkeys(BAD_LINE_KINDS, 0)
        for i, base_row in enumerate(base):
            row = dict(base_row, agreement_id=agreement_id, partner=partner, direction=direction)
            kind = None
            if i % interval == 0 and i // interval < slots:
                kind = BAD_LINE_KINDS[(i // interval) % len(BAD_LINE_KINDS)]
            if kind is not None and kind != "dedup:resent":
                variant = _bad(kind, row, now)
                if isinstance(variant, str):
                    out.write(variant + "\n")
                else:
                    writer.writerow(variant)
                bad[kind] += 1
            if party == buyer and rng.random() < 0.005:
                continue
            if party == buyer and row["product"] == "voice" and rng.random() < 0.005:
                row["quantity"] = str(int(row["quantity"]) + 1)
            writer.writerow(row)
            good += 1
            if kind == "dedup:resent":  # the switch sent the same record again
                writer.writerow(row)
                bad[kind] += 1
        files.append(SynthFile(party, out.getvalue(), good, bad))
    return files[0], files[1]


def synth_order(now: datetime, seller: str = "hgc", buyer: str = "dcc") -> dict[str, Any]:
    """The SonataOrderEvent (Avro fields) that made :data:`PRODUCT_ID` billable: its ``add``
    order item completed ten days before ``now``, with one accepted and one declined charge."""
    completed = to_ms(now - timedelta(days=10))
    return {
        "event_id": "synth-po-0001-item-1-completed",
        "event_type": "productOrderItemStateChangeEvent",
        "event_time_ms": completed,
        "order_id": "po-0001",
        "order_item_id": "po-0001-1",
        "state": "completed",
        "action": "add",
        "product_id": PRODUCT_ID,
        "product_offering_id": "evc-eline-1g",
        "completion_date_ms": completed,
        "buyer_id": buyer,
        "seller_id": seller,
        "charge_items": [
            {
                "charge_id": "ch-0001",
                "charge_item_id": "1",
                "state": "acceptedByBuyer",
                "price_type": "nonRecurring",
                "recurring_charge_period": None,
                "price_category": "expedite",
                "amount": "250.00",
                "currency": "EUR",
            },
            {
                "charge_id": "ch-0001",
                "charge_item_id": "2",
                "state": "declinedByBuyer",
                "price_type": "nonRecurring",
                "recurring_charge_period": None,
                "price_category": "other",
                "amount": "900.00",
                "currency": "EUR",
            },
        ],
    }


INTERCONNECTS = (
    ("voice", "voice-interconnect"),
    ("sms", "sms-interconnect"),
    ("data", "data-roaming-access"),
)
"""The products carrying the demo's usage records that name no product of their own (the
example agreement's ``settlement.usage_offerings``)."""


def synth_interconnect_orders(
    now: datetime, seller: str = "hgc", buyer: str = "dcc"
) -> list[dict[str, Any]]:
    """The SonataOrderEvents (Avro fields) of the voice, SMS and data interconnects, each
    ``add`` item completed on the first day of the month before ``now``'s, so a statement
    links all the month's usage to a product and its order item."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    completed = to_ms((first - timedelta(days=1)).replace(day=1))
    return [
        {
            "event_id": f"synth-po-0002-item-{n}-completed",
            "event_type": "productOrderItemStateChangeEvent",
            "event_time_ms": completed,
            "order_id": "po-0002",
            "order_item_id": f"po-0002-{n}",
            "state": "completed",
            "action": "add",
            "product_id": f"{kind}-interconnect-0001",
            "product_offering_id": offering,
            "completion_date_ms": completed,
            "buyer_id": buyer,
            "seller_id": seller,
            "charge_items": [],
        }
        for n, (kind, offering) in enumerate(INTERCONNECTS, start=1)
    ]
