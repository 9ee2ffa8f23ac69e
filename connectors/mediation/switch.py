"""Switch CDR files (Asterisk, FreeSWITCH): one call per line, local times, whole seconds.

:class:`SwitchCsv` is the base of the headerless switch formats: a subclass only says which
columns hold the call's id, numbers, times and seconds, and whether it was answered (a
:class:`Call`). Everything else happens once, here:

* every time field is parsed (``start``, ``answer``, ``end``) and they are held against each
  other and against the seconds the switch wrote: ``start <= answer <= end``, ``billsec`` is
  ``end - answer`` and ``duration`` is ``end - start``, each within one second (both switches
  truncate to whole seconds; Asterisk may round billsec up with ``initiatedseconds``). A line
  that fails any of it is malformed, with a reason per field; the instants are compared in UTC,
  so a call across a DST change is fine. Of a wall-clock time that occurs twice (the hour
  repeated when DST ends), the reading the seconds agree with is taken, the first when both do;
* a well-formed call that was not answered is :attr:`Line.not_billable`: ingest counts it and
  produces nothing, so it never reaches rating;
* the operator's :class:`~connectors.mediation.base.FormatOptions` fill what a CDR does not
  carry (agreement, partner, direction, product).
"""

from __future__ import annotations

import abc
import csv
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from connectors.mediation._common import (
    TIME_EXAMPLE,
    called_number,
    calling_number,
    is_digits,
    local_times,
    malformed,
    read_lines,
    shown,
    unencodable,
)
from connectors.mediation.base import FormatOptions, FormatOptionsError, Line
from streams.core.units import PRODUCT_UNITS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import tzinfo

__all__ = ["MAX_SECONDS_DIGITS", "Call", "Columns", "SwitchCsv", "Timing", "call_timing"]

MAX_SECONDS_DIGITS = 9
"""``duration`` and ``billsec`` have at most this many digits (31 years of seconds)."""
_TOLERANCE_S = 1


@dataclass(frozen=True, slots=True)
class Columns:
    """What a switch calls its time columns, for messages."""

    start: str
    answer: str
    end: str


@dataclass(frozen=True, slots=True)
class Call:
    """What one switch CDR line says about a call, still as the switch wrote it."""

    record_id: str
    account: str
    """The CDR's own account code: the source when the operator gave none."""
    a_number: str
    b_number: str
    start: str
    """Local time ``YYYY-MM-DD HH:MM:SS`` the call began (set up, not yet answered)."""
    answer: str
    """Local time it was answered; empty when it never was."""
    end: str
    """Local time it ended."""
    duration: str
    """Whole seconds from start to end."""
    billsec: str
    """Whole seconds from answer to end; ``0`` when never answered."""
    answered: bool
    """Whether the called party answered: the call is billable."""
    unanswered: str
    """Why the call counts as not answered, for the report (e.g. ``disposition 'BUSY'``)."""
    problems: tuple[str, ...] = ()
    """Problems the format found mapping the line (e.g. an unknown disposition)."""


@dataclass(frozen=True, slots=True)
class Timing:
    """A call's instants, as epoch ms in UTC, and its seconds, all consistent."""

    start_ms: int
    answer_ms: int | None
    end_ms: int
    duration: int
    billsec: int


def call_timing(call: Call, columns: Columns, zone: tzinfo) -> Timing | list[str]:
    """The call's :class:`Timing`, or every problem with its times and seconds.

    Pure; see the module docstring for the rules. Each problem names its field:
    ``field 'end': got 'garbage', want a time like 2026-11-24 10:00:00``,
    ``field 'billsec': got 70, want end - answer = 60 ± 1 s``.
    """
    problems: list[str] = []
    start = _instants(columns.start, call.start, zone, problems)
    end = _instants(columns.end, call.end, zone, problems)
    answer: tuple[int | None, ...] = (None,)
    if call.answer.strip():
        answer = _instants(columns.answer, call.answer, zone, problems)
    elif call.answered:
        problems.append(
            f"field {columns.answer!r}: got '', want a time like {TIME_EXAMPLE} "
            "(the call was answered)"
        )
    duration = _seconds("duration", call.duration, problems)
    billsec = _seconds("billsec", call.billsec, problems)
    if problems or duration is None or billsec is None:
        return problems
    readings = [
        (timing, _inconsistencies(timing, call, columns))
        for timing in (
            Timing(s, a, e, duration, billsec) for s, a, e in itertools.product(start, answer, end)
        )
    ]
    # Readings in fold order, the first occurrence of a repeated wall-clock hour first: the one
    # taken when several agree with the seconds; the problems of that one when none does.
    return next((timing for timing, found in readings if not found), readings[0][1])


