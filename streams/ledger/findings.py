"""One problem of a ledger chain, as data: :class:`Finding` and the kinds it may have. Pure.

Shared by :mod:`streams.ledger.check` (the chain walk) and :mod:`streams.ledger.key_check` (the
genesis, trust and rotation checks); ``docs/spec/ledger.md`` specifies every kind.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FINDING_KINDS", "Finding"]

FINDING_KINDS = (
    "bad-signature",
    "chain-break",
    "gap",
    "equivocation",
    "duplicate-window",
    "bad-payload",
    "unknown-key",
    "key-not-current",
    "key-not-valid",
    "wrong-agreement",
    "no-genesis",
    "wrong-party",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of a ledger chain, as data (it becomes a ``ReconAlert``)."""

    kind: str
    """One of :data:`FINDING_KINDS`."""
    sequence: int | None
    """The entry concerned; None when it concerns the chain as a whole."""
    detail: str

    def __str__(self) -> str:
        where = "ledger" if self.sequence is None else f"sequence {self.sequence}"
        return f"{self.kind} at {where}: {self.detail}"
