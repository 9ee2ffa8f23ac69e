"""The local stack launcher with real processes: Kafka from Maven Central jars, redis-server.

Each test module run uses its own temporary run folder, but the shared jar cache
(``~/.cache/bilat`` or ``$BILAT_CACHE_DIR``), so the jars are resolved once per machine.
Ports 29000-29999 only.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from streams.cli.stack import down_command, status_command, up_command
from streams.core.errors import PortInUseError, ServiceStartError
from streams.devstack import procs
from streams.devstack.localstack import KafkaHandle, KafkaSpec, LocalStack, RedisSpec

pytestmark = pytest.mark.integration

HGC = KafkaSpec("hgc", port=29092, controller_port=29093)
DCC = KafkaSpec("dcc", port=29192, controller_port=29193)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A launcher on a fresh run folder; whatever a test leaves running is stopped at the end."""
    launcher = LocalStack(run_dir=tmp_path_factory.mktemp("run"))
    yield launcher
    launcher.down_all()


@pytest.fixture(scope="module")
def two_clusters(stack: LocalStack) -> tuple[KafkaHandle, KafkaHandle]:
    """hgc and dcc side by side, as the two-party demo runs them."""
    return stack.kafka_up(HGC), stack.kafka_up(DCC)


def _round_trip(bootstrap: str, topic: str, value: bytes) -> bytes:
    """Produce ``value`` to ``topic``, consume it back in a new consumer group."""
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value)
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                return bytes(message.value())
    finally:
        consumer.close()
    raise AssertionError(f"nothing consumed from {topic} on {bootstrap} within 30 s")


def test_two_clusters_side_by_side_each_carry_their_own_messages(
    two_clusters: tuple[KafkaHandle, KafkaHandle],
) -> None:
    hgc, dcc = two_clusters
    assert (hgc.bootstrap, dcc.bootstrap) == ("127.0.0.1:29092", "127.0.0.1:29192")
    assert hgc.cluster_id != dcc.cluster_id
    topic = f"t-{uuid.uuid4().hex[:8]}"
    assert _round_trip(hgc.bootstrap, topic + ".hgc", b"from hgc") == b"from hgc"
    assert _round_trip(dcc.bootstrap, topic + ".dcc", b"from dcc") == b"from dcc"
    on_dcc = AdminClient({"bootstrap.servers": dcc.bootstrap}).list_topics(timeout=10).topics
    assert topic + ".dcc" in on_dcc and topic + ".hgc" not in on_dcc


def test_up_again_is_a_no_op(
    stack: LocalStack, two_clusters: tuple[KafkaHandle, KafkaHandle]
) -> None:
    again = stack.kafka_up(HGC)
    assert not again.started
    assert (again.pid, again.cluster_id) == (two_clusters[0].pid, two_clusters[0].cluster_id)


def test_a_port_held_by_another_cluster_of_ours_names_it(
    stack: LocalStack, two_clusters: tuple[KafkaHandle, KafkaHandle]
) -> None:
    with pytest.raises(PortInUseError, match=r"port 29092 .* by kafka 'hgc' of this stack"):
        stack.kafka_up(KafkaSpec("clash", port=29092, controller_port=29893))


def test_a_port_held_by_a_foreign_socket_is_refused_before_anything_starts(
    stack: LocalStack,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 29592))
        sock.listen()
        with pytest.raises(PortInUseError, match=r"port 29592 .*ss -ltnp"):
            stack.kafka_up(KafkaSpec("busy", port=29592, controller_port=29593))
    assert not (stack.run_dir / "kafka-busy" / "data").exists()


def test_lifecycle_up_up_status_down_down(stack: LocalStack) -> None:
    spec = KafkaSpec("solo", port=29292, controller_port=29293)
    first = stack.kafka_up(spec)
    second = stack.kafka_up(spec)
    assert first.started and not second.started and first.pid == second.pid
    solo = next(s for s in stack.status() if s.name == "solo")
    assert (solo.kind, solo.address, solo.pid, solo.running) == (
        "kafka",
        spec.bootstrap,
        first.pid,
        True,
    )
    assert stack.kafka_down("solo")
    assert not procs.is_our_process(first.pid, stack.run_dir / "kafka-solo", "kafka.Kafka")
    assert not stack.kafka_down("solo")
    assert not next(s for s in stack.status() if s.name == "solo").running


def test_a_bad_setting_fails_with_the_log_lines_that_say_why(stack: LocalStack) -> None:
    spec = KafkaSpec(
        "bad", port=29692, controller_port=29693, overrides={"num.network.threads": "0"}
    )
    with pytest.raises(ServiceStartError) as caught:
        stack.kafka_up(spec)
    message = str(caught.value)
    assert "kafka 'bad' did not start" in message
    assert "Invalid value 0 for configuration num.network.threads" in message


def test_a_broker_that_exits_at_start_is_reported_and_leaves_nothing_running(
    stack: LocalStack,
) -> None:
    spec = KafkaSpec("dies", port=29792, controller_port=29793, jvm_options=("-XX:+NoSuchFlag",))
    with pytest.raises(ServiceStartError) as caught:
        stack.kafka_up(spec)
    message = str(caught.value)
    assert "its process exited" in message and "NoSuchFlag" in message
    assert not (stack.run_dir / "kafka-dies" / "kafka.pid").exists()
    assert procs.port_is_free(29792)


def test_redis_up_ping_down_keeps_data_across_restarts(stack: LocalStack) -> None:
    spec = RedisSpec(name="cache", port=29379)
    handle = stack.redis_up(spec)
    client = redis.Redis.from_url(handle.url)
    assert client.ping()
    client.set("dedup:1", "1")
    client.close()
    assert stack.redis_up(spec).pid == handle.pid
    assert stack.redis_down("cache")
    assert not stack.redis_down("cache")
    restarted = stack.redis_up(spec)
    assert restarted.started and restarted.pid != handle.pid
    client = redis.Redis.from_url(restarted.url)
    assert client.get("dedup:1") == b"1"  # the append-only file survived the restart
    client.close()
    assert stack.redis_down("cache")


def test_cli_up_status_down(tmp_path: Path) -> None:
    runner = CliRunner()
    run_dir = ["--run-dir", str(tmp_path)]
    up = ["--party", "cli", "--base-port", "29492", "--redis-port", "29479", *run_dir]
    try:
        first = runner.invoke(up_command, up)
        assert first.exit_code == 0, first.output
        assert "kafka 'cli' ready" in first.output and "running" in first.output
        second = runner.invoke(up_command, up)
        assert second.exit_code == 0 and "already running" in second.output
        status = runner.invoke(status_command, run_dir)
        assert status.exit_code == 0 and "127.0.0.1:29492" in status.output
        down = runner.invoke(down_command, run_dir)
        assert down.exit_code == 0 and "stopped: cli, redis" in down.output
        stopped = runner.invoke(status_command, run_dir)
        assert stopped.exit_code == 3
    finally:
        LocalStack(run_dir=tmp_path).down_all()
