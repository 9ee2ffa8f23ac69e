"""Time-of-day / day-of-week bands (peak, off-peak, weekend, holiday) in an agreement's time zone.

Pure: no I/O, stdlib only. Both partners must get identical results, so every instant is an
integer count of microseconds since the Unix epoch (UTC) and every duration a ``Decimal``; no
float is ever involved.

Rules
-----
* **Day type.** A local date's type is ``"holiday"`` when it is in the calendar's holidays, else
  its weekday (``"mon"`` .. ``"sun"``). Holiday bands replace the weekday bands for that whole
  local day.
* **Holidays are explicit, never a silent fallback.** :class:`BandCalendar` requires day
  ``"holiday"`` to be covered by bands *if and only if* holidays are given: holidays without
  holiday bands, or holiday bands without holidays, are errors. An agreement that rates holidays
  as Sundays says so by adding ``"holiday"`` to the days of its Sunday bands.
* **Coverage.** For every day type in use (the seven weekdays, plus ``"holiday"`` when any band
  lists it) the bands cover 00:00 to 24:00 exactly once. ``start`` is inclusive, ``end``
  exclusive; ``end == time(0, 0)`` means "until midnight", so ``00:00`` to ``00:00`` is the whole
  day. A band must not cross midnight (split it in two) and must not be empty.
* **Edges are local wall-clock times; elapsed time is real time.** A local day runs from its
  midnight to the next, so it lasts 23 h on a spring-forward day and 25 h on a fall-back day.
  Each band edge, and each midnight, takes effect at the *first instant the local wall clock
  reads that time or later*. Hence an edge inside a spring-forward gap takes effect at the first
  instant after the gap, and an edge at an ambiguous fall-back time takes effect at its first
  occurrence (``fold=0``); the repeated hour changes nothing. Equivalently: bands follow a wall
  clock that never runs backward. Edges that fall on the same instant leave only the last band.
* **Midnight.** The band changes at local midnight when the next day's first band differs
  (Friday off-peak until 24:00, then the Saturday weekend band); when it is the same band id the
  band simply continues.

:meth:`BandCalendar.split` caches, per local date, that day's edges as UTC instants (an LRU
keyed by the date's ordinal) and remembers the last day it used, so a call inside one band costs
a date check, a bisection and one :class:`Segment`.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from itertools import pairwise
from zoneinfo import ZoneInfo

from streams.core.errors import AgreementError

__all__ = ["DAY_TYPES", "WEEKDAYS", "Band", "BandCalendar", "BandError", "Segment", "check_bands"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_TYPES = (*WEEKDAYS, "holiday")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_MIDNIGHT = time(0, 0)
# Raises instead of rounding, so every Decimal result below is exact or an error.
_EXACT = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow, DivisionByZero])


class BandError(AgreementError):
    """The time bands or holidays of an agreement are invalid; ``problems`` lists every one."""


@dataclass(frozen=True, slots=True)
class Band:
    """One band: ``id`` is in force on ``days`` from ``start`` (inclusive) to ``end`` (exclusive).

    Times are naive local wall-clock times; ``end == time(0, 0)`` means "until midnight".
    """

    id: str
    days: frozenset[str]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of a call in one band: from ``start`` (UTC) for ``seconds`` elapsed real seconds."""

    band_id: str
    start: datetime
    seconds: Decimal


def _fmt(us: int) -> str:
    """Microseconds since local midnight as ``HH:MM`` (with ``:SS[.ffffff]`` when needed)."""
    minutes, us = divmod(us, 60_000_000)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    if us:
        sec, frac = divmod(us, 1_000_000)
        text += f":{sec:02d}" + (f".{frac:06d}" if frac else "")
    return text


