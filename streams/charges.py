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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from streams.agreement import Agreement
from streams.inventory import ChargeItem, Inventory, Product

__all__ = ["Charge", "billing_period", "period_charges"]

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
    """Every recurring and non-recurring charge of the billing period containing ``at``.

    Deterministic: products in id order, lines in a fixed order per product.
    """
    start, end = billing_period(agreement, at)
    rounding = agreement.rounding
    lines: list[Charge] = []
    for product_id in inventory.product_ids():
        product = inventory.product(product_id)
        if product is None or product.active_from is None:
            continue
        seconds = _overlap(product, start, end)
        offering = agreement.offering(product.offering_at(max(start, product.active_from)) or "")
        activated_here = start <= product.active_from < end
        prices: list[tuple[str, str, Decimal, str | None, str]] = []
        if offering is not None and offering.recurring_price is not None:
            prices.append(("recurring", f"agreement:{offering.id}", offering.recurring_price,
                           offering.recurring_period, agreement.currency))  # fmt: skip
        if offering is not None and offering.non_recurring_price is not None:
            prices.append(("nonRecurring", f"agreement:{offering.id}",
                           offering.non_recurring_price, None, agreement.currency))  # fmt: skip
        prices.extend(_sonata(item) for item in product.charges if item.price_type != "usageBased")
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
            lines.append(Charge(product_id, kind, source, start, end, amount, currency, detail))
    return lines


def _sonata(item: ChargeItem) -> tuple[str, str, Decimal, str | None, str]:
    kind = "recurring" if item.price_type == "recurring" else "nonRecurring"
    source = f"sonata:{item.charge_id}/{item.charge_item_id}"
    return kind, source, item.amount, item.recurring_charge_period, item.currency
