"""Hand-computed rating cases under examples/agreement.yaml.

Tariffs there: voice-de-fixed 49 (0.0090/min, connect 0.0050, 60/60); voice-de-mobile
4915/4916/4917 (0.0150/min, 30/6, minimum 0.0100); voice-uk 44 (0.0120/min, connect 0.0020,
1/1); sms-any (0.0040/msg); data-roaming (0.0025/MB, 1000-byte increments). Scale 4, half_up.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import pytest

from streams.agreement import load_agreement
from streams.config import REPO
from streams.errors import RatingError
from streams.rating import Rater, billed_quantity, window_of
from streams.records import UsageRecord

AGREEMENT = load_agreement(REPO / "examples" / "agreement.yaml")
RATED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def usage(product: str, number: str | None, quantity: str, unit: str, **kw: object) -> UsageRecord:
    fields: dict[str, object] = dict(
        source="ix-fra-01",
        record_id="r1",
        agreement_id="hgc-dcc-2026",
        partner="dcc",
        product=product,
        start=datetime(2026, 11, 24, 10, 15, tzinfo=UTC),
        quantity=Decimal(quantity),
        unit=unit,
        direction="outbound",
        b_number=number,
    )
    fields.update(kw)
    return UsageRecord(**fields)  # type: ignore[arg-type]


CASES = [
    # (product, B number, quantity, unit, rate id, billed, amount)
    ("voice", "493012345", "61", "second", "voice-de-fixed", "120", "0.0230"),
    ("voice", "493012345", "60", "second", "voice-de-fixed", "60", "0.0140"),
    ("voice", "493012345", "0", "second", "voice-de-fixed", "0", "0.0000"),
    ("voice", "493012345", "0.2", "second", "voice-de-fixed", "60", "0.0140"),
    ("voice", "4915112345", "61", "second", "voice-de-mobile", "66", "0.0165"),
    ("voice", "4915112345", "10", "second", "voice-de-mobile", "30", "0.0100"),  # minimum
    ("voice", "4915112345", "0", "second", "voice-de-mobile", "0", "0.0000"),  # no minimum on 0
    ("voice", "4917012345", "36.01", "second", "voice-de-mobile", "42", "0.0105"),
    ("voice", "442071234567", "61", "second", "voice-uk", "61", "0.0142"),
    ("voice", "442071234567", "1.5", "second", "voice-uk", "2", "0.0024"),
    ("voice", "442071234567", "3600", "second", "voice-uk", "3600", "0.7220"),
    ("sms", "4915112345", "1", "message", "sms-any", "1", "0.0040"),
    ("sms", "33612345678", "3", "message", "sms-any", "3", "0.0120"),
    ("data", None, "1220000", "byte", "data-roaming", "1220000", "0.0031"),  # 0.00305 half_up
    ("data", None, "1234567", "byte", "data-roaming", "1235000", "0.0031"),
    ("data", None, "2.5", "megabyte", "data-roaming", "2500000", "0.0063"),  # 0.00625
    ("data", None, "1", "gigabyte", "data-roaming", "1000000000", "2.5000"),
    ("data", None, "1", "byte", "data-roaming", "1000", "0.0000"),
]


@pytest.mark.parametrize(
    ("product", "number", "quantity", "unit", "rate_id", "billed", "amount"), CASES
)
def test_hand_computed(
    product: str,
    number: str | None,
    quantity: str,
    unit: str,
    rate_id: str,
    billed: str,
    amount: str,
) -> None:
    rated = Rater(AGREEMENT).rate(usage(product, number, quantity, unit), RATED_AT)
    assert (rated.rate_id, rated.billed_quantity, rated.amount) == (
        rate_id,
        Decimal(billed),
        Decimal(amount),
    )
    assert str(rated.amount) == amount  # the scale is part of the result, both sides print it alike
    assert rated.agreement_version == "1"
    assert rated.currency == "EUR"


@pytest.mark.parametrize(
    ("mode", "expected"), [(ROUND_HALF_EVEN, "0.0030"), (ROUND_DOWN, "0.0030")]
)
def test_rounding_mode_comes_from_the_agreement(mode: str, expected: str) -> None:
    agreement = dataclasses.replace(AGREEMENT, rounding_mode=mode)
    rated = Rater(agreement).rate(usage("data", None, "1220000", "byte"), RATED_AT)
    assert str(rated.amount) == expected


def test_rounding_scale_comes_from_the_agreement() -> None:
    agreement = dataclasses.replace(AGREEMENT, rounding_scale=6)
    rated = Rater(agreement).rate(usage("data", None, "1220000", "byte"), RATED_AT)
    assert str(rated.amount) == "0.003050"


def test_longest_prefix_wins() -> None:
    rater = Rater(AGREEMENT)
    assert rater.tariff_for(usage("voice", "4916000", "1", "second")).id == "voice-de-mobile"
    assert rater.tariff_for(usage("voice", "4918000", "1", "second")).id == "voice-de-fixed"


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (usage("voice", "33142345678", "60", "second"), "no-tariff"),
        (usage("voice", "4930", "60", "second", agreement_id="other-2026"), "unknown-agreement"),
        (usage("voice", "4930", "60", "second", partner="zzz"), "unknown-partner"),
    ],
)
def test_unratable_usage_names_why(record: UsageRecord, code: str) -> None:
    with pytest.raises(RatingError) as info:
        Rater(AGREEMENT).rate(record, RATED_AT)
    assert info.value.code == code


def test_window_is_epoch_aligned_utc() -> None:
    start, end = window_of(datetime(2026, 11, 24, 10, 59, 59, 999000, tzinfo=UTC), 3600)
    assert (start, end) == (
        datetime(2026, 11, 24, 10, tzinfo=UTC),
        datetime(2026, 11, 24, 11, tzinfo=UTC),
    )
    rated = Rater(AGREEMENT).rate(usage("sms", "49", "1", "message"), RATED_AT)
    assert rated.window_start == datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("quantity", "first", "next_", "billed"),
    [
        ("0", 60, 60, "0"),
        ("1", 60, 60, "60"),
        ("60", 60, 60, "60"),
        ("60.001", 60, 60, "120"),
        ("61", 30, 6, "66"),
        ("66", 30, 6, "66"),
        ("67", 30, 6, "72"),
        ("0.1", 1, 1, "1"),
        ("59", 1, 1, "59"),
    ],
)
def test_increments(quantity: str, first: int, next_: int, billed: str) -> None:
    assert billed_quantity(Decimal(quantity), first, next_) == Decimal(billed)


def test_rating_is_deterministic() -> None:
    record = usage("voice", "4915112345", "61", "second")
    assert Rater(AGREEMENT).rate(record, RATED_AT) == Rater(AGREEMENT).rate(record, RATED_AT)
