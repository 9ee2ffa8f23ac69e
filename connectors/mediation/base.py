"""The contract every mediation format implements, and what it yields per line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from streams.core.errors import InvalidRecord

__all__ = ["Line", "MediationFormat"]


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
