"""Where reconciliation stands, as data: anchors of a window, each window's status and one
evaluation's outcome (:mod:`streams.reconcile.engine` makes them). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.core.canonical import decimal_text
from streams.ledger.entries import LedgerEntry
from streams.reconcile.alerts import Alert

__all__ = ["Anchor", "Outcome", "Window", "WindowStatus"]

Window = tuple[int, int]
"""(window_start_ms, window_end_ms)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """One anchored window revision of one party's chain."""

    entry: LedgerEntry
    payload: Mapping[str, Any]

    @property
    def window(self) -> Window:
        return (self.payload["window_start_ms"], self.payload["window_end_ms"])

    @property
    def revision(self) -> int:
        return int(self.payload["revision"])

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.payload["root"])

    @property
    def key(self) -> tuple[int, int, int]:
        return (*self.window, self.revision)

    def totals(self) -> dict[str, Decimal]:
        return {c: Decimal(v) for c, v in self.payload.get("totals", {}).items()}


@dataclass(frozen=True, slots=True)
class WindowStatus:
    """Where one window stands (``bilat recon status``)."""

    window: Window
    state: str
    """``agreed``, ``agreed-within-tolerance``, ``diverged``, ``drilling`` (waiting for the
    partner's answer), ``waiting`` (for the partner's anchor or digest), ``not-anchored``,
    ``not-anchored-here``."""
    here_revision: int | None
    partner_revision: int | None
    counts: Mapping[str, int] = field(default_factory=dict)
    """Records per class (``exact``, ``within-tolerance``, ``missing-here``...)."""
    here_total: Decimal = Decimal(0)
    partner_total: Decimal = Decimal(0)
    money_agreed: Decimal = Decimal(0)
    at_stake: Decimal = Decimal(0)
    currency: str = ""
    countersigned_here: bool = False
    """This party countersigned the partner's anchor of the window."""
    countersigned_by_partner: bool = False
    """The partner countersigned this party's anchor of the window."""
    waiting_for: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "window_start_ms": self.window[0],
            "window_end_ms": self.window[1],
            "state": self.state,
            "here_revision": self.here_revision,
            "partner_revision": self.partner_revision,
            "counts": dict(sorted(self.counts.items())),
            "here_total": decimal_text(self.here_total),
            "partner_total": decimal_text(self.partner_total),
            "money_agreed": decimal_text(self.money_agreed),
            "at_stake": decimal_text(self.at_stake),
            "currency": self.currency,
            "countersigned_here": self.countersigned_here,
            "countersigned_by_partner": self.countersigned_by_partner,
            "waiting_for": self.waiting_for,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation found and asks for."""

    alerts: tuple[Alert, ...]
    """Every finding so far, each once (ids unique)."""
    requests: tuple[dict[str, Any], ...]
    """``recon_request`` records not yet answered (publish those not yet published)."""
    cosigns: tuple[dict[str, Any], ...]
    """``cosign_request`` records for partner anchors agreed but not yet countersigned."""
    windows: tuple[WindowStatus, ...]
