"""Re-rating a window: a new, complete result under a chosen agreement version. Pure.

Rating is never corrected in place. When a window must be rated again (a new agreement version
both partners signed, a corrected tariff), :func:`rerate` rates *every* usage record of the
window again and returns a :class:`RatingRun`: a complete result that names the run it
supersedes (``live`` for the worker's rating, or an earlier run's id). Its records are
published next to the old ones (``usage.rated`` is append-only); consumers take, per window,
the newest run, and the old records stay for audit.

The run id is a hash of what the run *is*: agreement, version, window, what it supersedes,
and every record's key, billed quantity, rate and amount. Both partners re-rating the same
usage under the same version get the same run id, so their runs can be matched.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from streams.contract.records import RatedUsage, UsageRecord, totals_by_currency
from streams.core.errors import RatingError
from streams.rating.rater import Rater, window_of

__all__ = ["LIVE", "RatingRun", "rerate"]

LIVE = "live"
"""The id of the live rating done by the workers."""


@dataclass(frozen=True, slots=True)
class RatingRun:
    """One complete re-rating of one event-time window."""

    run_id: str
    agreement_id: str
    version: str
    window_start: datetime
    window_end: datetime
    supersedes: str
    records: tuple[RatedUsage, ...]
    """Rated under ``version``, in usage-key order, each naming this run and what it supersedes."""
    refused: tuple[tuple[str, str], ...]
    """``(usage key, reason)`` for usage of the window the version cannot rate."""

    @property
    def totals(self) -> dict[str, Decimal]:
        """Sum of amounts per currency."""
        return totals_by_currency((r.currency, r.amount) for r in self.records)


def rerate(
    usages: Iterable[UsageRecord],
    rater: Rater,
    version: str,
    window_start: datetime,
    supersedes: str,
    rated_at: datetime,
) -> RatingRun:
    """Rate every usage record of the window starting at ``window_start`` under ``version``.

    Usage outside the window is ignored; a usage key seen twice is rated once (the first
    occurrence, as the live worker does). Raises :class:`RatingError` ``unknown-version``
    for a version the agreement does not have, and ``window-misaligned`` for a start that is
    not a window boundary of that version.
    """
    agreement = rater.book.version(version)
    start, end = window_of(window_start, agreement.window_seconds)
    if start != window_start:
        raise RatingError(
            "window-misaligned",
            f"window start {window_start.isoformat()} is not a boundary of "
            f"{agreement.window_seconds} s windows: want {start.isoformat()}",
        )
    rated: dict[str, RatedUsage] = {}
    refused: dict[str, str] = {}
    for usage in usages:
        if not start <= usage.start < end or usage.key in rated or usage.key in refused:
            continue
        try:
            rated[usage.key] = rater.rate(usage, rated_at, version=version)
        except RatingError as exc:
            refused[usage.key] = f"{exc.code}: {exc}"
    records = [rated[key] for key in sorted(rated)]
    run_id = _run_id(agreement.id, version, start, supersedes, records)
    return RatingRun(
        run_id=run_id,
        agreement_id=agreement.id,
        version=version,
        window_start=start,
        window_end=end,
        supersedes=supersedes,
        records=tuple(
            dataclasses.replace(r, supersedes=supersedes, run_id=run_id) for r in records
        ),
        refused=tuple(sorted(refused.items())),
    )


def _run_id(
    agreement_id: str, version: str, start: datetime, supersedes: str, records: list[RatedUsage]
) -> str:
    digest = hashlib.sha256(b"bilat.rating-run.v1\x00")
    for part in (agreement_id, version, start.isoformat(), supersedes):
        digest.update(part.encode() + b"\x00")
    for r in records:
        line = f"{r.key}\x1f{r.billed_quantity}\x1f{r.rate_id}\x1f{r.amount}\x1f{r.currency}"
        digest.update(line.encode() + b"\x00")
    return "rr-" + digest.hexdigest()[:16]
