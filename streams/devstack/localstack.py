"""Start, stop and inspect the local stack: Kafka brokers (KRaft) from Maven Central jars, Redis.

No Docker. Each Kafka cluster is one combined broker+controller JVM run from the jars that
``deploy/local/pom.xml`` resolves (once, into ``<cache_dir>/kafka-<version>/lib``); Redis is
Debian's ``redis-server``. Every service has its own folder under ``run_dir``::

    <run_dir>/kafka-<name>/   server.properties, data/, broker.log, kafka.pid, state.json, .lock
    <run_dir>/redis-<name>/   appendonlydir/, redis.log, redis.pid, state.json, .lock

Contracts:

* ``*_up`` is idempotent: a service that already runs (pid file, process alive and ours, it
  answers) is returned as is, ``started=False``; nothing is started twice.
* ``*_down`` signals only a process that is provably ours (see :mod:`streams.devstack.procs`),
  SIGTERM first, SIGKILL after 30 s; it returns False, without error, when nothing ran.
* Up and down of one service are serialised across processes by a file lock, so test sessions
  and CLI calls may race safely. Stale pid files are removed on the way.
* Failures raise :class:`~streams.core.errors.StackError` subclasses whose message says what to do.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.core import resources
from streams.core.errors import PortInUseError, ServiceStartError, StackError, ToolMissingError
from streams.devstack import procs
from streams.devstack.procs import LOOPBACK, ServiceFolder

__all__ = [
    "DEFAULT_REDIS_PORT",
    "KafkaHandle",
    "KafkaSpec",
    "LocalStack",
    "RedisHandle",
    "RedisSpec",
    "ServiceKind",
    "ServiceStatus",
    "new_cluster_id",
    "read_kafka_version",
    "render_properties",
    "server_properties",
]

DEPLOY_DIR = resources.deploy_dir()
POM_PATH = DEPLOY_DIR / "pom.xml"
LOG4J2_CONFIG = DEPLOY_DIR / "log4j2.properties"

DEFAULT_REDIS_PORT = 6390
"""Not 6379: installing Debian's redis-server may start a system Redis there."""

STOP_TIMEOUT = 30.0
MIN_JAVA = 17
# Kafka's own scripts default to 1 GiB; 512 MiB is plenty for a single-node dev broker. No
# start-up flags: G1 vs Serial GC measured within noise here (about 1.8 s to ready either way),
# and capping the JIT (TieredStopAtLevel=1) would cost throughput.
KAFKA_JVM = ("-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")

JAVA_HINT = "java not found: install OpenJDK 17+ (apt-get install -y openjdk-17-jre-headless)"
MVN_HINT = (
    "mvn not found: install Maven (apt-get install -y maven); it resolves the Kafka jars from "
    "Maven Central once per version"
)
REDIS_HINT = (
    "redis-server not found: install it with `sudo apt-get update && sudo apt-get install -y "
    "redis-server` (Bilat installs it by itself only when run as root)"
)

