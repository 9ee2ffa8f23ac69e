"""What the mediation formats share: line iteration, local switch time, numbers, switch CDRs.

Nothing here knows a particular file layout. :class:`SwitchCsv` is the base of the headerless
switch CDR formats (Asterisk, FreeSWITCH): a subclass only says which columns hold the call's
id, numbers, times and billable seconds (a :class:`Call`); turning that into UsageRecord fields,
with the operator's :class:`~connectors.mediation.options.FormatOptions`, happens once, here.
"""

from __future__ import annotations

import abc
import csv
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, TextIO

from connectors.mediation.base import Line
from streams.clock import to_ms
from streams.errors import BilatError, InvalidRecord
from streams.validation import PRODUCT_UNITS

if TYPE_CHECKING:
    from connectors.mediation.options import FormatOptions

__all__ = [
    "Call",
    "FormatOptionsError",
    "SwitchCsv",
    "called_number",
    "calling_number",
    "digest",
    "is_digits",
    "local_ms",
    "malformed",
    "numbered",
]

_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_SEPARATORS = str.maketrans("", "", "+ -().")
_BOM = "\ufeff"


class FormatOptionsError(BilatError, ValueError):
    """The options cannot work for the format (unknown format, time zone or direction, a value
    a switch CDR does not carry and the operator did not give). Raised before any line is read,
    so one typo is one message, not a dead letter per line."""


def numbered(stream: TextIO) -> Iterator[tuple[int, str, str]]:
    """``(number, raw, text)`` of each non-blank line of ``stream``.

    ``number`` is 1-based and counts blank lines too; ``raw`` is the line as read without its
    line break (what a dead letter keeps); ``text`` is ``raw`` without a UTF-8 byte order mark
    before line 1 (written by some Windows tools), i.e. what to parse.
    """
    for number, read in enumerate(stream, start=1):
        raw = read.rstrip("\r\n")
        text = raw.removeprefix(_BOM) if number == 1 else raw
        if text.strip():
            yield number, raw, text


def malformed(number: int, raw: str, problems: Sequence[str]) -> Line:
    """The :class:`Line` of a line that cannot be expressed as a UsageRecord."""
    return Line(number, raw, None, InvalidRecord("malformed-line", problems))


def local_ms(text: str, zone: tzinfo) -> int:
    """Epoch ms of a switch's ``YYYY-MM-DD HH:MM:SS`` wall-clock time in ``zone``.

    A time that occurs twice (the hour repeated when DST ends) is read with ``fold=0``: the
    *first* occurrence, still on summer time. A time that never occurs (the hour skipped when DST
    starts) cannot come from a correct switch clock: ``ValueError``, as for any other shape.
    """
    if not _LOCAL_TIME.fullmatch(text):
        raise ValueError("want YYYY-MM-DD HH:MM:SS (switch local time)")
    naive = datetime.fromisoformat(text)  # range errors (month 13) raise ValueError
    moment = naive.replace(tzinfo=zone)  # fold=0
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"this local time does not exist in {zone} (skipped by a DST change)")
    return to_ms(moment.astimezone(UTC))


def called_number(text: str) -> str | None:
    """A B-number without ``+`` and visual separators (space ``-().``); ``None`` when empty.

    Anything else (letters such as Asterisk's ``s`` extension, ``*``, ``#``) is kept as it is,
    so that the worker's validation rejects the record with the value it got.
    """
    number = text.strip().translate(_SEPARATORS)
    return number or None


def calling_number(text: str) -> str | None:
    """An A-number as :func:`called_number`, or ``None`` when it is not digits.

    A withheld caller id (``anonymous``, ``restricted``) is no reason to lose a billable call:
    the A-number is optional and not rated on.
    """
    number = called_number(text)
    return number if number is not None and is_digits(number) else None


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits (``str.isdigit`` also accepts e.g. ``²``)."""
    return text.isascii() and text.isdigit()


def digest(raw: str, length: int) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``raw`` (as UTF-8): a deterministic id."""
    data = raw.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:length]


@dataclass(frozen=True, slots=True)
class Call:
    """What one switch CDR line says about a call, still as the switch wrote it."""

    record_id: str
    account: str
    """The CDR's own account code: the source when the operator gave none."""
    a_number: str
    b_number: str
    start_column: str
    """Which column ``start`` came from, for messages (e.g. ``answer``)."""
    start: str
    """Local time ``YYYY-MM-DD HH:MM:SS`` the call is billed from."""
    billsec: str


class SwitchCsv(abc.ABC):
    """A switch's CSV CDR file: no header, one call per line, local times, billable seconds.

    Subclasses set ``name`` and ``strict_quoting`` (whether the switch escapes ``"`` inside
    fields, so that a quoting fault means a corrupt line) and implement :meth:`call`.
    """

    name: str
    strict_quoting: bool

    def __init__(self, options: FormatOptions) -> None:
        self.options = options
        self._fixed = _fixed_fields(options, self.name)

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]:
        for number, raw, text in numbered(stream):
            yield self._line(number, raw, text, origin)

    @abc.abstractmethod
    def call(self, row: list[str], raw: str) -> Call | list[str]:
        """The call of a line split into ``row``, or every problem that prevents reading it."""

    def _line(self, number: int, raw: str, text: str, origin: str) -> Line:
        try:
            row = next(csv.reader([text], strict=self.strict_quoting, skipinitialspace=True))
        except csv.Error as exc:
            return malformed(number, raw, [f"CSV quoting: {exc}"])
        call = self.call(row, raw)
        if isinstance(call, list):
            return malformed(number, raw, call)
        problems: list[str] = []
        fields = self._fields(call, problems)
        if problems:
            return malformed(number, raw, problems)
        fields["raw_ref"] = f"{origin}:{number}"
        return Line(number, raw, fields)

    def _fields(self, call: Call, problems: list[str]) -> dict[str, Any]:
        source = self.options.source or call.account.strip()
        if not source:
            problems.append(
                f"no source: the {self.name} CDR's account code is empty "
                "and no source option was given"
            )
        if not call.record_id:
            problems.append(f"no record id: the {self.name} CDR's call id is empty")
        start_ms = 0
        try:
            start_ms = local_ms(call.start.strip(), self.options.timezone)
        except ValueError as exc:
            problems.append(f"column {call.start_column!r}: got {call.start!r}, {exc}")
        billsec = call.billsec.strip()
        if not is_digits(billsec):
            problems.append(f"column 'billsec': got {call.billsec!r}, want whole seconds")
        return {
            "source": source,
            "record_id": call.record_id,
            **self._fixed,
            "product_id": None,
            "a_number": calling_number(call.a_number),
            "b_number": called_number(call.b_number),
            "start_ms": start_ms,
            "quantity": str(int(billsec)) if is_digits(billsec) else billsec,
        }


def _fixed_fields(options: FormatOptions, fmt: str) -> Mapping[str, str]:
    """The fields a switch CDR does not carry, from the options; raises if one is missing."""
    given = {
        "agreement_id": options.agreement_id,
        "partner": options.partner,
        "direction": options.direction,
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise FormatOptionsError(
            f"format {fmt!r}: a switch CDR does not say {', '.join(missing)}; give them as options"
        )
    if "second" not in PRODUCT_UNITS.get(options.product, frozenset()):
        raise FormatOptionsError(
            f"format {fmt!r}: got product {options.product!r}, want one measured in seconds "
            f"(switch CDRs report call seconds): {sorted(PRODUCT_UNITS)}"
        )
    fixed = {name: value for name, value in given.items() if value}
    return {**fixed, "product": options.product, "unit": "second"}
