"""Rating: a validated usage record priced under one agreement version. Pure, no I/O.

Contract of :func:`rate`:

* the tariff is the one for the usage's product whose prefix is the longest match of the
  B number (data and any tariff with prefix ``""`` match everything);
* the billed quantity is the usage rounded up to the tariff's increments: nothing below zero,
  ``first`` for the first step, then whole multiples of ``next``
  (a 61 s call at 60/60 bills 120 s, at 30/6 bills 66 s, at 1/1 bills 61 s);
* amount = connect fee (if anything is billed) + billed / per-size x rate, raised to the
  minimum charge, then rounded once to the agreement's scale with its rounding mode;
* the event-time window is aligned to the epoch in UTC, ``window_seconds`` wide.

The same usage and agreement always give the same :class:`RatedUsage`, byte for byte, on both
sides: all arithmetic is :class:`~decimal.Decimal` in a local context of fixed precision.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, Decimal, localcontext

from streams.agreement import Agreement, Tariff
from streams.clock import from_ms, to_ms
from streams.errors import RatingError
from streams.records import RatedUsage, UsageRecord

__all__ = ["BASE_UNITS", "Rater", "billed_quantity", "window_of"]

BASE_UNITS = {"voice": "second", "sms": "message", "data": "byte"}
"""The unit increments and ``billed_quantity`` are counted in, per product."""

_TO_BASE = {
    "second": 1,
    "message": 1,
    "byte": 1,
    "kilobyte": 1_000,
    "megabyte": 1_000_000,
    "gigabyte": 1_000_000_000,
}
_PRECISION = 34  # decimal128: exact for any realistic quantity x rate before the final rounding


def billed_quantity(quantity: Decimal, first: int, next_: int) -> Decimal:
    """Quantity rounded up to increments: 0 → 0, else ``first`` then multiples of ``next_``."""
    if quantity <= 0:
        return Decimal(0)
    if quantity <= first:
        return Decimal(first)
    # Decimal's // truncates toward zero (not floor), so ceil via to_integral_value.
    steps = ((quantity - first) / next_).to_integral_value(rounding=ROUND_CEILING)
    return Decimal(first) + steps * next_


def window_of(start: datetime, window_seconds: int) -> tuple[datetime, datetime]:
    """The ``[start, end)`` event-time window, epoch-aligned in UTC, that contains ``start``."""
    size_ms = window_seconds * 1000
    begin = to_ms(start) // size_ms * size_ms
    return from_ms(begin), from_ms(begin + size_ms)


class Rater:
    """Rates usage under one agreement version; builds its prefix index once.

    Lookup walks the B number's own prefixes from longest to shortest (at most 16 dictionary
    probes), so it costs the same for ten tariffs or a hundred thousand.
    """

    __slots__ = ("_index", "agreement")

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self._index: dict[tuple[str, str], Tariff] = {
            (tariff.product, prefix): tariff
            for tariff in agreement.tariffs
            for prefix in tariff.prefixes
        }

    def tariff_for(self, usage: UsageRecord) -> Tariff:
        """The tariff pricing ``usage``; raises ``RatingError('no-tariff')`` if none matches."""
        index = self._index
        number = usage.b_number or ""
        for length in range(len(number), -1, -1):
            tariff = index.get((usage.product, number[:length]))
            if tariff is not None:
                return tariff
        raise RatingError(
            "no-tariff",
            f"no tariff in agreement {self.agreement.id} v{self.agreement.version} prices "
            f"{usage.product} to {usage.b_number or '(no number)'}: add a tariff with a "
            f'matching prefix, or a catch-all prefix ""',
        )

    def rate(self, usage: UsageRecord, rated_at: datetime) -> RatedUsage:
        """Price ``usage``. Raises :class:`RatingError` when it cannot be priced here."""
        agreement = self.agreement
        if usage.agreement_id != agreement.id:
            raise RatingError(
                "unknown-agreement",
                f"usage names agreement {usage.agreement_id!r}, this worker rates {agreement.id!r}",
            )
        if usage.partner not in agreement.parties:
            raise RatingError(
                "unknown-partner",
                f"partner {usage.partner!r} is not a party of {agreement.id} {agreement.parties}",
            )
        tariff = self.tariff_for(usage)
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            base = usage.quantity * _TO_BASE[usage.unit]
            billed = billed_quantity(base, tariff.first_increment, tariff.next_increment)
            amount = billed / tariff.per_size * tariff.rate
            if billed > 0:
                amount += tariff.connect_fee
                amount = max(amount, tariff.minimum_charge)
            amount = amount.quantize(
                Decimal(1).scaleb(-agreement.rounding_scale), rounding=agreement.rounding_mode
            )
        window_start, window_end = window_of(usage.start, agreement.window_seconds)
        return RatedUsage(
            source=usage.source,
            record_id=usage.record_id,
            agreement_id=agreement.id,
            agreement_version=agreement.version,
            rate_id=tariff.id,
            product=usage.product,
            product_id=usage.product_id,
            start=usage.start,
            quantity=usage.quantity,
            unit=usage.unit,
            billed_quantity=billed,
            billed_unit=BASE_UNITS[usage.product],
            amount=amount,
            currency=agreement.currency,
            direction=usage.direction,
            window_start=window_start,
            window_end=window_end,
            rated_at=rated_at,
        )
