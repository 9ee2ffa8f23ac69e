"""Prometheus metrics: the hooks' arithmetic, what each process shows, the endpoint."""

from __future__ import annotations

import json
import math
import socket
import time
import urllib.request
from collections import Counter
from decimal import Decimal

import pytest

from streams.core.errors import PortInUseError
from streams.reconcile.alerts import make_alert
from streams.reconcile.status import WindowStatus
from streams.runtime import metrics
from streams.runtime.metrics import WorkerMetrics, sample

HOUR = 3_600_000


def value(name: str, **labels: str) -> float:
    return sample(name, labels) or 0.0


def test_worker_hook_adds_what_changed_per_batch() -> None:
    before = {
        "in": value("bilat_worker_records_in_total"),
        "rated": value("bilat_worker_records_rated_total"),
        "rate": value("bilat_worker_dead_letters_total", stage="rate"),
        "dedup": value("bilat_worker_dead_letters_total", stage="dedup"),
        "replayed": value("bilat_worker_replays_skipped_total"),
    }
    hook = WorkerMetrics()
    counts: Counter[str] = Counter({"usage.rated": 1990, "usage.dlq": 10, "dead:rate": 10})
    hook.observe(2000, counts)
    counts.update({"usage.rated": 5, "usage.dlq": 2, "dead:dedup": 2, "replayed": 3})
    hook.observe(10, counts)
    hook.observe(0, counts)  # an idle poll changes nothing
    assert value("bilat_worker_records_in_total") - before["in"] == 2010
    assert value("bilat_worker_records_rated_total") - before["rated"] == 1995
    assert value("bilat_worker_dead_letters_total", stage="rate") - before["rate"] == 10
    assert value("bilat_worker_dead_letters_total", stage="dedup") - before["dedup"] == 2
    assert value("bilat_worker_replays_skipped_total") - before["replayed"] == 3


def test_lag_comes_from_librdkafka_statistics_of_the_consumed_topic() -> None:
    hook = WorkerMetrics("t.usage.cdr")
    partitions = {
        "0": {"fetch_state": "active", "consumer_lag": 12},
        "1": {"fetch_state": "none", "consumer_lag": 99},  # not assigned here
        "2": {"fetch_state": "active", "consumer_lag": -1},  # not known yet
        "-1": {"fetch_state": "none", "consumer_lag": -1},
    }
    other = {"0": {"fetch_state": "active", "consumer_lag": 5}}
    hook.stats(
        json.dumps(
            {
                "topics": {
                    "t.usage.cdr": {"partitions": partitions},
                    "u.usage.cdr": {"partitions": other},
                }
            }
        )
    )
    assert value("bilat_worker_consumer_lag", partition="0") == 12
    assert sample("bilat_worker_consumer_lag", {"partition": "1"}) is None
    assert sample("bilat_worker_consumer_lag", {"partition": "2"}) is None
    hook.stats("not json")  # ignored
    assert hook.consumer_config()["statistics.interval.ms"] == 2000


def test_round_hook_sets_windows_money_alerts_and_the_delay() -> None:
    end = int(time.time() * 1000) - 90_000  # the newest agreed window ended 90 s ago
    windows = [
        WindowStatus(
            (end - HOUR, end), "agreed", 0, 0, money_agreed=Decimal("2.5"), currency="EUR"
        ),
        WindowStatus(
            (end, end + HOUR),
            "diverged",
            0,
            0,
            money_agreed=Decimal("1"),
            at_stake=Decimal("0.25"),
            currency="EUR",
        ),
        WindowStatus((end + HOUR, end + 2 * HOUR), "waiting", None, None),
    ]
    alert = make_alert(
        party="hgc",
        partner="dcc",
        agreement_id="a",
        window=(end, end + HOUR),
        revision=0,
        kind="missing-here",
        detail="d",
        identity=["k"],
    )
    published = value("bilat_recon_alerts_published_total", kind="missing-here", severity="warning")
    metrics.observe_round(windows, [alert], [alert])
    assert value("bilat_recon_windows", state="agreed") == 1
    assert value("bilat_recon_windows", state="waiting") == 1
    assert value("bilat_recon_money_agreed", currency="EUR") == 3.5
    assert value("bilat_recon_money_at_stake", currency="EUR") == 0.25
    assert value("bilat_recon_alerts", kind="missing-here", severity="warning") == 1
    assert (
        value("bilat_recon_alerts_published_total", kind="missing-here", severity="warning")
        == published + 1
    )
    assert value("bilat_recon_newest_agreed_window_end_seconds") == end / 1000
    assert 89 <= value("bilat_recon_delay_seconds") <= 120
    metrics.observe_round(windows[1:], [], [])  # nothing agreed any more: states replaced
    assert sample("bilat_recon_windows", {"state": "agreed"}) is None
    assert math.isnan(value("bilat_recon_delay_seconds"))


def test_anchor_and_listener_hooks() -> None:
    anchored = value("bilat_batcher_batches_anchored_total")
    records = value("bilat_batcher_records_anchored_total")
    entries = value("bilat_ledger_entries_appended_total", kind="anchor")
    metrics.observe_anchor(400)
    metrics.entry_appended("countersignature")
    assert value("bilat_batcher_batches_anchored_total") == anchored + 1
    assert value("bilat_batcher_records_anchored_total") == records + 400
    assert value("bilat_ledger_entries_appended_total", kind="anchor") == entries + 1
    assert value("bilat_ledger_entries_appended_total", kind="countersignature") >= 1
    metrics.observe_listener("productOrderStateChangeEvent", 204)
    assert (
        value(
            "bilat_sonata_notifications_total",
            event_type="productOrderStateChangeEvent",
            status="204",
        )
        >= 1
    )


def test_a_process_serves_its_own_group_only() -> None:
    metrics.enable("batcher", "hgc")
    port = metrics.serve_metrics(0, "127.0.0.1")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "bilat_batcher_batches_anchored_total" in text
    assert 'bilat_process_info{party="hgc",process="batcher"} 1.0' in text
    assert "bilat_sonata_notifications" not in text  # not enabled in this process
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(PortInUseError, match="in use"):
            metrics.serve_metrics(taken.getsockname()[1], "127.0.0.1")


def test_the_settlement_agent_reports_bills_items_money_and_disputes() -> None:
    metrics.observe_bills(
        [
            (
                "generated",
                "EUR",
                {"a-1": "paymentDue", "a-2": "disputeBeingInvestigated"},
                Decimal("10.50"),
                Decimal("10.50"),
                1,
            ),
            ("settled", "USD", {"b-1": "withDrawn"}, Decimal(0), Decimal(0), 0),
            ("paymentDue", "EUR", {"c-1": "paymentDue"}, Decimal("2"), Decimal("1.5"), 0),
        ]
    )
    assert metrics.sample("bilat_settle_bills", {"state": "generated", "currency": "EUR"}) == 1
    assert metrics.sample("bilat_settle_bill_items", {"state": "paymentDue"}) == 2
    assert metrics.sample("bilat_settle_amount_due", {"currency": "EUR"}) == 12.5
    assert metrics.sample("bilat_settle_remaining", {"currency": "EUR"}) == 12.0
    assert metrics.sample("bilat_settle_open_disputes") == 1
    metrics.observe_bills([])  # a later round without bills forgets the earlier ones
    assert metrics.sample("bilat_settle_bills", {"state": "generated", "currency": "EUR"}) is None
