"""What the dashboard shows, from what Redis holds: plain values in, JSON-ready dicts out. No I/O.

* a window's status (``WindowStatus.to_json()``) becomes one of four states an operator reads
  at a glance (:data:`STATES`), placed in a grid of days by time of day (:func:`window_grid`);
* an alert's Redis stream entry (:func:`streams.runtime.reconciler.alert_fields`) becomes
  :func:`alert_view`: both sides' values and facts side by side, and both inclusion proofs
  parsed and, when the agreement is known, checked against the anchored root they name;
* a settlement bill (``bilat:<app>:settle:bills``) becomes :func:`bill_view`;
* :func:`totals` sums money agreed and at stake per currency.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from streams.core.clock import from_ms
from streams.merkle.recordproof import RecordProof, verify_record
from streams.merkle.rfc9162 import ProofError, RootMismatchError

__all__ = [
    "KIND_LABELS",
    "STATES",
    "ProofKey",
    "alert_view",
    "bilateral_view",
    "bill_view",
    "class_counts",
    "state_of",
    "totals",
    "window_grid",
    "window_view",
]

STATES: Mapping[str, str] = {
    "agreed": "agreed",
    "agreed-within-tolerance": "within-tolerance",
    "diverged": "diverged",
    "not-anchored": "diverged",
    "not-anchored-here": "diverged",
    "drilling": "waiting",
    "waiting": "waiting",
}
"""Reconciler state → what the page shows: agreed, within-tolerance, diverged, waiting."""

STATE_LABELS: Mapping[str, str] = {
    "agreed": "Agreed",
    "within-tolerance": "Within tolerance",
    "diverged": "Diverged",
    "waiting": "Waiting",
}

_DETAIL: Mapping[str, str] = {
    "not-anchored": "the partner never anchored this window",
    "not-anchored-here": "we never anchored this window",
    "drilling": "comparing record by record with the partner",
}

KIND_LABELS: Mapping[str, str] = {
    "within-tolerance": "Within tolerance",
    "cross-window": "In the next window",
    "quantity-mismatch": "Quantity differs",
    "amount-mismatch": "Price differs",
    "start-mismatch": "Start time differs",
    "version-mismatch": "Other agreement version",
    "missing-here": "Missing here",
    "missing-at-partner": "Missing at partner",
    "duplicate": "Duplicate",
    "not-anchored": "Partner did not anchor",
    "not-anchored-here": "Not anchored here",
    "revision": "Window revised",
    "bad-answer": "Bad drill-down answer",
    "bad-digest": "Bad digest",
    "bad-signature": "Bad signature",
    "chain-break": "Chain broken",
    "gap": "Gap in chain",
    "equivocation": "Equivocation",
    "truncation": "Entry removed",
    "fork": "Chain forked",
    "bad-entry": "Bad entry",
}
"""Alert kinds in words an operator reads without the spec."""

_FACT_LABELS = {
    "start_ms": "start (UTC)",
    "quantity": "quantity",
    "amount": "amount",
    "rate_id": "rate",
    "version": "agreement version",
}


@dataclass(frozen=True, slots=True)
class ProofKey:
    """What checking a record proof needs from the agreement: its id (a proof of another
    agreement is not checked), its bucketing depth and salt (the book hash)."""

    agreement_id: str
    depth: int
    salt: bytes


def _when(ms: int) -> str:
    return from_ms(ms).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _dec(text: object) -> Decimal:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def _money(value: Decimal) -> str:
    """Money for reading: two decimals at least, every significant digit kept."""
    text = format(value.normalize(), "f") if value else "0"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def state_of(status: str) -> str:
    """The page's state of a reconciler state (unknown ones wait)."""
    return STATES.get(status, "waiting")


