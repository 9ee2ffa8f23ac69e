"""Reconciliation results for people: the window table and the alert table (rich), shared by
``bilat recon status`` and ``bilat demo``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC

from rich.markup import escape
from rich.table import Table

from streams.core.clock import from_ms
from streams.reconcile.alerts import Alert
from streams.reconcile.engine import Outcome, WindowStatus

__all__ = ["alerts_table", "status_table", "summary"]

_STATE_STYLE = {
    "agreed": "green",
    "agreed-within-tolerance": "green",
    "diverged": "red",
    "not-anchored": "red",
    "not-anchored-here": "red",
    "drilling": "yellow",
    "waiting": "yellow",
}


def _when(ms: int) -> str:
    return from_ms(ms).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def status_table(windows: Sequence[WindowStatus], title: str) -> Table:
    """One row per window: state, revisions, counts by class, totals, money agreed and at
    stake, countersignatures both ways."""
    table = Table(title=title, title_justify="left")
    for column in ("window (UTC)", "state", "rev", "records", "here", "partner", "agreed"):
        table.add_column(column, no_wrap=True)
    table.add_column("at stake", no_wrap=True, justify="right")
    table.add_column("cosigned", no_wrap=True)
    for w in windows:
        style = _STATE_STYLE.get(w.state, "white")
        counts = ", ".join(f"{n} {k}" for k, n in sorted(w.counts.items(), key=lambda i: -i[1]))
        revisions = f"{_rev(w.here_revision)}/{_rev(w.partner_revision)}"
        cosigned = ("here " if w.countersigned_here else "") + (
            "partner" if w.countersigned_by_partner else ""
        )
        state = w.state + (f" ({w.waiting_for})" if w.waiting_for else "")
        table.add_row(
            _when(w.window[0]),
            f"[{style}]{escape(state)}[/{style}]",
            revisions,
            escape(counts or "-"),
            f"{w.here_total} {w.currency}",
            f"{w.partner_total} {w.currency}",
            f"{w.money_agreed}",
            f"{w.at_stake}",
            cosigned.strip() or "-",
        )
    return table


def _rev(revision: int | None) -> str:
    return "-" if revision is None else str(revision)


def alerts_table(alerts: Sequence[Alert], title: str, limit: int = 20) -> Table:
    """The record-level and window-level alerts: kind, window, records, both values, money."""
    table = Table(title=title, title_justify="left")
    for column in ("kind", "window (UTC)", "records", "here", "partner", "at stake"):
        table.add_column(column, no_wrap=column != "records")
    for alert in list(alerts)[:limit]:
        table.add_row(
            escape(alert.kind),
            _when(alert.window_start_ms) if alert.window_end_ms else "ledger",
            escape(", ".join(alert.record_keys) or "-"),
            escape(alert.here_value or "-"),
            escape(alert.partner_value or "-"),
            f"{alert.at_stake} {alert.currency}" if alert.at_stake is not None else "-",
        )
    if len(alerts) > limit:
        table.caption = f"and {len(alerts) - limit} more: bilat read recon.alerts"
    return table


def summary(outcome: Outcome) -> str:
    """One line: windows per state, alerts per kind."""
    states = Counter(w.state for w in outcome.windows)
    kinds = Counter(a.kind for a in outcome.alerts)
    text = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no windows yet"
    alerts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    return f"windows: {text}; alerts: {alerts}"
