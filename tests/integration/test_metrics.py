"""``bilat worker --metrics-port``: a running worker's /metrics, scraped while it rates a file,
counts every message in, every record rated and every dead letter by stage, and shows no lag
once caught up."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from connectors.mediation.ingest import ingest_files
from connectors.mediation.synth import synth_order, synth_pair
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.topics import ensure_topics
from streams.runtime.workers import start_worker, stop_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Every bilat_* sample: name{labels} -> value."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(bilat_\S+) (\S+)$", text, re.M)}


def wait_for(port: int, check, proc, timeout: float = 120.0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker died"
        try:
            seen = scrape(port)
        except OSError:
            seen = {}
        if seen and check(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"metrics never got there: {seen}")


def test_worker_metrics_move_with_the_records(settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    seller, _buyer = synth_pair(300, now)
    path = tmp_path / "usage.csv"
    path.write_text(seller.text, encoding="utf-8")
    ensure_topics(settings)
    publish(settings, "sonata.orders", "sonata_order_event", [synth_order(now)],
            lambda r: str(r["product_id"]))  # fmt: skip
    port = free_port()
    log = tmp_path / "worker.log"
    proc = start_worker(settings, log, "--metrics-port", str(port))
    try:
        first = wait_for(port, lambda m: "bilat_worker_records_in_total" in m, proc, 60)
        assert first["bilat_worker_records_in_total"] == 0
        assert f'bilat_process_info{{party="{settings.party}",process="worker"}}' in first
        report = ingest_files([path], settings)
        produced = report.produced

        def done(m: dict[str, float]) -> bool:
            out = m.get("bilat_worker_records_rated_total", 0) + sum(
                v for k, v in m.items() if k.startswith("bilat_worker_dead_letters_total")
            )
            return m.get("bilat_worker_records_in_total") == produced and out == produced

        final = wait_for(port, done, proc)
        # librdkafka reports the lag every 2 s: caught up, every assigned partition shows 0.
        lagging = wait_for(
            port, lambda m: any(k.startswith("bilat_worker_consumer_lag{") for k in m), proc, 30
        )
    finally:
        assert stop_worker(proc) == 0, log.read_text()[-3000:]
    stages = {
        re.search(r'stage="([^"]+)"', k).group(1)  # type: ignore[union-attr]
        for k in final
        if k.startswith("bilat_worker_dead_letters_total")
    }
    assert {"validate", "rate", "dedup"} <= stages, final
    assert final["bilat_worker_records_rated_total"] > 0
    lags = [v for k, v in lagging.items() if k.startswith("bilat_worker_consumer_lag")]
    assert lags and all(v == 0 for v in lags), lagging
