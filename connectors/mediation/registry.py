"""The format factory: what ``bilat ingest --format`` accepts, and the reader of each name.

One reader per format behind :class:`~connectors.mediation.base.MediationFormat` and one
factory, as CGRateS' ``ers/reader.go`` does. :func:`make_format` builds a reader with the
operator's :class:`~connectors.mediation.base.FormatOptions`, and fails before any line is read
when they cannot work (one message, not a dead letter per line).

Adding a format: one module with a class that has ``name`` and
``lines(stream, origin) -> Iterator[Line]`` and a constructor taking ``FormatOptions``
(see :mod:`connectors.mediation.base`), then one line in ``_FACTORIES`` below. This is the
only module that imports every format; no format imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectors.mediation.asterisk import Asterisk
from connectors.mediation.base import FormatOptions, FormatOptionsError, MediationFormat
from connectors.mediation.freeswitch import FreeSwitch
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.jsonl import JsonLines

__all__ = ["FORMAT_NAMES", "make_format"]


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
