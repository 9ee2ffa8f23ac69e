"""Time bands, holidays and DST: hand-computed splits, validation, properties, a slow reference.

Offsets used below: Europe/Berlin CET +1 / CEST +2 (2026: spring 03-29 at 01:00 UTC, 02:00 local
skips to 03:00; fall 10-25 at 01:00 UTC, 03:00 local back to 02:00). America/New_York EST -5 /
EDT -4 (2026: spring 03-08 at 07:00 UTC; fall 11-01 at 06:00 UTC, 02:00 back to 01:00).
Asia/Kolkata +5:30. Australia/Adelaide ACST +9:30 / ACDT +10:30 (2026: fall 04-05 at 16:30 UTC
on 04-04, 03:00 back to 02:00; spring 10-04 at 16:30 UTC on 10-03, 02:00 skips to 03:00).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.agreement.timebands import (
    WEEKDAYS,
    Band,
    BandCalendar,
    BandError,
    Segment,
    check_bands,
)
from streams.core.errors import AgreementError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
ADELAIDE = ZoneInfo("Australia/Adelaide")
APIA = ZoneInfo("Pacific/Apia")

WORK = frozenset({"mon", "tue", "wed", "thu", "fri"})
EVERY = frozenset(WEEKDAYS)

# The usual wholesale calendar: peak on working days, off-peak around it, weekend, holidays.
STANDARD = [
    Band("offpeak", WORK, time(0), time(8)),
    Band("peak", WORK, time(8), time(19)),
    Band("offpeak", WORK, time(19), time(0)),
    Band("weekend", frozenset({"sat", "sun"}), time(0), time(0)),
    Band("holiday", frozenset({"holiday"}), time(0), time(0)),
]
HOLIDAYS = [date(2026, 1, 1), date(2026, 12, 25)]  # a Thursday and a Friday

# Every day alike, with an edge at 02:30: inside the spring gap, in the fall repeat (Berlin).
NIGHTLY = [
    Band("night", EVERY, time(0), time(2, 30)),
    Band("day", EVERY, time(2, 30), time(22)),
    Band("late", EVERY, time(22), time(0)),
]
# Edges exactly at the start and end of the spring gap: band "b" lasts no time that day.
GAP_EDGES = [
    Band("a", EVERY, time(0), time(2)),
    Band("b", EVERY, time(2), time(3)),
    Band("c", EVERY, time(3), time(0)),
]
# An edge inside New York's repeated hour (01:00-02:00 on fall-back day).
HALF_PAST_ONE = [Band("a", EVERY, time(0), time(1, 30)), Band("b", EVERY, time(1, 30), time(0))]


def cal(
    zone: ZoneInfo, bands: Sequence[Band] = STANDARD, holidays: Sequence[date] = HOLIDAYS
) -> BandCalendar:
    return BandCalendar(zone, bands, holidays if any("holiday" in b.days for b in bands) else ())


def at(
    zone: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int, sec: int = 0, fold: int = 0
) -> datetime:
    """Local wall-clock fields in ``zone`` as a UTC datetime."""
    return datetime(y, mo, d, h, mi, sec, tzinfo=zone, fold=fold).astimezone(UTC)


def parts(segments: list[Segment]) -> list[tuple[str, Decimal]]:
    return [(s.band_id, s.seconds) for s in segments]


def want(*pairs: tuple[str, str]) -> list[tuple[str, Decimal]]:
    return [(band, Decimal(seconds)) for band, seconds in pairs]


# --- hand-computed splits -------------------------------------------------------------------


def test_weekday_call_inside_peak() -> None:
    start = at(BERLIN, 2026, 5, 5, 10, 0)  # Tuesday
    assert parts(cal(BERLIN).split(start, Decimal(300))) == want(("peak", "300"))


def test_peak_to_offpeak_at_19_local() -> None:
    segments = cal(BERLIN).split(at(BERLIN, 2026, 5, 5, 18, 55), Decimal(600))
    assert parts(segments) == want(("peak", "300"), ("offpeak", "300"))
    assert segments[1].start == datetime(2026, 5, 5, 17, 0, tzinfo=UTC)  # 19:00 CEST


def test_friday_to_saturday_at_local_midnight() -> None:
    segments = cal(BERLIN).split(at(BERLIN, 2026, 5, 8, 23, 58), Decimal(300))
    assert parts(segments) == want(("offpeak", "120"), ("weekend", "180"))
    assert segments[1].start == datetime(2026, 5, 8, 22, 0, tzinfo=UTC)


def test_same_band_continues_over_midnight() -> None:
    start = at(BERLIN, 2026, 5, 7, 23, 0)  # Thursday 23:00 until Friday 01:00: off-peak both days
    assert parts(cal(BERLIN).split(start, Decimal(7200))) == want(("offpeak", "7200"))


def test_into_a_holiday_at_local_midnight() -> None:
    start = at(BERLIN, 2026, 12, 24, 23, 50)  # Thursday; Friday 25th is a holiday
    segments = cal(BERLIN).split(start, Decimal(1200))
    assert parts(segments) == want(("offpeak", "600"), ("holiday", "600"))
    assert segments[1].start == datetime(2026, 12, 24, 23, 0, tzinfo=UTC)


def test_call_from_2359_30_on_holiday_eve() -> None:
    start = at(BERLIN, 2026, 12, 24, 23, 59, 30)
    assert parts(cal(BERLIN).split(start, Decimal(90))) == want(
        ("offpeak", "30"), ("holiday", "60")
    )


def test_from_holiday_into_saturday() -> None:
    start = at(BERLIN, 2026, 12, 25, 23, 59)
    assert parts(cal(BERLIN).split(start, Decimal(120))) == want(
        ("holiday", "60"), ("weekend", "60")
    )


def test_holiday_replaces_the_weekday_all_day() -> None:
    c = cal(BERLIN)
    assert c.day_type(date(2026, 12, 25)) == "holiday"
    assert c.day_type(date(2026, 12, 24)) == "thu"
    assert c.band_at(at(BERLIN, 2026, 12, 25, 12, 0)) == "holiday"
    assert c.band_at(at(BERLIN, 2026, 12, 24, 12, 0)) == "peak"


def test_fractional_start_and_duration_split_exactly() -> None:
    start = at(BERLIN, 2026, 5, 5, 18, 59, 59) + timedelta(milliseconds=750)
    c = cal(BERLIN)
    assert parts(c.split(start, Decimal("1.500"))) == want(("peak", "0.25"), ("offpeak", "1.25"))
    assert parts(c.split(start, Decimal("0.250"))) == want(("peak", "0.25"))  # ends on the edge
    tiny = c.split(start, Decimal("0.2500001"))  # 0.1 microsecond past the edge
    assert parts(tiny) == want(("peak", "0.25"), ("offpeak", "0.0000001"))
    assert sum(s.seconds for s in tiny) == Decimal("0.2500001")


def test_zero_seconds_is_one_empty_segment_in_the_band_at_start() -> None:
    c = cal(BERLIN)
    edge = at(BERLIN, 2026, 5, 5, 19, 0)
    assert c.split(edge, Decimal(0)) == [Segment("offpeak", edge, Decimal(0))]
    assert c.band_at(edge) == "offpeak"
    assert c.band_at(edge - timedelta(microseconds=1)) == "peak"


def test_thirty_hour_call_over_many_edges() -> None:
    start = at(BERLIN, 2026, 5, 7, 7, 0)  # Thursday 07:00 until Friday 13:00
    assert parts(cal(BERLIN).split(start, Decimal(108000))) == want(
        ("offpeak", "3600"), ("peak", "39600"), ("offpeak", "46800"), ("peak", "18000")
    )


def test_thirty_hour_call_into_the_weekend() -> None:
    segments = cal(BERLIN).split(at(BERLIN, 2026, 5, 8, 7, 0), Decimal("108000.125"))
    assert parts(segments) == want(
        ("offpeak", "3600"), ("peak", "39600"), ("offpeak", "18000"), ("weekend", "46800.125")
    )
    assert [s.start.hour for s in segments] == [5, 6, 17, 22]


def test_start_in_another_zone_gives_utc_segments() -> None:
    local = datetime(2026, 5, 5, 18, 55, tzinfo=BERLIN)
    segments = cal(BERLIN).split(local, Decimal(600))
    assert segments[0].start == datetime(2026, 5, 5, 16, 55, tzinfo=UTC)
    assert all(s.start.tzinfo is UTC for s in segments)


# --- daylight saving: Europe/Berlin ---------------------------------------------------------


def test_berlin_spring_call_0150_to_0310_is_twenty_real_minutes() -> None:
    start = at(BERLIN, 2026, 3, 29, 1, 50)  # 00:50 UTC; 03:10 CEST is 01:10 UTC
    segments = cal(BERLIN, NIGHTLY).split(start, Decimal(1200))
    # The 02:30 edge does not exist that day: it takes effect when the gap ends, 01:00 UTC.
    assert parts(segments) == want(("night", "600"), ("day", "600"))
    assert segments[1].start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_berlin_spring_edges_at_gap_start_and_end_leave_no_empty_band() -> None:
    c = cal(BERLIN, GAP_EDGES)
    segments = c.split(at(BERLIN, 2026, 3, 29, 1, 50), Decimal(1200))
    assert parts(segments) == want(("a", "600"), ("c", "600"))  # "b" lasts no time that day
    assert c.band_at(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == "c"
    assert c.band_at(datetime(2026, 3, 30, 0, 30, tzinfo=UTC)) == "b"  # 02:30 on a normal Monday


def test_berlin_spring_day_has_23_hours() -> None:
    start = at(BERLIN, 2026, 3, 29, 0, 0)  # 23:00 UTC on the 28th, until 22:00 UTC on the 29th
    assert parts(cal(BERLIN, NIGHTLY).split(start, Decimal(23 * 3600))) == want(
        ("night", "7200"), ("day", "68400"), ("late", "7200")
    )


def test_berlin_fall_edge_in_repeated_hour_takes_first_occurrence() -> None:
    c = cal(BERLIN, NIGHTLY)
    first_0200 = at(BERLIN, 2026, 10, 25, 2, 0)  # 00:00 UTC (CEST)
    assert first_0200 == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    segments = c.split(first_0200, Decimal(7200))  # until 03:00 CET
    assert parts(segments) == want(("night", "1800"), ("day", "5400"))
    assert segments[1].start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # first 02:30
    second_0210 = at(BERLIN, 2026, 10, 25, 2, 10, fold=1)  # 01:10 UTC, wall clock reads 02:10
    assert c.band_at(second_0210) == "day"
    assert parts(c.split(second_0210, Decimal(3600))) == want(("day", "3600"))


def test_berlin_fall_call_0150_to_0310() -> None:
    start = at(BERLIN, 2026, 10, 25, 1, 50)  # 23:50 UTC; 03:10 CET is 02:10 UTC: 2 h 20 min
    assert parts(cal(BERLIN, NIGHTLY).split(start, Decimal(8400))) == want(
        ("night", "2400"), ("day", "6000")
    )


def test_berlin_25_hour_day_long_call() -> None:
    start = at(BERLIN, 2026, 10, 24, 22, 0)  # 20:00 UTC, 27 h until 00:00 CET on the 26th
    segments = cal(BERLIN, NIGHTLY).split(start, Decimal(27 * 3600))
    assert parts(segments) == want(
        ("late", "7200"), ("night", "9000"), ("day", "73800"), ("late", "7200")
    )
    assert segments[-1].start == datetime(2026, 10, 25, 21, 0, tzinfo=UTC)  # 22:00 CET


# --- daylight saving: America/New_York ------------------------------------------------------


def test_new_york_spring_call_across_the_gap() -> None:
    start = at(NEW_YORK, 2026, 3, 8, 1, 50)  # 06:50 UTC; 03:10 EDT is 07:10 UTC
    segments = cal(NEW_YORK, NIGHTLY).split(start, Decimal(1200))
    assert parts(segments) == want(("night", "600"), ("day", "600"))
    assert segments[1].start == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_new_york_fall_edge_in_repeated_hour() -> None:
    c = cal(NEW_YORK, HALF_PAST_ONE)
    start = at(NEW_YORK, 2026, 11, 1, 1, 0)  # first 01:00 (EDT) = 05:00 UTC, for 2 h
    segments = c.split(start, Decimal(7200))
    assert parts(segments) == want(("a", "1800"), ("b", "5400"))
    assert segments[1].start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert c.band_at(at(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)) == "b"  # 06:15 UTC, repeated hour


def test_new_york_25_hour_day() -> None:
    start = at(NEW_YORK, 2026, 11, 1, 0, 0)  # 04:00 UTC until 05:00 UTC on the 2nd
    assert parts(cal(NEW_YORK, NIGHTLY).split(start, Decimal(25 * 3600))) == want(
        ("night", "12600"), ("day", "70200"), ("late", "7200")
    )


# --- zones with half-hour offsets; a skipped day --------------------------------------------


def test_kolkata_half_hour_offset() -> None:
    segments = cal(KOLKATA).split(at(KOLKATA, 2026, 5, 5, 18, 50), Decimal(1200))
    assert segments[0].start == datetime(2026, 5, 5, 13, 20, tzinfo=UTC)
    assert parts(segments) == want(("peak", "600"), ("offpeak", "600"))
    assert segments[1].start == datetime(2026, 5, 5, 13, 30, tzinfo=UTC)


def test_adelaide_spring_gap_with_half_hour_offsets() -> None:
    start = at(ADELAIDE, 2026, 10, 4, 1, 50)  # 16:20 UTC on the 3rd; the gap ends at 16:30 UTC
    segments = cal(ADELAIDE, NIGHTLY).split(start, Decimal(1200))
    assert parts(segments) == want(("night", "600"), ("day", "600"))
    assert segments[1].start == datetime(2026, 10, 3, 16, 30, tzinfo=UTC)


def test_adelaide_fall_repeated_hour() -> None:
    start = at(ADELAIDE, 2026, 4, 5, 2, 0)  # first 02:00 (ACDT) = 15:30 UTC on the 4th
    segments = cal(ADELAIDE, NIGHTLY).split(start, Decimal(7200))
    assert parts(segments) == want(("night", "1800"), ("day", "5400"))
    assert segments[1].start == datetime(2026, 4, 4, 16, 0, tzinfo=UTC)


def test_samoa_skipped_friday() -> None:
    # Samoa jumped from Thursday 2011-12-29 24:00 (-10) to Saturday 2011-12-31 00:00 (+14).
    start = at(APIA, 2011, 12, 29, 23, 0)  # 09:00 UTC on the 30th
    segments = cal(APIA).split(start, Decimal(7200))
    assert parts(segments) == want(("offpeak", "3600"), ("weekend", "3600"))
    assert segments[1].start == datetime(2011, 12, 30, 10, 0, tzinfo=UTC)


# --- bad input ------------------------------------------------------------------------------


def test_split_rejects_bad_arguments() -> None:
    c = cal(BERLIN)
    start = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        c.split(datetime(2026, 5, 5, 10, 0), Decimal(1))  # noqa: DTZ001
    with pytest.raises(ValueError, match=">= 0"):
        c.split(start, Decimal(-1))
    with pytest.raises(ValueError, match="finite"):
        c.split(start, Decimal("NaN"))
    with pytest.raises(TypeError, match="Decimal"):
        c.split(start, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        c.band_at(datetime(2026, 5, 5, 10, 0))  # noqa: DTZ001


# --- validation -----------------------------------------------------------------------------


def test_valid_bands_have_no_problems() -> None:
    assert check_bands(STANDARD) == []
    assert check_bands(NIGHTLY) == []


def test_check_bands_reports_every_problem_at_once() -> None:
    problems = check_bands(
        [
            Band("offpeak", WORK, time(0), time(8)),
            Band("peak", WORK | {"Monday"}, time(8), time(19)),
            Band("evening", frozenset({"mon"}), time(18), time(0)),
            Band("offpeak", frozenset({"tue", "wed", "thu", "fri"}), time(19), time(0)),
            Band("weekend", frozenset({"sat", "sun", "hol"}), time(8), time(0)),
            Band("", frozenset({"sat"}), time(3), time(3)),
            Band("night", frozenset({"sun"}), time(22), time(8)),
        ]
    )
    assert problems == [
        "band 'peak' (#2): unknown day 'Monday'; want one of mon, tue, wed, thu, fri, sat, sun, "
        "holiday",
        "band 'weekend' (#5): unknown day 'hol'; want one of mon, tue, wed, thu, fri, sat, sun, "
        "holiday",
        "band #6: empty id",
        "band #6: start == end (03:00); a band must not be empty",
        "band 'night' (#7): start 22:00 is after end 08:00; split a band that crosses midnight "
        "in two (22:00–00:00 and 00:00–08:00)",
        "day 'mon': 18:00–19:00 covered by 'peak' and 'evening'",
        "day 'sat': 00:00–08:00 covered by no band",
        "day 'sun': 00:00–08:00 covered by no band",
    ]


def test_check_bands_gaps_and_overlaps_with_seconds_and_three_bands() -> None:
    problems = check_bands(
        [
            Band("a", EVERY, time(0), time(12, 0, 30)),
            Band("b", EVERY, time(12), time(0)),
            Band("c", frozenset({"mon"}), time(12), time(13)),
            Band("d", frozenset({"holiday"}), time(0), time(23)),
        ]
    )
    assert problems[0] == "day 'mon': 12:00–12:00:30 covered by 'a', 'b' and 'c'"
    assert problems[1] == "day 'mon': 12:00:30–13:00 covered by 'b' and 'c'"
    assert "day 'tue': 12:00–12:00:30 covered by 'a' and 'b'" in problems
    assert problems[-1] == "day 'holiday': 23:00–24:00 covered by no band"


def test_check_bands_rejects_zoned_times() -> None:
    zoned = time(8, tzinfo=UTC)
    problems = check_bands([Band("x", EVERY, time(0), zoned), Band("y", EVERY, zoned, time(0))])
    assert problems[0] == (
        "band 'x' (#1): end 08:00:00+00:00 has a time zone; want local wall-clock time"
    )
    assert "day 'mon': 00:00–24:00 covered by no band" in problems


def test_calendar_requires_holiday_bands_iff_holidays() -> None:
    weekdays_only = STANDARD[:4]
    with pytest.raises(BandError) as info:
        BandCalendar(BERLIN, weekdays_only, [date(2026, 12, 25)], source="a.yaml")
    assert isinstance(info.value, AgreementError)
    assert info.value.source == "a.yaml"
    assert info.value.problems == (
        "holidays are given but no band lists day 'holiday'; add 'holiday' to the days of the "
        "bands that rate holidays (e.g. the Sunday bands)",
    )
    with pytest.raises(BandError, match="bands list day 'holiday' but no holidays are given"):
        BandCalendar(BERLIN, STANDARD)
    BandCalendar(BERLIN, weekdays_only)  # neither: fine


def test_holidays_rated_as_sunday_by_listing_holiday_on_the_sunday_band() -> None:
    bands = [*STANDARD[:3], Band("weekend", frozenset({"sat", "sun", "holiday"}), time(0), time(0))]
    c = BandCalendar(BERLIN, bands, [date(2026, 12, 25)])
    assert c.band_at(at(BERLIN, 2026, 12, 25, 12, 0)) == "weekend"


def test_calendar_lists_band_and_holiday_problems_together() -> None:
    bands = [Band("peak", EVERY | {"holiday"}, time(8), time(0))]
    with pytest.raises(BandError) as info:
        BandCalendar(BERLIN, bands, [datetime(2026, 12, 25, tzinfo=UTC)])
    problems = info.value.problems
    assert "day 'mon': 00:00–08:00 covered by no band" in problems
    assert "day 'holiday': 00:00–08:00 covered by no band" in problems
    assert problems[-1] == (
        "holiday datetime.datetime(2026, 12, 25, 0, 0, tzinfo=datetime.timezone.utc): want a date"
    )
    assert len(problems) == 9


# --- properties -----------------------------------------------------------------------------

# Sundays carry edges at 01:30 (New York's repeated hour) and 02:30 (spring gap in both zones,
# Berlin's repeated hour); a holiday band hands over to the weekend band at noon.
RICH = [
    Band("offpeak", WORK, time(0), time(1, 30)),
    Band("night", WORK, time(1, 30), time(2, 30)),
    Band("offpeak", WORK, time(2, 30), time(8)),
    Band("peak", WORK, time(8), time(19)),
    Band("offpeak", WORK, time(19), time(0)),
    Band("weekend", frozenset({"sat"}), time(0), time(0)),
    Band("weekend", frozenset({"sun"}), time(0), time(1, 30)),
    Band("sunnight", frozenset({"sun"}), time(1, 30), time(2, 30)),
    Band("weekend", frozenset({"sun"}), time(2, 30), time(0)),
    Band("holiday", frozenset({"holiday"}), time(0), time(12)),
    Band("weekend", frozenset({"holiday"}), time(12), time(0)),
]
RICH_HOLIDAYS = [
    *(date(y, m, d) for y in range(2020, 2032) for m, d in ((1, 1), (12, 25), (12, 26))),
    date(2026, 3, 29),  # a holiday on Berlin's spring-forward Sunday
    date(2026, 11, 1),  # and on New York's fall-back Sunday
]
ZONES = (BERLIN, NEW_YORK)
CALENDARS = {zone: BandCalendar(zone, RICH, RICH_HOLIDAYS) for zone in ZONES}


def _transition_days(zone: ZoneInfo) -> list[datetime]:
    days = []
    for year in range(2020, 2031):
        noon = datetime(year, 1, 1, 12, tzinfo=zone)
        for _ in range(366):
            nxt = noon + timedelta(days=1)  # wall-clock arithmetic: the next local noon
            if nxt.utcoffset() != noon.utcoffset():
                days.append(datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC))
            noon = nxt
    return days


TRANSITIONS = {zone: _transition_days(zone) for zone in ZONES}
MS = timedelta(milliseconds=1)
H48_MS = 48 * 3600 * 1000


@st.composite
def calls(draw: st.DrawFn, max_ms: int = H48_MS) -> tuple[ZoneInfo, datetime, int]:
    """A zone, a start (2020-2030, millisecond precision) and a duration in milliseconds."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):  # near a DST transition, where the trouble is
        anchor = draw(st.sampled_from(TRANSITIONS[zone]))
        start = anchor + draw(st.integers(-48 * 3600 * 1000, 48 * 3600 * 1000)) * MS
    else:
        lo, hi = datetime(2020, 1, 1), datetime(2030, 12, 31)  # noqa: DTZ001 (hypothesis wants naive)
        start = draw(st.datetimes(lo, hi, timezones=st.just(UTC)))
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
    duration = draw(
        st.one_of(st.integers(0, 60_000), st.integers(0, max_ms), st.sampled_from([0, max_ms]))
    )
    return zone, start, duration


