"""Validation of usage at the boundary: raw fields in, a :class:`UsageRecord` or every problem out.

One function serves every entry point (file connectors, the worker reading ``usage.cdr``), so a
record is judged by the same rules wherever it comes from. It reports *all* problems at once,
each as ``field 'x': got G, want W``, because a mediation engineer fixing a feed wants the full
list, not one error per round trip.

Two passes, one set of rules: :func:`parse_usage` first tries :func:`_accept`, a straight-line
check of the shape the worker sees on every message (a decoded Avro ``usage_record``: typed
values, ``start_ms`` an int) that returns the record when every rule holds and ``None`` at the
first doubt. Only then does the full pass, :func:`_judge`, run: it judges anything at all and
words every problem. ``_accept`` is never more lenient than ``_judge`` and builds the same
record (``tests/unit/rating/test_validation.py`` checks both on hostile fields). It remembers,
in bounded memos, the sources, agreements, partners and quantity texts it has seen pass: in a
stream they repeat, and a remembered text is the same text that passed the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.contract.records import UsageRecord
from streams.core.clock import from_ms, to_ms
from streams.core.errors import InvalidRecord
from streams.core.units import DIRECTIONS, PRODUCT_UNITS

__all__ = [
    "EARLIEST",
    "MAX_FRACTION_DIGITS",
    "MAX_FUTURE",
    "MAX_QUANTITY",
    "MAX_RAW_REF",
    "parse_usage",
]

_DIRECTIONS = frozenset(DIRECTIONS)

MAX_FUTURE = timedelta(minutes=5)
"""Usage starting further than this past ``now`` is a mediation clock fault, not real usage."""

EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
"""Usage starting before this is a mediation fault (a zeroed or wrapped clock)."""

MAX_QUANTITY: Mapping[str, Decimal] = {
    "second": Decimal(7 * 86_400),
    "message": Decimal(100_000),
    "byte": Decimal(10) ** 15,
    "kilobyte": Decimal(10) ** 12,
    "megabyte": Decimal(10) ** 9,
    "gigabyte": Decimal(10) ** 6,
}
"""The largest quantity one usage record may carry, per unit (each of
:data:`streams.core.units.REPORTED_UNITS`): a week of one call, 100,000 messages, a petabyte of
data. Switches split longer sessions into partial records; anything above is a mediation
fault, never revenue."""

MAX_FRACTION_DIGITS = 6
"""A quantity has at most this many digits after the point (microseconds, bytes/1e6 of a GB)."""

MAX_RAW_REF = 512
"""Longest mediation reference (``raw_ref``) carried on a record, in characters."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")
_E164 = re.compile(r"[0-9]{1,15}")
_QUANTITY = re.compile(rf"[0-9]{{1,16}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_MS_RANGE = (0, to_ms(datetime(9999, 1, 1, tzinfo=UTC)))
_EARLIEST_MS = to_ms(EARLIEST)
_PRODUCTS = frozenset(PRODUCT_UNITS)
_CALLED = ("voice", "sms")
"""Products whose usage must name the called number (``b_number``)."""


def _text(
    fields: Mapping[str, Any], name: str, problems: list[str], pattern: re.Pattern[str]
) -> str:
    value = fields.get(name)
    # fullmatch, not match: 'r1' and 'r1\n' must never be two keys of one call.
    if not isinstance(value, str) or not pattern.fullmatch(value):
        problems.append(f"field {name!r}: got {_show(value)}, want {_describe(pattern)}")
        return ""
    return value


def _show(value: Any, limit: int = 80) -> str:
    """``repr`` of a raw value, cut so a hostile one cannot bloat a dead letter."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for str() (Python's 4,300-digit limit)
        return f"<a number of {value.bit_length():,} bits>"
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


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
    if not isinstance(value, str) or value not in allowed:
        problems.append(f"field {name!r}: got {_show(value)}, want one of {sorted(allowed)}")
        return ""
    return str(value)


def _start(fields: Mapping[str, Any], now: datetime, problems: list[str]) -> datetime | None:
    value = fields.get("start", fields.get("start_ms"))
    start: datetime | None = None
    if isinstance(value, datetime):
        start = value
    elif isinstance(value, int) and not isinstance(value, bool):
        # Bounded before conversion: 2**62 ms is past year 9999 and would overflow datetime.
        if not _MS_RANGE[0] <= value < _MS_RANGE[1]:
            problems.append(
                f"field 'start_ms': got {_show(value)}, want epoch ms >= "
                f"{EARLIEST.isoformat()} and <= now + {MAX_FUTURE}"
            )
            return None
        start = from_ms(value)
    elif isinstance(value, str):
        try:
            start = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"field 'start': got {_show(value)}, want an ISO-8601 time with offset")
            return None
    else:
        problems.append(f"field 'start': got {_show(value)}, want an ISO-8601 time or epoch ms")
        return None
    if start.tzinfo is None or start.utcoffset() is None:
        problems.append(
            f"field 'start': got {_show(value)} without offset, want e.g. '...Z' or '+01:00'"
        )
        return None
    if start < EARLIEST:
        problems.append(f"field 'start': got {start.isoformat()}, want >= {EARLIEST.isoformat()}")
    elif start > now + MAX_FUTURE:
        problems.append(
            f"field 'start': got {start.isoformat()}, want <= now + {MAX_FUTURE} "
            f"({(now + MAX_FUTURE).isoformat()}): mediation clock ahead?"
        )
    return start


def _quantity(fields: Mapping[str, Any], product: str, unit: Any, problems: list[str]) -> Decimal:
    """The quantity as an exact decimal written in ASCII digits, bounded per unit.

    Only ``digits[.digits]`` is read: ``Decimal`` alone would also take ``6_0``, Arabic-Indic
    digits, exponents (``1E+40``) and thousands of digits, each a way to bill what nobody
    measured.
    """
    value = fields.get("quantity")
    text = None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**17:
        text = str(value)  # bounded first: str() of a huge int raises past 4,300 digits
    if text is not None and text.startswith("-") and _QUANTITY.fullmatch(text[1:]):
        problems.append(f"field 'quantity': got {_show(value)}, want >= 0")
        return Decimal(0)
    if text is None or not _QUANTITY.fullmatch(text):
        problems.append(
            f"field 'quantity': got {_show(value)}, want a decimal number >= 0 in digits 0-9 "
            f"(at most 16 before the point and {MAX_FRACTION_DIGITS} after)"
        )
        return Decimal(0)
    quantity = Decimal(text)
    limit = MAX_QUANTITY.get(unit) if isinstance(unit, str) else None
    if limit is not None and quantity > limit:
        problems.append(f"field 'quantity': got {text} {unit}, want <= {limit} per record")
    if product == "sms" and quantity != quantity.to_integral_value():
        problems.append(f"field 'quantity': got {_show(value)}, want a whole number of messages")
    return quantity


def _raw_ref(fields: Mapping[str, Any], problems: list[str]) -> str | None:
    value = fields.get("raw_ref")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_RAW_REF or not _PRINTABLE.fullmatch(value):
        problems.append(
            f"field 'raw_ref': got {_show(value)}, want at most {MAX_RAW_REF} printable "
            "ASCII characters"
        )
        return None
    return value


def parse_usage(fields: Mapping[str, Any], *, now: datetime) -> UsageRecord:
    """Build a :class:`UsageRecord` from raw ``fields`` or raise :class:`InvalidRecord`.

    ``fields`` may hold strings (a CSV row) or typed values (a decoded Avro record: ``start_ms``
    as int or datetime). ``now`` is the injected current time, used to reject usage from the
    future. Raises ``InvalidRecord(code="invalid-usage")`` listing every problem found.
    """
    return _accept(fields, now) or _judge(fields, now)


def _judge(fields: Mapping[str, Any], now: datetime) -> UsageRecord:
    """The full pass: the record, or ``InvalidRecord`` naming every problem of ``fields``."""
    problems: list[str] = []
    source = _text(fields, "source", problems, _ID)
    record_id = _text(fields, "record_id", problems, _ID)
    agreement_id = _text(fields, "agreement_id", problems, _ID)
    partner = _text(fields, "partner", problems, _ID)
    product = _choice(fields, "product", _PRODUCTS, problems)
    unit = fields.get("unit")
    if product and unit not in PRODUCT_UNITS[product]:
        want = sorted(PRODUCT_UNITS[product])
        problems.append(f"field 'unit': got {_show(unit)}, want one of {want} for {product}")
    direction = _choice(fields, "direction", _DIRECTIONS, problems)
    start = _start(fields, now, problems)
    quantity = _quantity(fields, product, unit, problems)
    a_number = _optional(fields, "a_number", problems, _E164)
    b_number = _optional(fields, "b_number", problems, _E164)
    if product in _CALLED and fields.get("b_number") in (None, ""):
        problems.append(f"field 'b_number': got None, want the called number for {product}")
    product_id = _optional(fields, "product_id", problems, _ID)
    raw_ref = _raw_ref(fields, problems)
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
        raw_ref=raw_ref,
    )


def _accept(fields: Mapping[str, Any], now: datetime) -> UsageRecord | None:
    """The record :func:`parse_usage` builds from ``fields``, if they are typed as decoded Avro
    gives them and pass every rule; ``None`` at the first value that is not (the full pass then
    decides, and says why). Each test is the full pass's rule for the same field, restricted to
    exact ``str`` and ``int`` values."""
    get = fields.get
    source, record_id = get("source"), get("record_id")
    agreement_id, partner = get("agreement_id"), get("partner")
    product, unit, direction = get("product"), get("unit"), get("direction")
    if not (
        type(source) is str
        and type(record_id) is str
        and type(agreement_id) is str
        and type(partner) is str
        and _ID.fullmatch(record_id)
        and _known(_GOOD_IDS, source, agreement_id, partner)
        and type(product) is str
        and product in _PRODUCTS
        and type(unit) is str
        and unit in PRODUCT_UNITS[product]
        and type(direction) is str
        and direction in _DIRECTIONS
    ):
        return None
    start_ms = get("start_ms")
    if (
        "start" in fields
        or type(start_ms) is not int
        or not _EARLIEST_MS <= start_ms < _MS_RANGE[1]
    ):
        return None
    start = from_ms(start_ms)  # UTC, so start.astimezone(UTC) is start itself
    if start > now + MAX_FUTURE:
        return None
    text = get("quantity")
    quantity = _QUANTITIES.get(text) if type(text) is str else None
    if quantity is None:
        if type(text) is not str or not _QUANTITY.fullmatch(text):
            return None
        quantity = _remember(_QUANTITIES, text, Decimal(text))
    limit = MAX_QUANTITY.get(unit)
    if (limit is not None and quantity > limit) or (
        product == "sms" and quantity != quantity.to_integral_value()
    ):
        return None
    a_number, b_number, product_id = get("a_number"), get("b_number"), get("product_id")
    if a_number is not None:
        a_number = _accepted(a_number, _E164)
    if b_number is not None:
        b_number = _accepted(b_number, _E164)
    if product_id is not None:
        product_id = _accepted(product_id, _ID)
    if (
        a_number is _REFUSED
        or b_number is _REFUSED
        or product_id is _REFUSED
        or (b_number is None and product in _CALLED)
    ):
        return None
    raw_ref = get("raw_ref")
    if raw_ref is not None:
        if type(raw_ref) is not str or len(raw_ref) > MAX_RAW_REF:
            return None
        if not _PRINTABLE.fullmatch(raw_ref):
            return None
        raw_ref = raw_ref or None  # "" is no reference, as in the full pass
    # Positional, in field order: _judge builds the same record by keyword (tests compare them).
    return UsageRecord(
        source, record_id, agreement_id, partner, product, start, quantity, unit, direction,
        product_id, a_number, b_number, raw_ref,
    )  # fmt: skip


_REFUSED: Any = object()
"""What :func:`_accepted` gives for a value the full pass must judge."""

_MEMO = 4096
_GOOD_IDS: dict[str, bool] = {}
"""Recent identifiers known to match ``_ID``: sources, agreements and partners repeat."""
_QUANTITIES: dict[str, Decimal] = {}
"""Recent quantity texts known to match ``_QUANTITY``, with their value: call lengths repeat."""


def _known(memo: dict[str, bool], *texts: str) -> bool:
    """Whether every one of ``texts`` matches ``_ID``, remembering those that do."""
    for text in texts:
        if text not in memo:
            if not _ID.fullmatch(text):
                return False
            _remember(memo, text, True)
    return True


def _remember(memo: dict[str, Any], key: str, value: Any) -> Any:
    if len(memo) >= _MEMO:  # bounded, whatever the stream holds
        memo.clear()
    memo[key] = value
    return value


def _accepted(value: Any, pattern: re.Pattern[str]) -> Any:
    """An optional text field as :func:`_optional` reads it when valid, else :data:`_REFUSED`."""
    if value is None:
        return None
    if type(value) is not str:
        return _REFUSED
    if value == "":
        return None
    return value if pattern.fullmatch(value) else _REFUSED
