"""Hand-computed rating cases.

BERLIN is examples/agreement.yaml (Europe/Berlin; CET = UTC+1, CEST = UTC+2; DST 2026-03-29
and 2026-10-25). Its tariffs: voice-de-fixed 49 (0.0090/min, connect 0.0050, 60/60);
voice-de-mobile 4915/4916/4917 (v1: peak 0.0150, offpeak 0.0100, weekend 0.0080 per min;
v2 from 2026-12-01 local: peak 0.0140; 30/6; minimum 0.0100); voice-uk 44 (0.0120/min, connect
0.0020, 1/1); sms-any (0.0040/msg); data-roaming (0.0025/MB, 1000-byte increments).
Bands: peak weekdays 08-19, offpeak weekdays 00-08 and 19-24, weekend sat/sun/holidays.
Scale 4, half_up, rounded per record.

NEW_YORK (below) is a second zone (EST = UTC-5, EDT = UTC-4; DST 2026-03-08 and 2026-11-01):
day weekdays 07-21 at 0.0200/min, night 0.0100, weekend 0.0050; 1/1 increments, no minimum.
Every expected amount below was computed by hand from these terms.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.agreement.loader import load_book, loads_book
from streams.agreement.model import Agreement
from streams.contract.records import UsageRecord
from streams.core.errors import RatingError
from streams.core.keys import demo_keypair
from streams.rating import rater as rater_module
from streams.rating.rater import Rater, billed_quantity, window_of
from tests.paths import REPO

BERLIN = load_book(REPO / "examples" / "agreement.yaml")
NEW_YORK = loads_book(
    """
id: hgc-dcc-2026
version: ny-1
effective_from: 2026-01-01T00:00:00-05:00
parties:
  seller: {id: hgc, name: S, keys: [{public_key: HGC_KEY, valid_from: "2026-01-01T00:00:00Z"}]}
  buyer: {id: dcc, name: B, keys: [{public_key: DCC_KEY, valid_from: "2026-01-01T00:00:00Z"}]}
currency: USD
timezone: America/New_York
bands:
  day: {days: [weekdays], hours: ["07:00-21:00"]}
  night: {days: [weekdays], hours: ["00:00-07:00", "21:00-24:00"]}
  weekend: {days: [weekend], hours: ["00:00-24:00"]}
tariffs:
  - {id: us, product: voice, prefixes: ["1"], per: minute,
     rates: {day: 0.0200, night: 0.0100, weekend: 0.0050}}
  - {id: us-sms, product: sms, prefixes: ["1"], per: message,
     rates: {day: 0.0100, night: 0.0050, weekend: 0.0020}}
