"""Volume tiers and recurring / non-recurring charges, hand-computed.

examples/agreement.yaml: sms-any 0.0040/msg, graduated tiers 0.0040 to 100,000, 0.0035 to
1,000,000, then 0.0030; data-roaming 0.0025/MB, all-units tiers 0.0025 to 100,000 MB, then
0.0020. Offering evc-eline-1g: 1200.00/month recurring, 500.00 once. Europe/Berlin, months.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.agreement.loader import load_book
from streams.rating.inventory import ChargeItem, Inventory, OrderEvent
from streams.settle.charges import (
    FOREIGN_CURRENCY,
    UNPRICED_OFFERING,
    billing_period,
    period_charges,
    period_statement,
)
from streams.settle.tiers import tier_adjustment, tiered_amount
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
V1 = BOOK.versions[0]
SMS = next(t for t in V1.tariffs if t.id == "sms-any")
DATA = next(t for t in V1.tariffs if t.id == "data-roaming")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("tariff", "volume", "tiered", "adjustment"),
    [
        (SMS, "0", "0", "0"),
        (SMS, "50000", "200.0000", "0"),
        (SMS, "100000", "400.0000", "0"),
        (SMS, "150000", "575.0000", "-25.0000"),  # 400 + 50,000 x 0.0035
        (SMS, "1200000", "4150.0000", "-650.0000"),  # 400 + 3150 + 200,000 x 0.0030
        (DATA, "100000", "250.0000", "0"),  # exactly at the step: still 0.0025
        (DATA, "100000.5", "200.0010", "-50.00025"),  # all of it at 0.0020
        (DATA, "150000", "300.0000", "-75.0000"),
    ],
)
def test_tiers(tariff: object, volume: str, tiered: str, adjustment: str) -> None:
    assert tariff.tiers is not None  # type: ignore[attr-defined]
    assert tiered_amount(tariff.tiers, Decimal(volume)) == Decimal(tiered)  # type: ignore[attr-defined]
    assert tier_adjustment(tariff, Decimal(volume)) == Decimal(adjustment)  # type: ignore[arg-type]


def test_billing_period_is_the_local_month() -> None:
    start, end = billing_period(V1, at("2026-11-15T12:00:00"))
    assert (start, end) == (at("2026-10-31T23:00:00"), at("2026-11-30T23:00:00"))  # CET
    start, end = billing_period(V1, at("2026-03-31T22:30:00"))  # 00:30 CEST on April 1st
    assert (start, end) == (at("2026-03-31T22:00:00"), at("2026-04-30T22:00:00"))
    march = billing_period(V1, at("2026-03-15T00:00:00"))
    assert march == (at("2026-02-28T23:00:00"), at("2026-03-31T22:00:00"))  # 30 d 23 h: DST


def add_event(completed: str, charges: tuple[ChargeItem, ...] = ()) -> OrderEvent:
    return OrderEvent(
        "e1",
        "productOrderItemStateChangeEvent",
        at(completed),
        "po-1",
        "item-1",
        "completed",
        "add",
        "evc-1",
        "evc-eline-1g",
        at(completed),
        "dcc",
        "hgc",
        charges,
    )


def test_recurring_is_prorated_and_non_recurring_charged_once() -> None:
    # activated 2026-11-16 00:00 CET = 15 of 30 days of November
    inventory = Inventory([add_event("2026-11-15T23:00:00")])
    november = period_charges(inventory, V1, at("2026-11-20T00:00:00"))
    assert [(c.kind, c.amount) for c in november] == [
        ("recurring", Decimal("600.0000")),
        ("nonRecurring", Decimal("500.0000")),
    ]
    december = period_charges(inventory, V1, at("2026-12-20T00:00:00"))
    assert [(c.kind, c.amount) for c in december] == [("recurring", Decimal("1200.0000"))]


def test_disconnection_ends_recurring_charges() -> None:
    delete = OrderEvent(
        "e2",
        "t",
        at("2026-12-10T23:00:00"),
        "po-2",
        "item-2",
        "completed",
        "delete",
        "evc-1",
        "evc-eline-1g",
        at("2026-12-10T23:00:00"),
        "dcc",
        "hgc",
    )
    inventory = Inventory([add_event("2026-11-15T23:00:00"), delete])
    december = period_charges(inventory, V1, at("2026-12-20T00:00:00"))
    # 10 of 31 days: 1200 x 10/31 = 387.0967741.. → 387.0968
    assert [(c.kind, c.amount) for c in december] == [("recurring", Decimal("387.0968"))]
    assert period_charges(inventory, V1, at("2027-01-20T00:00:00")) == []


def test_accepted_sonata_charges_add_declined_never() -> None:
    charges = (
        ChargeItem(
            "ch", "1", "acceptedByBuyer", "nonRecurring", None, "expedite", Decimal("99.90"), "EUR"
        ),
        ChargeItem(
            "ch", "2", "declinedByBuyer", "nonRecurring", None, None, Decimal("1000"), "EUR"
        ),
        ChargeItem("ch", "3", "acceptedByBuyer", "recurring", "day", None, Decimal("2.00"), "EUR"),
    )
    inventory = Inventory([add_event("2026-11-15T23:00:00", charges)])
    lines = period_charges(inventory, V1, at("2026-11-20T00:00:00"))
    sonata = [(c.source, c.kind, c.amount) for c in lines if c.source.startswith("sonata:")]
    assert sonata == [
        ("sonata:ch/1", "nonRecurring", Decimal("99.9000")),
        ("sonata:ch/3", "recurring", Decimal("30.0000")),  # 15 days x 2.00
    ]


def product_event(
    product: str, offering: str | None, charges: tuple[ChargeItem, ...] = ()
) -> OrderEvent:
    return OrderEvent(
        f"e-{product}",
        "productOrderItemStateChangeEvent",
        at("2026-11-15T23:00:00"),
        f"po-{product}",
        "1",
        "completed",
        "add",
        product,
        offering,
        at("2026-11-15T23:00:00"),
        "dcc",
        "hgc",
        charges,
    )


ACCEPTED_NRC = ChargeItem(
    "ch", "1", "acceptedByBuyer", "nonRecurring", None, "other", Decimal("250"), "EUR"
)


@pytest.mark.parametrize("offering", ["evc-not-in-agreement", None])
def test_an_offering_the_agreement_does_not_price_is_a_finding(offering: str | None) -> None:
    inventory = Inventory([product_event("evc-9", offering, (ACCEPTED_NRC,))])
    statement = period_statement(inventory, V1, at("2026-11-20T00:00:00"))
    assert [(c.source, c.amount) for c in statement.charges] == [("sonata:ch/1", Decimal("250"))]
    (finding,) = statement.findings
    assert (finding.code, finding.product_id) == (UNPRICED_OFFERING, "evc-9")
    assert finding.source == f"offering:{offering or ''}"
    assert "billed only through its accepted Sonata charge items (1 line here)" in finding.message
    want = f"offering {offering!r} is not in" if offering else "names no product offering"
    assert want in finding.message and "hgc-dcc-2026 v1" in finding.message
    # the next period: the product is still active, the finding stays
    december = period_statement(inventory, V1, at("2026-12-20T00:00:00"))
    assert [f.code for f in december.findings] == [UNPRICED_OFFERING]


def test_a_priced_offering_or_an_inactive_product_has_no_finding() -> None:
    inventory = Inventory([product_event("evc-1", "evc-eline-1g")])
    assert period_statement(inventory, V1, at("2026-11-20T00:00:00")).findings == ()
    unpriced = Inventory([product_event("evc-9", "evc-not-in-agreement")])
    assert period_statement(unpriced, V1, at("2026-10-20T00:00:00")).findings == ()  # before


def test_charges_in_another_currency_are_billed_in_their_own_and_flagged() -> None:
    usd = ChargeItem(
        "ch", "2", "acceptedByBuyer", "recurring", "month", "other", Decimal("1250.0000"), "USD"
    )
    inventory = Inventory([product_event("evc-1", "evc-eline-1g", (ACCEPTED_NRC, usd))])
    statement = period_statement(inventory, V1, at("2026-11-20T00:00:00"))
    assert [(c.source, c.amount, c.currency) for c in statement.in_currency("USD")] == [
        ("sonata:ch/2", Decimal("625.0000"), "USD")  # 15 of 30 days: 1250 x 15/30
    ]
    assert statement.totals == {
        "EUR": Decimal("600.0000") + Decimal("500.0000") + 250,  # never mixed with the USD
        "USD": Decimal("625.0000"),
    }
    (finding,) = statement.findings
    assert (finding.code, finding.source) == (FOREIGN_CURRENCY, "sonata:ch/2")
    assert (finding.amount, finding.currency) == (Decimal("625.0000"), "USD")
    assert "priced in USD, the agreement in EUR" in finding.message
    assert "billed on the USD statement" in finding.message
    assert period_charges(inventory, V1, at("2026-11-20T00:00:00")) == list(statement.charges)


def test_statement_json_is_exact_and_per_currency() -> None:
    usd = ChargeItem(
        "ch", "2", "acceptedByBuyer", "nonRecurring", None, "other", Decimal("10.5"), "USD"
    )
    inventory = Inventory([product_event("evc-9", "nope", (usd,))])
    doc = period_statement(inventory, V1, at("2026-11-20T00:00:00")).to_json()
    assert {k: doc[k] for k in ("agreement", "version", "currency", "time_zone")} == {
        "agreement": "hgc-dcc-2026",
        "version": "1",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
    }
    assert (doc["period_start"], doc["period_end"]) == (
        "2026-11-01T00:00:00+01:00",
        "2026-12-01T00:00:00+01:00",
    )
    assert [c["amount"] for c in doc["charges"]] == ["10.5000"]
    assert doc["totals"] == {"EUR": "0.0000", "USD": "10.5000"}
    assert [f["code"] for f in doc["findings"]] == [FOREIGN_CURRENCY, UNPRICED_OFFERING]
