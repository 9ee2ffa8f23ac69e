from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from streams.agreement.loader import load_agreement, load_book, loads_book
from streams.core.errors import AgreementError, RatingError
from tests.paths import REPO

EXAMPLE = REPO / "examples" / "agreement.yaml"
TEXT = EXAMPLE.read_text()
V1 = TEXT.split("\n---\n")[0]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agreement.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(AgreementError) as info:
        loads_book(text)
    return info.value.problems


def test_example_loads_with_exact_decimals_bands_and_versions() -> None:
    book = load_book(EXAMPLE)
    assert [v.version for v in book.versions] == ["1", "2"]
    first = book.versions[0]
    assert first.parties == ("hgc", "dcc")
    mobile = next(t for t in first.tariffs if t.id == "voice-de-mobile")
    assert mobile.rates == {
        "peak": Decimal("0.0150"),
        "offpeak": Decimal("0.0100"),
        "weekend": Decimal("0.0080"),
    }
    assert all(isinstance(r, Decimal) for r in mobile.rates.values())
    assert (mobile.first_increment, mobile.next_increment, mobile.per_size) == (30, 6, 60)
    assert first.timezone.key == "Europe/Berlin"
    assert date(2026, 12, 25) in first.holidays
    assert {b.id for b in first.bands} == {"peak", "offpeak", "weekend"}
    peak = next(b for b in first.bands if b.id == "peak")
    assert (peak.start, peak.end, "sat" in peak.days) == (time(8), time(19), False)
    sms = next(t for t in first.tariffs if t.id == "sms-any")
    assert (
        sms.tiers is not None
        and sms.tiers.style == "graduated"
        and sms.tiers.steps[-1].up_to is None
    )
    assert first.offering("evc-eline-1g") is not None
    assert first.tolerances.duration_seconds == Decimal(1)
    assert load_agreement(EXAMPLE) == book.latest


def test_version_in_force_by_event_time() -> None:
    book = load_book(EXAMPLE)
    assert book.in_force(datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC)).version == "1"
    assert book.in_force(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)).version == "2"  # local midnight
    with pytest.raises(RatingError, match="precedes the first version"):
        book.in_force(datetime(2025, 12, 31, 22, 59, tzinfo=UTC))
    with pytest.raises(RatingError, match="no version '9'"):
        book.version("9")


def test_each_version_has_its_own_canonical_hash() -> None:
    first, second = load_book(EXAMPLE).versions
    assert first.canonical_hash() != second.canonical_hash()
    assert len(first.canonical_hash()) == 32


def test_canonical_hash_ignores_formatting_but_not_terms(tmp_path: Path) -> None:
    original = loads_book(V1).latest.canonical_hash()
    reordered = V1.replace(
        "currency: EUR\ntimezone: Europe/Berlin", "timezone:   Europe/Berlin\ncurrency: 'EUR'"
    )
    assert reordered != V1
    assert loads_book(reordered).latest.canonical_hash() == original
    trailing_zero = V1.replace("rate: 0.0090", "rate: 0.009")
    assert loads_book(trailing_zero).latest.canonical_hash() == original
    holidays_shuffled = V1.replace(
        "holidays: [2026-01-01, 2026-04-03,", "holidays: [2026-04-03, 2026-01-01,"
    )
    assert loads_book(holidays_shuffled).latest.canonical_hash() == original
    for changed in (
        V1.replace("rate: 0.0090", "rate: 0.0091"),
        V1.replace("peak: 0.0150", "peak: 0.0151"),
        V1.replace('hours: ["08:00-19:00"]', 'hours: ["08:00-18:00"]').replace(
            '"19:00-24:00"', '"18:00-24:00"'
        ),
        V1.replace("2026-12-26]", "2026-12-31]"),
        V1.replace("stage: record", "stage: segment"),
        V1.replace("price: 1200.00", "price: 1200.01"),
    ):
        assert changed != V1
        assert loads_book(changed).latest.canonical_hash() != original


