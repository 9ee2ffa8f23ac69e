"""The local stack launcher without starting anything: config, ports, pid files, errors, CLI."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.stack import (
    Probe,
    down_command,
    party_specs,
    status_command,
    up_command,
)
from streams.core.errors import PortInUseError, StackError, ToolMissingError
from streams.devstack import procs
from streams.devstack.localstack import (
    KafkaSpec,
    LocalStack,
    RedisSpec,
    java_major_version,
    new_cluster_id,
    read_kafka_version,
    render_properties,
    server_properties,
)

GONE_PID = 2**31 - 1  # above any pid_max: never a live process


def _listening_socket() -> socket.socket:
    """A socket listening on a free port of the range these tests may use (29900-29999)."""
    for port in range(29900, 30000):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen()
        return sock
    raise RuntimeError("no free port in 29900-29999")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on, for the duration of the test."""
    with _listening_socket() as sock:
        yield sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path: Path) -> LocalStack:
    return LocalStack(run_dir=tmp_path / "run", cache_dir=tmp_path / "cache")


def _known_service(stack: LocalStack, kind: str, name: str, pid: int | None) -> Path:
    """Make ``<run_dir>/<kind>-<name>`` look like a service started earlier."""
    folder = stack.run_dir / f"{kind}-{name}"
    folder.mkdir(parents=True)
    address = f"127.0.0.1:{29990}" if kind == "kafka" else "redis://127.0.0.1:29991/0"
    state = f'{{"kind": "{kind}", "name": "{name}", "port": 29990, "address": "{address}"}}'
    (folder / "state.json").write_text(state)
    if pid is not None:
        (folder / f"{kind}.pid").write_text(f"{pid}\n")
    return folder


# --- the pom and the broker configuration ---------------------------------------------------


def test_kafka_version_comes_from_the_repo_pom() -> None:
    assert read_kafka_version() == "4.1.1"


def test_kafka_version_of_a_pom_without_the_property_is_an_error(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text('<project xmlns="http://maven.apache.org/POM/4.0.0"><properties/></project>')
    with pytest.raises(StackError, match=r"kafka\.version"):
        read_kafka_version(pom)


def test_kafka_version_of_a_missing_pom_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cannot read the Kafka version"):
        read_kafka_version(tmp_path / "nope.xml")


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_server_properties_make_a_single_node_kraft_cluster_on_loopback(tmp_path: Path) -> None:
    props = server_properties(KafkaSpec("hgc", port=29092, controller_port=29093), tmp_path)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["log.dirs"] == str(tmp_path)
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_overrides_replace_and_add_properties(tmp_path: Path) -> None:
    spec = KafkaSpec("hgc", overrides={"num.partitions": "6", "node.id": "7"})
    props = server_properties(spec, tmp_path)
    assert props["num.partitions"] == "6" and props["node.id"] == "7"


def test_rendered_properties_escape_backslashes_and_newlines() -> None:
    text = render_properties({"a": "1", "b": "c:\\x", "c": "two\nlines"}, "made by a test")
    assert text == "# made by a test\na=1\nb=c:\\\\x\nc=two\\nlines\n"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("something else", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major_version(output) == major


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "want 1-40 lowercase"),
        ({"name": "-x"}, "want 1-40 lowercase"),
        ({"name": "a", "port": 70000}, "got port 70000"),
        ({"name": "a", "port": 29092, "controller_port": 29092}, "both 29092"),
    ],
)
def test_invalid_kafka_specs_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(StackError, match=message):
        KafkaSpec(**kwargs)  # type: ignore[arg-type]


def test_spec_addresses() -> None:
    assert KafkaSpec("hgc", port=29092, controller_port=29093).bootstrap == "127.0.0.1:29092"
    assert RedisSpec(port=29379).url == "redis://127.0.0.1:29379/0"
    assert RedisSpec().port == 6390


# --- ports -----------------------------------------------------------------------------------


def test_a_listening_port_is_not_free(busy_port: int) -> None:
    assert not procs.port_is_free(busy_port)
    assert procs.port_accepts(busy_port)


def test_a_closed_port_is_free() -> None:
    with _listening_socket() as sock:
        port = sock.getsockname()[1]
    assert procs.port_is_free(port)
    assert not procs.port_accepts(port)


