"""What the mediation formats share: bounded line reading, echoes, local switch time, numbers.

Nothing here knows a particular file layout. Everything a hostile file can do to a reader that
is not about one format is handled here once: lines of any length (read in bounded chunks, never
whole), NUL bytes, bytes that are not UTF-8, a byte order mark, values too long to echo in a
message, times outside the calendar.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from connectors.mediation.base import Line
from streams.core.clock import to_ms
from streams.core.errors import InvalidRecord

__all__ = [
    "ECHO_CHARS",
    "MAX_LINE_CHARS",
    "TIME_EXAMPLE",
    "RawLine",
    "called_number",
    "calling_number",
    "digest",
    "is_digits",
    "local_ms",
    "local_times",
    "malformed",
    "numbered",
    "shown",
    "unencodable",
]

MAX_LINE_CHARS = 65_536
"""Longest line a format reads. Asterisk's ``cdr_csv`` writes at most 1,024 bytes a line; a
longer line is not a usage record, and bounding it keeps every message ingest produces far
below Kafka's message size limit (even at 4 UTF-8 bytes a character)."""
ECHO_CHARS = 60
"""How much of a value an error message repeats (see :func:`shown`)."""
TIME_EXAMPLE = "2026-11-24 10:00:00"
"""How a switch writes a time, for messages."""

_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_SEPARATORS = str.maketrans("", "", "+ -().")
_BOM = "\ufeff"
_BLANK = " \t"
_ESCAPED = range(0xDC80, 0xDD00)
"""Where ``surrogateescape`` puts the bytes of a file that are not UTF-8."""


@dataclass(frozen=True, slots=True)
class RawLine:
    """One non-blank line of a file, before any format reads it."""

    number: int
    """1-based, counting blank lines too."""
    raw: str
    """The line as read, without its line break: what a dead letter keeps. At most
    :data:`MAX_LINE_CHARS` characters (the start of a longer line)."""
    text: str
    """``raw`` without a UTF-8 byte order mark before line 1 (written by some Windows tools):
    what to parse."""
    problem: str | None
    """Why no format can read this line (too long, NUL bytes), else ``None``."""


def numbered(stream: TextIO) -> Iterator[RawLine]:
    """Every non-blank line of ``stream``, holding at most :data:`MAX_LINE_CHARS` of each.

    ``stream`` should translate line ends (``newline=None``, the default of ``open``; ingest
    opens files so), so that ``\\r\\n``, ``\\n`` and a lone ``\\r`` (old Mac files) all end
    a line, also where a read boundary falls between ``\\r`` and ``\\n``. A line is blank when
    it holds only spaces and tabs (a byte order mark on line 1 aside); other whitespace and
    control characters make a line that formats must read, and so account for. A line longer
    than the bound is read to its end in bounded chunks and yielded with
    :attr:`RawLine.problem` set; so is a line with a NUL byte, which no text CDR holds (it is
    what a crash leaves in a file being written).
    """
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_CHARS + 1)
        if not chunk:
            return
        number += 1
        length = len(chunk.rstrip("\r\n"))
        if length > MAX_LINE_CHARS:
            length += _rest_of_line(stream)
        raw = chunk.rstrip("\r\n")[:MAX_LINE_CHARS]
        text = raw.removeprefix(_BOM) if number == 1 else raw
        if not text.strip(_BLANK):
            continue
        problem = None
        if length > MAX_LINE_CHARS:
            problem = f"got a line of {length:,} characters, want at most {MAX_LINE_CHARS:,}"
        elif (nul := text.find("\0")) >= 0:
            problem = f"got a NUL byte at character {nul + 1}, want text (NULs mark a damaged file)"
        yield RawLine(number, raw, text, problem)


def _rest_of_line(stream: TextIO) -> int:
    """Reads ``stream`` to the end of the current line in bounded chunks; its length."""
    length = 0
    while chunk := stream.readline(MAX_LINE_CHARS):
        line = chunk.rstrip("\r\n")
        length += len(line)
        if len(line) < len(chunk):
            break
    return length


def malformed(number: int, raw: str, problems: Sequence[str]) -> Line:
    """The :class:`Line` of a line that cannot be expressed as a UsageRecord."""
    return Line(number, raw, None, InvalidRecord("malformed-line", problems))


def read_lines(stream: TextIO, parse: Callable[[int, str, str], Line]) -> Iterator[Line]:
    """One :class:`Line` per non-blank line of ``stream`` (:func:`numbered`): a line that
    cannot be read (too long, a NUL byte) is :func:`malformed`, every other one goes to
    ``parse(number, raw, text)``. The loop of every format that reads line by line."""
    for read in numbered(stream):
        if read.problem is not None:
            yield malformed(read.number, read.raw, [read.problem])
        else:
            yield parse(read.number, read.raw, read.text)


def shown(value: str, limit: int = ECHO_CHARS) -> str:
    """``repr(value)``, cut after ``limit`` characters: what a message may echo of a value.

    A hostile file's value can be 64 K characters; a message says what it got without
    repeating all of it: ``'xxxx…'… (65,536 characters)``. The repr escapes control characters
    and the bytes that are not UTF-8, so a message is always printable UTF-8.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def unencodable(fields: Mapping[str, Any]) -> list[str]:
    """A problem for each text field that is not valid Unicode, by field name.

    Files are read with ``surrogateescape``, so a byte that is not UTF-8 arrives as a lone
    surrogate (U+DC80..U+DCFF), as does a lone ``\\udXXX`` escape in JSON. Only the fields a
    format reads are checked: bytes in a column it ignores (a caller name written in Latin-1)
    do not lose a call.
    """
    problems = []
    for name, value in fields.items():
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = ord(value[exc.start])
            what = f"byte 0x{char - 0xDC00:02x}" if char in _ESCAPED else f"U+{char:04X}"
            problems.append(
                f"field {name!r}: got {shown(value)}, want UTF-8 text "
                f"({what} at character {exc.start + 1} is not)"
            )
    return problems


def local_times(text: str, zone: tzinfo) -> tuple[int, ...]:
    """Epoch ms of every instant a switch's ``YYYY-MM-DD HH:MM:SS`` wall-clock time can be.

    One instant, or two for a time in the hour repeated when DST ends (e.g. 02:30 on 25 October
    2026 in Europe/Berlin): the first occurrence (``fold=0``, still summer time) first. A time
    that never occurs (the hour skipped when DST starts) cannot come from a correct switch clock;
    it, any other shape, and a time outside the calendar in UTC raise ``ValueError`` whose
    message says what is wanted.
    """
    if not _LOCAL_TIME.fullmatch(text):
        raise ValueError(f"want a time like {TIME_EXAMPLE}")
    try:
        naive = datetime.fromisoformat(text)  # month 13, 30 February: ValueError
        instants = []
        for fold in (0, 1):
            moment = naive.replace(tzinfo=zone, fold=fold)
            in_utc = moment.astimezone(UTC)  # year 1 east of UTC: OverflowError
            if in_utc.astimezone(zone).replace(tzinfo=None) == naive:
                instants.append(to_ms(in_utc))
    except (ValueError, OverflowError):
        raise ValueError(f"want a time like {TIME_EXAMPLE}") from None
    if not instants:
        raise ValueError(
            f"want a time that exists in {zone}: this one does not (skipped by a DST change)"
        )
    return tuple(sorted(set(instants)))


def local_ms(text: str, zone: tzinfo) -> int:
    """Epoch ms of a switch's local time in ``zone``: the first instant of :func:`local_times`."""
    return local_times(text, zone)[0]


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
