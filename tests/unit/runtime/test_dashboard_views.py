"""The dashboard's view models and charts: WindowStatus, alerts and bills as the page shows
them (pure; the alerts and proofs come from the real engine over two in-memory ledgers)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache

import pytest

from streams.agreement.signing import book_hash
from streams.reconcile.engine import Outcome
from streams.reconcile.status import WindowStatus
from streams.runtime.dashboard.charts import class_chart, stake_chart
from streams.runtime.dashboard.views import (
    ProofKey,
    alert_view,
    bilateral_view,
    bill_view,
    class_counts,
    state_of,
    totals,
    window_grid,
    window_view,
)
from streams.runtime.reconciler import alert_fields
from tests.fakes import dashboard as dashboard_data
from tests.fakes.recon import BOOK

KEY = ProofKey(BOOK.id, BOOK.latest.digest_depth, book_hash(BOOK))
HOUR = 3_600_000
DAY0 = 1_795_132_800_000  # 2026-11-20 00:00 UTC


@cache
def outcome() -> Outcome:
    return dashboard_data.outcome()


def status(hour: int, state: str, **kw: object) -> dict[str, object]:
    start = DAY0 + hour * HOUR
    return WindowStatus((start, start + HOUR), state, 0, 0, **kw).to_json()  # type: ignore[arg-type]


def entry(kind: str) -> dict[str, str]:
    alert = next(a for a in outcome().alerts if a.kind == kind)
    return alert_fields(alert.to_avro(DAY0 + 50 * HOUR))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("agreed", "agreed"),
        ("agreed-within-tolerance", "within-tolerance"),
        ("diverged", "diverged"),
        ("not-anchored", "diverged"),
        ("not-anchored-here", "diverged"),
        ("drilling", "waiting"),
        ("waiting", "waiting"),
        ("something-new", "waiting"),
    ],
)
def test_every_reconciler_state_is_one_of_four(raw: str, shown: str) -> None:
    assert state_of(raw) == shown


def test_window_view_reads_money_counts_and_why_it_waits() -> None:
    view = window_view(
        status(
            10, "diverged", counts={"exact": 18, "amount-mismatch": 1, "within-tolerance": 1},
            money_agreed=Decimal("0.2556"), at_stake=Decimal("0.0057"), currency="EUR",
        )
    )  # fmt: skip
    assert view["label"] == "2026-11-20 10:00–11:00"
    assert (view["state"], view["state_label"]) == ("diverged", "Diverged")
    assert (view["records"], view["divergent_records"]) == (20, 1)
    assert (view["money_agreed"], view["at_stake"]) == ("0.2556", "0.0057")
    waiting = window_view(status(11, "waiting", waiting_for="the partner's digest"))
    assert waiting["detail"] == "waiting for the partner's digest"
    assert window_view(status(12, "not-anchored"))["detail"] == (
        "the partner never anchored this window"
    )


def test_grid_places_hourly_windows_by_day_and_hour_newest_day_first() -> None:
    windows = [status(9, "agreed"), status(10, "diverged"), status(24 + 3, "waiting")]
    grid = window_grid(windows)
    assert grid["columns"] == 24 and grid["column_labels"][9] == "09:00"
    assert [r["day"] for r in grid["rows"]] == ["2026-11-21", "2026-11-20"]
    assert [(c["column"], c["state"]) for c in grid["rows"][1]["cells"]] == [
        (9, "agreed"),
        (10, "diverged"),
    ]
    assert window_grid([]) == {"columns": 0, "column_labels": [], "rows": []}


def test_grid_of_windows_not_dividing_a_day_lists_them_in_order() -> None:
    seven = 7 * HOUR
    windows = [
        WindowStatus((DAY0 + i * seven, DAY0 + (i + 1) * seven), "agreed", 0, 0).to_json()
        for i in range(3)
    ]
    grid = window_grid(windows)
    assert grid["column_labels"] == []
    assert [c["column"] for c in grid["rows"][0]["cells"]] == [0, 1, 2]


def test_totals_sum_money_per_currency_and_windows_per_state() -> None:
    windows = [
        status(9, "agreed", money_agreed=Decimal("1.5"), currency="EUR"),
        status(
            10, "diverged", money_agreed=Decimal("0.5"), at_stake=Decimal("0.5"), currency="EUR"
        ),
        status(11, "agreed", money_agreed=Decimal("3"), currency="USD"),
        status(12, "waiting"),
    ]
    result = totals(windows)
    assert result["states"] == {"agreed": 2, "within-tolerance": 0, "diverged": 1, "waiting": 1}
    assert result["money"] == [
        {"currency": "EUR", "agreed": "2.00", "at_stake": "0.50", "agreed_share": 0.8},
        {"currency": "USD", "agreed": "3.00", "at_stake": "0.00", "agreed_share": 1.0},
    ]


def test_bilateral_view_names_both_parties_and_how_fresh() -> None:
    about = {"party": "hgc", "partner": "dcc", "agreement_id": "a", "round_ms": str(DAY0)}
    view = bilateral_view("bilat-hgc-main", about, [status(9, "agreed")], DAY0 + 5000)
    assert (view["title"], view["last_round_age_s"]) == ("hgc ↔ dcc", 5.0)
    never = bilateral_view("bilat-x-main", {}, [], DAY0)
    assert (never["title"], never["last_round_age_s"]) == ("bilat-x-main", None)


def test_alert_view_puts_both_sides_side_by_side_and_checks_both_proofs() -> None:
    view = alert_view(entry("amount-mismatch"), "1-0", "bilat-hgc-main", KEY)
    assert (view["kind_label"], view["severity"]) == ("Price differs", "warning")
    assert view["record_keys"] == ["ix-fra-01/10-5"]
    assert (view["here_value"], view["partner_value"], view["delta"]) == (
        "0.0142",
        "0.0199",
        "-0.0057",
    )
    assert (view["at_stake"], view["currency"]) == ("0.0057", "EUR")
    rows = {r["field"]: r for r in view["facts"]}
    assert rows["rate"]["here"] == "voice-de-mobile@peak" and rows["rate"]["differs"]
    assert rows["start (UTC)"]["here"] == "2026-11-20 10:05:05.000"
    assert not rows["quantity"]["differs"]
    for side in ("here_proof", "partner_proof"):
        proof = view[side]
        assert proof["check"] == "ok", proof["check_detail"]
        assert proof["usage_key"] == "ix-fra-01/10-5" and len(proof["root"]) == 64
    assert view["here_proof"]["root"] != view["partner_proof"]["root"]


def test_a_missing_record_has_one_proof_and_a_tampered_proof_fails() -> None:
    fields = entry("missing-at-partner")
    view = alert_view(fields, "1-0", "app", KEY)
    assert view["here_proof"]["check"] == "ok" and view["partner_proof"] is None
    proof = json.loads(fields["here_proof"])
    proof["root"] = "00" * 32
    bad = alert_view({**fields, "here_proof": json.dumps(proof)}, "1-0", "app", KEY)
    assert bad["here_proof"]["check"] == "failed"
    unchecked = alert_view(fields, "1-0", "app", None)["here_proof"]
    assert unchecked["check"] == "unchecked" and "--agreement" in unchecked["check_detail"]
    other = alert_view(fields, "1-0", "app", ProofKey("other", 8, b"s"))["here_proof"]
    assert other["check"] == "unchecked" and "not other" in other["check_detail"]
    garbled = alert_view({**fields, "here_proof": "{nope"}, "1-0", "app", KEY)
    assert "unreadable" in garbled["here_proof"]["error"]


def test_a_ledger_alert_has_no_window() -> None:
    view = alert_view({"kind": "fork", "severity": "critical", "window_end_ms": "0"}, "1-0", "a")
    assert (view["window_label"], view["kind_label"], view["record_keys"]) == (
        "ledger",
        "Chain forked",
        [],
    )


def test_class_counts_most_first_with_words() -> None:
    counts = {("missing-here", "warning"): 1, ("fork", "critical"): 3, ("gap", "critical"): 0}
    assert class_counts(counts) == [
        {"kind": "fork", "label": "Chain forked", "severity": "critical", "count": 3},
        {"kind": "missing-here", "label": "Missing here", "severity": "warning", "count": 1},
    ]


def test_bill_view_reads_the_mef_bill_its_items_and_disputes() -> None:
    data = {
        "bill": {
            "billNo": "B-1", "state": "generated",
            "amountDue": {"unit": "EUR", "value": 100.5},
            "remainingAmount": {"unit": "EUR", "value": 100.5},
            "billingPeriod": {"startDateTime": "2026-11-01T00:00:00Z",
                              "endDateTime": "2026-12-01T00:00:00Z"},
        },
        "items": [{"state": "paymentDue"}, {"state": "disputeBeingInvestigated"},
                  {"state": "withdrawn"}],
        "disputes": [{"dispute_id": "d", "items": ["i2"], "state": "credit", "reason": "r"}],
        "role": "buyer", "currency": "EUR",
    }  # fmt: skip
    view = bill_view("b", data)
    assert (view["bill_no"], view["state_label"], view["amount_due"]) == (
        "B-1",
        "Awaiting the Buyer",
        "100.50",
    )
    assert view["period"] == "2026-11-01 – 2026-12-01"
    # A Berlin month starts at 23:00 UTC the day before: the billing cycle names it.
    data["bill"] = {**data["bill"], "billCycle": "2026-11",
                    "billingPeriod": {"startDateTime": "2026-10-31T23:00:00Z",
                                      "endDateTime": "2026-11-30T23:00:00Z"}}  # fmt: skip
    assert bill_view("b", data)["period"] == "2026-11"
    assert {s["label"]: s["count"] for s in view["item_states"]} == {
        "disputed": 1,
        "payment due": 1,
        "withdrawn": 1,
    }
    assert view["disputes"][0]["state_label"] == "credited"
    assert bill_view("empty", {})["state"] == "generated"


def test_charts_escape_data_and_say_when_empty() -> None:
    windows = [
        window_view(status(9, "diverged", at_stake=Decimal("2"), currency="EUR")),
        window_view(status(10, "agreed", currency="EUR")),
    ]
    svg = stake_chart(windows)
    assert svg.startswith("<svg") and svg.count("<rect") == 2 and "2.00 EUR at stake" in svg
    assert "No money reconciled yet" in stake_chart([])
    bars = class_chart([{"kind": "<x>", "label": "<b>&", "severity": "info", "count": 2}])
    assert "<b>" not in bars and "&lt;b&gt;&amp;" in bars
    assert "No divergences found" in class_chart([])