def test_kafka_on_a_taken_port_names_the_port_and_how_to_find_its_owner(
    stack: LocalStack, busy_port: int
) -> None:
    with pytest.raises(PortInUseError) as caught:
        stack.kafka_up(KafkaSpec("hgc", port=busy_port, controller_port=busy_port + 1))
    message = str(caught.value)
    assert f"port {busy_port} (kafka 'hgc' listener)" in message
    assert f"ss -ltnp 'sport = :{busy_port}'" in message


def test_a_taken_controller_port_is_caught_too(stack: LocalStack, busy_port: int) -> None:
    with pytest.raises(PortInUseError, match=f"port {busy_port} \\(kafka 'hgc' controller\\)"):
        stack.kafka_up(KafkaSpec("hgc", port=busy_port - 1, controller_port=busy_port))


def test_redis_on_a_taken_port(stack: LocalStack, busy_port: int) -> None:
    with pytest.raises(PortInUseError, match=f"port {busy_port} \\(redis 'redis'\\)"):
        stack.redis_up(RedisSpec(port=busy_port))


# --- pid files and process identity -----------------------------------------------------------


def test_a_stale_pid_file_is_removed_and_nothing_is_stopped(stack: LocalStack) -> None:
    folder = _known_service(stack, "kafka", "hgc", GONE_PID)
    assert not stack.kafka_down("hgc")
    assert not (folder / "kafka.pid").exists()
    assert not stack.kafka_down("hgc")


def test_a_pid_reused_by_another_process_is_never_signalled(stack: LocalStack) -> None:
    folder = _known_service(stack, "redis", "redis", os.getpid())  # this test process
    assert [s.running for s in stack.status()] == [False]
    assert not stack.redis_down("redis")
    assert not (folder / "redis.pid").exists()


def test_our_process_is_recognised_by_workdir_and_marker(tmp_path: Path) -> None:
    cmdline = Path("/proc/self/cmdline").read_bytes().split(b"\0")[0].decode()
    assert procs.is_our_process(os.getpid(), Path.cwd(), cmdline)
    assert not procs.is_our_process(os.getpid(), tmp_path, cmdline)
    assert not procs.is_our_process(os.getpid(), Path.cwd(), "kafka.Kafka")
    assert not procs.is_our_process(GONE_PID, Path.cwd(), "")


def test_stop_process_never_signals_a_process_that_is_not_ours() -> None:
    assert procs.stop_process(os.getpid(), lambda: False, timeout=0.1)


def test_read_pid_tolerates_garbage(tmp_path: Path) -> None:
    (tmp_path / "x.pid").write_text("not a pid")
    assert procs.read_pid(tmp_path / "x.pid") is None
    assert procs.read_pid(tmp_path / "missing.pid") is None


