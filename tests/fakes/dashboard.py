"""Reconciliation results for the dashboard's tests, made by the real engine and written to
Redis by the real reconciler's writer (:meth:`ReconcilerLoop._to_redis`), without Kafka.

Two parties (``tests.fakes.recon``) see the same calls from 09:00 to 15:00 except injected
differences; the engine reconciles them to a fixed point, with both sides' inclusion proofs in
the alerts. ``python -m tests.fakes.dashboard REDIS_URL`` fills a Redis for a manual look
(then ``bilat dashboard --redis-url REDIS_URL``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from streams.core.clock import to_ms
from streams.reconcile.alerts import Alert
from streams.reconcile.engine import Outcome
from streams.runtime.config import Settings
from streams.runtime.reconciler import ReconcilerLoop
from tests.fakes.recon import NOW, Party, call, reconcile
from tests.paths import REPO

HOURS = range(9, 15)


def outcome() -> Outcome:
    """hgc's outcome: a record missing on each side, a price and a quantity difference, one
    within tolerance, and dcc never anchoring 13:00."""
    shared = {f"{h}-{n}": call(f"{h}-{n}", h, 60 * n + 5) for h in HOURS for n in range(12)}
    hgc, dcc = dict(shared), dict(shared)
    del dcc["9-3"]
    del hgc["9-7"]
    dcc["10-5"] = call("10-5", 10, 305, amount="0.0199", rate="voice-de-mobile@offpeak")
    dcc["11-2"] = call("11-2", 11, 125, seconds=61)
    dcc["11-4"] = call("11-4", 11, 245, amount="0.0300", seconds=75)
    for n in range(12):
        del dcc[f"13-{n}"]
    a, b = Party("hgc"), Party("dcc")
    a.ingest(hgc.values())
    b.ingest(dcc.values())
    a.close()
    b.close()
    return reconcile(a, b)[0]


def writer(redis_url: str, party: str = "hgc", topic_prefix: str = "") -> ReconcilerLoop:
    """hgc's reconciler, used only for its Redis writer (constructing one does no I/O)."""
    settings = Settings.from_env(
        {},
        party=party,
        redis=redis_url,
        topic_prefix=topic_prefix,
        agreement=REPO / "examples" / "agreement.yaml",
    )
    return ReconcilerLoop(settings, redis_url=redis_url, say=lambda _m: None)


def write(loop: ReconcilerLoop, result: Outcome, alerts: Sequence[Alert]) -> None:
    """One reconciler round's Redis writes: these alerts and every window's status."""
    now_ms = int(time.time() * 1000)
    loop._to_redis([a.to_avro(now_ms) for a in alerts], result.windows, now_ms)


def main(argv: Sequence[str]) -> None:
    redis_url = argv[0] if argv else "redis://127.0.0.1:6390/0"
    result = outcome()
    write(writer(redis_url), result, result.alerts)
    print(f"{len(result.windows)} windows, {len(result.alerts)} alerts written to {redis_url}")
    print(f"(windows of {NOW:%Y-%m}; detected now: {to_ms(NOW)})")


if __name__ == "__main__":
    main(sys.argv[1:])
