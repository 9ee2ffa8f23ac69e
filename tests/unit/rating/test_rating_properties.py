"""Properties of rating over random usage (hypothesis): the rules hold for every input."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.agreement.loader import load_book
from streams.contract.records import UsageRecord
from streams.core.units import REPORTED_UNITS
from streams.rating.rater import Rater, billed_quantity
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
RATER = Rater(BOOK)
RATED_AT = datetime(2027, 1, 1, tzinfo=UTC)
NUMBERS = ["4930", "4989", "4915", "4916", "49176", "4420", "447700"]


@st.composite
def usages(draw: st.DrawFn, record_id: str = "r") -> UsageRecord:
    product = draw(st.sampled_from(["voice", "voice", "sms", "data"]))
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=draw(st.integers(0, 364 * 86_400_000))
    )
    if product == "voice":
        quantity = Decimal(draw(st.integers(0, 4 * 3_600_000))) / 1000  # up to 4 h, in ms
        unit, number = "second", draw(st.sampled_from(NUMBERS)) + "1234567"
    elif product == "sms":
        quantity, unit, number = Decimal(draw(st.integers(1, 20))), "message", "4917012345"
    else:
        quantity = Decimal(draw(st.integers(0, 10**10)))
        unit, number = "byte", None
    return UsageRecord(
        source="ix", record_id=record_id, agreement_id="hgc-dcc-2026", partner="dcc",
        product=product, start=start, quantity=quantity, unit=unit, direction="outbound",
        b_number=number,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(usages())
def test_amount_never_negative_and_splitting_conserves_duration(usage: UsageRecord) -> None:
    rated = RATER.rate(usage, RATED_AT)
    assert rated.amount >= 0
    parts = RATER.parts(usage)
    assert sum(q for _, q in parts) == rated.billed_quantity
    assert all(q >= 0 for _, q in parts)
    assert rated.billed_quantity >= usage.quantity * REPORTED_UNITS[usage.unit].size


@settings(max_examples=200, deadline=None)
@given(usages())
def test_rating_is_deterministic(usage: UsageRecord) -> None:
    assert RATER.rate(usage, RATED_AT) == Rater(BOOK).rate(usage, RATED_AT)


@settings(max_examples=60, deadline=None)
@given(st.lists(usages(), min_size=2, max_size=30), st.randoms(use_true_random=False))
def test_rating_is_independent_of_record_order(
    records: list[UsageRecord], rng: random.Random
) -> None:
    records = [dataclasses.replace(r, record_id=str(i)) for i, r in enumerate(records)]
    shuffled = records[:]
    rng.shuffle(shuffled)
    forward = {r.key: RATER.rate(r, RATED_AT) for r in records}
    backward = {r.key: RATER.rate(r, RATED_AT) for r in shuffled}
    assert forward == backward


@given(
    st.decimals(min_value=0, max_value=10**7, places=3), st.integers(1, 120), st.integers(1, 120)
)
def test_increments_cover_the_quantity_minimally(quantity: Decimal, first: int, next_: int) -> None:
    billed = billed_quantity(quantity, first, next_)
    if quantity == 0:
        assert billed == 0
        return
    assert billed >= quantity
    assert billed == first or (billed - first) % next_ == 0
    assert billed - quantity < max(first, next_)  # never a whole step more than needed


@settings(max_examples=300, deadline=None)
@given(usages(), st.integers(0, 6), st.integers(0, 6))
def test_remembered_prices_are_the_same_bytes_however_the_quantity_is_written(
    usage: UsageRecord, places: int, other_places: int
) -> None:
    # The rater remembers flat-rate prices by the quantity's value: "61" then "61.000" must
    # still give the bytes a fresh rater gives (billed quantity and amount as written).
    shared = Rater(BOOK)
    for digits in (places, other_places):
        written = dataclasses.replace(
            usage, quantity=usage.quantity.quantize(Decimal(1).scaleb(-digits))
        )
        if written.quantity != usage.quantity:
            continue  # quantize rounded: another value, not another spelling
        assert (
            shared.rate(written, RATED_AT).to_avro()
            == Rater(BOOK).rate(written, RATED_AT).to_avro()
        )
