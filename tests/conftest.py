"""Shared fixtures: real Kafka and Redis, started once per test session.

Where they come from, first match wins:

1. ``BILAT_TEST_KAFKA`` / ``BILAT_TEST_REDIS`` (bootstrap servers, Redis URL): services you run;
2. testcontainers, when a Docker engine answers (``BILAT_TEST_DOCKER=0`` turns this off);
3. the project's own launcher (``streams.devstack.localstack``): Kafka from Maven Central jars on
   the JDK, Debian's redis-server; on ports 25092/25093 and 25379, logs in ``.bilat/test-run``.

Every test gets its own topic prefix, so tests never see each other's records.

``mirrored_pair`` adds a second cluster (``BILAT_TEST_KAFKA_B``, else the launcher's on
25192/25193) and MirrorMaker 2 both ways between it and the first, for the session: see
:class:`tests.mirror_pair.MirroredPair` for what tests may rely on.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.runtime.config import Settings
from tests.mirror_pair import TEST_PREFIX_PATTERN, MirroredPair
from tests.paths import REPO

TEST_RUN_DIR = REPO / ".bilat" / "test-run"
# Every port the suite's services listen on (25xxx here, 25492/25592 in tests/e2e/test_cli.py)
# lies below Linux's ephemeral range (32768-60999): a client connection's local port there can
# hold a listening port for as long as it lives (a CI run lost every mirror test to MM2's REST
# port 39202 held that way).


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by tier from their folder, so ``-m "not integration"`` selects unit tests."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


def _docker_answers() -> bool:
    if os.environ.get("BILAT_TEST_DOCKER", "1") == "0":
        return False
    try:
        import docker  # testcontainers' dependency

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # any failure means "no usable engine": fall back to the launcher
        return False


@pytest.fixture(scope="session")
def local_stack() -> Iterator[object]:
    """The project's launcher, for tests that start services themselves (stopped at the end)."""
    from streams.devstack.localstack import LocalStack

    stack = LocalStack(run_dir=TEST_RUN_DIR)
    yield stack
    stack.down_all()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker for this test session."""
    if env := os.environ.get("BILAT_TEST_KAFKA"):
        yield env
        return
    if _docker_answers():
        with contextlib.suppress(ImportError):
            from testcontainers.kafka import KafkaContainer

            with KafkaContainer().with_kraft() as container:
                yield container.get_bootstrap_server()
            return
    from streams.devstack.localstack import KafkaSpec

    stack = request.getfixturevalue("local_stack")
    handle = stack.kafka_up(KafkaSpec(name="test", port=25092, controller_port=25093))
    yield handle.bootstrap


@pytest.fixture(scope="session")
def mirrored_pair(request: pytest.FixtureRequest, kafka_bootstrap: str) -> MirroredPair:
    """Clusters ``hgc`` (the session's ``kafka_bootstrap``) and ``dcc`` mirrored both ways by
    MirrorMaker 2 for every test prefix; started once per session (about 10 s, more the first
    time a cluster holds many old test topics), stopped with the ``local_stack``."""
    from streams.devstack.localstack import KafkaSpec, local_rest_port
    from streams.reconcile.mirroring import links_for

    stack = request.getfixturevalue("local_stack")
    second = os.environ.get("BILAT_TEST_KAFKA_B")
    if second is None:
        second = stack.kafka_up(
            KafkaSpec(name="test-b", port=25192, controller_port=25193)
        ).bootstrap
    links = links_for(
        {"hgc": kafka_bootstrap, "dcc": second},
        rest_ports={"hgc": local_rest_port(25092), "dcc": local_rest_port(25192)},
        prefix_pattern=TEST_PREFIX_PATTERN,
        refresh_seconds=2,
        replication_factor=1,
    )
    stack.mirror_up_all(links)
    return MirroredPair(hgc=kafka_bootstrap, dcc=second, links=links)


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a real Redis server for this test session."""
    if env := os.environ.get("BILAT_TEST_REDIS"):
        yield env
        return
    if _docker_answers():
        with contextlib.suppress(ImportError):
            from testcontainers.redis import RedisContainer

            with RedisContainer() as container:
                host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
                yield f"redis://{host}:{port}/0"
            return
    from streams.devstack.localstack import RedisSpec

    stack = request.getfixturevalue("local_stack")
    yield stack.redis_up(RedisSpec(name="test-redis", port=25379)).url


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix unique to this test."""
    return f"t-{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings of one party ('hgc') on the session broker and Redis, isolated by topic prefix
    (the party id carries the prefix too, so Redis keys are isolated as well)."""
    return Settings.from_env(
        {},
        party=f"hgc-{topic_prefix.strip('.')}",
        kafka=kafka_bootstrap,
        redis=redis_url,
        topic_prefix=topic_prefix,
        run_dir=tmp_path,
        partitions=2,
    )


# --- the secured stack (issue 14): its own clusters, Redis and run folder -------------------

SECURE_RUN_DIR = REPO / ".bilat" / "test-run-secure"
SECURE_PORTS = {"hgc": 25892, "dcc": 25992}
"""SASL_SSL ports of the secured pair (controller +1, mutual TLS +2, its MM2's REST +10)."""
SECURE_REDIS_PORT = 25879


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[object]:
    """Two secured clusters (``hgc``, ``dcc``: TLS, SCRAM, ACLs), a TLS Redis with ACL users
    and MirrorMaker 2 both ways with the partners' principals, in ``.bilat/test-run-secure``;
    started once per session (about 15 s), and at the end only what this session started is
    stopped. See :class:`tests.secure_stack.SecureStack`."""
    from tests.secure_stack import start_secure_stack

    stack, started = start_secure_stack(SECURE_RUN_DIR, SECURE_PORTS, SECURE_REDIS_PORT)
    yield stack
    stack.stop(started)