def seconds(ms: int) -> Decimal:
    return Decimal(ms).scaleb(-3)


def merged(segments: list[Segment]) -> list[Segment]:
    """Drop empty segments (unless all are), then join neighbours in the same band."""
    kept = [s for s in segments if s.seconds] or segments[:1]
    out: list[Segment] = []
    for s in kept:
        if out and out[-1].band_id == s.band_id:
            out[-1] = Segment(s.band_id, out[-1].start, out[-1].seconds + s.seconds)
        else:
            out.append(s)
    return out


@settings(max_examples=400, deadline=None)
@given(call=calls())
def test_split_invariants(call: tuple[ZoneInfo, datetime, int]) -> None:
    zone, start, ms = call
    c = CALENDARS[zone]
    segments = c.split(start, seconds(ms))
    assert segments and segments[0].start == start
    assert sum((s.seconds for s in segments), Decimal(0)) == seconds(ms)
    for s, nxt in pairwise(segments):
        assert s.start + timedelta(microseconds=int(s.seconds.scaleb(6))) == nxt.start
        assert s.band_id != nxt.band_id
        assert s.seconds > 0
    for s in segments:
        assert c.band_at(s.start) == s.band_id
        assert s.start.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(call=calls(), cut=st.integers(0, H48_MS))
def test_split_is_independent_of_cutting_the_call(
    call: tuple[ZoneInfo, datetime, int], cut: int
) -> None:
    zone, start, ms = call
    c = CALENDARS[zone]
    x = min(cut, ms)
    whole = c.split(start, seconds(ms))
    pieces = c.split(start, seconds(x)) + c.split(start + x * MS, seconds(ms - x))
    assert merged(pieces) == whole


