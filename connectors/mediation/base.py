"""The contract of a mediation format: what it yields per line, the options it is built with,
and the one error it raises.

A format is one class with ``name`` and ``lines(stream, origin) -> Iterator[Line]`` (the
:class:`MediationFormat` protocol) and a constructor taking :class:`FormatOptions`;
:mod:`connectors.mediation.registry` maps format names to them. This module imports no format,
so every format module can import it without a cycle.

A switch CDR says who called whom, when and for how long, but not under which bilateral
agreement, with which partner or in which direction the traffic went, nor in which time zone
its clock runs: the operator says so with :class:`FormatOptions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core.errors import BilatError, InvalidRecord
from streams.core.units import DIRECTIONS

__all__ = [
    "UTC_ZONE",
    "FormatOptions",
    "FormatOptionsError",
    "Line",
    "MediationFormat",
    "parse_timezone",
]

UTC_ZONE = ZoneInfo("UTC")
"""The default switch time zone."""
_DEFAULTABLE = ("source", "agreement_id", "partner", "direction")


class FormatOptionsError(BilatError, ValueError):
    """The options cannot work for the format (unknown format, time zone or direction, a value
    a switch CDR does not carry and the operator did not give). Raised before any line is read,
    so one typo is one message, not a dead letter per line."""


@dataclass(frozen=True, slots=True)
class Line:
    """One input line, exactly one of: the UsageRecord Avro fields it maps to (``fields``), why
    it cannot be one (``error``), or why it is a well-formed record that bills nothing
    (``not_billable``, e.g. a call never answered)."""

    number: int
    """1-based line number in the file (the header is line 1 where there is one)."""
    raw: str
    """The line exactly as read, without its line break: what a dead letter keeps."""
    fields: Mapping[str, Any] | None
    """UsageRecord Avro fields (``start_ms`` as epoch ms, ``quantity`` as a decimal string)."""
    error: InvalidRecord | None = None
    not_billable: str | None = None
    """Why this well-formed line is no usage to rate (``fields`` and ``error`` are ``None``):
    ingest counts it and produces nothing for it."""


class MediationFormat(Protocol):
    """A file format of usage records.

    ``lines`` maps the *structure* of each line onto UsageRecord fields and never raises for a
    bad line: it yields a :class:`Line` with ``error`` set (code ``malformed-line``) instead.
    It yields one :class:`Line` per non-blank line read (a CSV header aside), so that what
    ingest counts adds up to what the file holds.
    Business rules (negative quantities, unknown products, usage from the future) are *not*
    checked here: the worker validates every record the same way whatever its source.
    """

    name: str

    def lines(self, stream: TextIO, origin: str) -> Iterator[Line]: ...


@dataclass(frozen=True, slots=True)
class FormatOptions:
    """What a usage file may not carry and the operator says on the command line."""

    source: str | None = None
    """Mediation source id. Default: from each record (the CDR's account code, the CSV/JSON
    ``source``); never the file name, since every Asterisk/FreeSWITCH file is ``Master.csv``."""
    agreement_id: str | None = None
    """Agreement the usage is settled under; required by the switch CDR formats."""
    partner: str | None = None
    """Party id of the partner; required by the switch CDR formats."""
    direction: str | None = None
    """``outbound`` or ``inbound``; required by the switch CDR formats."""
    timezone: ZoneInfo = UTC_ZONE
    """Time zone of the switch clock, for CDR times without an offset (default UTC)."""
    product: str = "voice"
    """Product of switch CDRs (they measure call seconds)."""

    def __post_init__(self) -> None:
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise FormatOptionsError(
                f"direction: got {self.direction!r}, want one of {list(DIRECTIONS)}"
            )

    def record_defaults(self) -> dict[str, str]:
        """The given ones of ``source, agreement_id, partner, direction``, by field name: what
        fills these fields in formats whose records may carry them (CSV, JSON Lines)."""
        return {name: value for name in _DEFAULTABLE if (value := getattr(self, name))}


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. ``Europe/Berlin``), or :class:`FormatOptionsError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FormatOptionsError(
            f"time zone: got {name!r}, want an IANA name such as 'Europe/Berlin' or 'UTC' ({exc})"
        ) from exc
