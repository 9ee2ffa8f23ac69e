from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.agreement.loader import load_book
from streams.contract.records import UsageRecord
from streams.core.errors import RatingError
from streams.rating.rater import Rater
from streams.rating.rerate import LIVE, rerate
from tests.paths import REPO

RATER = Rater(load_book(REPO / "examples" / "agreement.yaml"))
WINDOW = datetime(2026, 11, 24, 10, tzinfo=UTC)  # 11:00 CET on a Tuesday: peak
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def call(n: int, minute: int, number: str = "4915112345", seconds: str = "60") -> UsageRecord:
    return UsageRecord(
        source="ix", record_id=str(n), agreement_id="hgc-dcc-2026", partner="dcc",
        product="voice", start=WINDOW + timedelta(minutes=minute), quantity=Decimal(seconds),
        unit="second", direction="outbound", b_number=number,
    )  # fmt: skip


USAGE = [call(1, 0), call(2, 30), call(3, 59, "493012345"), call(4, 75), call(5, 10, "33123")]


def test_rerate_under_a_newer_version_is_complete_and_names_what_it_supersedes() -> None:
    live = {u.key: RATER.rate(u, NOW) for u in USAGE[:3]}
    run = rerate(USAGE, RATER, "2", WINDOW, LIVE, NOW)
    assert [r.key for r in run.records] == ["ix/1", "ix/2", "ix/3"]  # ix/4 is the next window
    assert run.refused == (("ix/5", run.refused[0][1]),) and "no-tariff" in run.refused[0][1]
    assert all(r.agreement_version == "2" and r.supersedes == LIVE for r in run.records)
    assert all(r.run_id == run.run_id and run.run_id.startswith("rr-") for r in run.records)
    # the mobile peak rate went from 0.0150 to 0.0140; fixed-line prices did not change
    assert [live[k].amount for k in ("ix/1", "ix/2", "ix/3")] == [Decimal("0.0150")] * 2 + [
        Decimal("0.0140")
    ]
    assert [r.amount for r in run.records] == [
        Decimal("0.0140"),
        Decimal("0.0140"),
        Decimal("0.0140"),
    ]
    assert run.totals == {"EUR": Decimal("0.0420")}
    assert (run.window_start, run.window_end) == (WINDOW, WINDOW + timedelta(hours=1))


def test_run_id_is_the_same_for_the_same_usage_in_any_order() -> None:
    shuffled = USAGE[:]
    random.Random(3).shuffle(shuffled)
    first = rerate(USAGE, RATER, "2", WINDOW, LIVE, NOW)
    again = rerate(shuffled, RATER, "2", WINDOW, LIVE, NOW + timedelta(days=1))
    assert first.run_id == again.run_id
    assert [r.amount for r in first.records] == [r.amount for r in again.records]
    other_version = rerate(USAGE, RATER, "1", WINDOW, LIVE, NOW)
    assert other_version.run_id != first.run_id
    chained = rerate(USAGE, RATER, "2", WINDOW, first.run_id, NOW)
    assert chained.run_id != first.run_id and chained.records[0].supersedes == first.run_id


def test_duplicate_keys_are_rated_once() -> None:
    run = rerate([call(1, 0), call(1, 5, seconds="600")], RATER, "2", WINDOW, LIVE, NOW)
    assert [(r.key, r.billed_quantity) for r in run.records] == [("ix/1", Decimal(60))]


def test_bad_version_or_window_is_refused() -> None:
    with pytest.raises(RatingError) as info:
        rerate(USAGE, RATER, "7", WINDOW, LIVE, NOW)
    assert info.value.code == "unknown-version"
    with pytest.raises(RatingError, match="want 2026-11-24T10:00:00") as misaligned:
        rerate(USAGE, RATER, "2", WINDOW + timedelta(minutes=5), LIVE, NOW)
    assert misaligned.value.code == "window-misaligned"