def test_every_problem_is_listed_with_its_path() -> None:
    text = V1.replace("currency: EUR", "currency: euro").replace("Europe/Berlin", "Mars/Olympus")
    text = text.replace("rate: 0.0090", "rate: cheap").replace(
        "increment: [30, 6]", "increment: [30]"
    )
    text = text.replace("per: message", "per: minute").replace("stage: record", "stage: never")
    problems = problems_of(text)
    assert "currency: got 'euro', want an ISO 4217 code such as 'EUR'" in problems
    assert any(p.startswith("timezone: got 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("tariffs[0].rate: got 'cheap'") for p in problems)
    assert any(p.startswith("tariffs[1].increment: got ['30']") for p in problems)
    assert any(p.startswith("tariffs[3].per: got 'minute', want a unit of sms") for p in problems)
    assert any(p.startswith("rounding.stage: got 'never'") for p in problems)
    assert len(problems) == 6, problems


def test_band_and_tier_problems_are_listed() -> None:
    text = V1.replace(
        'hours: ["00:00-08:00", "19:00-24:00"]', 'hours: ["00:00-07:00", "19:00-24:00"]'
    )
    text = text.replace(
        "peak: 0.0150, offpeak: 0.0100, weekend: 0.0080", "peak: 0.0150, weekend: 0.0080"
    )
    text = text.replace("- {up_to: 1000000, rate: 0.0035}", "- {up_to: 1000, rate: 0.0035}")
    text = text.replace("days: [weekend, holiday]", "days: [weekend, holidays]")
    problems = problems_of(text)
    assert any(p.startswith("bands: ") and "07:00" in p for p in problems), problems
    assert any(p.startswith("tariffs[1].rates: got ['peak', 'weekend']") for p in problems), (
        problems
    )
    assert any(
        p.startswith("tariffs[3].tiers.steps[1].up_to: got '1000', want more than 100000")
        for p in problems
    )
    assert any(p.startswith("bands.weekend.days: got 'holidays'") for p in problems), problems


def test_holidays_need_a_band_that_prices_them() -> None:
    problems = problems_of(V1.replace("days: [weekend, holiday]", "days: [weekend]"))
    assert any(
        p.startswith("bands: holidays are given but no band lists day 'holiday'") for p in problems
    )


def test_overlapping_prefixes_are_rejected() -> None:
    problems = problems_of(V1.replace('prefixes: ["44"]', 'prefixes: ["44", "49"]'))
    assert any("not priced by 'voice-de-fixed'" in p for p in problems)


def test_versions_must_agree_on_id_and_parties() -> None:
    versions = TEXT.split("\n---\n")
    second = versions[1].replace("id: dcc\n", "id: zzz\n")
    problems = problems_of(versions[0] + "\n---\n" + second)
    assert any("version 2: got agreement hgc-dcc-2026 ('hgc', 'zzz')" in p for p in problems)
    same_start = versions[1].replace('"2026-12-01T00:00:00+01:00"', '"2026-01-01T00:00:00Z"')
    assert any(
        "both effective from" in p for p in problems_of(versions[0] + "\n---\n" + same_start)
    )


def test_problems_of_two_versions_are_reported_together() -> None:
    versions = TEXT.split("\n---\n")
    text = (
        versions[0].replace("currency: EUR", "currency: x")
        + "\n---\n"
        + versions[1].replace("scale: 4", "scale: -1")
    )
    problems = problems_of(text)
    assert any(p.startswith("document 1: currency") for p in problems)
    assert any(p.startswith("document 2: rounding.scale") for p in problems)


def test_unreadable_files_are_agreement_errors(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="cannot read file"):
        load_agreement(tmp_path / "missing.yaml")
    with pytest.raises(AgreementError, match="not valid YAML"):
        load_agreement(write(tmp_path, "id: [unclosed"))
    with pytest.raises(AgreementError, match="tariffs: got None"):
        load_agreement(write(tmp_path, "id: x\nversion: 1\n"))
    with pytest.raises(AgreementError, match="holds no agreement"):
        load_agreement(write(tmp_path, "# nothing\n"))
