"""Rating: a validated usage record priced under the agreement version in force. Pure, no I/O.

Contract of :meth:`Rater.rate`:

* the version is the one in force at the usage's event time (:class:`AgreementBook`); the
  record names it, and the tariff (with its time bands) that priced it;
* usage that names a product (``product_id``) is billable only while that product is active
  in the product inventory (Sonata order items, :mod:`streams.rating.inventory`); otherwise it is
  not revenue and is refused with ``unknown-product`` or ``product-not-active``;
* the tariff is the one for the usage's product whose prefix is the longest match of the
  B number (data and any tariff with prefix ``""`` match everything);
* the billed quantity is the usage in its product's base unit (:mod:`streams.core.units`)
  rounded up to the tariff's increments: nothing below zero,
  ``first`` for the first step, then whole multiples of ``next``
  (a 61 s call at 60/60 bills 120 s, at 30/6 bills 66 s, at 1/1 bills 61 s);
* a voice call under a tariff with rates per time band is split at the band edges in the
  agreement's time zone (:mod:`streams.agreement.timebands`); each part is priced at its band's
  rate, and the increment rounding (billed minus actual seconds) is priced in the call's last band;
  SMS and data are priced in the band in force at their start;
* amount = connect fee (if anything is billed) + sum of parts (billed / per-size x rate),
  raised to the minimum charge, rounded as the agreement's :class:`Rounding` says;
* the event-time window is aligned to the epoch in UTC, ``window_seconds`` wide.

The same usage and agreement always give the same :class:`RatedUsage`, byte for byte, on both
sides: all arithmetic is :class:`~decimal.Decimal` in a local context of fixed precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Protocol

from streams.agreement.model import STATEMENT_EXTRA_DIGITS, Agreement, AgreementBook, Tariff
from streams.agreement.timebands import BandCalendar
from streams.contract.records import RatedUsage, UsageRecord
from streams.core.clock import from_ms, to_ms
from streams.core.errors import RatingError
from streams.core.units import BASE_UNITS, REPORTED_UNITS
from streams.reconcile.correlation import CorrelationError, correlation_key

__all__ = ["ProductLookup", "Rater", "billed_quantity", "window_of"]

_CTX = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""All rating arithmetic runs in this context, whatever the caller's thread context is, so both
partners round identically: 34 significant digits (decimal128) before the agreement's rounding,
products before quotients (one inexact step per part at most)."""


class ProductLookup(Protocol):
    """Whether a product is billable at a time (the product inventory, or a fake in tests)."""

    def check(self, product_id: str, at: datetime) -> None:
        """Return if billable at ``at``; else raise ``RatingError`` saying why."""


def billed_quantity(quantity: Decimal, first: int, next_: int) -> Decimal:
    """Quantity rounded up to increments: 0 → 0, else ``first`` then multiples of ``next_``."""
    if quantity <= 0:
        return _ZERO
    if quantity <= first:
        return Decimal(first)
    # Decimal's // truncates toward zero (not floor), so ceil via to_integral_value.
    steps = _CTX.divide(_CTX.subtract(quantity, first), next_)
    return _CTX.add(first, _CTX.multiply(steps.to_integral_value(ROUND_CEILING), next_))


def window_of(start: datetime, window_seconds: int) -> tuple[datetime, datetime]:
    """The ``[start, end)`` event-time window, epoch-aligned in UTC, that contains ``start``."""
    size_ms = window_seconds * 1000
    begin = to_ms(start) // size_ms * size_ms
    window = _WINDOWS.get((begin, size_ms))
    if window is None:
        if len(_WINDOWS) > 10_000:  # bounded: usage clusters in few recent windows
            _WINDOWS.clear()
        window = _WINDOWS[(begin, size_ms)] = (from_ms(begin), from_ms(begin + size_ms))
    return window


_WINDOWS: dict[tuple[int, int], tuple[datetime, datetime]] = {}


_ZERO = Decimal(0)


_TARIFF_MEMO = 65_536
"""Most remembered ``(product, number prefix)`` → tariff answers per agreement version."""
_PRICE_MEMO = 65_536
"""Most remembered flat-rate prices per agreement version."""

_Price = tuple[Decimal, tuple[tuple[str, Decimal], ...], Decimal]
"""``(billed quantity, (band, billed base units) parts, amount)``."""


