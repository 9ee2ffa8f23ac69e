"""The generic CSV usage format: one header line, then one usage record per line.

Columns (by header name, any order; extra columns are ignored)::

    source,record_id,agreement_id,partner,product,product_id,a_number,b_number,start,quantity,unit,direction

* required: ``source, record_id, agreement_id, partner, product, start, quantity, unit,
  direction``; optional (may be empty or absent): ``product_id, a_number, b_number``;
* ``start``: ISO-8601 with an offset (``2026-11-25T10:00:00Z`` or ``...+01:00``) or epoch
  milliseconds; times without an offset are rejected, never guessed;
* ``quantity``: a decimal in ``unit`` (``second``, ``message``, ``byte``, ``kilobyte``,
  ``megabyte``, ``gigabyte``);
* UTF-8, comma separated, RFC 4180 quoting within a line (a record never spans lines, so
  every dead letter is exactly one line of the file); blank lines are skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from connectors.mediation.base import Line
from streams.clock import to_ms
from streams.errors import InvalidRecord

__all__ = ["COLUMNS", "REQUIRED", "GenericCsv", "parse_start"]

COLUMNS = (
    "source",
    "record_id",
    "agreement_id",
    "partner",
    "product",
    "product_id",
    "a_number",
    "b_number",
    "start",
    "quantity",
    "unit",
    "direction",
)
REQUIRED = frozenset(COLUMNS) - {"product_id", "a_number", "b_number"}


def parse_start(text: str) -> int:
    """Epoch ms of an ISO-8601 time with offset, or of an integer epoch-ms string.

    Raises ``ValueError`` with what was wrong; a time without offset is an error.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no UTC offset: add 'Z' or '+hh:mm'")
    return to_ms(moment)


class GenericCsv:
    """Reads the generic CSV format described in this module's docstring."""

    name = "csv"

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]:
        header: list[str] | None = None
        for number, text in enumerate(stream, start=1):
            raw = text.rstrip("\r\n")
            if not raw.strip():
                continue
            row = next(csv.reader([raw]))
            if header is None:
                header = [h.strip() for h in row]
                missing = REQUIRED - set(header)
                if missing:
                    problem = f"{origin}: header lacks columns {sorted(missing)}; got {header}"
                    yield Line(number, raw, None, InvalidRecord("malformed-file", [problem]))
                    return
                continue
            yield self._line(header, row, number, raw, origin)

    @staticmethod
    def _line(header: list[str], row: list[str], number: int, raw: str, origin: str) -> Line:
        if len(row) != len(header):
            problem = f"got {len(row)} columns, want {len(header)} as in the header"
            return Line(number, raw, None, InvalidRecord("malformed-line", [problem]))
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        problems = [f"column {c!r}: empty, want a value" for c in sorted(REQUIRED) if not cells[c]]
        fields: dict[str, Any] = {c: (cells.get(c) or None) for c in COLUMNS if c != "start"}
        if cells["start"]:
            try:
                fields["start_ms"] = parse_start(cells["start"])
            except ValueError as exc:
                problems.append(f"column 'start': got {cells['start']!r}, want ISO-8601 ({exc})")
        if problems:
            return Line(number, raw, None, InvalidRecord("malformed-line", problems))
        fields["raw_ref"] = f"{origin}:{number}"
        return Line(number, raw, fields)
