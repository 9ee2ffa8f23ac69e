"""Prometheus metrics of Bilat's long-running processes, and the endpoint that serves them.

Every metric exists from import on (in a private registry: hooks always have something to
update, tests read them with :func:`sample`); a process shows only its own group on ``/metrics``
(:func:`enable` adds it to ``prometheus_client``'s default registry), so a worker does not
export a reconciler's gauges. ``bilat worker``,
``bilat batcher``, ``bilat reconcile`` and ``bilat sonata listen`` take ``--metrics-port``
(env ``BILAT_METRICS_PORT``; off by default: several processes on one machine would fight for
one default port); ``bilat dashboard`` serves ``/metrics`` on its own port.

Hooks are per batch or per round, never per record (the worker rates tens of thousands of
records a second): :class:`WorkerMetrics` takes the loop's running counts once per batch and
adds what changed; consumer lag comes from librdkafka's own statistics, every two seconds.

Names (all prefixed ``bilat_``), by process:

=====================================================  =========  ===========================
metric                                                 type       labels
=====================================================  =========  ===========================
``bilat_worker_records_in_total``                      counter
``bilat_worker_records_rated_total``                   counter
``bilat_worker_dead_letters_total``                    counter    ``stage``
``bilat_worker_replays_skipped_total``                 counter
``bilat_worker_consumer_lag``                          gauge      ``partition``
``bilat_batcher_records_in_total``                     counter
``bilat_batcher_batches_anchored_total``               counter
``bilat_batcher_records_anchored_total``               counter
``bilat_ledger_entries_appended_total``                counter    ``kind``
``bilat_recon_rounds_total``                           counter
``bilat_recon_alerts_published_total``                 counter    ``kind``, ``severity``
``bilat_recon_alerts``                                 gauge      ``kind``, ``severity``
``bilat_recon_windows``                                gauge      ``state``
``bilat_recon_money_agreed``                           gauge      ``currency``
``bilat_recon_money_at_stake``                         gauge      ``currency``
``bilat_recon_newest_agreed_window_end_seconds``       gauge
``bilat_recon_delay_seconds``                          gauge
``bilat_sonata_notifications_total``                   counter    ``event_type``, ``status``
``bilat_sonata_records_published_total``               counter
``bilat_dashboard_sse_clients``                        gauge
``bilat_process_info``                                 gauge      ``process``, ``party``
=====================================================  =========  ===========================

plus ``prometheus_client``'s own ``process_*`` and ``python_*`` metrics.
"""

from __future__ import annotations

import errno
import json
import math
import time
from collections import Counter as Counts
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client import start_http_server as _start_http_server

from streams.core.errors import PortInUseError

if TYPE_CHECKING:
    from streams.reconcile.alerts import Alert
    from streams.reconcile.status import WindowStatus