class _Version:
    """What rating needs of one agreement version, built once: parties, prefix index, longest
    prefix per product, band calendar and rounding quanta, and a memo of tariff lookups."""

    __slots__ = (
        "agreement",
        "calendar",
        "found",
        "index",
        "longest",
        "mode",
        "parties",
        "prices",
        "quantum",
        "stage",
    )

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.parties = frozenset(agreement.parties)
        self.index: dict[tuple[str, str], Tariff] = {
            (tariff.product, prefix): tariff
            for tariff in agreement.tariffs
            for prefix in tariff.prefixes
        }
        self.longest: dict[str, int] = {}
        for product, prefix in self.index:
            self.longest[product] = max(self.longest.get(product, 0), len(prefix))
        self.found: dict[tuple[str, str], Tariff] = {}
        ids = [tariff.id for tariff in agreement.tariffs]
        unique = len(set(ids)) == len(ids)  # the loader ensures it; a hand-built one may not
        self.prices: dict[tuple[str, str, Decimal], _Price] | None = {} if unique else None
        rounding = agreement.rounding
        self.mode = rounding.decimal_mode
        self.stage = rounding.stage
        extra = STATEMENT_EXTRA_DIGITS if rounding.stage == "statement" else 0
        self.quantum = rounding.quantum(extra)
        self.calendar = (
            BandCalendar(agreement.timezone, agreement.bands, agreement.holidays)
            if agreement.bands
            else None
        )

    def tariff(self, product: str, number: str) -> Tariff | None:
        """The tariff of ``product`` whose prefix is the longest match of ``number``, if any.

        Only the first ``longest[product]`` digits can decide, so a match is remembered by
        them: one dictionary probe for a destination seen before (the memo is bounded).
        """
        key = (product, number[: self.longest.get(product, 0)])
        tariff = self.found.get(key)
        if tariff is None:
            index, digits = self.index, key[1]
            for length in range(len(digits), -1, -1):  # longest first
                tariff = index.get((product, digits[:length]))
                if tariff is not None:
                    if len(self.found) >= _TARIFF_MEMO:
                        self.found.clear()
                    self.found[key] = tariff
                    break
        return tariff


