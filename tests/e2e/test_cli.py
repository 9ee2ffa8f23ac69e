"""The CLI as a user runs it: separate processes, real services, real output.

These start their own two-party stack on private ports in a private run folder (never the
user's 9092/9192), and stop it at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from streams.contract.records import DeadLetter, RatedUsage
from streams.runtime.config import Settings
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from tests.paths import REPO

BASE_PORT = 25492  # hgc 25492/25493, dcc 25592/25593
REDIS_PORT = 25490


def bilat(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    run_dir = tmp_path_factory.mktemp("e2e-run")
    environment = dict(os.environ, BILAT_RUN_DIR=str(run_dir), COLUMNS="120")
    yield environment
    bilat("down", env=environment)


def test_demo_runs_end_to_end_and_counts_add_up(env: dict[str, str], tmp_path: Path) -> None:
    args = ["--records", "600", "--workdir", str(tmp_path), "--base-port", str(BASE_PORT)]
    done = bilat("demo", *args, "--redis-port", str(REDIS_PORT), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("counts add up") == 2, done.stdout
    assert re.search(r"hgc\s*│\s*\d+\s*│\s*600\s*│", done.stdout), done.stdout
    for reason in ("parse:malformed-line", "validate:invalid-usage", "rate:no-tariff"):
        assert reason in done.stdout
    # both ledgers: genesis signed by both, every window anchored, a record proven end to end
    assert re.search(r"hgc\s*│\s*24\s*│\s*intact", done.stdout), done.stdout
    assert re.search(r"dcc\s*│\s*24\s*│\s*intact", done.stdout), done.stdout
    assert done.stdout.count(" ✓") == 2
    assert len(list(tmp_path.glob("demo-*/hgc-usage.csv"))) == 1
    assert (tmp_path / "keys" / "hgc.key").stat().st_mode & 0o077 == 0  # private key is 0600
    # both reconcile over MirrorMaker 2: the Buyer's switch missed records the Seller has
    assert "hgc: reconciliation with dcc" in done.stdout and "dcc: reconciliation" in done.stdout
    assert re.search(r"missing-at-partner\s*│", done.stdout), done.stdout
    assert re.search(r"missing-here\s*│", done.stdout), done.stdout
    summaries = re.findall(r"windows: (.*); alerts: (.*)", done.stdout)
    assert len(summaries) == 2 and all("diverged" in w for w, _ in summaries), summaries

    # the stack stays up for a look around: status reports it, a second `up` is a no-op
    status = bilat("status", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("running") == 5, status.stdout  # 2 brokers, Redis, 2 mirrors


def test_ingest_then_worker_by_hand(env: dict[str, str], tmp_path: Path) -> None:
    """What an operator does: ingest a file, run a worker, see results; bad input explained."""
    bootstrap = f"127.0.0.1:{BASE_PORT}"
    up = bilat("up", "--base-port", str(BASE_PORT), "--redis-port", str(REDIS_PORT), env=env)
    assert up.returncode == 0, up.stderr
    csv = tmp_path / "cdrs.csv"
    csv.write_text(
        "source,record_id,agreement_id,partner,product,product_id,a_number,b_number,start,quantity,unit,direction\n"
        "ix,1,hgc-dcc-2026,dcc,voice,,4969,4930123,2026-11-24T10:00:00Z,61,second,inbound\n"
        "ix,2,hgc-dcc-2026,dcc,voice,,4969,4930123,2026-11-24T10:00:00,61,second,inbound\n",
        encoding="utf-8",
    )
    run_env = dict(
        env,
        BILAT_KAFKA=bootstrap,
        BILAT_REDIS=f"redis://127.0.0.1:{REDIS_PORT}/0",
        BILAT_TOPIC_PREFIX="e2e-hand.",
    )
    ingest = bilat("ingest", str(csv), env=run_env)
    assert ingest.returncode == 0, ingest.stderr
    assert "2 lines" in ingest.stdout and "1 usage records" in ingest.stdout
    assert "1 malformed lines" in ingest.stdout

    worker = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "worker"],
        env=run_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        rated = wait_for(bootstrap, "e2e-hand.usage.rated", 1, worker)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert "rating worker for hgc" in output
    assert RatedUsage.from_avro(make_codec().decode("rated_usage", rated[0])).amount == Decimal(
        "0.0230"
    )
    (letter,) = [v for _k, v in read_topic(Settings(kafka=bootstrap), "e2e-hand.usage.dlq")]
    dead = DeadLetter.from_avro(make_codec().decode("dead_letter", letter))
    assert (dead.stage, dead.source_offset) == ("parse", 3)
    assert "no UTC offset" in dead.error_message


def wait_for(bootstrap: str, topic: str, count: int, proc: subprocess.Popen[str]) -> list[bytes]:
    deadline = time.monotonic() + 90
    while True:
        values = [v for _k, v in read_topic(Settings(kafka=bootstrap), topic)]
        if len(values) >= count:
            return values
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{topic}: {len(values)} of {count} after 90 s"
        time.sleep(0.5)


def test_errors_say_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "agreement.yaml"
    bad.write_text((REPO / "examples" / "agreement.yaml").read_text().replace("EUR", "euro"))
    check = bilat("agreement", "check", str(bad), env=env)
    assert check.returncode == 2
    assert "currency: got 'euro', want an ISO 4217 code" in check.stderr
    good = bilat("agreement", "check", str(REPO / "examples" / "agreement.yaml"), env=env)
    assert good.returncode == 0 and re.search(r"canonical hash: [0-9a-f]{64}", good.stdout)

    unreachable = dict(env, BILAT_KAFKA="127.0.0.1:1")
    csv = tmp_path / "x.csv"
    csv.write_text("source\n")
    ingest = bilat("ingest", str(csv), env=unreachable, timeout=120)
    assert ingest.returncode == 2
    assert "did not answer" in ingest.stderr and "bilat up" in ingest.stderr

    up = bilat("up", "--base-port", str(BASE_PORT), "--redis-port", str(REDIS_PORT), env=env)
    assert up.returncode == 0, up.stderr
    no_redis = dict(env, BILAT_KAFKA=f"127.0.0.1:{BASE_PORT}", BILAT_REDIS="redis://127.0.0.1:1/0")
    worker = bilat("worker", env=no_redis, timeout=120)
    assert worker.returncode == 2
    assert "Redis at redis://127.0.0.1:1/0 did not answer" in worker.stderr


def test_help_is_helpful(env: dict[str, str]) -> None:
    for command in ("demo", "ingest", "worker", "up", "down", "status", "agreement"):
        shown = bilat(command, "--help", env=env)
        assert shown.returncode == 0 and "Usage:" in shown.stdout, command
