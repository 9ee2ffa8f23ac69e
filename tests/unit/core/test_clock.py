"""Epoch milliseconds: exact in both directions, sub-milliseconds floored, before 1970 too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.clock import from_ms, to_ms

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


FIRST, LAST = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001 (hypothesis wants naive)


@given(st.datetimes(FIRST, LAST, timezones=ZONES))
def test_to_ms_is_the_floor_of_the_microseconds_since_the_epoch(moment: datetime) -> None:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert to_ms(moment) == micros // 1000
    assert from_ms(to_ms(moment)) <= moment < from_ms(to_ms(moment) + 1)


@given(st.integers(min_value=-62_135_596_800_000 + 86_400_000, max_value=253_402_300_799_999))
def test_from_ms_round_trips(ms: int) -> None:
    assert to_ms(from_ms(ms)) == ms
    assert from_ms(ms).tzinfo is UTC


def test_pinned_values() -> None:
    assert to_ms(datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)) == -1
    assert to_ms(datetime(2026, 3, 2, 9, 15, 0, 250_999, tzinfo=UTC)) == 1_772_442_900_250
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2026, 1, 1))  # noqa: DTZ001