def window_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """One window (``WindowStatus.to_json()``) as the page shows it."""
    start, end = int(data["window_start_ms"]), int(data["window_end_ms"])
    raw = str(data.get("state", ""))
    state = state_of(raw)
    currency = str(data.get("currency") or "")
    counts = {str(k): int(v) for k, v in (data.get("counts") or {}).items()}
    detail = _DETAIL.get(raw, "")
    if data.get("waiting_for"):
        detail = f"waiting for {data['waiting_for']}"
    divergent = sum(n for k, n in counts.items() if k not in ("exact", "within-tolerance"))
    return {
        "id": f"{start}-{end}",
        "start_ms": start,
        "end_ms": end,
        "label": f"{_when(start)}–{from_ms(end).astimezone(UTC):%H:%M}",
        "state": state,
        "state_label": STATE_LABELS[state],
        "status": raw,
        "detail": detail,
        "currency": currency,
        "money_agreed": _money(_dec(data.get("money_agreed", 0))),
        "at_stake": _money(_dec(data.get("at_stake", 0))),
        "here_total": _money(_dec(data.get("here_total", 0))),
        "partner_total": _money(_dec(data.get("partner_total", 0))),
        "records": sum(counts.values()),
        "divergent_records": divergent,
        "counts": counts,
        "countersigned_here": bool(data.get("countersigned_here")),
        "countersigned_by_partner": bool(data.get("countersigned_by_partner")),
    }


def window_grid(windows: Iterable[Mapping[str, Any]], days: int = 14) -> dict[str, Any]:
    """Windows as rows of UTC days and columns of time of day (the newest ``days`` days), when
    windows divide a day evenly; else one row per day with the windows in order."""
    views = sorted((window_view(w) for w in windows), key=lambda v: v["start_ms"])
    if not views:
        return {"columns": 0, "column_labels": [], "rows": []}
    length = min(v["end_ms"] - v["start_ms"] for v in views) or 1
    day_ms = 86_400_000
    aligned = day_ms % length == 0 and all(v["start_ms"] % length == 0 for v in views)
    columns = day_ms // length if aligned else max(1, len(views))
    rows: dict[int, list[dict[str, Any]]] = {}
    for v in views:
        day = v["start_ms"] // day_ms
        cells = rows.setdefault(day, [])
        column = (v["start_ms"] % day_ms) // length if aligned else len(cells)
        cells.append({**v, "column": int(column)})
    newest = sorted(rows)[-days:]
    labels = (
        [from_ms(c * length).astimezone(UTC).strftime("%H:%M") for c in range(int(columns))]
        if aligned
        else []
    )
    return {
        "columns": int(columns),
        "column_labels": labels,
        "rows": [
            {"day": from_ms(day * day_ms).astimezone(UTC).strftime("%Y-%m-%d"), "cells": rows[day]}
            for day in reversed(newest)
        ],
    }