__all__ = [
    "CONTENT_TYPE",
    "PROCESSES",
    "WorkerMetrics",
    "enable",
    "entry_appended",
    "exposition",
    "observe_anchor",
    "observe_listener",
    "observe_round",
    "sample",
    "serve_metrics",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :func:`exposition` (Prometheus text format)."""

_ALL = CollectorRegistry()
"""Every metric below; :func:`enable` shows a process's group in the default registry."""

# --- worker ---------------------------------------------------------------------------------
WORKER_IN = Counter("bilat_worker_records_in", "Messages read from usage.cdr.", registry=_ALL)
WORKER_RATED = Counter(
    "bilat_worker_records_rated", "Rated records produced to usage.rated.", registry=_ALL
)
WORKER_DEAD = Counter(
    "bilat_worker_dead_letters",
    "Records produced to usage.dlq, by the stage that refused them "
    "(decode, validate, rate, dedup, internal...).",
    ["stage"],
    registry=_ALL,
)
WORKER_REPLAYED = Counter(
    "bilat_worker_replays_skipped",
    "Messages of a batch already claimed (a replay after a crash), not produced again.",
    registry=_ALL,
)
WORKER_LAG = Gauge(
    "bilat_worker_consumer_lag",
    "Messages on usage.cdr past this worker's position, per assigned partition "
    "(librdkafka's statistics, every 2 s).",
    ["partition"],
    registry=_ALL,
)

# --- batcher --------------------------------------------------------------------------------
BATCHER_IN = Counter(
    "bilat_batcher_records_in", "Rated records read from usage.rated.", registry=_ALL
)
ANCHORED = Counter(
    "bilat_batcher_batches_anchored", "Batches (window revisions) anchored.", registry=_ALL
)
ANCHORED_RECORDS = Counter(
    "bilat_batcher_records_anchored",
    "Records in the batches anchored (leaves).",
    registry=_ALL,
)
ENTRIES = Counter(
    "bilat_ledger_entries_appended",
    "Entries this process appended to the party's chain, by kind.",
    ["kind"],
    registry=_ALL,
)

# --- reconciler -----------------------------------------------------------------------------
ROUNDS = Counter("bilat_recon_rounds", "Reconciliation rounds evaluated.", registry=_ALL)
ALERTS_PUBLISHED = Counter(
    "bilat_recon_alerts_published",
    "Alerts this process published (each finding once, ever: a restart publishes none again).",
    ["kind", "severity"],
    registry=_ALL,
)
ALERTS = Gauge(
    "bilat_recon_alerts",
    "Findings known at the last round, by class.",
    ["kind", "severity"],
    registry=_ALL,
)
WINDOWS = Gauge("bilat_recon_windows", "Windows by reconciliation state.", ["state"], registry=_ALL)
MONEY_AGREED = Gauge(
    "bilat_recon_money_agreed",
    "Money in agreed records over all windows.",
    ["currency"],
    registry=_ALL,
)
AT_STAKE = Gauge(
    "bilat_recon_money_at_stake",
    "Money in divergent records over all windows (what is disputed).",
    ["currency"],
    registry=_ALL,
)
NEWEST_AGREED = Gauge(
    "bilat_recon_newest_agreed_window_end_seconds",
    "End (Unix time) of the newest window agreed (exactly or within tolerance); NaN: none yet.",
    registry=_ALL,
)
DELAY = Gauge(
    "bilat_recon_delay_seconds",
    "How far agreement lags behind: now minus the end of the newest agreed window, "
    "computed at scrape; NaN while no window is agreed.",
    registry=_ALL,
)

# --- Sonata listener, dashboard, all ----------------------------------------------------------
NOTIFICATIONS = Counter(
    "bilat_sonata_notifications",
    "MEF notifications received, by event type and the HTTP status answered.",
    ["event_type", "status"],
    registry=_ALL,
)
SONATA_RECORDS = Counter(
    "bilat_sonata_records_published",
    "Order records published to sonata.orders.",
    registry=_ALL,
)
SETTLE_ROUNDS = Counter("bilat_settle_rounds", "Settlement agent rounds.", registry=_ALL)
BILLS = Gauge("bilat_settle_bills", "Bills by MEF 141 state.", ["state", "currency"], registry=_ALL)
BILL_ITEMS = Gauge(
    "bilat_settle_bill_items", "Bill items by MEF 141 state.", ["state"], registry=_ALL
)
AMOUNT_DUE = Gauge(
    "bilat_settle_amount_due", "Amount due over all bills.", ["currency"], registry=_ALL
)
REMAINING = Gauge(
    "bilat_settle_remaining",
    "Amount still to be paid over all bills.",
    ["currency"],
    registry=_ALL,
)
OPEN_DISPUTES = Gauge("bilat_settle_open_disputes", "Disputes not resolved yet.", registry=_ALL)
HTTP_REQUESTS = Counter(
    "bilat_http_requests",
    "HTTP requests answered, by route and status (billing API, billing listener).",
    ["route", "status"],
    registry=_ALL,
)
BILL_NOTIFICATIONS = Counter(
    "bilat_billing_notifications",
    "Bill event deliveries to subscribers: delivered, or failed (then retried).",
    ["event_type", "outcome"],
    registry=_ALL,
)
SSE_CLIENTS = Gauge(
    "bilat_dashboard_sse_clients", "Browsers following the live alert feed.", registry=_ALL
)
INFO = Gauge(
    "bilat_process_info",
    "Which Bilat process this is (always 1).",
    ["process", "party"],
    registry=_ALL,
)

_newest_agreed_s = math.nan
NEWEST_AGREED.set(math.nan)
DELAY.set_function(lambda: time.time() - _newest_agreed_s)  # NaN - anything = NaN

_AGREED_STATES = ("agreed", "agreed-within-tolerance")


def serve_metrics(port: int, addr: str = "0.0.0.0") -> int:
    """Serve ``/metrics`` of the default registry on ``addr:port`` from a daemon thread;
    returns the port bound (``port`` 0: any free one).

    Raises :class:`~streams.core.errors.PortInUseError` when the port is taken.
    """
    try:
        server, _thread = _start_http_server(port, addr=addr)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"cannot serve metrics on {addr}:{port}: the port is in use; choose another "
                "with --metrics-port or BILAT_METRICS_PORT (one port per process)"
            ) from exc
        raise
    return int(server.server_port)


