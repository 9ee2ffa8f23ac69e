"""``bilat status`` as a new user meets it: an empty run folder, a stack started elsewhere,
``--json``. Nothing here starts a service; a local socket stands in for a broker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import stack as stack_cli
from streams.cli.main import main
from streams.cli.stack import Probe
from tests.paths import REPO


@pytest.fixture
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections, as a broker's would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_status_of_a_fresh_run_dir_names_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = dict(os.environ, BILAT_RUN_DIR=str(run_dir), COLUMNS="80")
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"nothing recorded in {run_dir} (no such folder)" in done.stdout
    # Whatever runs on this machine's default ports, the answer says what to do next.
    assert "started with another BILAT_RUN_DIR" in done.stdout or "bilat up" in done.stdout


def test_status_says_what_answers_on_the_default_ports(
    tmp_path: Path, listening: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = free_port()
    probes = [Probe("kafka 'hgc'", listening), Probe("redis", quiet)]
    monkeypatch.setattr(stack_cli, "default_probes", lambda: probes)
    runner = CliRunner()

    text = runner.invoke(main, ["status", "--run-dir", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert f"nothing recorded in {tmp_path};" in text.stdout
    assert f"something answers on 127.0.0.1:{listening} (kafka 'hgc'?)" in text.stdout
    assert f":{quiet}" not in text.stdout
    assert "another BILAT_RUN_DIR or --run-dir" in text.stdout

    as_json = runner.invoke(main, ["status", "--run-dir", str(tmp_path), "--json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["run_dir"] == str(tmp_path) and document["services"] == []
    assert document["answering"] == [
        {"service": "kafka 'hgc'", "address": f"127.0.0.1:{listening}"}
    ]


def test_status_when_nothing_answers_says_to_start_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_cli, "default_probes", lambda: [Probe("redis", free_port())])
    done = CliRunner().invoke(main, ["status", "--run-dir", str(tmp_path)])
    assert done.exit_code == 0
    assert f"nothing recorded in {tmp_path}, and nothing answers" in done.stdout
    assert "`bilat up`" in done.stdout


def test_status_json_of_a_stopped_service_exits_3(tmp_path: Path) -> None:
    folder = tmp_path / "kafka-hgc"
    folder.mkdir()
    state = {"kind": "kafka", "name": "hgc", "port": 1, "address": "127.0.0.1:1"}
    (folder / "state.json").write_text(json.dumps(state), encoding="utf-8")

    done = CliRunner().invoke(main, ["status", "--run-dir", str(tmp_path), "--json"])
    assert done.exit_code == 3  # as without --json: some known service is stopped
    (service,) = json.loads(done.stdout)["services"]
    assert service["name"] == "hgc" and service["running"] is False and service["pid"] is None
    assert service["log"] == str(folder / "broker.log")

    table = CliRunner().invoke(main, ["status", "--run-dir", str(tmp_path)])
    assert table.exit_code == 3 and "stopped" in table.stdout