def _instants(name: str, text: str, zone: tzinfo, problems: list[str]) -> tuple[int, ...]:
    try:
        return local_times(text.strip(), zone)
    except ValueError as exc:
        problems.append(f"field {name!r}: got {shown(text)}, {exc}")
        return ()


def _seconds(name: str, text: str, problems: list[str]) -> int | None:
    value = text.strip()
    if is_digits(value) and len(value) <= MAX_SECONDS_DIGITS:
        return int(value)
    problems.append(
        f"field {name!r}: got {shown(text)}, want whole seconds "
        f"(at most {MAX_SECONDS_DIGITS} digits)"
    )
    return None


def _inconsistencies(timing: Timing, call: Call, columns: Columns) -> list[str]:
    problems = []
    start, answer, end = columns.start, columns.answer, columns.end
    if timing.end_ms < timing.start_ms:
        problems.append(
            f"field {end!r}: got {shown(call.end)}, want at or after {start} {shown(call.start)}"
        )
    if timing.answer_ms is not None:
        if timing.answer_ms < timing.start_ms:
            problems.append(
                f"field {answer!r}: got {shown(call.answer)}, "
                f"want at or after {start} {shown(call.start)}"
            )
        elif timing.answer_ms > timing.end_ms:
            problems.append(
                f"field {answer!r}: got {shown(call.answer)}, "
                f"want at or before {end} {shown(call.end)}"
            )
    took = (timing.end_ms - timing.start_ms) // 1000
    if abs(timing.duration - took) > _TOLERANCE_S:
        problems.append(
            f"field 'duration': got {timing.duration}, "
            f"want {end} - {start} = {took} ± {_TOLERANCE_S} s"
        )
    if timing.answer_ms is not None:
        billed = (timing.end_ms - timing.answer_ms) // 1000
        if abs(timing.billsec - billed) > _TOLERANCE_S:
            problems.append(
                f"field 'billsec': got {timing.billsec}, "
                f"want {end} - {answer} = {billed} ± {_TOLERANCE_S} s"
            )
    elif timing.billsec != 0:
        problems.append(
            f"field 'billsec': got {timing.billsec}, want 0: {answer} is empty (never answered)"
        )
    return problems


class SwitchCsv(abc.ABC):
    """A switch's CSV CDR file: no header, one call per line, local times, billable seconds.

    Subclasses set ``name``, ``columns`` and ``strict_quoting`` (whether the switch escapes
    ``"`` inside fields, so that a quoting fault means a corrupt line) and implement
    :meth:`call`.
    """

    name: str
    columns: Columns
    strict_quoting: bool

    def __init__(self, options: FormatOptions) -> None:
        self.options = options
        self._fixed = _fixed_fields(options, self.name)

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]:
        return read_lines(stream, lambda number, raw, text: self._line(number, raw, text, origin))

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
        problems = list(call.problems)
        fields = self._fields(call, problems)
        timing = call_timing(call, self.columns, self.options.timezone)
        if isinstance(timing, list):
            problems += timing
        problems += unencodable(fields)
        if isinstance(timing, list) or problems:
            return malformed(number, raw, problems)
        if not call.answered:
            return Line(number, raw, None, not_billable=f"not answered: {call.unanswered}")
        fields["start_ms"] = timing.answer_ms  # billing starts at answer
        fields["quantity"] = str(timing.billsec)
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
        return {
            "source": source,
            "record_id": call.record_id,
            **self._fixed,
            "product_id": None,
            "a_number": calling_number(call.a_number),
            "b_number": called_number(call.b_number),
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
