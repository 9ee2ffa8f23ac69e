"""Rate limits per caller: a token bucket per identity (or per address when anonymous).

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request takes
one, and one arriving at an empty bucket waits :meth:`Buckets.take`'s answer in seconds (the
``Retry-After`` of the 429). Time comes from an injected monotonic clock, so tests need no
sleep.

Memory is bounded: past :data:`MOST_BUCKETS` callers the least recently seen bucket is
dropped. A bucket left alone refills, so dropping an idle one changes nothing; only a flood of
distinct addresses could reset a busy one, which rate limiting per address cannot stop anyway
(that is a firewall's job).
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from streams.runtime.http_security.tls import HttpSecurityError

__all__ = ["DEFAULT_LIMIT", "MOST_BUCKETS", "Buckets", "RateLimit"]

MOST_BUCKETS = 10_000
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` requests per second sustained, ``burst`` at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0) or self.burst < 1:
            raise HttpSecurityError(
                f"rate limit: got {self.rate}/s, burst {self.burst}; want a rate > 0 and a "
                "burst >= 1"
            )

    @classmethod
    def parse(cls, text: str, burst: int | None = None) -> RateLimit | None:
        """``N/s``, ``N/min``, ``N/h`` (or ``N``: per second) → the limit; ``off`` or ``0`` →
        ``None`` (no limit). ``burst`` defaults to twice the per-second rate, at least 1."""
        if text.strip().lower() in ("off", "none", "0", "0/s"):
            return None
        match = _RATE.fullmatch(text)
        if match is None:
            raise HttpSecurityError(f"--rate-limit: got {text!r}, want N/s, N/min, N/h or off")
        rate = float(match[1]) / _PER[match[2] or "s"]
        return cls(rate, burst if burst is not None else max(1, math.ceil(2 * rate)))

    def __str__(self) -> str:
        return f"{self.rate:g}/s, burst {self.burst}"


DEFAULT_LIMIT = RateLimit(50.0, 100)
"""50 requests a second per caller, 100 at once: far above what a partner's notifier or
listener sends (one request per event, retries backing off) and a browser's page load, well
below what a misbehaving client could otherwise make the server do."""


class Buckets:
    """One token bucket per key, under one :class:`RateLimit`."""

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        most: int = MOST_BUCKETS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._most = most
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → level, t

    def take(self, key: str) -> float:
        """Take one request from ``key``'s bucket: ``0.0`` when it was there, else the seconds
        until one will be (nothing taken)."""
        now = self._clock()
        level, then = self._buckets.pop(key, (float(self.limit.burst), now))
        level = min(float(self.limit.burst), level + (now - then) * self.limit.rate)
        wait = 0.0
        if level >= 1.0:
            level -= 1.0
        else:
            wait = (1.0 - level) / self.limit.rate
        self._buckets[key] = (level, now)
        while len(self._buckets) > self._most:
            self._buckets.popitem(last=False)
        return wait
