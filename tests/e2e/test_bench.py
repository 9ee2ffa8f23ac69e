"""``bilat bench --quick``: the pipeline benchmark runs end to end against the session's Kafka and
Redis and accounts for every record. Speeds are printed, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO


def test_bench_quick_measures_every_case_and_loses_nothing(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "pipeline.json"
    args = ["bench", "--quick", "--json-only", "--kafka", kafka_bootstrap, "--redis", redis_url,
            "--out", str(out), "--workdir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, BILAT_RUN_DIR=str(tmp_path / "run")),
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(done.stdout) == result  # --json-only prints what it writes

    names = [row["name"] for row in result["rows"]]
    for name in (
        "raw confluent consume → produce",
        "Faust no-op passthrough",
        "worker latency, produce → rated",
        "raw confluent produce",
        "bilat ingest (process, start to exit)",
        "1 worker, 2 partitions",
        "2 workers, 2 partitions",
        "1 worker, 4 partitions",
        "2 workers, 4 partitions",
        "batcher: one window of 2,000 records",
    ):
        assert name in names, names
    assert any(n.startswith("bilat worker") and n.endswith("--until-caught-up") for n in names)
    for row in result["rows"]:
        assert row["error"] is None, row
        assert row["items"] > 0, row
        if row["name"] != "worker latency, produce → rated":
            assert row["rate"] > 0, row

    # Every worker run: every usage message rated or dead-lettered, none twice.
    runs = result["worker_runs"]
    assert {(r["workers"], r["partitions"]) for r in runs} >= {(1, 2), (2, 2), (1, 4), (2, 4)}
    for run in runs:
        assert run["rated"] + run["dead_lettered"] == run["produced"] == result["messages"], run
        assert run["rated"] > 0 and run["dead_lettered"] > 0, run  # the synthetic bad records
        assert run["exit_codes"] == [0] * run["workers"], run
    assert result["consistent"] is True

    latency = result["worker"]["latency"]
    assert latency["rated"] > 0 and latency["p99_ms"] >= latency["p50_ms"] >= 0
    assert result["worker"]["peak_rss_bytes"] > 0
    assert result["batcher"]["error"] is None and result["batcher"]["records"] == 2_000
    assert [t["name"] for t in result["targets"]] == [
        "one worker end to end",
        "one worker / raw passthrough (same run)",
        "2 workers / 1 worker, 2 partitions",
        "2 workers / 1 worker, 4 partitions",
    ]
    assert all(isinstance(t["met"], bool) for t in result["targets"])
    # The run cleans up after itself: none of its topics is left.
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert not [t for t in topics if result["run"] in t]