def exposition() -> bytes:
    """The default registry in Prometheus text format (for an app that serves it itself)."""
    return generate_latest(REGISTRY)


def sample(name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The current value of one sample of any Bilat metric, enabled or not (tests, tools);
    None if absent. Counters are named with their ``_total`` suffix."""
    return _ALL.get_sample_value(name, dict(labels or {}))


PROCESSES: Mapping[str, tuple[Any, ...]] = {
    "worker": (WORKER_IN, WORKER_RATED, WORKER_DEAD, WORKER_REPLAYED, WORKER_LAG),
    "batcher": (BATCHER_IN, ANCHORED, ANCHORED_RECORDS, ENTRIES),
    "reconcile": (
        ROUNDS, ALERTS_PUBLISHED, ALERTS, WINDOWS, MONEY_AGREED, AT_STAKE, NEWEST_AGREED, DELAY,
    ),
    "sonata-listener": (NOTIFICATIONS, SONATA_RECORDS),
    "settle": (SETTLE_ROUNDS, BILLS, BILL_ITEMS, AMOUNT_DUE, REMAINING, OPEN_DISPUTES),
    "billing-api": (HTTP_REQUESTS, BILL_NOTIFICATIONS),
    "billing-listener": (HTTP_REQUESTS,),
    "dashboard": (SSE_CLIENTS,),
}  # fmt: skip
"""Each long-running process's own metrics."""
_enabled: set[str] = set()


def enable(process: str, party: str) -> None:
    """Show ``process``'s metrics (a key of :data:`PROCESSES`) and ``bilat_process_info`` in
    the default registry, which :func:`serve_metrics` and :func:`exposition` serve. Idempotent."""
    if "info" not in _enabled:
        REGISTRY.register(INFO)
        _enabled.add("info")
    INFO.labels(process, party).set(1)
    if process not in _enabled:
        for collector in PROCESSES[process]:
            REGISTRY.register(collector)
        _enabled.add(process)


class WorkerMetrics:
    """The rating loop's hooks: once per batch, what changed in its running counts; and
    librdkafka's statistics (every :data:`STATS_EVERY_MS`), for the consumer lag."""

    STATS_EVERY_MS = 2000

    def __init__(self, topic: str = "") -> None:
        self.topic = topic
        """The consumed topic whose lag is reported (every topic when empty)."""
        self._last: Counts[str] = Counts()

    def observe(self, read: int, counts: Mapping[str, int]) -> None:
        """``read`` messages were taken in this batch; ``counts`` are the loop's running
        totals (``usage.rated``, ``replayed``, ``dead:<stage>``)."""
        if read:
            WORKER_IN.inc(read)
        last = self._last
        for key, total in counts.items():
            delta = total - last[key]
            if delta <= 0:
                continue
            last[key] = total
            if key == "usage.rated":
                WORKER_RATED.inc(delta)
            elif key == "replayed":
                WORKER_REPLAYED.inc(delta)
            elif key.startswith("dead:"):
                WORKER_DEAD.labels(key[5:]).inc(delta)

    def consumer_config(self) -> dict[str, Any]:
        """What to add to the consumer's configuration for :meth:`stats` to be called."""
        return {"statistics.interval.ms": self.STATS_EVERY_MS, "stats_cb": self.stats}

    def stats(self, text: str) -> None:
        """librdkafka's statistics JSON: the lag of every partition this consumer fetches
        (``consumer_lag``: to the last stable offset under ``read_committed``)."""
        try:
            topics = json.loads(text).get("topics", {})
        except ValueError:
            return
        for name, topic in topics.items():
            if self.topic and name != self.topic:
                continue
            for partition, data in topic.get("partitions", {}).items():
                lag = data.get("consumer_lag", -1)
                if partition == "-1" or data.get("fetch_state") != "active" or lag < 0:
                    continue  # the internal partition, not ours, or not known yet
                WORKER_LAG.labels(partition).set(lag)


def observe_anchor(records: int) -> None:
    """The batcher anchored one batch of ``records`` leaves (an ``anchor`` entry)."""
    ANCHORED.inc()
    ANCHORED_RECORDS.inc(records)
    ENTRIES.labels("anchor").inc()


def entry_appended(kind: str) -> None:
    """The batcher appended one entry of ``kind`` (countersignature, statement...)."""
    ENTRIES.labels(kind).inc()


def observe_round(
    windows: Iterable[WindowStatus], alerts: Iterable[Alert], published: Iterable[Alert]
) -> None:
    """One reconciliation round: every window's status, every finding so far, and the alerts
    published in this round."""
    global _newest_agreed_s
    ROUNDS.inc()
    for alert in published:
        ALERTS_PUBLISHED.labels(alert.kind, alert.severity).inc()
    _replace(ALERTS, Counts((a.kind, a.severity) for a in alerts))
    states: Counts[tuple[str, ...]] = Counts()
    agreed: dict[tuple[str, ...], float] = {}
    stake: dict[tuple[str, ...], float] = {}
    newest = -1
    for w in windows:
        states[(w.state,)] += 1
        if w.currency:
            key = (w.currency,)
            agreed[key] = agreed.get(key, 0.0) + float(w.money_agreed)
            stake[key] = stake.get(key, 0.0) + float(w.at_stake)
        if w.state in _AGREED_STATES:
            newest = max(newest, w.window[1])
    _replace(WINDOWS, states)
    _replace(MONEY_AGREED, agreed)
    _replace(AT_STAKE, stake)
    _newest_agreed_s = newest / 1000 if newest >= 0 else math.nan
    NEWEST_AGREED.set(_newest_agreed_s)


def observe_bills(
    bills: Iterable[tuple[str, str, Mapping[str, str], Decimal, Decimal, int]],
) -> None:
    """One settlement round saw these bills: ``(state, currency, item states, amount due,
    remaining, open disputes)`` each."""
    SETTLE_ROUNDS.inc()
    states: Counts[tuple[str, ...]] = Counts()
    items: Counts[tuple[str, ...]] = Counts()
    due: dict[tuple[str, ...], float] = {}
    remaining: dict[tuple[str, ...], float] = {}
    disputes = 0
    for state, currency, item_states, amount_due, left, open_disputes in bills:
        states[(state, currency)] += 1
        for item_state in item_states.values():
            items[(item_state,)] += 1
        due[(currency,)] = due.get((currency,), 0.0) + float(amount_due)
        remaining[(currency,)] = remaining.get((currency,), 0.0) + float(left)
        disputes += open_disputes
    _replace(BILLS, states)
    _replace(BILL_ITEMS, items)
    _replace(AMOUNT_DUE, due)
    _replace(REMAINING, remaining)
    OPEN_DISPUTES.set(disputes)


def observe_request(route: str, status: int) -> None:
    """An HTTP server of Bilat answered ``status`` on ``route`` (its pattern, not the path,
    so ids never become label values)."""
    HTTP_REQUESTS.labels(route, str(status)).inc()


def observe_notification(event_type: str, delivered: bool) -> None:
    """One attempt to deliver a bill event to a subscriber."""
    BILL_NOTIFICATIONS.labels(event_type, "delivered" if delivered else "failed").inc()


def observe_listener(event_type: str, status: int) -> None:
    """The Sonata listener answered one notification with ``status``."""
    NOTIFICATIONS.labels(event_type, str(status)).inc()


def _replace(gauge: Gauge, values: Mapping[Any, float]) -> None:
    """Set a labelled gauge to exactly ``values`` (label tuples absent now are dropped)."""
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)
