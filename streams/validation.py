"""Validation of usage at the boundary: raw fields in, a :class:`UsageRecord` or every problem out.

One function serves every entry point (file connectors, the worker reading ``usage.cdr``), so a
record is judged by the same rules wherever it comes from. It reports *all* problems at once,
each as ``field 'x': got G, want W``, because a mediation engineer fixing a feed wants the full
list, not one error per round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from streams.clock import from_ms
from streams.errors import InvalidRecord
from streams.records import UsageRecord

__all__ = ["MAX_FUTURE", "PRODUCT_UNITS", "parse_usage"]

PRODUCT_UNITS: Mapping[str, frozenset[str]] = {
    "voice": frozenset({"second"}),
    "sms": frozenset({"message"}),
    "data": frozenset({"byte", "kilobyte", "megabyte", "gigabyte"}),
}
"""Which units each product may be reported in."""

DIRECTIONS = frozenset({"outbound", "inbound"})

MAX_FUTURE = timedelta(minutes=5)
"""Usage starting further than this past ``now`` is a mediation clock fault, not real usage."""

_EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$")
_E164 = re.compile(r"^[0-9]{1,15}$")


def _text(
    fields: Mapping[str, Any], name: str, problems: list[str], pattern: re.Pattern[str]
) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        problems.append(f"field {name!r}: got {value!r}, want {_describe(pattern)}")
        return ""
    return value


def _describe(pattern: re.Pattern[str]) -> str:
    if pattern is _E164:
        return "1 to 15 digits (E.164 without '+')"
    return "1 to 128 characters of [A-Za-z0-9._:@/+-], starting with a letter or digit"


def _optional(
    fields: Mapping[str, Any], name: str, problems: list[str], pattern: re.Pattern[str]
) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    return _text(fields, name, problems, pattern)


def _choice(
    fields: Mapping[str, Any], name: str, allowed: frozenset[str], problems: list[str]
) -> str:
    value = fields.get(name)
    if value not in allowed:
        problems.append(f"field {name!r}: got {value!r}, want one of {sorted(allowed)}")
        return ""
    return str(value)


def _start(fields: Mapping[str, Any], now: datetime, problems: list[str]) -> datetime | None:
    value = fields.get("start", fields.get("start_ms"))
    start: datetime | None = None
    if isinstance(value, datetime):
        start = value
    elif isinstance(value, int) and not isinstance(value, bool):
        start = from_ms(value)
    elif isinstance(value, str):
        try:
            start = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"field 'start': got {value!r}, want an ISO-8601 time with offset")
            return None
    else:
        problems.append(f"field 'start': got {value!r}, want an ISO-8601 time or epoch ms")
        return None
    if start.tzinfo is None or start.utcoffset() is None:
        problems.append(
            f"field 'start': got {value!r} without offset, want e.g. '...Z' or '+01:00'"
        )
        return None
    if start < _EARLIEST:
        problems.append(f"field 'start': got {start.isoformat()}, want >= {_EARLIEST.isoformat()}")
    elif start > now + MAX_FUTURE:
        problems.append(
            f"field 'start': got {start.isoformat()}, want <= now + {MAX_FUTURE} "
            f"({(now + MAX_FUTURE).isoformat()}): mediation clock ahead?"
        )
    return start


def _quantity(fields: Mapping[str, Any], product: str, problems: list[str]) -> Decimal:
    value = fields.get("quantity")
    try:
        quantity = Decimal(str(value).strip()) if isinstance(value, str | int) else None
    except InvalidOperation:
        quantity = None
    if quantity is None or not quantity.is_finite():
        problems.append(f"field 'quantity': got {value!r}, want a decimal number >= 0")
        return Decimal(0)
    if quantity < 0:
        problems.append(f"field 'quantity': got {value!r}, want >= 0")
    if product == "sms" and quantity != quantity.to_integral_value():
        problems.append(f"field 'quantity': got {value!r}, want a whole number of messages")
    return quantity


def parse_usage(fields: Mapping[str, Any], *, now: datetime) -> UsageRecord:
    """Build a :class:`UsageRecord` from raw ``fields`` or raise :class:`InvalidRecord`.

    ``fields`` may hold strings (a CSV row) or typed values (a decoded Avro record: ``start_ms``
    as int or datetime). ``now`` is the injected current time, used to reject usage from the
    future. Raises ``InvalidRecord(code="invalid-usage")`` listing every problem found.
    """
    problems: list[str] = []
    source = _text(fields, "source", problems, _ID)
    record_id = _text(fields, "record_id", problems, _ID)
    agreement_id = _text(fields, "agreement_id", problems, _ID)
    partner = _text(fields, "partner", problems, _ID)
    product = _choice(fields, "product", frozenset(PRODUCT_UNITS), problems)
    unit = fields.get("unit")
    if product and unit not in PRODUCT_UNITS[product]:
        want = sorted(PRODUCT_UNITS[product])
        problems.append(f"field 'unit': got {unit!r}, want one of {want} for {product}")
    direction = _choice(fields, "direction", DIRECTIONS, problems)
    start = _start(fields, now, problems)
    quantity = _quantity(fields, product, problems)
    a_number = _optional(fields, "a_number", problems, _E164)
    b_number = _optional(fields, "b_number", problems, _E164)
    if product in ("voice", "sms") and fields.get("b_number") in (None, ""):
        problems.append(f"field 'b_number': got None, want the called number for {product}")
    product_id = _optional(fields, "product_id", problems, _ID)
    raw_ref = fields.get("raw_ref") or None
    if problems or start is None:
        raise InvalidRecord("invalid-usage", problems)
    return UsageRecord(
        source=source,
        record_id=record_id,
        agreement_id=agreement_id,
        partner=partner,
        product=product,
        start=start.astimezone(UTC),
        quantity=quantity,
        unit=str(unit),
        direction=direction,
        product_id=product_id,
        a_number=a_number,
        b_number=b_number,
        raw_ref=str(raw_ref) if raw_ref is not None else None,
    )
