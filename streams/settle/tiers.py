"""Volume tiers over a billing period: the period-level adjustment to per-record amounts.

Records are rated at their tariff's base rate, so a record's amount never depends on which
records came before it in the period (rating stays order-independent and replayable). At period
close the tariff's tiers price the period's total volume, and the difference to the base-rate
total is one adjustment line on the statement:

* ``graduated``: each step's rate applies to the part of the volume inside that step
  (first 1,000 min at 0.010, the next 9,000 at 0.008, the rest at 0.006);
* ``volume`` (all-units): the step the total volume falls in prices *all* of it
  (12,000 min → all at 0.006).

Volumes are in the tariff's ``per`` unit (minutes, messages, megabytes...).
"""

from __future__ import annotations

from decimal import Decimal

from streams.agreement.model import Tariff, Tiers

__all__ = ["tier_adjustment", "tiered_amount"]


def tiered_amount(tiers: Tiers, volume: Decimal) -> Decimal:
    """The unrounded price of ``volume`` under ``tiers`` (see the module docstring)."""
    if volume <= 0:
        return Decimal(0)
    if tiers.style == "volume":
        for step in tiers.steps:
            if step.up_to is None or volume <= step.up_to:
                return volume * step.rate
        raise AssertionError("the last tier step is unbounded (checked when loading)")
    total = Decimal(0)
    floor = Decimal(0)
    for step in tiers.steps:
        ceiling = volume if step.up_to is None else min(volume, step.up_to)
        if ceiling > floor:
            total += (ceiling - floor) * step.rate
        if step.up_to is None or volume <= step.up_to:
            break
        floor = step.up_to
    return total


def tier_adjustment(tariff: Tariff, volume: Decimal) -> Decimal:
    """Tiered price of the period's ``volume`` minus its price at the base rate (unrounded).

    Negative for volume discounts. Zero for a tariff without tiers.
    """
    if tariff.tiers is None:
        return Decimal(0)
    return tiered_amount(tariff.tiers, volume) - volume * tariff.rate_in("*")
