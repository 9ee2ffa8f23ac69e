"""The unit vocabulary of usage, in one place: products, the units each is reported and priced
in, their base units and exact factors, and the directions of traffic. Pure data.

Every other table of units is a view of :data:`UNITS` (validation's units per product, the
rater's and the Merkle leaf's conversion to base units, the agreement's ``per`` units), because
a unit added to one table only would let one party rate or hash what the other refuses, or
convert it differently: the two leaves would differ with nothing to say why.
``tests/unit/core/test_units.py`` checks that the views agree and cover each other.

========  ==========  ===================================  ==========  ===================
product   base unit   reported in (``UsageRecord.unit``)   size        tariff ``per``
========  ==========  ===================================  ==========  ===================
voice     second      second                               1, 60       second, minute
sms       message     message                              1           message
data      byte        byte, kilobyte, megabyte, gigabyte   1, 10^3..9  kilobyte .. gigabyte
========  ==========  ===================================  ==========  ===================

Sizes are exact integers in the product's base unit. Data units are decimal (SI), as MEF and
the GSMA BA.12/TAP guidelines use. Every unit usage may be reported in is a power of ten of its
base unit, so the leaf converts it by shifting the decimal exponent, never by rounding
(:mod:`streams.core.canonical`); ``minute`` is a tariff unit only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "BASE_UNITS",
    "DIRECTIONS",
    "PRODUCTS",
    "PRODUCT_UNITS",
    "REPORTED_UNITS",
    "TARIFF_UNITS",
    "UNITS",
    "Unit",
]

PRODUCTS: tuple[str, ...] = ("voice", "sms", "data")
"""The usage products, in the order messages list them."""

DIRECTIONS: tuple[str, ...] = ("outbound", "inbound")
"""Direction of traffic as seen by the reporting party: ``outbound``, we sent it to the
partner; ``inbound``, the partner sent it to us."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of measure of a product."""

    name: str
    product: str
    """The product it measures, one of :data:`PRODUCTS`."""
    size: int
    """How many of the product's base unit one of it is, exactly (``kilobyte``: 1000 bytes)."""
    reported: bool
    """Whether usage may be reported in it (``UsageRecord.unit``)."""
    priced: bool
    """Whether a tariff may be stated per it (``Tariff.per``)."""

    @property
    def base(self) -> str:
        """The product's base unit, the unit of ``billed_quantity`` and of the leaf."""
        return BASE_UNITS[self.product]

    @property
    def shift(self) -> int | None:
        """``n`` with ``size == 10**n``, by which the leaf shifts a quantity's decimal exponent
        to convert it to the base unit; ``None`` if ``size`` is not a power of ten."""
        digits = str(self.size)
        return len(digits) - 1 if digits.rstrip("0") == "1" else None


UNITS: Mapping[str, Unit] = MappingProxyType(
    {
        unit.name: unit
        for unit in (
            Unit("second", "voice", 1, reported=True, priced=True),
            Unit("minute", "voice", 60, reported=False, priced=True),
            Unit("message", "sms", 1, reported=True, priced=True),
            Unit("byte", "data", 1, reported=True, priced=False),
            Unit("kilobyte", "data", 10**3, reported=True, priced=True),
            Unit("megabyte", "data", 10**6, reported=True, priced=True),
            Unit("gigabyte", "data", 10**9, reported=True, priced=True),
        )
    }
)
"""Every unit by name: the one table the views below are made from."""

BASE_UNITS: Mapping[str, str] = MappingProxyType(
    {p: next(u.name for u in UNITS.values() if u.product == p and u.size == 1) for p in PRODUCTS}
)
"""Product → its base unit (size 1): what increments and ``billed_quantity`` count, and the
unit of the leaf's quantity."""

REPORTED_UNITS: Mapping[str, Unit] = MappingProxyType(
    {name: unit for name, unit in UNITS.items() if unit.reported}
)
"""The units usage may be reported in, by name."""

PRODUCT_UNITS: Mapping[str, frozenset[str]] = MappingProxyType(
    {p: frozenset(u.name for u in REPORTED_UNITS.values() if u.product == p) for p in PRODUCTS}
)
"""Product → the units its usage may be reported in."""

TARIFF_UNITS: Mapping[str, Unit] = MappingProxyType(
    {name: unit for name, unit in UNITS.items() if unit.priced}
)
"""The units a tariff's rate may be stated per, by name."""