ServiceKind = Literal["kafka", "redis"]
_KINDS: tuple[ServiceKind, ...] = ("kafka", "redis")
_MARKERS: dict[ServiceKind, str] = {"kafka": "kafka.Kafka", "redis": "redis-server"}
_LOG_NAMES: dict[ServiceKind, str] = {"kafka": "broker.log", "redis": "redis.log"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
# Append-only file on, so a restart keeps dedup keys; RDB snapshots off; in the foreground.
_REDIS_ARGS = ("--bind", LOOPBACK, "--daemonize", "no", "--save", "", "--appendonly", "yes")
_MVN_ARGS = ("-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime")


# --- specs, handles, status ----------------------------------------------------------------


def _check_name(kind: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise StackError(
            f"{kind} name {name!r}: want 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def _check_port(what: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise StackError(f"{what}: got port {port}, want 1..65535")


@dataclass(frozen=True, slots=True)
class KafkaSpec:
    """One single-node Kafka cluster (combined broker and KRaft controller) on loopback."""

    name: str
    """Cluster name, e.g. the party ``hgc``; names its folder ``kafka-<name>``."""
    port: int = 9092
    """Client (PLAINTEXT) port."""
    controller_port: int = 9093
    """KRaft controller port; must differ from ``port``."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Extra or replaced ``server.properties`` entries."""
    jvm_options: tuple[str, ...] = ()
    """Extra JVM options, after the defaults (so ``-Xmx1g`` here wins)."""
    start_timeout: float = 60.0
    """Seconds to wait for the broker to answer."""

    def __post_init__(self) -> None:
        _check_name("kafka", self.name)
        _check_port(f"kafka '{self.name}'", self.port)
        _check_port(f"kafka '{self.name}' controller", self.controller_port)
        if self.port == self.controller_port:
            raise StackError(
                f"kafka '{self.name}': port and controller_port are both {self.port}, want two "
                "different ports"
            )

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"{LOOPBACK}:{self.port}"


@dataclass(frozen=True, slots=True)
class RedisSpec:
    """One ``redis-server`` on loopback, append-only file on, RDB snapshots off."""

    name: str = "redis"
    """Names its folder ``redis-<name>``."""
    port: int = DEFAULT_REDIS_PORT
    start_timeout: float = 15.0
    """Seconds to wait for it to answer."""

    def __post_init__(self) -> None:
        _check_name("redis", self.name)
        _check_port(f"redis '{self.name}'", self.port)

    @property
    def url(self) -> str:
        """URL for ``redis.Redis.from_url`` (database 0)."""
        return f"redis://{LOOPBACK}:{self.port}/0"


@dataclass(frozen=True, slots=True)
class KafkaHandle:
    """A running Kafka cluster."""

    name: str
    bootstrap: str
    pid: int
    log_path: Path
    data_dir: Path
    cluster_id: str
    started: bool
    """True if this call started it, False if it was already running."""


@dataclass(frozen=True, slots=True)
class RedisHandle:
    """A running Redis server."""

    name: str
    url: str
    pid: int
    log_path: Path
    started: bool
    """True if this call started it, False if it was already running."""


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One service known in the run folder, running or not."""

    kind: ServiceKind
    name: str
    address: str
    """Kafka bootstrap ``host:port`` or Redis URL."""
    pid: int | None
    """The live process id, None when stopped."""
    running: bool
    log_path: Path


@dataclass(frozen=True, slots=True)
class _State:
    """What ``state.json`` records about a service (written before each start)."""

    kind: ServiceKind
    name: str
    port: int
    address: str
    controller_port: int | None = None
    cluster_id: str | None = None
    kafka_version: str | None = None


# --- pure helpers ----------------------------------------------------------------------------


def read_kafka_version(pom: Path = POM_PATH) -> str:
    """The ``kafka.version`` property of the pom: the one place the Kafka version is chosen."""
    try:
        element = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    except (OSError, ET.ParseError) as exc:
        raise StackError(f"cannot read the Kafka version from {pom}: {exc}") from exc
    if element is None or not (element.text or "").strip():
        raise StackError(f"{pom} has no <properties><kafka.version>: want e.g. 4.1.1")
    return (element.text or "").strip()


def new_cluster_id() -> str:
    """A random Kafka cluster id: 16 random bytes, base64url, unpadded (22 chars).

    The same shape as ``kafka-storage random-uuid`` without starting a JVM; like Kafka we
    avoid a leading ``-``, which command lines would take for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(spec: KafkaSpec, data_dir: Path) -> dict[str, str]:
    """The broker configuration of ``spec``: single-node KRaft on loopback, RF 1 everywhere."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{spec.controller_port}",
        "listeners": (
            f"PLAINTEXT://{LOOPBACK}:{spec.port},CONTROLLER://{LOOPBACK}:{spec.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{spec.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        **spec.overrides,
    }


def render_properties(props: Mapping[str, str], header: str) -> str:
    """A Java ``.properties`` file: ``# header`` then ``key=value`` lines, values escaped."""
    lines = [f"# {header}"]
    for key, value in props.items():
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"{key}={escaped}")
    return "\n".join(lines) + "\n"


def java_major_version(version_output: str) -> int | None:
    """The major version in ``java -version`` output (``"1.8.0_392"`` → 8, ``"17.0.15"`` → 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _formatted_cluster_id(data_dir: Path) -> str | None:
    """The cluster id in ``data_dir/meta.properties``, None when the directory is unformatted."""
    try:
        text = (data_dir / "meta.properties").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def _kafka_answers(port: int, cluster_id: str) -> bool:
    """True if *our* broker answers a metadata request on ``port`` (its cluster id matches)."""
    if not procs.port_accepts(port):
        return False
    # log_level 0: librdkafka would print every refused connection to stderr.
    admin = AdminClient({"bootstrap.servers": f"{LOOPBACK}:{port}", "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=2)
    except KafkaException:
        return False
    return bool(metadata.cluster_id == cluster_id)


def _redis_answers(url: str, pid: int) -> bool:
    """True if the Redis at ``url`` answers and is process ``pid`` (not some other Redis)."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        info = client.info("server")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return bool(info.get("process_id") == pid)


def _probe(state: _State, pid: int) -> Callable[[], bool]:
    if state.kind == "kafka":
        cluster_id = state.cluster_id or ""
        return lambda: _kafka_answers(state.port, cluster_id)
    return lambda: _redis_answers(state.address, pid)


def _read_state(folder: ServiceFolder) -> _State | None:
    """The service's ``state.json``, None if missing, unreadable or of another kind."""
    try:
        state = _State(**json.loads(folder.state_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return state if state.kind == folder.kind and state.name == folder.name else None


def _write_state(folder: ServiceFolder, state: _State) -> None:
    folder.state_file.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n")


# --- the stack ---------------------------------------------------------------------------------


def _quiet(_message: str) -> None:
    """Default progress callback: say nothing."""


class LocalStack:
    """The services of one run folder; see the module docstring for the contracts.

    ``run_dir`` defaults to ``$BILAT_RUN_DIR`` or ``<work dir>/run`` (``.bilat/run`` in the
    checkout, see :func:`streams.core.resources.work_dir`); ``cache_dir`` (the
    resolved jars) to ``$BILAT_CACHE_DIR`` or ``~/.cache/bilat``. ``progress`` receives short
    human messages ("starting kafka 'hgc' on 127.0.0.1:9092…").
    """

    def __init__(
        self,
        run_dir: Path | None = None,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        default_run = os.environ.get("BILAT_RUN_DIR") or resources.work_dir() / "run"
        default_cache = os.environ.get("BILAT_CACHE_DIR") or Path.home() / ".cache" / "bilat"
        self.run_dir = Path(run_dir or default_run).resolve()
        self.cache_dir = Path(cache_dir or default_cache).resolve()
        self._progress = progress or _quiet

    @cached_property
    def kafka_version(self) -> str:
        """The Kafka version the pom selects."""
        return read_kafka_version()

    @cached_property
    def java(self) -> str:
        """Path of a Java 17+ ``java``: ``$JAVA_HOME/bin/java`` if set, else from ``PATH``."""
        java_home = os.environ.get("JAVA_HOME")
        home_java = Path(java_home, "bin", "java") if java_home else None
        java = str(home_java) if home_java and os.access(home_java, os.X_OK) else None
        java = java or shutil.which("java")
        if java is None:
            raise ToolMissingError(JAVA_HINT)
        output = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        major = java_major_version(output.stderr)
        if major is not None and major < MIN_JAVA:
            raise ToolMissingError(
                f"{java} is Java {major}, Kafka needs {MIN_JAVA}+: install OpenJDK 17+ "
                "(apt-get install -y openjdk-17-jre-headless) or point JAVA_HOME at one"
            )
        return java

    def kafka_lib(self) -> Path:
        """The folder of Kafka jars, resolved from Maven Central on first use, then reused.

        Resolution goes to a private temporary folder renamed into place, so a concurrent
        resolver never sees a half-filled ``lib/``; when two race, the first rename wins.
        """
        lib = self.cache_dir / f"kafka-{self.kafka_version}" / "lib"
        if lib.is_dir():
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ToolMissingError(MVN_HINT)
        self._progress(f"resolving Kafka {self.kafka_version} jars from Maven Central…")
        lib.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="lib.partial-", dir=lib.parent))
        try:
            self._resolve_jars(mvn, staging)
            try:
                staging.rename(lib)
            except OSError:
                if not lib.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return lib

    def _java_command(self, *args: str) -> list[str]:
        """``java`` on the Kafka jars with our log4j2 config, then ``args`` (options, class).

        Finds java before the jars, as Maven needs java too.
        """
        java = self.java
        config = f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}"
        return [java, config, "-cp", f"{self.kafka_lib()}/*", *args]

    def _resolve_jars(self, mvn: str, target: Path) -> None:
        command = [mvn, *_MVN_ARGS, "-f", str(POM_PATH), f"-DoutputDirectory={target}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise StackError(
                f"mvn could not resolve the Kafka {self.kafka_version} jars (exit "
                f"{result.returncode}):\n{textwrap.indent(tail, '  ')}\n"
                f"Check that Maven Central is reachable, then retry; the pom is {POM_PATH}."
            )

    # --- Kafka ------------------------------------------------------------------------------

    def kafka_up(self, spec: KafkaSpec) -> KafkaHandle:
        """Start the cluster of ``spec`` and wait until it answers, or return the running one.

        Raises PortInUseError, ToolMissingError, ServiceStartError (with the log tail), or
        StackError if a cluster of that name already runs on another port.
        """
        svc = self._service("kafka", spec.name)
        with svc.locked():
            running = self._running(svc, spec.port, spec.start_timeout)
            if running is not None:
                return self._kafka_handle(svc, *running, started=False)
            self._require_free(
                {
                    spec.port: f"{svc.label} listener",
                    spec.controller_port: f"{svc.label} controller",
                }
            )
            props_path = svc.path / "server.properties"
            header = f"written by bilat for {svc.label}; `bilat up` rewrites it"
            props_path.write_text(
                render_properties(server_properties(spec, svc.path / "data"), header)
            )
            log_start = svc.begin_log(f"starting Kafka {self.kafka_version}")
            state = _State(
                kind="kafka",
                name=spec.name,
                port=spec.port,
                address=spec.bootstrap,
                controller_port=spec.controller_port,
                kafka_version=self.kafka_version,
                cluster_id=self._format_storage(svc, props_path, log_start),
            )
            _write_state(svc, state)
            argv = self._java_command(*KAFKA_JVM, *spec.jvm_options, "kafka.Kafka", str(props_path))
            pid = self._launch(svc, state, argv, spec.start_timeout, log_start)
            return self._kafka_handle(svc, state, pid, started=True)

    def kafka_down(self, name: str) -> bool:
        """Stop the cluster ``name``; True if it stopped something, False if nothing ran."""
        return self._down(self._service("kafka", name))

    def _format_storage(self, svc: ServiceFolder, props: Path, log_start: int) -> str:
        """Format ``data/`` once with a new cluster id; return the id it is formatted with.

        Kafka 4.x validates the whole broker configuration here, so a bad override fails now,
        before any broker starts.
        """
        existing = _formatted_cluster_id(svc.path / "data")
        if existing is not None:
            return existing
        cluster_id = new_cluster_id()
        storage_tool = ("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props))
        command = self._java_command(*storage_tool, "--ignore-formatted")
        with svc.log_path.open("ab") as log:
            result = subprocess.run(
                command, cwd=svc.path, stdout=log, stderr=subprocess.STDOUT, check=False
            )
        if result.returncode != 0:
            reason = f"formatting its storage failed (exit {result.returncode})"
            raise ServiceStartError(svc.start_failure(reason, log_start))
        return cluster_id

    def _kafka_handle(
        self, svc: ServiceFolder, state: _State, pid: int, started: bool
    ) -> KafkaHandle:
        return KafkaHandle(
            name=svc.name,
            bootstrap=state.address,
            pid=pid,
            log_path=svc.log_path,
            data_dir=svc.path / "data",
            cluster_id=state.cluster_id or "",
            started=started,
        )

    # --- Redis ------------------------------------------------------------------------------

    def redis_up(self, spec: RedisSpec) -> RedisHandle:
        """Start ``redis-server`` for ``spec`` and wait until it answers, or return the running one.

        Installs the Debian package first if ``redis-server`` is missing and we are root.
        """
        svc = self._service("redis", spec.name)
        with svc.locked():
            running = self._running(svc, spec.port, spec.start_timeout)
            if running is not None:
                return self._redis_handle(svc, *running, started=False)
            self._require_free({spec.port: svc.label})
            server = self._redis_server()
            state = _State(kind="redis", name=spec.name, port=spec.port, address=spec.url)
            _write_state(svc, state)
            log_start = svc.begin_log("starting redis-server")
            argv = [server, "--port", str(spec.port), "--dir", str(svc.path), *_REDIS_ARGS]
            pid = self._launch(svc, state, argv, spec.start_timeout, log_start)
            return self._redis_handle(svc, state, pid, started=True)

    def redis_down(self, name: str) -> bool:
        """Stop the Redis ``name``; True if it stopped something, False if nothing ran."""
        return self._down(self._service("redis", name))

    def _redis_server(self) -> str:
        """Path of ``redis-server``, installing Debian's package when missing and root."""
        server = shutil.which("redis-server")
        if server is not None:
            return server
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise ToolMissingError(REDIS_HINT)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "redis-server"]):
            shown = " ".join(command)
            self._progress(f"redis-server not found: running `{shown}`…")
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
                raise ToolMissingError(
                    f"`{shown}` failed (exit {result.returncode}):\n"
                    f"{textwrap.indent(tail, '  ')}\n{REDIS_HINT}"
                )
        server = shutil.which("redis-server")
        if server is None:
            raise ToolMissingError(
                f"the redis-server package installed no redis-server; {REDIS_HINT}"
            )
        return server

    def _redis_handle(
        self, svc: ServiceFolder, state: _State, pid: int, started: bool
    ) -> RedisHandle:
        return RedisHandle(
            name=svc.name, url=state.address, pid=pid, log_path=svc.log_path, started=started
        )

    # --- MirrorMaker 2 ------------------------------------------------------------------------
    # Not yet (a later issue). mirrormaker_up(MirrorSpec) / mirrormaker_down(name) go here, built
    # like kafka_up: a ServiceKind "mm2" (folder mm2-<name>, marker "connect.mirror.MirrorMaker",
    # log mm2.log), the same kafka_lib() and LOG4J2_CONFIG, main class
    # org.apache.kafka.connect.mirror.MirrorMaker with a rendered mm2.properties; status() and
    # down_all() then include it without change.

    # --- all services -------------------------------------------------------------------------

    def status(self) -> list[ServiceStatus]:
        """Every service known in ``run_dir``, Kafka first, by name. Starts and stops nothing."""
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

        Kafka clusters first, then Redis. Names are unique per kind (a Kafka ``x`` and a Redis
        ``x`` may coexist), so the list may hold a name twice.
        """
        return [svc.name for svc, _ in self._known_services() if self._down(svc)]

    # --- shared steps -------------------------------------------------------------------------

    def _service(self, kind: ServiceKind, name: str) -> ServiceFolder:
        _check_name(kind, name)
        return ServiceFolder(
            kind=kind,
            name=name,
            path=self.run_dir / f"{kind}-{name}",
            marker=_MARKERS[kind],
            log_name=_LOG_NAMES[kind],
        )

    def _known_services(self) -> Iterator[tuple[ServiceFolder, _State]]:
        """Services with a folder and a readable state file in ``run_dir``: Kafka first, by name."""
        for kind in _KINDS:
            for folder in sorted(self.run_dir.glob(f"{kind}-*")):
                name = folder.name.removeprefix(f"{kind}-")
                if not _NAME.fullmatch(name):
                    continue
                svc = self._service(kind, name)
                state = _read_state(svc)
                if state is not None:
                    yield svc, state

    def _running(self, svc: ServiceFolder, port: int, timeout: float) -> tuple[_State, int] | None:
        """The state and pid of ``svc`` if it already runs and answers; None if it does not run.

        A stale pid file is removed. Raises if it runs on another port or does not answer.
        """
        pid = svc.live_pid()
        if pid is None:
            if svc.pid_file.exists():
                self._progress(f"{svc.label}: removing a stale pid file")
                svc.clear_pid()
            return None
        state = _read_state(svc)
        if state is None or state.port != port:
            where = state.address if state else "an unrecorded port"
            raise StackError(
                f"{svc.label} already runs on {where} (pid {pid}), not on port {port}: stop it "
                "first (`bilat down`), then start it on the new port"
            )
        failure = svc.await_ready(pid, _probe(state, pid), timeout)
        if failure is not None:
            raise ServiceStartError(
                f"{svc.label} (pid {pid}) runs but does not answer on {state.address}: {failure}; "
                f"see {svc.log_path}, then restart it (`bilat down`, `bilat up`)"
            )
        self._progress(f"{svc.label} already running on {state.address} (pid {pid})")
        return state, pid

    def _require_free(self, ports: Mapping[int, str]) -> None:
        for port, role in ports.items():
            if procs.port_is_free(port):
                continue
            raise PortInUseError(
                f"port {port} ({role}) on {LOOPBACK} is already in use{self._holder(port)}. "
                f"See who holds it with `ss -ltnp 'sport = :{port}'`, then stop that program or "
                "choose other ports (`bilat up --base-port N --redis-port N`)."
            )

    def _holder(self, port: int) -> str:
        """Names the running service of ours that claims ``port``, for error messages."""
        for svc, state in self._known_services():
            if port in (state.port, state.controller_port) and svc.live_pid() is not None:
                return f" by {svc.label} of this stack"
        return ""

    def _launch(
        self, svc: ServiceFolder, state: _State, argv: Sequence[str], timeout: float, log_start: int
    ) -> int:
        """Spawn ``argv`` detached, record its pid, wait until it answers; return the pid.

        On failure the process is stopped and ServiceStartError carries this run's log tail.
        """
        self._progress(f"starting {svc.label} on {state.address}…")
        began = time.monotonic()
        pid = procs.spawn_detached(argv, svc.path, svc.log_path)
        svc.write_pid(pid)
        failure = svc.await_ready(pid, _probe(state, pid), timeout)
        if failure is not None:
            procs.stop_process(pid, lambda: svc.owns(pid), timeout=5.0)
            svc.clear_pid()
            raise ServiceStartError(svc.start_failure(failure, log_start))
        self._progress(f"{svc.label} ready in {time.monotonic() - began:.1f} s")
        return pid

    def _down(self, svc: ServiceFolder) -> bool:
        if not svc.path.is_dir():
            return False
        with svc.locked():
            pid = procs.read_pid(svc.pid_file)
            if pid is None or not svc.owns(pid):
                svc.clear_pid()
                return False
            self._progress(f"stopping {svc.label} (pid {pid})…")
            if not procs.stop_process(pid, lambda: svc.owns(pid), STOP_TIMEOUT):
                raise StackError(
                    f"{svc.label} (pid {pid}) survived SIGTERM and SIGKILL; check it with "
                    f"`ps -o pid,stat,cmd -p {pid}`"
                )
            svc.clear_pid()
            self._progress(f"{svc.label} stopped")
            return True
