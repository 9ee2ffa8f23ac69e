"""Injected UTC time.

The core never calls ``datetime.now()``: anything that depends on the time takes a
:class:`Clock`, so windows, grace periods and "usage from the future" checks are tested with a
:class:`ManualClock` instead of sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "from_ms", "to_ms"]


class Clock(Protocol):
    """A source of the current time; ``now()`` is always timezone-aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to (tests, replays)."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta`` (never backwards)."""
        if delta < timedelta(0):
            raise ValueError(f"clock cannot go back: got {delta}, want >= 0")
        self.current += delta


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact, no float rounding).

    Sub-millisecond parts are floored, before the epoch too (``timedelta // timedelta`` is
    integer floor division of microseconds).
    """
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: want a timezone-aware time")
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds."""
    return _EPOCH + _MS * ms  # timedelta * int: exact, and cheaper than timedelta(milliseconds=)
