"""Statements of one billing period (streams.settle.period_close / statement), against
hand-computed amounts: the period of tests/fakes/period.py, November 2026."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.agreement.model import Settlement
from streams.core.canonical import canonical_json, tagged
from streams.ledger.batching import Leaf
from streams.settle.period_close import (
    UNLINKED_USAGE,
    WINDOW_NOT_AGREED,
    StatementWindow,
    build_statements,
)
from streams.settle.statement import Statement
from tests.fakes.period import AT, BOOK, BUYER, SELLER, A, B, C, anchor, inventory, windows

D = Decimal


def statements(party: str = SELLER, **kw: object) -> dict[str, Statement]:
    book = kw.pop("book", BOOK)
    views = kw.pop("windows", windows(party))
    found = build_statements(book, party, AT, views, inventory())  # type: ignore[arg-type]
    return {s.currency: s for s in found}


def test_one_statement_per_currency_with_hand_computed_items() -> None:
    eur = statements()["EUR"]
    rows = [
        (i.id[-4:], i.kind, i.product_id, i.rate_id, i.direction, i.quantity, i.unit,
         i.unit_rate, i.amount, i.billed_by)
        for i in eur.items
    ]  # fmt: skip
    assert rows == [
        # 150,000,000,000 bytes = 150,000 MB at 0.0025 (the base rate) = 375.0000
        ("0001", "usageBased", "PRD-DATA-1", "data-roaming", "inbound", D(150000), "megabyte",
         D("0.0025"), D("375.0000"), "agreed"),
        # all-units tiers: 150,000 MB > 100,000, so all of it at 0.0020 = 300.0000;
        # adjustment 300 - 375 = -75.0000 (0.0005/MB)
        ("0002", "usageBased", "PRD-DATA-1", "data-roaming", "inbound", D(150000), "megabyte",
         D("0.0005"), D("-75.0000"), None),
        # 1200 EUR/month x 565,200 s (24 Nov 10:00Z to 30 Nov 23:00Z) / 2,592,000 s = 261.6667
        ("0003", "recurring", "PRD-EVC-1", None, None, D(1), "charge", D("261.6667"),
         D("261.6667"), None),
        # one-off 500.00 in the month of activation
        ("0004", "nonRecurring", "PRD-EVC-1", None, None, D(1), "charge", D("500.00"),
         D("500.00"), None),
        # one SMS at 0.0040, linked through usage_offerings sms -> sms-interconnect
        ("0005", "usageBased", "PRD-SMS-1", "sms-any", "inbound", D(1), "message", D("0.0040"),
         D("0.0040"), "agreed"),
        # r1 120 s 0.0230 + r2 61 s 0.0230 + r4 300 s 0.0500 (the Seller's amount and quantity,
        # within tolerance): 481 s = 8.016667 min, 0.0960
        ("0006", "usageBased", "PRD-VOICE-1", "voice-de-fixed", "inbound", D("8.016667"),
         "minute", D("0.0090"), D("0.0960"), "seller"),
        # r3, the Buyer terminated it: 60 s, -0.0140 (0.0090 + 0.0050 connect fee)
        ("0007", "usageBased", "PRD-VOICE-1", "voice-de-fixed", "outbound", D(1), "minute",
         D("0.0090"), D("-0.0140"), "agreed"),
    ]  # fmt: skip
    # 375 - 75 + 261.6667 + 500 + 0.0040 + 0.0960 - 0.0140 = 1061.7527
    assert eur.amount_due == D("1061.7527") == sum(i.amount for i in eur.items)
    assert eur.id == "hgc-dcc-2026-2026-11-EUR" and eur.items[0].id == f"{eur.id}-0001"
    assert [(i.order_id, i.order_item_id) for i in eur.items] == [
        ("PO-1", "3"), ("PO-1", "3"), ("PO-7001", "1"), ("PO-7001", "1"), ("PO-1", "2"),
        ("PO-1", "1"), ("PO-1", "1"),
    ]  # fmt: skip


def test_the_usd_charge_is_its_own_bill() -> None:
    usd = statements()["USD"]
    # 1250 USD/month x 565,200 s / 2,592,000 s = 272.569444.. -> 272.5694
    assert [(i.kind, i.sources, i.amount) for i in usd.items] == [
        ("recurring", ("sonata:CHG-7001-1/1",), D("272.5694"))
    ]
    assert usd.amount_due == D("272.5694")
    assert [f.code for f in usd.findings] == ["foreign-currency"]


def test_dates_follow_the_settlement_terms_not_a_clock() -> None:
    eur = statements()["EUR"]
    # Europe/Berlin November: 2026-10-31T23:00Z .. 2026-11-30T23:00Z; grace 86,400 s, 30 days
    assert (eur.period_start, eur.period_end) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
    )
    assert eur.bill_date == datetime(2026, 12, 1, 23, tzinfo=UTC)
    assert eur.payment_due == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert eur.agreement_versions == ("1",)


def test_usage_items_name_every_anchor_they_sum() -> None:
    voice = statements()["EUR"].items[5]
    # by window, then party id (dcc before hgc), revision, sequence
    assert voice.anchors == (
        anchor(BUYER, A),
        anchor(SELLER, A),
        anchor(BUYER, B),
        anchor(SELLER, B),
    )
    assert voice.sources == tuple(a.source for a in voice.anchors)
    assert voice.sources[1] == f"anchor:hgc#5/{A}-{A + 3_600_000}r0"


def test_an_unagreed_window_is_not_billed_and_is_a_finding() -> None:
    eur = statements()["EUR"]
    (finding,) = [f for f in eur.findings if f.code == WINDOW_NOT_AGREED]
    assert (finding.source, finding.amount) == (f"window:{C}-{C + 3_600_000}", D("0.0230"))
    assert "diverged" in finding.message
    assert all(anchor(SELLER, C) not in i.anchors for i in eur.items)


@pytest.mark.parametrize(
    ("rule", "amount", "quantity"),
    [
        ("seller", D("0.0960"), D("8.016667")),  # 0.0230 + 0.0230 + 0.0500; 481 s
        ("buyer", D("0.0959"), D("8.033333")),  # 0.0230 + 0.0230 + 0.0499; 482 s / 60
        ("lower", D("0.0959"), D("8.033333")),  # the Buyer's 0.0499 is the lower
    ],
)
def test_within_tolerance_bills_the_amount_the_rule_names(
    rule: str, amount: Decimal, quantity: Decimal
) -> None:
    version = BOOK.versions[0]
    terms = dataclasses.replace(
        version, settlement=dataclasses.replace(version.settle, within_tolerance=rule)
    )
    for party in (SELLER, BUYER):
        voice = statements(party, book=terms)["EUR"].items[5]
        assert (voice.amount, voice.quantity, voice.billed_by) == (amount, quantity, rule)


def test_the_buyer_computes_the_same_statements() -> None:
    seller, buyer = statements(SELLER), statements(BUYER)
    assert seller.keys() == buyer.keys() == {"EUR", "USD"}
    for currency in seller:
        assert seller[currency].canonical() == buyer[currency].canonical()
        assert seller[currency].canonical_hash() == buyer[currency].canonical_hash()


def test_the_hash_is_the_tagged_canonical_json() -> None:
    eur = statements()["EUR"]
    body = canonical_json(eur.canonical())
    assert eur.canonical_hash() == hashlib.sha256(tagged("statement.v1", body)).digest()
    assert eur.to_json()["statement_hash"] == eur.canonical_hash().hex()
    assert eur.canonical()["amount_due"] == "1061.7527"


def test_two_way_traffic_nets_in_one_bill() -> None:
    eur = statements()["EUR"]
    voice = [i for i in eur.items if i.product_id == "PRD-VOICE-1"]
    assert sum(i.amount for i in voice) == D("0.0960") - D("0.0140") == D("0.0820")


def test_usage_without_product_or_offering_is_billed_under_a_placeholder() -> None:
    version = BOOK.versions[0]
    terms = dataclasses.replace(version, settlement=Settlement())  # no usage offerings
    eur = statements(book=terms)["EUR"]
    sms = next(i for i in eur.items if i.rate_id == "sms-any")
    assert (sms.product_id, sms.order_id, sms.order_item_id) == (
        "unlinked:sms",
        "agreement:hgc-dcc-2026",
        "sms",
    )
    assert sms.amount == D("0.0040")
    codes = sorted(f.source for f in eur.findings if f.code == UNLINKED_USAGE)
    assert codes == ["usage:data", "usage:sms", "usage:voice"]
    assert eur.amount_due == D("1061.7527")  # the same money, only not linked


def test_a_window_outside_the_period_or_a_stranger_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the period"):
        late = StatementWindow(A + 40 * 86_400_000, A + 40 * 86_400_000 + 3_600_000, "agreed")
        statements(windows=[late])
    with pytest.raises(ValueError, match="party: got 'xyz'"):
        statements("xyz")


@settings(max_examples=30, deadline=None)
@given(st.permutations([A, B, C]), st.booleans())
def test_window_order_and_leaf_order_do_not_matter(order: list[int], reverse: bool) -> None:
    views = windows(SELLER, tuple(order))
    if reverse:
        views = [dataclasses.replace(w, leaves=w.leaves[::-1]) for w in views]
    shuffled = statements(windows=views)["EUR"]
    assert shuffled.canonical_hash() == statements()["EUR"].canonical_hash()


def test_every_billed_fact_changes_the_hash() -> None:
    eur = statements()["EUR"]
    base = eur.canonical_hash()
    item = eur.items[5]

    def with_item(**change: object) -> Statement:
        items = (*eur.items[:5], dataclasses.replace(item, **change), eur.items[6])  # type: ignore[arg-type]
        return dataclasses.replace(eur, items=items)

    changed = [
        dataclasses.replace(eur, bill_date=eur.bill_date.replace(hour=0)),
        with_item(amount=D("0.0961")),
        with_item(anchors=item.anchors[:1]),
        with_item(product_id="PRD-VOICE-2"),
        dataclasses.replace(eur, items=eur.items[:-1]),
    ]
    hashes = [s.canonical_hash() for s in changed]
    assert base not in hashes and len(set(hashes)) == len(hashes)
    assert dataclasses.replace(eur, findings=()).canonical_hash() == base  # advice only


def test_the_document_reads_back_to_the_same_statement() -> None:
    for statement in statements().values():
        document = json.loads(json.dumps(statement.to_json()))
        again = Statement.from_canonical(document)
        assert again.canonical() == statement.canonical()
        assert again.canonical_hash() == statement.canonical_hash()
        assert again.parties == statement.parties and again.scale == 4


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.pop("bill_date_ms"), "bill_date_ms: got None, want an integer"),
        (lambda d: d.update(amount_due="1061.7528"), "amount_due got 1061.7528, want 1061.7527"),
        (lambda d: d["items"][0].update(amount="375.0000"), "amount: got '375.0000', want a canon"),
        (lambda d: d["items"][0].update(anchors="x"), "anchors: got 'x', want an array"),
        (lambda d: d["items"][0].update(sources=[1]), "sources: got [1], want strings"),
        (lambda d: d.update(scale=True), "scale: got True, want an integer"),
    ],
)
def test_a_damaged_document_is_refused_with_the_member(
    damage: Callable[[dict[str, Any]], object], message: str
) -> None:
    document = json.loads(json.dumps(statements()["EUR"].canonical()))
    damage(document)
    with pytest.raises(ValueError, match=re.escape(message)):
        Statement.from_canonical(document)


def test_a_usd_tariff_and_a_usd_charge_share_the_usd_bill() -> None:
    version = BOOK.versions[0]
    uk = next(t for t in version.tariffs if t.id == "voice-uk")
    tariffs = tuple(
        dataclasses.replace(t, currency="USD") if t is uk else t for t in version.tariffs
    )
    terms = dataclasses.replace(version, tariffs=tariffs)
    views = windows(SELLER)
    # a 90 s call to the UK the Seller terminated: [1, 1] increments, 1.5 min x 0.0120 + 0.0020
    # connect = 0.0200 USD
    call = Leaf("ix/u1", bytes(32), D("0.0200"), "USD", "1", A + 1000, "90", "second",
                "voice-uk", None, "inbound")  # fmt: skip
    views[0] = dataclasses.replace(views[0], leaves=(*views[0].leaves, call))
    found = statements(book=terms, windows=views)
    assert found["EUR"].amount_due == D("1061.7527")  # unchanged
    usd = found["USD"]
    assert [(i.kind, i.product_id, i.quantity, i.unit_rate, i.amount) for i in usd.items] == [
        ("recurring", "PRD-EVC-1", D(1), D("272.5694"), D("272.5694")),
        ("usageBased", "PRD-VOICE-1", D("1.5"), D("0.0120"), D("0.0200")),
    ]
    # 272.5694 + 0.0200 = 272.5894
    assert usd.amount_due == D("272.5894")
    assert usd.items[1].anchors == (anchor(BUYER, A), anchor(SELLER, A))
