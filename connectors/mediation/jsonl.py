"""JSON Lines usage: one UsageRecord-shaped JSON object per line.

Keys are the generic CSV's columns (see :mod:`connectors.mediation.generic_csv`)::

    {"source": "ix", "record_id": "1", "agreement_id": "hgc-dcc-2026", "partner": "dcc",
     "product": "voice", "product_id": null, "a_number": "4969", "b_number": "4930",
     "start": "2026-11-24T10:00:00Z", "quantity": "61", "unit": "second",
     "direction": "outbound"}

(one line in the file). Rules:

* text fields are JSON strings: ``source, record_id, agreement_id, partner, product, unit,
  direction`` required; ``product_id, a_number, b_number`` optional (absent, ``null`` or ``""``);
* ``start``: an ISO-8601 string with offset (or an epoch-ms digit string), or ``start_ms``: an
  integer of epoch ms; if both are given they must agree;
* ``quantity``: a decimal string or a JSON number. Numbers are parsed as ``Decimal``, never as
  float, and emitted as a plain decimal string (``1.5E+3`` becomes ``"1500"``), so a number
  has at most :data:`MAX_DIGITS` digits and an exponent of at most :data:`MAX_DIGITS` either
  way (``1e999999999`` would be a string of a billion digits); ``NaN`` and ``Infinity`` are
  not JSON and make the line malformed;
* ``source, agreement_id, partner, direction`` absent or ``null`` in a record take the value of
  the option when the operator gave one;
* a key given twice in one object (at any depth) makes the line malformed: JSON parsers
  disagree on which value wins, and the two parties must read the same record;
* other keys are ignored; blank lines are skipped; line numbers are 1-based.

Only structure is checked here; what the values mean is the worker's validation.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from connectors.mediation._common import ECHO_CHARS, malformed, read_lines, shown, unencodable
from connectors.mediation.base import FormatOptions, Line
from connectors.mediation.generic_csv import COLUMNS, parse_start

__all__ = ["MAX_DIGITS", "JsonLines"]

_REQUIRED_TEXT = ("source", "record_id", "agreement_id", "partner", "product", "unit", "direction")
_OPTIONAL_TEXT = ("product_id", "a_number", "b_number")
MAX_DIGITS = 64
"""A JSON number for ``quantity`` has at most this many digits and exponent."""
_LONG = range(-(2**63), 2**63)
"""What Avro's ``long`` (``start_ms``) holds."""


class _DuplicateKey(ValueError):
    """A JSON object names a key twice."""

    def __init__(self, key: str, times: int) -> None:
        self.key = key
        super().__init__(f"key {shown(key)} appears {times} times in one object, want it once")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: the object, or :class:`_DuplicateKey` for its first repeated key."""
    record = dict(pairs)
    if len(record) < len(pairs):
        counts = Counter(key for key, _ in pairs)
        key = next(key for key, _ in pairs if counts[key] > 1)
        raise _DuplicateKey(key, counts[key])
    return record


class JsonLines:
    """Reads the JSON Lines usage format described in this module's docstring."""

    name = "jsonl"

    def __init__(self, options: FormatOptions) -> None:
        self._defaults = options.record_defaults()

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]:
        return read_lines(stream, lambda number, raw, text: self._line(number, raw, text, origin))

    def _line(self, number: int, raw: str, text: str, origin: str) -> Line:
        try:
            record = json.loads(
                text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object
            )
        except _DuplicateKey as exc:
            return malformed(number, raw, [str(exc)])
        except (ValueError, RecursionError) as exc:
            return malformed(number, raw, [f"not JSON: {exc}"])  # messages without the text
        if not isinstance(record, dict):
            return malformed(number, raw, [f"got {_show(record)}, want a JSON object"])
        given = {key: value for key, value in record.items() if value is not None}
        problems: list[str] = []
        fields = _fields({**self._defaults, **given}, problems)
        problems += unencodable(fields)
        if problems:
            return malformed(number, raw, problems)
        fields["raw_ref"] = f"{origin}:{number}"
        return Line(number, raw, fields)


def _fields(record: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in COLUMNS:
        value = record.get(name)
        if name in _REQUIRED_TEXT and not (isinstance(value, str) and value):
            problems.append(f"field {name!r}: got {_show(value)}, want a non-empty string")
        elif name in _OPTIONAL_TEXT and not (value is None or isinstance(value, str)):
            problems.append(f"field {name!r}: got {_show(value)}, want a string or null")
        elif name not in ("start", "quantity"):
            fields[name] = value or None
    fields["quantity"] = _quantity(record.get("quantity"), problems)
    fields["start_ms"] = _start_ms(record, problems)
    return fields


def _quantity(value: Any, problems: list[str]) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
        exponent = number.as_tuple().exponent
        digits = len(number.as_tuple().digits)
        if isinstance(exponent, int) and abs(exponent) <= MAX_DIGITS and digits <= MAX_DIGITS:
            return format(number, "f")
        problems.append(
            f"field 'quantity': got {_show(value)}, want at most {MAX_DIGITS} digits "
            f"and an exponent within ±{MAX_DIGITS}"
        )
        return ""
    problems.append(f"field 'quantity': got {_show(value)}, want a decimal string or number")
    return ""


def _start_ms(record: Mapping[str, Any], problems: list[str]) -> int:
    start, start_ms = record.get("start"), record.get("start_ms")
    if start_ms is not None and (
        not isinstance(start_ms, int) or isinstance(start_ms, bool) or start_ms not in _LONG
    ):
        problems.append(
            f"field 'start_ms': got {_show(start_ms)}, want an integer of epoch ms (64-bit)"
        )
        return 0
    if start is None:
        if start_ms is None:
            problems.append("field 'start': missing, want 'start' (ISO-8601) or 'start_ms'")
        return start_ms or 0
    if not isinstance(start, str):
        problems.append(f"field 'start': got {_show(start)}, want an ISO-8601 string")
        return 0
    try:
        parsed = parse_start(start)
    except ValueError as exc:
        problems.append(f"field 'start': got {shown(start)}, want ISO-8601 with offset ({exc})")
        return 0
    if start_ms is not None and start_ms != parsed:
        problems.append(f"field 'start_ms': got {start_ms}, but 'start' {shown(start)} is {parsed}")
    return parsed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def _show(value: Any) -> str:
    """``value`` as the JSON it came from, with its type (``number 12``, ``null``), cut after
    :data:`ECHO_CHARS` characters."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, Decimal | int):
        return f"number {_cut(str(value))}"
    kind = "string" if isinstance(value, str) else "object" if isinstance(value, dict) else "array"
    try:
        return f"{kind} {_cut(json.dumps(value, default=str))}"
    except (ValueError, RecursionError):  # nested deeper than the encoder goes
        return f"{kind} (nested too deep to show)"


def _cut(text: str) -> str:
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 3] + "..."