""".replace("HGC_KEY", demo_keypair("hgc").public.raw.hex()).replace(
        "DCC_KEY", demo_keypair("dcc").public.raw.hex()
    )
)
RATED_AT = datetime(2026, 12, 31, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def usage(
    product: str, number: str | None, quantity: str, unit: str, start: str, **kw: object
) -> UsageRecord:
    fields: dict[str, object] = dict(
        source="ix-fra-01", record_id="r1", agreement_id="hgc-dcc-2026", partner="dcc",
        product=product, start=at(start), quantity=Decimal(quantity), unit=unit,
        direction="outbound", b_number=number,
    )  # fmt: skip
    fields.update(kw)
    return UsageRecord(**fields)  # type: ignore[arg-type]


TUE = "2026-11-24T10:15:00"  # 11:15 CET, a Tuesday: peak
MOBILE, FIXED, UK, US = "4915112345", "493012345", "442071234567", "12125550100"

CASES = [
    # (id, book, product, number, quantity, unit, start UTC, rate id, version, billed, amount)
    ("fixed 61s at 60/60 + connect", BERLIN, "voice", FIXED, "61", "second", TUE, "voice-de-fixed", "1", "120", "0.0230"),
    ("fixed exactly one step", BERLIN, "voice", FIXED, "60", "second", TUE, "voice-de-fixed", "1", "60", "0.0140"),
    ("fixed unanswered: no connect fee", BERLIN, "voice", FIXED, "0", "second", TUE, "voice-de-fixed", "1", "0", "0.0000"),
    ("fixed 0.2s bills a whole step", BERLIN, "voice", FIXED, "0.2", "second", TUE, "voice-de-fixed", "1", "60", "0.0140"),
    ("mobile peak 61s at 30/6", BERLIN, "voice", MOBILE, "61", "second", TUE, "voice-de-mobile@peak", "1", "66", "0.0165"),
    ("mobile minimum charge", BERLIN, "voice", MOBILE, "10", "second", TUE, "voice-de-mobile@peak", "1", "30", "0.0100"),
    ("mobile 0s: no minimum", BERLIN, "voice", MOBILE, "0", "second", TUE, "voice-de-mobile@peak", "1", "0", "0.0000"),
    ("mobile 36.01s → 42s", BERLIN, "voice", "4917012345", "36.01", "second", TUE, "voice-de-mobile@peak", "1", "42", "0.0105"),
    ("uk 61s at 1/1 + connect", BERLIN, "voice", UK, "61", "second", TUE, "voice-uk", "1", "61", "0.0142"),
    ("uk 1.5s → 2s", BERLIN, "voice", UK, "1.5", "second", TUE, "voice-uk", "1", "2", "0.0024"),
    ("uk one hour", BERLIN, "voice", UK, "3600", "second", TUE, "voice-uk", "1", "3600", "0.7220"),
    ("sms one", BERLIN, "sms", MOBILE, "1", "message", TUE, "sms-any", "1", "1", "0.0040"),
    ("sms three, any destination", BERLIN, "sms", "33612345678", "3", "message", TUE, "sms-any", "1", "3", "0.0120"),
    ("data 0.00305 rounds half up", BERLIN, "data", None, "1220000", "byte", TUE, "data-roaming", "1", "1220000", "0.0031"),
    ("data rounded up to whole kB", BERLIN, "data", None, "1234567", "byte", TUE, "data-roaming", "1", "1235000", "0.0031"),
    ("data in MB unit", BERLIN, "data", None, "2.5", "megabyte", TUE, "data-roaming", "1", "2500000", "0.0063"),
    ("data in GB unit", BERLIN, "data", None, "1", "gigabyte", TUE, "data-roaming", "1", "1000000000", "2.5000"),
    ("data one byte bills a kB", BERLIN, "data", None, "1", "byte", TUE, "data-roaming", "1", "1000", "0.0000"),
    # time bands, Europe/Berlin in winter (CET)
    ("peak→offpeak at 19:00 CET", BERLIN, "voice", MOBILE, "120", "second", "2026-11-24T17:59:00", "voice-de-mobile@peak+offpeak", "1", "120", "0.0250"),
    ("increment rounding priced in the last band", BERLIN, "voice", MOBILE, "121", "second", "2026-11-24T17:59:00", "voice-de-mobile@peak+offpeak", "1", "126", "0.0260"),
    ("offpeak→peak at 08:00 CET", BERLIN, "voice", MOBILE, "90", "second", "2026-11-25T06:59:30", "voice-de-mobile@offpeak+peak", "1", "90", "0.0200"),
    ("Friday night → Saturday weekend", BERLIN, "voice", MOBILE, "120", "second", "2026-11-27T22:59:00", "voice-de-mobile@offpeak+weekend", "1", "120", "0.0180"),
    ("holiday priced as weekend", BERLIN, "voice", MOBILE, "120", "second", "2026-12-25T10:00:00", "voice-de-mobile@weekend", "2", "120", "0.0160"),
    ("into a holiday at midnight, minimum applies", BERLIN, "voice", MOBILE, "60", "second", "2026-12-24T22:59:30", "voice-de-mobile@offpeak+weekend", "2", "60", "0.0100"),
    # time bands across daylight saving, Europe/Berlin
    ("DST spring: 120 real seconds across 02:00→03:00", BERLIN, "voice", MOBILE, "120", "second", "2026-03-29T00:59:00", "voice-de-mobile@weekend", "1", "120", "0.0160"),
    ("after spring DST, Monday starts at 22:00 UTC", BERLIN, "voice", MOBILE, "120", "second", "2026-03-29T21:59:00", "voice-de-mobile@weekend+offpeak", "1", "120", "0.0180"),
    ("after spring DST, peak starts at 06:00 UTC", BERLIN, "voice", MOBILE, "120", "second", "2026-03-30T05:59:00", "voice-de-mobile@offpeak+peak", "1", "120", "0.0250"),
    ("after autumn DST, peak starts at 07:00 UTC", BERLIN, "voice", MOBILE, "120", "second", "2026-10-26T06:59:00", "voice-de-mobile@offpeak+peak", "1", "120", "0.0250"),
    ("after autumn DST, Monday starts at 23:00 UTC", BERLIN, "voice", MOBILE, "120", "second", "2026-10-25T22:59:00", "voice-de-mobile@weekend+offpeak", "1", "120", "0.0180"),
    ("the 25-hour Sunday is all weekend", BERLIN, "voice", MOBILE, "90000", "second", "2026-10-24T22:00:00", "voice-de-mobile@weekend", "1", "90000", "12.0000"),
    # versions
    ("last minute of v1", BERLIN, "voice", MOBILE, "60", "second", "2026-11-30T22:59:00", "voice-de-mobile@offpeak", "1", "60", "0.0100"),
    ("a call is rated under the version at its start", BERLIN, "voice", MOBILE, "120", "second", "2026-11-30T22:59:30", "voice-de-mobile@offpeak", "1", "120", "0.0200"),
    ("v2 peak rate", BERLIN, "voice", MOBILE, "60", "second", "2026-12-01T08:00:00", "voice-de-mobile@peak", "2", "60", "0.0140"),
    # a second zone, America/New_York
    ("NY: before spring DST day starts 12:00 UTC", NEW_YORK, "voice", US, "120", "second", "2026-03-06T11:59:00", "us@night+day", "ny-1", "120", "0.0300"),
    ("NY: after spring DST day starts 11:00 UTC", NEW_YORK, "voice", US, "120", "second", "2026-03-09T10:59:00", "us@night+day", "ny-1", "120", "0.0300"),
    ("NY: Sunday → Monday midnight in EDT", NEW_YORK, "voice", US, "60", "second", "2026-03-09T03:59:30", "us@weekend+night", "ny-1", "60", "0.0075"),
    ("NY: after autumn DST day starts 12:00 UTC", NEW_YORK, "voice", US, "120", "second", "2026-11-02T11:59:00", "us@night+day", "ny-1", "120", "0.0300"),
    ("NY: Friday day → night at 21:00 EDT", NEW_YORK, "voice", US, "120", "second", "2026-06-06T00:59:00", "us@day+night", "ny-1", "120", "0.0300"),
    ("NY: Friday night → Saturday", NEW_YORK, "voice", US, "120", "second", "2026-06-06T03:59:00", "us@night+weekend", "ny-1", "120", "0.0150"),
    ("NY: 1/1 seconds across a band edge", NEW_YORK, "voice", US, "24", "second", "2026-03-09T10:59:53", "us@night+day", "ny-1", "24", "0.0068"),
    ("NY: SMS priced in the band at its start", NEW_YORK, "sms", US, "1", "message", "2026-03-09T11:00:00", "us-sms@day", "ny-1", "1", "0.0100"),
]  # fmt: skip


@pytest.mark.parametrize(
    (
        "book",
        "product",
        "number",
        "quantity",
        "unit",
        "start",
        "rate_id",
        "version",
        "billed",
        "amount",
    ),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_hand_computed(
    book: object, product: str, number: str | None, quantity: str, unit: str, start: str,
    rate_id: str, version: str, billed: str, amount: str,
) -> None:  # fmt: skip
    rater = Rater(book)  # type: ignore[arg-type]
    rated = rater.rate(usage(product, number, quantity, unit, start), RATED_AT)
    assert (rated.rate_id, rated.agreement_version) == (rate_id, version)
    assert rated.billed_quantity == Decimal(billed)
    assert str(rated.amount) == amount  # the scale is part of the result: both sides print it alike
    assert sum(q for _, q in rater.parts(usage(product, number, quantity, unit, start))) == Decimal(
        billed
    )


def with_rounding(book: object, **changes: object) -> Agreement:
    agreement = book.latest if hasattr(book, "latest") else book  # type: ignore[attr-defined]
    return dataclasses.replace(
        agreement, rounding=dataclasses.replace(agreement.rounding, **changes)
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("half_up", "0.0031"), ("half_even", "0.0030"), ("down", "0.0030"), ("up", "0.0031"),
     ("ceiling", "0.0031"), ("floor", "0.0030")],
)  # fmt: skip
def test_rounding_mode_comes_from_the_agreement(mode: str, expected: str) -> None:
    rater = Rater(with_rounding(BERLIN, mode=mode))
    rated = rater.rate(usage("data", None, "1220000", "byte", "2026-12-02T10:00:00"), RATED_AT)
    assert str(rated.amount) == expected  # 1.22 MB x 0.0025 = 0.00305


def test_rounding_scale_comes_from_the_agreement() -> None:
    rater = Rater(with_rounding(BERLIN, scale=6))
    rated = rater.rate(usage("data", None, "1220000", "byte", "2026-12-02T10:00:00"), RATED_AT)
    assert str(rated.amount) == "0.003050"


@pytest.mark.parametrize(
    ("stage", "expected"),
    # 7 s night = 0.00116666.., 17 s day = 0.00566666..: by record 0.0068333.. → 0.0068;
    # by segment 0.0012 + 0.0057 = 0.0069; by statement the record keeps 6 more digits.
    [("record", "0.0068"), ("segment", "0.0069"), ("statement", "0.0068333333")],
)
def test_rounding_stage_comes_from_the_agreement(stage: str, expected: str) -> None:
    rater = Rater(with_rounding(NEW_YORK, stage=stage))
    rated = rater.rate(usage("voice", US, "24", "second", "2026-03-09T10:59:53"), RATED_AT)
    assert str(rated.amount) == expected


def test_longest_prefix_wins() -> None:
    rater = Rater(BERLIN)
    assert rater.tariff_for(usage("voice", "4916000", "1", "second", TUE)).id == "voice-de-mobile"
    assert rater.tariff_for(usage("voice", "4918000", "1", "second", TUE)).id == "voice-de-fixed"


def test_remembered_prices_belong_to_their_tariff() -> None:
    # Two flat-rate voice tariffs, one call length: each priced at its own rate.
    shared, calls = Rater(BERLIN), [usage("voice", n, "61", "second", TUE) for n in (FIXED, UK)]
    first = [shared.rate(call, RATED_AT).to_avro() for call in calls]
    assert first[0]["amount"] != first[1]["amount"]
    assert [shared.rate(call, RATED_AT).to_avro() for call in reversed(calls)] == first[::-1]
    assert first == [Rater(BERLIN).rate(call, RATED_AT).to_avro() for call in calls]


@pytest.mark.parametrize("memo_size", [1, 2, 65_536])
def test_remembered_tariffs_are_the_longest_prefix_whatever_the_order(
    memo_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The memo is keyed by the digits that can decide (4 here): "491" and "4916" differ.
    monkeypatch.setattr(rater_module, "_TARIFF_MEMO", memo_size)
    rater = Rater(BERLIN)
    numbers = ["4916000", "491", "4916", "49", "4", "33142345678", "4917999", "4918000", "4916"]
    expected = ["voice-de-mobile", "voice-de-fixed", "voice-de-mobile", "voice-de-fixed", None,
                None, "voice-de-mobile", "voice-de-fixed", "voice-de-mobile"]  # fmt: skip
    for _ in range(2):  # the second round is answered from the memo
        found = []
        for number in numbers:
            try:
                found.append(rater.tariff_for(usage("voice", number, "1", "second", TUE)).id)
            except RatingError as exc:
                assert exc.code == "no-tariff"
                found.append(None)
        assert found == expected


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (usage("voice", "33142345678", "60", "second", TUE), "no-tariff"),
        (
            usage("voice", FIXED, "60", "second", TUE, agreement_id="other-2026"),
            "unknown-agreement",
        ),
        (usage("voice", FIXED, "60", "second", TUE, partner="zzz"), "unknown-partner"),
        (usage("voice", FIXED, "60", "second", "2025-06-01T10:00:00"), "no-agreement-version"),
    ],
)
def test_unratable_usage_names_why(record: UsageRecord, code: str) -> None:
    with pytest.raises(RatingError) as info:
        Rater(BERLIN).rate(record, RATED_AT)
    assert info.value.code == code


def test_an_explicit_version_rerates_under_it() -> None:
    record = usage("voice", MOBILE, "60", "second", "2026-12-01T08:00:00")
    assert str(Rater(BERLIN).rate(record, RATED_AT, version="1").amount) == "0.0150"
    assert str(Rater(BERLIN).rate(record, RATED_AT).amount) == "0.0140"


def test_window_is_epoch_aligned_utc() -> None:
    start, end = window_of(at("2026-11-24T10:59:59.999"), 3600)
    assert (start, end) == (at("2026-11-24T10:00:00"), at("2026-11-24T11:00:00"))
    rated = Rater(BERLIN).rate(usage("sms", "49", "1", "message", "2026-11-24T10:15:00"), RATED_AT)
    assert rated.window_start == at("2026-11-24T10:00:00")


@pytest.mark.parametrize(
    ("quantity", "first", "next_", "billed"),
    [("0", 60, 60, "0"), ("1", 60, 60, "60"), ("60", 60, 60, "60"), ("60.001", 60, 60, "120"),
     ("61", 30, 6, "66"), ("66", 30, 6, "66"), ("67", 30, 6, "72"), ("0.1", 1, 1, "1"),
     ("59", 1, 1, "59")],
)  # fmt: skip
def test_increments(quantity: str, first: int, next_: int, billed: str) -> None:
    assert billed_quantity(Decimal(quantity), first, next_) == Decimal(billed)
