"""The optional ``settlement:`` section and per-tariff ``currency``: read with defaults,
checked with their paths, and left out of the agreement's hash when absent (so agreements
signed before they existed keep their signatures)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.agreement.loader import parse_agreement
from streams.agreement.model import DEFAULT_SETTLEMENT, Contact, Settlement
from streams.contract.records import UsageRecord
from streams.core.errors import AgreementError
from streams.rating.rater import Rater
from tests.unit.agreement.test_reconciliation_terms import as_text, example


def without_settlement() -> dict[str, Any]:
    doc = example()
    del doc["settlement"]
    return doc


def test_absent_section_gives_the_defaults_and_leaves_the_hash_alone() -> None:
    plain = parse_agreement(as_text(without_settlement()))
    assert plain.settlement is None
    assert plain.settle == DEFAULT_SETTLEMENT == Settlement(86_400, 30, "seller", {})
    assert "settlement" not in plain.canonical()
    assert all("currency" not in t for t in plain.canonical()["tariffs"])


def test_the_example_states_its_section_and_it_is_signed() -> None:
    agreement = parse_agreement(as_text(example()))
    assert agreement.settle == Settlement(
        86_400,
        30,
        "seller",
        {"voice": "voice-interconnect", "sms": "sms-interconnect", "data": "data-roaming-access"},
    )
    assert agreement.canonical()["settlement"]["usage_offerings"]["sms"] == "sms-interconnect"
    plain = parse_agreement(as_text(without_settlement()))
    assert agreement.canonical_hash() != plain.canonical_hash()
    doc = example()
    doc["settlement"]["within_tolerance"] = "lower"
    assert parse_agreement(as_text(doc)).canonical_hash() != agreement.canonical_hash()


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"within_tolerance": "average"}, "settlement.within_tolerance: got 'average'"),
        ({"grace_seconds": "-1"}, "settlement.grace_seconds: got '-1'"),
        ({"payment_days": "400"}, "settlement.payment_days: got '400'"),
        ({"usage_offerings": {"fax": "x"}}, "settlement.usage_offerings: got 'fax'"),
        ({"usage_offerings": {"voice": "nope"}}, "settlement.usage_offerings.voice: got 'nope', "
         "want an offering listed under offerings"),
        ({"usage_offerings": ["voice"]}, "settlement.usage_offerings: got"),
        ({"misspelt": "1"}, "settlement.misspelt: got an unknown key"),
    ],
)  # fmt: skip
def test_bad_terms_are_refused_with_their_path(terms: dict[str, Any], message: str) -> None:
    doc = without_settlement()
    doc["settlement"] = terms
    with pytest.raises(AgreementError, match=message):
        parse_agreement(as_text(doc))


def test_a_tariff_may_rate_in_its_own_currency() -> None:
    doc = example()
    doc["tariffs"][2]["currency"] = "USD"  # voice-uk
    agreement = parse_agreement(as_text(doc))
    uk = next(t for t in agreement.tariffs if t.id == "voice-uk")
    fixed = next(t for t in agreement.tariffs if t.id == "voice-de-fixed")
    assert (agreement.currency_of(uk), agreement.currency_of(fixed)) == ("USD", "EUR")
    assert agreement.currencies == ("EUR", "USD")
    signed = {t["id"]: t.get("currency") for t in agreement.canonical()["tariffs"]}
    assert signed["voice-uk"] == "USD" and signed["voice-de-fixed"] is None
    doc["tariffs"][2]["currency"] = "usd"
    with pytest.raises(AgreementError, match=r"tariffs\[2\]\.currency: got 'usd'"):
        parse_agreement(as_text(doc))


def test_the_rater_prices_in_the_tariffs_currency() -> None:
    doc = example()
    doc["tariffs"][2]["currency"] = "USD"  # voice-uk: 0.0120/min + 0.0020 connect, [1, 1]
    rater = Rater(parse_agreement(as_text(doc)))
    start = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)

    def call(number: str) -> tuple[str, Decimal, str]:
        record = UsageRecord(
            source="ix", record_id=number, agreement_id="hgc-dcc-2026", partner="dcc",
            product="voice", start=start, quantity=Decimal(60), unit="second",
            direction="outbound", b_number=number,
        )  # fmt: skip
        rated = rater.rate(record, start)
        return rated.rate_id, rated.amount, rated.currency

    # 60 s: 0.0120 + 0.0020 = 0.0140 USD; 0.0090 + 0.0050 = 0.0140 EUR
    assert call("442071234567") == ("voice-uk", Decimal("0.0140"), "USD")
    assert call("493012345") == ("voice-de-fixed", Decimal("0.0140"), "EUR")


def test_billing_contacts_are_optional_checked_and_signed() -> None:
    doc = example()
    agreement = parse_agreement(as_text(doc))
    assert agreement.seller.billing_contact == Contact(
        "HGC Carrier Settlement", "settlement@hgc.example", "+85221234567"
    )
    del doc["parties"]["seller"]["billing_contact"]
    plain = parse_agreement(as_text(doc))
    assert plain.seller.billing_contact is None
    assert "billing_contact" not in plain.canonical()["seller"]
    assert plain.canonical_hash() != agreement.canonical_hash()
    doc["parties"]["buyer"]["billing_contact"] = {"name": "B", "email": "x@", "phone": "0301"}
    with pytest.raises(AgreementError) as refused:
        parse_agreement(as_text(doc))
    assert [p.split(":")[0] for p in refused.value.problems] == [
        "parties.buyer.billing_contact.email",
        "parties.buyer.billing_contact.phone",
    ]
