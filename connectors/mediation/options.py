"""Format options and the format registry: what ``bilat ingest --format`` accepts.

A switch CDR says who called whom, when and for how long, but not under which bilateral
agreement, with which partner or in which direction the traffic went, nor in which time zone
its clock runs: the operator says so with :class:`FormatOptions`. :func:`make_format` builds the
reader of a format with them, and fails before any line is read when they cannot work (one
message, not a dead letter per line).

Adding a format: write one module with a class that has ``name`` and
``lines(stream, origin) -> Iterator[Line]`` (see :mod:`connectors.mediation.base`) and a
constructor taking ``FormatOptions``, then add one line to ``_FACTORIES`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.mediation._common import FormatOptionsError
from connectors.mediation.asterisk import Asterisk
from connectors.mediation.base import MediationFormat
from connectors.mediation.freeswitch import FreeSwitch
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.jsonl import JsonLines

__all__ = [
    "FORMAT_NAMES",
    "UTC_ZONE",
    "FormatOptions",
    "FormatOptionsError",
    "make_format",
    "parse_timezone",
]

DIRECTIONS = ("outbound", "inbound")
UTC_ZONE = ZoneInfo("UTC")
"""The default switch time zone."""
_DEFAULTABLE = ("source", "agreement_id", "partner", "direction")


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


def _csv(options: FormatOptions) -> MediationFormat:
    return GenericCsv(options.record_defaults())


_FACTORIES: Mapping[str, Callable[[FormatOptions], MediationFormat]] = {
    "csv": _csv,
    "jsonl": JsonLines,
    "asterisk": Asterisk,
    "freeswitch": FreeSwitch,
}

FORMAT_NAMES: tuple[str, ...] = tuple(_FACTORIES)
"""Formats ``bilat ingest --format`` accepts."""


def make_format(name: str, options: FormatOptions | None = None) -> MediationFormat:
    """The reader of format ``name`` with ``options`` (default: :class:`FormatOptions()`).

    Raises :class:`FormatOptionsError` for an unknown format or options the format cannot work
    with (a switch CDR format without agreement, partner or direction).
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        raise FormatOptionsError(f"format: got {name!r}, want one of {list(FORMAT_NAMES)}")
    return factory(options or FormatOptions())