class Rater:
    """Rates usage under an :class:`AgreementBook`, optionally gated by a product inventory.

    Tariff lookup walks the B number's own prefixes from longest to shortest (at most 16
    dictionary probes), so it costs the same for ten tariffs or a hundred thousand, and it
    remembers the answer for the digits that decided it (one probe for a known destination).
    Flat-rate prices are remembered too, by tariff, unit and quantity (:meth:`_price`). Both
    memos are bounded and only ever hold what the same arithmetic computed.
    """

    __slots__ = ("_versions", "book", "inventory")

    def __init__(self, book: AgreementBook | Agreement, inventory: ProductLookup | None = None):
        self.book = book if isinstance(book, AgreementBook) else AgreementBook([book])
        self.inventory = inventory
        self._versions = {v.version: _Version(v) for v in self.book.versions}

    def tariff_for(self, usage: UsageRecord, agreement: Agreement | None = None) -> Tariff:
        """The tariff pricing ``usage``; raises ``RatingError('no-tariff')`` if none matches."""
        agreement = agreement or self.book.in_force(usage.start)
        return self._tariff(usage, self._versions[agreement.version])

    @staticmethod
    def _tariff(usage: UsageRecord, terms: _Version) -> Tariff:
        tariff = terms.tariff(usage.product, usage.b_number or "")
        if tariff is not None:
            return tariff
        agreement = terms.agreement
        raise RatingError(
            "no-tariff",
            f"no tariff in agreement {agreement.id} v{agreement.version} prices "
            f"{usage.product} to {usage.b_number or '(no number)'}: add a tariff with a "
            f'matching prefix, or a catch-all prefix ""',
        )

    def rate(
        self, usage: UsageRecord, rated_at: datetime, version: str | None = None
    ) -> RatedUsage:
        """Price ``usage`` (under ``version`` if given, else the one in force at its start).

        Raises :class:`RatingError` when it cannot be priced here.
        """
        if usage.agreement_id != self.book.id:
            raise RatingError(
                "unknown-agreement",
                f"usage names agreement {usage.agreement_id!r}, this worker rates {self.book.id!r}",
            )
        agreement = self.book.version(version) if version else self.book.in_force(usage.start)
        terms = self._versions[agreement.version]
        if usage.partner not in terms.parties:
            raise RatingError(
                "unknown-partner",
                f"partner {usage.partner!r} is not a party of {agreement.id} {agreement.parties}",
            )
        if usage.product_id is not None and self.inventory is not None:
            self.inventory.check(usage.product_id, usage.start)
        tariff = self._tariff(usage, terms)
        billed, parts, amount = self._price(usage, tariff, terms)
        return self._record(usage, agreement, tariff, billed, parts, amount, rated_at)

    @classmethod
    def _price(cls, usage: UsageRecord, tariff: Tariff, terms: _Version) -> _Price:
        """Billed quantity, parts and amount of ``usage`` under ``tariff``.

        At a flat rate (no time bands) they depend on the tariff, the unit and the quantity's
        value only, so they are remembered by them: a call of a length seen before is priced
        by one dictionary probe. (Equal quantities written differently, ``61`` and ``61.0``,
        share an entry soundly: billed quantities are whole numbers and every step of the
        arithmetic is determined by its operands' values.)
        """
        prices = terms.prices
        flat = prices is not None and (terms.calendar is None or not tariff.banded)
        if flat:
            assert prices is not None
            key = (tariff.id, usage.unit, usage.quantity)
            known = prices.get(key)
            if known is not None:
                return known
        base = _CTX.multiply(usage.quantity, REPORTED_UNITS[usage.unit].size)
        billed = billed_quantity(base, tariff.first_increment, tariff.next_increment)
        parts = tuple(cls._parts(usage, tariff, terms, base, billed))
        price = (billed, parts, cls._amount(tariff, terms, billed, parts))
        if flat:
            assert prices is not None
            if len(prices) >= _PRICE_MEMO:
                prices.clear()
            prices[key] = price
        return price

    def parts(self, usage: UsageRecord) -> list[tuple[str, Decimal]]:
        """``(band, billed base units)`` of ``usage``, for audits and tests; sums to billed."""
        terms = self._versions[self.book.in_force(usage.start).version]
        tariff = self._tariff(usage, terms)
        base = _CTX.multiply(usage.quantity, REPORTED_UNITS[usage.unit].size)
        billed = billed_quantity(base, tariff.first_increment, tariff.next_increment)
        return self._parts(usage, tariff, terms, base, billed)

    @staticmethod
    def _record(
        usage: UsageRecord,
        agreement: Agreement,
        tariff: Tariff,
        billed: Decimal,
        parts: Sequence[tuple[str, Decimal]],
        amount: Decimal,
        rated_at: datetime,
    ) -> RatedUsage:
        window_start, window_end = window_of(usage.start, agreement.window_seconds)
        if len(parts) == 1:  # most records: one band, or none ("*")
            band = parts[0][0]
            rate_id = tariff.id if band == "*" else f"{tariff.id}@{band}"
        else:
            bands = list(dict.fromkeys(band for band, _ in parts))
            rate_id = tariff.id if bands == ["*"] else f"{tariff.id}@{'+'.join(bands)}"
        correlated = None
        if agreement.recon.correlation == "numbers":
            if not usage.a_number or not usage.b_number:
                raise RatingError(
                    "no-numbers",
                    f"agreement {agreement.id} correlates records by numbers, but this record "
                    "has no A or B number: mediation must report both",
                )
            try:
                correlated = correlation_key(usage.a_number, usage.b_number, to_ms(usage.start))
            except CorrelationError as exc:
                raise RatingError("no-numbers", str(exc)) from None
        return RatedUsage(
            source=usage.source,
            record_id=usage.record_id,
            agreement_id=agreement.id,
            agreement_version=agreement.version,
            rate_id=rate_id,
            product=usage.product,
            product_id=usage.product_id,
            start=usage.start,
            quantity=usage.quantity,
            unit=usage.unit,
            billed_quantity=billed,
            billed_unit=BASE_UNITS[usage.product],
            amount=amount,
            currency=agreement.currency_of(tariff),
            direction=usage.direction,
            window_start=window_start,
            window_end=window_end,
            rated_at=rated_at,
            correlation_key=correlated,
        )

    @staticmethod
    def _parts(
        usage: UsageRecord, tariff: Tariff, terms: _Version, base: Decimal, billed: Decimal
    ) -> list[tuple[str, Decimal]]:
        """``(band, billed base units)`` pairs summing to ``billed``."""
        calendar = terms.calendar
        if not tariff.banded or calendar is None:
            return [("*", billed)]
        if usage.product != "voice":
            return [(calendar.band_at(usage.start), billed)]
        parts = [(s.band_id, s.seconds) for s in calendar.split(usage.start, base)]
        last_band, last_seconds = parts[-1]
        parts[-1] = (last_band, _CTX.add(last_seconds, _CTX.subtract(billed, base)))
        return parts

    @staticmethod
    def _amount(
        tariff: Tariff, version: _Version, billed: Decimal, parts: Sequence[tuple[str, Decimal]]
    ) -> Decimal:
        mode, quantum, per = version.mode, version.quantum, tariff.per_size
        amount = _ZERO
        for band, quantity in parts:
            priced = _CTX.divide(_CTX.multiply(quantity, tariff.rate_in(band)), per)
            if version.stage == "segment":
                priced = priced.quantize(quantum, rounding=mode, context=_CTX)
            amount = _CTX.add(amount, priced)
        if billed > 0:
            amount = max(_CTX.add(amount, tariff.connect_fee), tariff.minimum_charge)
        return amount.quantize(quantum, rounding=mode, context=_CTX)
