"""Recurring and non-recurring charges of the product inventory for one billing period.

Contract of :func:`period_charges`:

* billing periods are calendar periods in the agreement's time zone (a month runs from local
  midnight of the 1st to local midnight of the next 1st), so both partners cut them alike;
* a recurring price (agreement offering, or an accepted Sonata charge item with
  ``priceType: recurring``) is prorated by real elapsed time: price x (seconds the product
  was active in the period) / (seconds of one ``recurringChargePeriod``), where a ``month`` or
  ``year`` is the local calendar month or year containing the period and ``week``, ``day``,
  ``hour`` are 604,800 / 86,400 / 3,600 s;
* a non-recurring price (agreement offering, or an accepted ``nonRecurring`` charge item) is
  charged once, in the period containing the product's activation;
* accepted Sonata charge items add to the agreement's prices (MEF 123 Charges are additional
  charges the Buyer accepted during the order); declined, withdrawn or unanswered ones never
  appear here (the inventory drops them);
* every amount is rounded to the agreement's scale with its rounding mode.

What cannot be billed as the agreement says is never dropped silently: :func:`period_statement`
returns it as :class:`Finding` values beside the lines (errors as data, for the CLI to show):

* ``unpriced-offering``: a product active in the period whose order item names an offering the
  agreement version does not price (not listed, or listed without a price), or no offering at
  all. It is billed only through its accepted Sonata charge items, which is seldom what the
  Seller meant: the agreement needs the offering, or the order the right offering id;
* ``foreign-currency``: an accepted Sonata charge item priced in a currency other than the
  agreement's. Its line is billed in its own currency: it is in :attr:`PeriodStatement.charges`
  and in that currency's total, never converted nor added to the agreement currency's amounts
  (the agreement names no exchange rate). A statement is one bill per currency
  (:mod:`streams.settle.statement`), so such a line makes, or joins, the bill in its currency;
  the finding says so, because a second bill is not what an agreement in one currency leads
  the Buyer to expect.

An offering named in the agreement's ``settlement.usage_offerings`` is priced by usage, so a
product of it with no recurring or one-off price is not ``unpriced-offering``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from streams.agreement.model import Agreement
from streams.rating.inventory import ChargeItem, Inventory, Product

__all__ = [
    "FOREIGN_CURRENCY",
    "UNPRICED_OFFERING",
    "Charge",
    "Finding",
    "PeriodStatement",
    "billing_period",
    "period_charges",
    "period_statement",
    "unpriced_offering",
]

UNPRICED_OFFERING = "unpriced-offering"
"""Finding code: an active product's offering has no price in the agreement version."""
FOREIGN_CURRENCY = "foreign-currency"
"""Finding code: a charge item in a currency other than the agreement's (billed in its own)."""

_FIXED_UNITS = {"hour": 3_600, "day": 86_400, "week": 604_800}