# --- a slow reference -----------------------------------------------------------------------


def reference_split(
    zone: ZoneInfo, bands: Sequence[Band], holidays: Sequence[date], start: datetime, ms: int
) -> list[tuple[str, Decimal]]:
    """Walk the call minute by minute (UTC) on a wall clock that never runs backward.

    Valid when offsets, transitions and band edges all fall on whole minutes, so the band is
    constant within every whole UTC minute. The day type and band come straight from the wall
    clock, not from any edge arithmetic.
    """

    def band_of(wall: datetime) -> str:
        kind = "holiday" if wall.date() in holidays else WEEKDAYS[wall.weekday()]
        now = wall.time()
        hits = [
            b.id
            for b in bands
            if kind in b.days and b.start <= now and (b.end == time(0) or now < b.end)
        ]
        assert len(hits) == 1
        return hits[0]

    minute = timedelta(minutes=1)
    end = start + ms * MS
    t = start.replace(second=0, microsecond=0) - timedelta(hours=3)
    clock = t.astimezone(zone).replace(tzinfo=None)
    out: list[tuple[str, Decimal]] = []
    while t < end or not out:
        clock = max(clock, t.astimezone(zone).replace(tzinfo=None))
        lo, hi = max(t, start), min(t + minute, end)
        if t + minute > start:
            band, piece = band_of(clock), Decimal((hi - lo) // MS).scaleb(-3)
            if out and out[-1][0] == band:
                out[-1] = (band, out[-1][1] + piece)
            else:
                out.append((band, piece))
        t += minute
    return out


def test_reference_agrees_on_a_random_sample() -> None:
    rng = random.Random(20260329)
    cases = []
    for n in range(120):
        zone = ZONES[n % 2]
        if n % 3:
            base = rng.choice(TRANSITIONS[zone])
            start = base + rng.randrange(-30 * 3600_000, 30 * 3600_000) * MS
        else:
            start = datetime(2020, 1, 1, tzinfo=UTC) + rng.randrange(11 * 365 * 86400_000) * MS
        ms = rng.choice(
            [0, rng.randrange(120_000), rng.randrange(6 * 3600_000), rng.randrange(H48_MS)]
        )
        cases.append((zone, start, ms))
    cases += [
        (zone, day - timedelta(hours=5), H48_MS - 7)
        for zone in ZONES
        for day in TRANSITIONS[zone][10:12]
    ]
    for zone, start, ms in cases:
        got = parts(CALENDARS[zone].split(start, seconds(ms)))
        assert got == reference_split(zone, RICH, RICH_HOLIDAYS, start, ms), (zone, start, ms)


def test_reference_agrees_on_hand_computed_cases() -> None:
    start = at(BERLIN, 2026, 3, 29, 1, 50)
    assert reference_split(BERLIN, NIGHTLY, [], start, 1_200_000) == want(
        ("night", "600"), ("day", "600")
    )
    start = at(NEW_YORK, 2026, 11, 1, 1, 0)
    assert reference_split(NEW_YORK, HALF_PAST_ONE, [], start, 7_200_000) == want(
        ("a", "1800"), ("b", "5400")
    )