def totals(windows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Money agreed and at stake per currency, and windows per page state."""
    agreed: dict[str, Decimal] = {}
    stake: dict[str, Decimal] = {}
    states: Counter[str] = Counter()
    for w in windows:
        states[state_of(str(w.get("state", "")))] += 1
        currency = str(w.get("currency") or "")
        if currency:
            agreed[currency] = agreed.get(currency, Decimal(0)) + _dec(w.get("money_agreed", 0))
            stake[currency] = stake.get(currency, Decimal(0)) + _dec(w.get("at_stake", 0))
    money = []
    for currency in sorted(set(agreed) | set(stake)):
        a, s = agreed.get(currency, Decimal(0)), stake.get(currency, Decimal(0))
        whole = a + s
        money.append(
            {
                "currency": currency,
                "agreed": _money(a),
                "at_stake": _money(s),
                "agreed_share": float(a / whole) if whole else 1.0,
            }
        )
    return {"money": money, "states": {s: states.get(s, 0) for s in STATE_LABELS}}


def bilateral_view(
    app: str,
    about: Mapping[str, str],
    windows: Sequence[Mapping[str, Any]],
    now_ms: int,
) -> dict[str, Any]:
    """One bilateral's header: who, which agreement, how fresh, totals and the window grid."""
    round_ms = int(about.get("round_ms") or 0)
    party, partner = about.get("party", ""), about.get("partner", "")
    return {
        "app": app,
        "party": party,
        "partner": partner,
        "agreement_id": about.get("agreement_id", ""),
        "title": f"{party} ↔ {partner}" if party and partner else app,
        "last_round_ms": round_ms or None,
        "last_round_age_s": (now_ms - round_ms) / 1000 if round_ms else None,
        "totals": totals(windows),
        "grid": window_grid(windows),
    }


# --- alerts ---------------------------------------------------------------------------------


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def proof_view(
    text: str | None, key: ProofKey | None, agreement_id: str, leaf_data: bytes | None = None
) -> dict[str, Any] | None:
    """One side's proof (``{anchor_sequence, root, proof}`` JSON) for reading, with a check of
    its paths against the anchored root it names: ``ok``, ``failed`` (why), or ``unchecked``
    (no agreement loaded, or another agreement). The anchor's signature is not checked here:
    ``bilat verify`` does that."""
    data = _json_or_none(text)
    if not isinstance(data, Mapping):
        return None if not text else {"error": "not a proof (unreadable JSON)", "raw": text}
    raw_proof = data.get("proof") or {}
    root = str(data.get("root", ""))
    view: dict[str, Any] = {
        "anchor_sequence": data.get("anchor_sequence"),
        "root": root,
        "usage_key": raw_proof.get("usage_key"),
        "leaf_hash": raw_proof.get("leaf_hash"),
        "bucket": raw_proof.get("bucket"),
        "index": raw_proof.get("index"),
        "bucket_size": raw_proof.get("bucket_size"),
        "bucket_path": list(raw_proof.get("bucket_path") or []),
        "top_path": list(raw_proof.get("top_path") or []),
        "check": "unchecked",
        "check_detail": "agreement not loaded: run the dashboard with --agreement",
    }
    if key is None or key.agreement_id != agreement_id:
        if key is not None:
            view["check_detail"] = f"proof of agreement {agreement_id}, not {key.agreement_id}"
        return view
    try:
        proof = RecordProof.from_json(raw_proof)
        verify_record(proof, bytes.fromhex(root), key.depth, key.salt, leaf_data=leaf_data)
    except (ProofError, RootMismatchError, ValueError) as exc:
        view["check"], view["check_detail"] = "failed", str(exc)
        return view
    view["check"] = "ok"
    view["check_detail"] = (
        f"the record's leaf leads to root {root[:16]}… of anchor #{data.get('anchor_sequence')} "
        f"(bucket {proof.bucket} of {1 << key.depth}, leaf {proof.index + 1} of "
        f"{proof.bucket_size})"
    )
    return view


def _fact_rows(facts: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for suffix, label in _FACT_LABELS.items():
        here, there = facts.get(f"here_{suffix}"), facts.get(f"partner_{suffix}")
        if here is None and there is None:
            continue
        if suffix == "start_ms":
            here = _ms_text(here)
            there = _ms_text(there)
        rows.append(
            {"field": label, "here": here or "—", "partner": there or "—", "differs": here != there}
        )
    known = {f"{side}_{s}" for s in _FACT_LABELS for side in ("here", "partner")}
    for name in sorted(set(facts) - known):
        rows.append({"field": name, "here": facts[name], "partner": "", "differs": False})
    return rows


def _ms_text(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return from_ms(int(text)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    except (ValueError, OverflowError):
        return text


def alert_view(
    fields: Mapping[str, str], stream_id: str, app: str, key: ProofKey | None = None
) -> dict[str, Any]:
    """One alert stream entry (string fields) for the feed and its drill-down."""
    kind = fields.get("kind", "")
    start = int(fields.get("window_start_ms") or 0)
    end = int(fields.get("window_end_ms") or 0)
    detected = int(fields.get("detected_ms") or 0)
    facts = _json_or_none(fields.get("facts"))
    agreement_id = fields.get("agreement_id", "")
    at_stake = fields.get("at_stake") or ""
    currency = fields.get("currency") or ""
    keys = [k for k in (fields.get("record_keys") or "").split(",") if k]
    return {
        "app": app,
        "stream_id": stream_id,
        "alert_id": fields.get("alert_id", ""),
        "party": fields.get("party", ""),
        "partner": fields.get("partner", ""),
        "agreement_id": agreement_id,
        "kind": kind,
        "kind_label": KIND_LABELS.get(kind, kind),
        "severity": fields.get("severity") or "warning",
        "window": f"{start}-{end}" if end else "",
        "window_label": f"{_when(start)}–{from_ms(end).astimezone(UTC):%H:%M}" if end else "ledger",
        "revision": fields.get("revision", ""),
        "record_keys": keys,
        "here_value": fields.get("here_value") or None,
        "partner_value": fields.get("partner_value") or None,
        "delta": fields.get("delta") or None,
        "at_stake": _money(_dec(at_stake)) if at_stake else None,
        "currency": currency or None,
        "detail": fields.get("detail", ""),
        "detected_ms": detected or None,
        "detected": _when(detected) if detected else "",
        "facts": _fact_rows(facts if isinstance(facts, Mapping) else {}),
        "here_proof": proof_view(fields.get("here_proof"), key, agreement_id),
        "partner_proof": proof_view(fields.get("partner_proof"), key, agreement_id),
    }


def class_counts(counts: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
    """Alerts per (kind, severity), most first: kind, label, severity, count."""
    return [
        {"kind": k, "label": KIND_LABELS.get(k, k), "severity": s or "warning", "count": n}
        for (k, s), n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        if n
    ]


# --- bills ----------------------------------------------------------------------------------

BILL_STATE_LABELS: Mapping[str, str] = {
    "generated": "Awaiting the Buyer",
    "paymentDue": "Payment due",
    "settled": "Settled",
}
ITEM_STATE_LABELS: Mapping[str, str] = {
    "generated": "new",
    "disputeBeingInvestigated": "disputed",
    "credit": "credited",
    "withDrawn": "withdrawn",
    "withdrawn": "withdrawn",
    "paymentDue": "payment due",
    "settled": "settled",
}


def _mef_money(value: Any) -> tuple[str, str]:
    if isinstance(value, Mapping):
        return _money(_dec(value.get("value", 0))), str(value.get("unit", ""))
    return "", ""


def bill_view(bill_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One bill of ``bilat:<app>:settle:bills`` (its MEF CustomerBill, items and disputes)."""
    bill = data.get("bill") or {}
    items = data.get("items") or []
    state = str(bill.get("state") or "generated")
    due, unit = _mef_money(bill.get("amountDue"))
    remaining, _ = _mef_money(bill.get("remainingAmount"))
    period = bill.get("billingPeriod") or {}
    item_states = Counter(str(i.get("state") or "generated") for i in items)
    disputes = [
        {
            "dispute_id": str(d.get("dispute_id", "")),
            "state": str(d.get("state", "")),
            "state_label": ITEM_STATE_LABELS.get(str(d.get("state", "")), str(d.get("state", ""))),
            "items": [str(i) for i in d.get("items", [])],
            "reason": str(d.get("reason", "")),
            "evidence_hash": str(d.get("evidence_hash", "")),
        }
        for d in data.get("disputes") or []
    ]
    return {
        "bill_id": bill_id,
        "bill_no": str(bill.get("billNo") or bill_id),
        "role": str(data.get("role", "")),
        "agreement_id": str(data.get("agreement_id", "")),
        "currency": str(data.get("currency") or unit),
        "state": state,
        "state_label": BILL_STATE_LABELS.get(state, state),
        "amount_due": due,
        "remaining": remaining,
        # The billing cycle as the agreement names it (``2026-11``, in its time zone); UTC
        # dates of the period's instants would show a Berlin month as 10-31 - 11-30.
        "period": str(bill.get("billCycle") or "")
        or (
            f"{str(period.get('startDateTime', ''))[:10]} – "
            f"{str(period.get('endDateTime', ''))[:10]}"
            if period
            else ""
        ),
        "bill_date": str(bill.get("billDate", ""))[:10],
        "payment_due": str(bill.get("paymentDueDate", ""))[:10],
        "items": len(items),
        "item_states": [
            {"state": s, "label": ITEM_STATE_LABELS.get(s, s), "count": n}
            for s, n in sorted(item_states.items())
        ],
        "disputes": disputes,
        "statement_hash": str(data.get("statement_hash", "")),
        "updated_ms": data.get("updated_ms"),
    }