@dataclass(frozen=True, slots=True)
class Charge:
    """One statement line for a product."""

    product_id: str
    kind: str
    """``recurring`` | ``nonRecurring``."""
    source: str
    """``agreement:<offering>`` or ``sonata:<charge id>/<charge item id>``."""
    period_start: datetime
    period_end: datetime
    amount: Decimal
    currency: str
    detail: str
    """How the amount was computed, for the people who check statements."""

    def to_json(self) -> dict[str, str]:
        """JSON-ready, the amount as an exact decimal string (never a float)."""
        return {
            "product_id": self.product_id,
            "kind": self.kind,
            "source": self.source,
            "amount": str(self.amount),
            "currency": self.currency,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """Something in the period that is not billed as the agreement says, for a person to act on."""

    code: str
    """:data:`UNPRICED_OFFERING` or :data:`FOREIGN_CURRENCY` here; statements add their own
    (:mod:`streams.settle.statement`)."""
    product_id: str
    """The product concerned; ``""`` when none is (a window of usage)."""
    source: str
    """``offering:<id>`` (``offering:`` when the item names none), the line's
    ``sonata:<charge id>/<charge item id>``, or what a statement finding is about."""
    message: str
    """One sentence: what is wrong, its effect on the bill, what to do."""
    amount: Decimal | None = None
    """The amount concerned (``foreign-currency``: the line's); ``None`` when none is."""
    currency: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "product_id": self.product_id,
            "source": self.source,
            "message": self.message,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class PeriodStatement:
    """The charges of one billing period under one agreement version, with its findings."""

    agreement: Agreement
    """The version the period is priced under."""
    period_start: datetime
    period_end: datetime
    """Exclusive, as UTC instants (:func:`billing_period`)."""
    charges: tuple[Charge, ...]
    """Billed lines, each in its price's currency (usually the agreement's)."""
    findings: tuple[Finding, ...]

    @property
    def totals(self) -> dict[str, Decimal]:
        """Billed amount per currency, sorted by currency, each on its own; the agreement's
        currency always present (zero when nothing is billed in it)."""
        zero = Decimal(0).quantize(self.agreement.rounding.quantum())
        return _totals(self.charges, (self.agreement.currency, zero))

    def in_currency(self, currency: str) -> tuple[Charge, ...]:
        """The billed lines in ``currency``, in statement order."""
        return tuple(c for c in self.charges if c.currency == currency)

    def to_json(self) -> dict[str, Any]:
        """The statement as JSON-ready values: ISO times with the zone's offset, decimal
        strings for money, totals per currency (``bilat charges --json``)."""
        zone = self.agreement.timezone
        return {
            "agreement": self.agreement.id,
            "version": self.agreement.version,
            "currency": self.agreement.currency,
            "time_zone": zone.key,
            "period_start": self.period_start.astimezone(zone).isoformat(),
            "period_end": self.period_end.astimezone(zone).isoformat(),
            "charges": [c.to_json() for c in self.charges],
            "findings": [f.to_json() for f in self.findings],
            "totals": _text(self.totals),
        }


def _totals(
    lines: tuple[Charge, ...], start: tuple[str, Decimal] | None = None
) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = dict([start]) if start else {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, Decimal(0)) + line.amount
    return dict(sorted(sums.items()))


def _text(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in amounts.items()}


def unpriced_offering(agreement: Agreement, offering_id: str | None) -> str | None:
    """Why ``agreement`` does not price an order item for ``offering_id``; ``None`` if it does.

    Priced means the offering is listed with a recurring or a one-off price, or is the usage
    offering of a product (``settlement.usage_offerings``: usage prices it).
    """
    where = f"agreement {agreement.id} v{agreement.version}"
    if not offering_id:
        return f"its order item names no product offering, so {where} prices nothing for it"
    offering = agreement.offering(offering_id)
    if offering is None:
        return f"offering {offering_id!r} is not in {where}"
    if offering_id in agreement.settle.usage_offerings.values():
        return None
    if offering.recurring_price is None and offering.non_recurring_price is None:
        return f"offering {offering_id!r} has neither a recurring nor a one-off price in {where}"
    return None


def billing_period(agreement: Agreement, at: datetime) -> tuple[datetime, datetime]:
    """The ``[start, end)`` billing period containing ``at``, as UTC instants."""
    local = at.astimezone(agreement.timezone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if agreement.billing_period == "day":
        start, end = day, day + timedelta(days=1)
    elif agreement.billing_period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    # Wall-clock arithmetic above, then each boundary re-resolved in the zone (DST-safe).
    return _utc(start, agreement), _utc(end, agreement)


def _utc(local: datetime, agreement: Agreement) -> datetime:
    return local.replace(tzinfo=None).replace(tzinfo=agreement.timezone).astimezone(UTC)


def _unit_seconds(unit: str, agreement: Agreement, at: datetime) -> Decimal:
    if unit in _FIXED_UNITS:
        return Decimal(_FIXED_UNITS[unit])
    local = at.astimezone(agreement.timezone).replace(tzinfo=None)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "year":
        first = first.replace(month=1)
        after = first.replace(year=first.year + 1)
    else:
        after = (first + timedelta(days=32)).replace(day=1)
    span = after.replace(tzinfo=agreement.timezone) - first.replace(tzinfo=agreement.timezone)
    return Decimal(int(span.total_seconds()))


def _overlap(product: Product, start: datetime, end: datetime) -> int:
    if product.active_from is None:
        return 0
    begin = max(start, product.active_from)
    finish = min(end, product.active_until or end)
    return max(0, int((finish - begin).total_seconds()))


def period_charges(inventory: Inventory, agreement: Agreement, at: datetime) -> list[Charge]:
    """The billed lines of :func:`period_statement` (findings left out)."""
    return list(period_statement(inventory, agreement, at).charges)


def period_statement(inventory: Inventory, agreement: Agreement, at: datetime) -> PeriodStatement:
    """Every recurring and non-recurring charge of the billing period containing ``at``, and
    every finding (see the module docstring).

    Deterministic: products in id order, lines and findings in a fixed order per product.
    """
    start, end = billing_period(agreement, at)
    rounding = agreement.rounding
    lines: list[Charge] = []
    findings: list[Finding] = []
    for product_id in inventory.product_ids():
        product = inventory.product(product_id)
        if product is None or product.active_from is None:
            continue
        seconds = _overlap(product, start, end)
        activated_here = start <= product.active_from < end
        if seconds == 0 and not activated_here:
            continue  # not active in this period: nothing to bill, nothing to report
        offering_id = product.offering_at(max(start, product.active_from))
        offering = agreement.offering(offering_id or "")
        prices: list[tuple[str, str, Decimal, str | None, str]] = []
        if offering is not None and offering.recurring_price is not None:
            prices.append(("recurring", f"agreement:{offering.id}", offering.recurring_price,
                           offering.recurring_period, agreement.currency))  # fmt: skip
        if offering is not None and offering.non_recurring_price is not None:
            prices.append(("nonRecurring", f"agreement:{offering.id}",
                           offering.non_recurring_price, None, agreement.currency))  # fmt: skip
        prices.extend(_sonata(item) for item in product.charges if item.price_type != "usageBased")
        product_lines: list[Charge] = []
        for kind, source, price, unit, currency in prices:
            with localcontext() as ctx:
                ctx.prec = 34
                if kind == "nonRecurring":
                    if not activated_here:
                        continue
                    amount, detail = price, f"{price} {currency} once, on activation"
                else:
                    if seconds == 0:
                        continue
                    unit_seconds = _unit_seconds(unit or "month", agreement, start)
                    amount = price * seconds / unit_seconds
                    detail = f"{price} {currency}/{unit} x {seconds} s / {unit_seconds} s"
                amount = amount.quantize(rounding.quantum(), rounding=rounding.decimal_mode)
            product_lines.append(
                Charge(product_id, kind, source, start, end, amount, currency, detail)
            )
            if currency == agreement.currency:
                continue
            findings.append(
                Finding(
                    FOREIGN_CURRENCY,
                    product_id,
                    source,
                    f"product {product_id}: {source} is priced in {currency}, the agreement in "
                    f"{agreement.currency}: {amount} {currency} is billed on the {currency} "
                    f"statement, never converted nor added to {agreement.currency} amounts "
                    "(the agreement names no exchange rate)",
                    amount,
                    currency,
                )
            )
        why = unpriced_offering(agreement, offering_id)
        if why is not None:
            sonata = len(product_lines)
            findings.append(
                Finding(
                    UNPRICED_OFFERING,
                    product_id,
                    f"offering:{offering_id or ''}",
                    f"product {product_id}: {why}; billed only through its accepted Sonata "
                    f"charge items ({sonata} line{'s' if sonata != 1 else ''} here); add the "
                    "offering to the agreement or correct the order",
                )
            )
        lines.extend(product_lines)
    return PeriodStatement(agreement, start, end, tuple(lines), tuple(findings))


def _sonata(item: ChargeItem) -> tuple[str, str, Decimal, str | None, str]:
    kind = "recurring" if item.price_type == "recurring" else "nonRecurring"
    source = f"sonata:{item.charge_id}/{item.charge_item_id}"
    return kind, source, item.amount, item.recurring_charge_period, item.currency