def test_log_tail_reads_only_this_runs_lines(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("old run\n")
    start = log.stat().st_size
    with log.open("a") as handle:
        handle.writelines(f"line {i}\n" for i in range(50))
    tail = procs.log_tail(log, start, lines=3)
    assert tail == "line 47\nline 48\nline 49"
    assert procs.log_tail(tmp_path / "missing.log") == ""


# --- status --------------------------------------------------------------------------------


def test_status_of_an_empty_run_dir(stack: LocalStack) -> None:
    assert stack.status() == []
    assert stack.down_all() == []


def test_status_lists_known_services_kafka_first_and_skips_foreign_folders(
    stack: LocalStack,
) -> None:
    _known_service(stack, "redis", "redis", None)
    _known_service(stack, "kafka", "dcc", GONE_PID)
    _known_service(stack, "kafka", "hgc", None)
    (stack.run_dir / "kafka-nostate").mkdir()
    (stack.run_dir / "notes").mkdir()
    services = stack.status()
    assert [(s.kind, s.name, s.running, s.pid) for s in services] == [
        ("kafka", "dcc", False, None),
        ("kafka", "hgc", False, None),
        ("redis", "redis", False, None),
    ]
    assert services[0].address == "127.0.0.1:29990"
    assert services[0].log_path == stack.run_dir / "kafka-dcc" / "broker.log"


def test_defaults_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILAT_RUN_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("BILAT_CACHE_DIR", str(tmp_path / "c"))
    stack = LocalStack()
    assert (stack.run_dir, stack.cache_dir) == (tmp_path / "r", tmp_path / "c")


# --- tools -------------------------------------------------------------------------------


def test_missing_java_says_how_to_install_it(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ToolMissingError, match="apt-get install -y openjdk-17-jre-headless"):
        _ = stack.java


def test_missing_maven_says_how_to_install_it(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ToolMissingError, match="apt-get install -y maven"):
        stack.kafka_lib()


def test_resolved_jars_are_reused(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = stack.cache_dir / "kafka-4.1.1" / "lib"
    lib.mkdir(parents=True)
    monkeypatch.setenv("PATH", "")  # mvn would not be found
    assert stack.kafka_lib() == lib


def test_a_resolver_that_loses_the_race_uses_the_winners_jars(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = stack.cache_dir / "kafka-4.1.1" / "lib"

    def resolve_while_another_process_wins(_self: LocalStack, _mvn: str, target: Path) -> None:
        (target / "mine.jar").write_text("")
        lib.mkdir(parents=True)
        (lib / "theirs.jar").write_text("")

    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    monkeypatch.setattr(LocalStack, "_resolve_jars", resolve_while_another_process_wins)
    assert stack.kafka_lib() == lib
    assert [p.name for p in lib.iterdir()] == ["theirs.jar"]
    assert [p.name for p in lib.parent.iterdir()] == ["lib"]  # no staging folder left


def test_a_failed_resolution_leaves_no_lib_folder(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_self: LocalStack, _mvn: str, _target: Path) -> None:
        raise StackError("mvn could not resolve")

    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    monkeypatch.setattr(LocalStack, "_resolve_jars", fail)
    with pytest.raises(StackError, match="could not resolve"):
        stack.kafka_lib()
    assert list((stack.cache_dir / "kafka-4.1.1").iterdir()) == []


def test_missing_redis_without_root_says_what_to_run(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ToolMissingError, match="apt-get install -y redis-server"):
        stack.redis_up(RedisSpec(port=29998))


def test_missing_redis_as_root_is_installed_with_apt_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []
    messages: list[str] = []

    def fake_run(command: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(subprocess, "run", fake_run)
    stack = LocalStack(run_dir=tmp_path, progress=messages.append)
    with pytest.raises(ToolMissingError, match="installed no redis-server"):
        stack.redis_up(RedisSpec(port=29998))
    assert commands == [["apt-get", "update"], ["apt-get", "install", "-y", "redis-server"]]
    assert all("apt-get" in m for m in messages)


def test_a_failed_apt_get_shows_its_output(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_run(command: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 100, "", "E: Could not get lock")

    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(ToolMissingError, match=r"(?s)`apt-get update` failed.*Could not get lock"):
        stack.redis_up(RedisSpec(port=29998))


# --- CLI -------------------------------------------------------------------------------------


def test_party_ports_step_by_100() -> None:
    specs = party_specs(["hgc", "dcc"], 9092)
    assert [(s.name, s.port, s.controller_port) for s in specs] == [
        ("hgc", 9092, 9093),
        ("dcc", 9192, 9193),
    ]


@pytest.mark.parametrize("command", [up_command, down_command, status_command])
def test_every_command_has_help_with_examples(command: object) -> None:
    result = CliRunner().invoke(command, ["--help"])  # type: ignore[arg-type]
    assert result.exit_code == 0
    assert "Example" in result.output and "--run-dir" in result.output


def test_status_without_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Probe, "answers", lambda _self, timeout=0.3: False)  # no network here
    result = CliRunner().invoke(status_command, ["--run-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert f"nothing recorded in {tmp_path}, and nothing answers" in result.output
    assert "start the stack with `bilat up`" in result.output


def test_status_with_a_stopped_service_exits_3(stack: LocalStack) -> None:
    _known_service(stack, "kafka", "hgc", GONE_PID)
    result = CliRunner().invoke(status_command, ["--run-dir", str(stack.run_dir)])
    assert result.exit_code == 3
    assert "hgc" in result.output and "stopped" in result.output


def test_down_with_nothing_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(down_command, ["--run-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "nothing running" in result.output


def test_up_on_a_taken_port_prints_the_error_and_exits_2(tmp_path: Path, busy_port: int) -> None:
    args = ["--party", "hgc", "--base-port", str(busy_port), "--run-dir", str(tmp_path)]
    result = CliRunner().invoke(up_command, args)
    assert result.exit_code == 2
    assert f"port {busy_port}" in result.stderr and "ss -ltnp" in result.stderr
