"""Start, stop and inspect the local stack: Kafka brokers (KRaft) from Maven Central jars, Redis,
MirrorMaker 2 between the brokers.

No Docker. Each Kafka cluster is one combined broker+controller JVM run from the jars that
``deploy/local/pom.xml`` resolves (:mod:`streams.devstack.kafka_broker`); Redis is Debian's
``redis-server`` (:mod:`streams.devstack.redis_server`); each mirror link is one MirrorMaker 2
JVM on the same jars, next to its target cluster (:mod:`streams.devstack.mirrormaker`). Every
service has its own folder under ``run_dir``::

    <run_dir>/kafka-<name>/   server.properties, data/, broker.log, kafka.pid, state.json, .lock
    <run_dir>/redis-<name>/   appendonlydir/, redis.log, redis.pid, state.json, .lock
    <run_dir>/mm2-<a>-to-<b>/ mm2.properties, link.json, mm2.log, mm2.pid, state.json, .lock

Contracts:

* ``*_up`` is idempotent: a service that already runs (pid file, process alive and ours, it
  answers) is returned as is, ``started=False``; nothing is started twice.
* ``*_down`` signals only a process that is provably ours (see :mod:`streams.devstack.procs`),
  SIGTERM first, SIGKILL after 30 s; it returns False, without error, when nothing ran.
* Up and down of one service are serialised across processes by a file lock, so test sessions
  and CLI calls may race safely. Stale pid files are removed on the way.
* Failures raise :class:`~streams.core.errors.StackError` subclasses whose message says what to do.

This module is the stack as a whole (status, stop everything) and the one import for its users:
the specs, handles and helpers of each kind are re-exported here.
"""

from __future__ import annotations

from streams.devstack.kafka_broker import (
    KafkaHandle,
    KafkaSpec,
    java_major_version,
    new_cluster_id,
    read_kafka_version,
    render_properties,
    server_properties,
)
from streams.devstack.mirrormaker import (
    MirrorHandle,
    MirrorLauncher,
    MirrorStatus,
    local_rest_port,
)
from streams.devstack.redis_server import (
    DEFAULT_REDIS_PORT,
    RedisHandle,
    RedisLauncher,
    RedisSpec,
)
from streams.devstack.services import STOP_ORDER, ServiceKind, ServiceStatus

__all__ = [
    "DEFAULT_REDIS_PORT",
    "KafkaHandle",
    "KafkaSpec",
    "LocalStack",
    "MirrorHandle",
    "MirrorStatus",
    "RedisHandle",
    "RedisSpec",
    "ServiceKind",
    "ServiceStatus",
    "java_major_version",
    "local_rest_port",
    "new_cluster_id",
    "read_kafka_version",
    "render_properties",
    "server_properties",
]


class LocalStack(MirrorLauncher, RedisLauncher):
    """The services of one run folder; see the module docstring for the contracts.

    ``run_dir`` defaults to ``$BILAT_RUN_DIR`` or ``.bilat/run`` in the checkout
    (``~/.local/state/bilat/run`` when installed); ``cache_dir`` (the resolved jars) to
    ``$BILAT_CACHE_DIR`` or ``~/.cache/bilat``. ``progress`` receives short human messages
    ("starting kafka 'hgc' on 127.0.0.1:9092…").

    MirrorMaker 2 is the launcher :class:`~streams.devstack.mirrormaker.MirrorLauncher`, built
    on the Kafka one (same jars and log4j2 config): ``mirror_up(link)``, ``mirror_down(name)``,
    ``mirror_status(link)``; :meth:`status` lists its processes and :meth:`down_all` stops them
    before the clusters they read and write.
    """

    def status(self) -> list[ServiceStatus]:
        """Every service known in ``run_dir``: Kafka, Redis, MirrorMaker, each by name. Starts and
        stops nothing."""
        result = []
        for svc, state in self._known_services():
            pid = svc.live_pid()
            result.append(
                ServiceStatus(
                    kind=state.kind,
                    name=svc.name,
                    address=state.address,
                    pid=pid,
                    running=pid is not None,
                    log_path=svc.log_path,
                )
            )
        return result

    def down_all(self) -> list[str]:
        """Stop every running service of ``run_dir``; return the names of those stopped.

        MirrorMaker first (it reads and writes the clusters), then Kafka, then Redis. Names are
        unique per kind (a Kafka ``x`` and a Redis ``x`` may coexist), so the list may hold a
        name twice.
        """
        return [svc.name for svc, _ in self._known_services(STOP_ORDER) if self._down(svc)]
