"""What reconciliation reports: one :class:`Alert` per finding (a ``recon_alert`` v2 record). Pure.

An alert's id is stable: the same finding found again (after a restart, a re-run, from the
other window of a cross-window pair) has the same :attr:`Alert.alert_id`, so every sink can be
idempotent and the reconciler publishes each finding once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.core.canonical import canonical_json, decimal_text

__all__ = [
    "LEDGER_KINDS",
    "RECORD_KINDS",
    "SEVERITY",
    "WINDOW_KINDS",
    "Alert",
    "make_alert",
]

RECORD_KINDS = (
    "within-tolerance",
    "cross-window",
    "quantity-mismatch",
    "amount-mismatch",
    "start-mismatch",
    "version-mismatch",
    "missing-here",
    "missing-at-partner",
    "duplicate",
)
"""Findings about one record (or a duplicate's pair)."""
WINDOW_KINDS = ("not-anchored", "not-anchored-here", "revision", "bad-answer", "bad-digest")
"""Findings about one window."""
LEDGER_KINDS = (
    "bad-signature",
    "chain-break",
    "gap",
    "equivocation",
    "truncation",
    "fork",
    "bad-entry",
)
"""Findings about the partner's ledger itself."""

SEVERITY: Mapping[str, str] = {
    "within-tolerance": "info",
    "cross-window": "info",
    "revision": "info",
    "quantity-mismatch": "warning",
    "amount-mismatch": "warning",
    "start-mismatch": "warning",
    "version-mismatch": "warning",
    "missing-here": "warning",
    "missing-at-partner": "warning",
    "duplicate": "warning",
    "not-anchored": "warning",
    "not-anchored-here": "warning",
    **{kind: "critical" for kind in (*LEDGER_KINDS, "bad-answer", "bad-digest")},
}
"""Default severity per kind; a revision superseding an agreed root is raised as a warning."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One finding; maps 1:1 onto ``schemas/recon_alert/v2.avsc`` (see its docs)."""

    alert_id: str
    party: str
    partner: str
    agreement_id: str
    window_start_ms: int
    window_end_ms: int
    revision: int
    kind: str
    severity: str
    record_keys: tuple[str, ...]
    here_value: str | None
    partner_value: str | None
    delta: str | None
    detail: str
    currency: str | None = None
    at_stake: Decimal | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    here_proof: str | None = None
    partner_proof: str | None = None

    def to_avro(self, detected_ms: int) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "party": self.party,
            "partner": self.partner,
            "agreement_id": self.agreement_id,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "revision": self.revision,
            "kind": self.kind,
            "severity": self.severity,
            "record_keys": list(self.record_keys),
            "here_value": self.here_value,
            "partner_value": self.partner_value,
            "delta": self.delta,
            "detail": self.detail,
            "currency": self.currency,
            "at_stake": None if self.at_stake is None else decimal_text(self.at_stake),
            "facts": dict(self.facts),
            "here_proof": self.here_proof,
            "partner_proof": self.partner_proof,
            "detected_ms": detected_ms,
        }


def make_alert(
    *,
    party: str,
    partner: str,
    agreement_id: str,
    window: tuple[int, int],
    revision: int,
    kind: str,
    detail: str,
    identity: Sequence[object],
    record_keys: Sequence[str] = (),
    here: Decimal | str | None = None,
    there: Decimal | str | None = None,
    currency: str | None = None,
    at_stake: Decimal | None = None,
    facts: Mapping[str, str] | None = None,
    here_proof: str | None = None,
    partner_proof: str | None = None,
    severity: str | None = None,
) -> Alert:
    """An alert whose id is the hex SHA-256 of ``(party, agreement_id, kind, identity)``:
    ``identity`` is what makes the finding itself (the record keys, the window, the entry
    sequence), never when or in which pass it was found."""
    body = canonical_json([party, agreement_id, kind, [str(part) for part in identity]])
    here_text = decimal_text(here) if isinstance(here, Decimal) else here
    there_text = decimal_text(there) if isinstance(there, Decimal) else there
    delta = (
        decimal_text(here - there)
        if isinstance(here, Decimal) and isinstance(there, Decimal)
        else None
    )
    return Alert(
        alert_id=hashlib.sha256(body).hexdigest()[:32],
        party=party,
        partner=partner,
        agreement_id=agreement_id,
        window_start_ms=window[0],
        window_end_ms=window[1],
        revision=revision,
        kind=kind,
        severity=severity or SEVERITY.get(kind, "warning"),
        record_keys=tuple(record_keys),
        here_value=here_text,
        partner_value=there_text,
        delta=delta,
        detail=detail,
        currency=currency,
        at_stake=at_stake,
        facts=dict(facts or {}),
        here_proof=here_proof,
        partner_proof=partner_proof,
    )
