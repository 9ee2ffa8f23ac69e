"""The generic CSV usage format: one header line, then one usage record per line.

Columns (by header name, any order; extra columns are ignored)::

    source,record_id,agreement_id,partner,product,product_id,a_number,b_number,start,quantity,unit,direction

* required: ``source, record_id, agreement_id, partner, product, start, quantity, unit,
  direction``; optional (may be empty or absent): ``product_id, a_number, b_number``;
* ``start``: ISO-8601 with an offset (``2026-11-25T10:00:00Z`` or ``...+01:00``) or epoch
  milliseconds; times without an offset are rejected, never guessed;
* ``quantity``: a decimal in ``unit`` (``second``, ``message``, ``byte``, ``kilobyte``,
  ``megabyte``, ``gigabyte``);
* UTF-8 (a byte order mark before the header is skipped), comma separated, RFC 4180 quoting
  within a line (a record never spans lines, so every dead letter is exactly one line of the
  file); blank lines are skipped;
* the header is the first non-blank line. A header that lacks a required column, names a
  column twice or cannot be read makes the file one ``malformed-file`` dead letter, and its
  other lines are not read: one message, not the same one per line.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, TextIO

from connectors.mediation._common import (
    RawLine,
    is_digits,
    malformed,
    numbered,
    shown,
    unencodable,
)
from connectors.mediation.base import Line
from streams.core.clock import to_ms
from streams.core.errors import InvalidRecord

__all__ = ["COLUMNS", "MAX_EPOCH_MS", "REQUIRED", "GenericCsv", "parse_start"]

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
MAX_EPOCH_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the last epoch ms a calendar date has."""


def parse_start(text: str) -> int:
    """Epoch ms of an ISO-8601 time with offset, or of an epoch-ms string of ASCII digits.

    Raises ``ValueError`` saying what is wanted (without repeating ``text``, which the caller
    shows bounded); a time without offset is an error.
    """
    text = text.strip()
    if is_digits(text):
        if len(text) > len(str(MAX_EPOCH_MS)) or int(text) > MAX_EPOCH_MS:
            raise ValueError(f"epoch ms beyond the calendar, want at most {MAX_EPOCH_MS}")
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a time, want e.g. 2026-11-24T10:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("no UTC offset: add 'Z' or '+hh:mm'")
    return to_ms(moment)


class GenericCsv:
    """Reads the generic CSV format described in this module's docstring.

    ``defaults`` give values to ``source, agreement_id, partner, direction`` columns the file
    does not have (the operator's options); a column the file has always wins, even when empty,
    and a file with every column reads the same with or without defaults.
    """

    name = "csv"

    def __init__(self, defaults: Mapping[str, str] | None = None) -> None:
        self._defaults = dict(defaults or {})

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]:
        header: list[str] | None = None
        for read in numbered(stream):
            if header is None:  # the first non-blank line
                header, problems = self._header(read)
                if problems:  # one dead letter for the file, not one per line
                    error = InvalidRecord("malformed-file", [f"{origin}: {p}" for p in problems])
                    yield Line(read.number, read.raw, None, error)
                    return
            elif read.problem is not None:
                yield malformed(read.number, read.raw, [read.problem])
            else:
                yield self._line(header, read.number, read.raw, read.text, origin)

    def _header(self, read: RawLine) -> tuple[list[str], list[str]]:
        """The header's column names, and every reason the file cannot be read with it."""
        if read.problem is not None:
            return [], [f"header: {read.problem}"]
        try:
            names = [name.strip() for name in next(csv.reader([read.text]))]
        except csv.Error as exc:
            return [], [f"header: CSV quoting: {exc}"]
        problems = []
        missing = REQUIRED - set(names) - set(self._defaults)
        if missing:
            problems.append(f"header lacks columns {sorted(missing)}; got {shown(read.text, 200)}")
        counts = Counter(names)
        twice = sorted(name for name in COLUMNS if counts[name] > 1)
        if twice:  # which of the two would a line mean? Refuse rather than guess
            problems.append(f"header names columns {twice} more than once, want each once")
        return names, problems

    def _line(self, header: list[str], number: int, raw: str, text: str, origin: str) -> Line:
        try:
            row = next(csv.reader([text]))
        except csv.Error as exc:
            return malformed(number, raw, [f"CSV quoting: {exc}"])
        if len(row) != len(header):
            return malformed(
                number, raw, [f"got {len(row)} columns, want {len(header)} as in the header"]
            )
        cells = {**self._defaults, **dict(zip(header, (cell.strip() for cell in row), strict=True))}
        problems = [f"column {c!r}: empty, want a value" for c in sorted(REQUIRED) if not cells[c]]
        fields: dict[str, Any] = {c: (cells.get(c) or None) for c in COLUMNS if c != "start"}
        if cells["start"]:
            try:
                fields["start_ms"] = parse_start(cells["start"])
            except ValueError as exc:
                problems.append(f"column 'start': got {shown(cells['start'])}, {exc}")
        problems += unencodable(fields)
        if problems:
            return malformed(number, raw, problems)
        fields["raw_ref"] = f"{origin}:{number}"
        return Line(number, raw, fields)