def _of_day(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _span(band: Band) -> tuple[int, int]:
    """The band as [start, end) in microseconds since local midnight."""
    end = _of_day(band.end)
    return _of_day(band.start), end if end else _DAY_US


def _names(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def check_bands(bands: Sequence[Band]) -> list[str]:
    """Every problem with ``bands``, in a stable order; an empty list means they are valid.

    Reports, per band: empty id, no days, unknown day names, times carrying a time zone, empty
    bands (``start == end``, except ``00:00`` to ``00:00`` which is the whole day) and bands that
    cross midnight. Then, per day type (the weekdays, and ``"holiday"`` when any band lists it):
    every gap (``day 'sat': 07:00-08:00 covered by no band``) and every overlap
    (``day 'mon': 18:00-19:00 covered by 'peak' and 'evening'``); messages join the two times
    with an en dash. Bands with bad times take no part in the coverage check.
    """
    problems: list[str] = []
    usable: list[tuple[Band, int, int]] = []
    for n, band in enumerate(bands, 1):
        label = f"band '{band.id}' (#{n})" if band.id.strip() else f"band #{n}"
        if not band.id.strip():
            problems.append(f"{label}: empty id")
        if not band.days:
            problems.append(f"{label}: lists no days")
        for day in sorted(set(band.days) - set(DAY_TYPES)):
            problems.append(f"{label}: unknown day {day!r}; want one of {', '.join(DAY_TYPES)}")
        aware = False
        for key, at in (("start", band.start), ("end", band.end)):
            if at.tzinfo is not None:
                aware = True
                problems.append(f"{label}: {key} {at} has a time zone; want local wall-clock time")
        start, end = _span(band)
        if band.start == band.end and band.end != _MIDNIGHT:
            problems.append(f"{label}: start == end ({_fmt(start)}); a band must not be empty")
        elif start >= end:
            problems.append(
                f"{label}: start {_fmt(start)} is after end {_fmt(end)}; split a band that "
                f"crosses midnight in two ({_fmt(start)}–00:00 and 00:00–{_fmt(end)})"
            )
        elif not aware:
            usable.append((band, start, end))
    listed = {day for band, _, _ in usable for day in band.days}
    for day in (*WEEKDAYS, "holiday") if "holiday" in listed else WEEKDAYS:
        spans = [(band.id, s, e) for band, s, e in usable if day in band.days]
        cuts = sorted({0, _DAY_US} | {s for _, s, _ in spans} | {e for _, _, e in spans})
        runs: list[tuple[int, int, list[str]]] = []  # maximal runs with the same covering bands
        for a, b in pairwise(cuts):
            ids = [i for i, s, e in spans if s <= a and b <= e]
            if runs and runs[-1][2] == ids:
                runs[-1] = (runs[-1][0], b, ids)
            else:
                runs.append((a, b, ids))
        for a, b, ids in runs:
            if len(ids) != 1:
                who = _names(ids) if ids else "no band"
                problems.append(f"day '{day}': {_fmt(a)}–{_fmt(b)} covered by {who}")
    return problems


def _us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    if moment.tzinfo is not UTC and moment.utcoffset() is None:
        raise ValueError(f"moment {moment.isoformat()} is naive; want a UTC-aware datetime")
    return (moment - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _seconds(us: int) -> Decimal:
    """A non-negative microsecond count as exact seconds, without trailing zeros."""
    whole, frac = divmod(us, 1_000_000)
    return Decimal(f"{whole}.{frac:06d}".rstrip("0")) if frac else Decimal(whole)


class _Day:
    """One local day: bands ``ids[k]`` in force over ``[starts[k], ends[k])`` (UTC microseconds).

    Adjacent ids differ and every span is non-empty; ``starts[0] == start`` and
    ``ends[-1] == end`` unless the day is empty (skipped by a time-zone change).
    """

    __slots__ = ("end", "ends", "ids", "ordinal", "start", "starts")

    def __init__(self, ordinal: int, start: int, end: int, starts: list[int], ids: list[str]):
        self.ordinal, self.start, self.end = ordinal, start, end
        self.starts, self.ids = starts, ids
        self.ends = [*starts[1:], end]


class BandCalendar:
    """The bands of one agreement in its IANA time zone, with its holidays.

    Raises :class:`BandError` listing every problem of :func:`check_bands` plus the holiday rule
    (holidays given if and only if some band lists day ``"holiday"``; holidays must be dates).
    ``source`` names the agreement in the error message. Instances are immutable apart from an
    internal cache and are safe to share between threads.
    """

    def __init__(
        self,
        zone: ZoneInfo,
        bands: Sequence[Band],
        holidays: Iterable[date] = (),
        *,
        source: str = "time bands",
    ) -> None:
        bands = tuple(bands)
        holidays = tuple(holidays)
        problems = check_bands(bands)
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                problems.append(f"holiday {day!r}: want a date")
        lists_holiday = any("holiday" in band.days for band in bands)
        if holidays and not lists_holiday:
            problems.append(
                "holidays are given but no band lists day 'holiday'; add 'holiday' to the days of "
                "the bands that rate holidays (e.g. the Sunday bands)"
            )
        if lists_holiday and not holidays:
            problems.append("bands list day 'holiday' but no holidays are given")
        if problems:
            raise BandError(source, problems)
        self.zone = zone
        self.holidays = frozenset(holidays)
        self._rows = {
            day: sorted((b.start, b.id) for b in bands if day in b.days) for day in DAY_TYPES
        }
        self._day: Callable[[int], _Day] = functools.lru_cache(maxsize=1024)(self._build_day)
        self._hint = _Day(0, 0, 0, [], [])

    def day_type(self, day: date) -> str:
        """``"holiday"`` if ``day`` (a local date) is a holiday, else ``"mon"`` .. ``"sun"``."""
        return "holiday" if day in self.holidays else WEEKDAYS[day.weekday()]

    def band_at(self, moment: datetime) -> str:
        """The id of the band in force at ``moment`` (an aware datetime, normally UTC)."""
        t = _us(moment)
        day = self._day_of(t)
        return day.ids[bisect_right(day.starts, t) - 1]

    def split(self, start: datetime, seconds: Decimal) -> list[Segment]:
        """Split the call ``[start, start + seconds)`` into per-band segments.

        ``start`` is aware (any zone; segments are in UTC), ``seconds`` a finite ``Decimal`` >= 0.
        Segments are in time order and contiguous, each in the band of its start, adjacent ones
        in different bands; their ``seconds`` sum exactly to ``seconds``. A call of 0 seconds
        gives one segment of 0 seconds.
        """
        if not isinstance(seconds, Decimal):
            raise TypeError(f"seconds must be a Decimal, got {type(seconds).__name__}")
        if not seconds.is_finite() or seconds < 0:
            raise ValueError(f"seconds must be finite and >= 0, got {seconds}")
        s = _us(start)
        end = s + math.ceil(seconds.scaleb(6, _EXACT))  # an integer edge e is inside iff e < end
        day = self._day_of(s)
        i = bisect_right(day.starts, s) - 1
        boundary = day.ends[i]
        first = start if start.tzinfo is UTC else start.astimezone(UTC)
        if end <= boundary:
            return [Segment(day.ids[i], first, seconds)]
        segments: list[Segment] = []
        band, at, at_dt = day.ids[i], s, first
        while end > boundary:
            i += 1
            while i == len(day.starts):
                day, i = self._day(day.ordinal + 1), 0
            if day.ids[i] != band:
                segments.append(Segment(band, at_dt, _seconds(boundary - at)))
                band, at, at_dt = day.ids[i], boundary, _dt(boundary)
            boundary = day.ends[i]
        segments.append(Segment(band, at_dt, _EXACT.subtract(seconds, _seconds(at - s))))
        return segments

    def _day_of(self, t: int) -> _Day:
        """The local day whose span holds instant ``t``."""
        day = self._hint
        if day.start <= t < day.end:
            return day
        day = self._day(_dt(t).astimezone(self.zone).toordinal())
        while t < day.start:
            day = self._day(day.ordinal - 1)
        while t >= day.end:
            day = self._day(day.ordinal + 1)
        self._hint = day
        return day

    def _build_day(self, ordinal: int) -> _Day:
        local = date.fromordinal(ordinal)
        start = self._instant(datetime.combine(local, _MIDNIGHT))
        end = self._instant(datetime.combine(local + timedelta(days=1), _MIDNIGHT))
        starts: list[int] = []
        ids: list[str] = []
        for at, band in self._rows[self.day_type(local)]:
            edge = start if at == _MIDNIGHT else self._instant(datetime.combine(local, at))
            edge = min(max(edge, start), end)
            if starts and starts[-1] == edge:  # the earlier band lasts no time at all
                starts.pop()
                ids.pop()
            if not ids or ids[-1] != band:
                starts.append(edge)
                ids.append(band)
        while starts and starts[-1] >= end:
            starts.pop()
            ids.pop()
        return _Day(ordinal, start, end, starts, ids)

    def _instant(self, wall: datetime) -> int:
        """The first instant at which the local wall clock reads ``wall`` (naive) or later."""
        first = _us(wall.replace(tzinfo=self.zone))  # fold=0: the first occurrence if ambiguous
        if _dt(first).astimezone(self.zone).replace(tzinfo=None) == wall:
            return first
        # ``wall`` falls in a gap: bisect for the transition between the two offsets.
        other = _us(wall.replace(tzinfo=self.zone, fold=1))
        lo, hi = min(first, other), max(first, other)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _dt(mid).astimezone(self.zone).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return hi
