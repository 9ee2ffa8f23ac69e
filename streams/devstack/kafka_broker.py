"""The Kafka launcher: single-node KRaft clusters from Maven Central jars on a local JDK.

Each cluster is one combined broker+controller JVM run from the jars that the packaged
``deploy/local/pom.xml`` resolves (once, into ``<cache_dir>/kafka-<version>/lib``), logging
through the packaged ``deploy/local/log4j2.properties`` (both found through
:mod:`streams.core.resources`). Its folder is ``<run_dir>/kafka-<name>/``: server.properties,
data/, broker.log, kafka.pid, state.json, .lock.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.core import resources
from streams.core.errors import ServiceStartError, StackError, ToolMissingError
from streams.devstack import procs
from streams.devstack.certs import write_secret
from streams.devstack.procs import LOOPBACK, ServiceFolder
from streams.devstack.services import (
    ServiceRunner,
    ServiceState,
    check_name,
    check_port,
    write_state,
)

__all__ = [
    "BrokerSecurity",
    "KafkaHandle",
    "KafkaLauncher",
    "KafkaSpec",
    "java_major_version",
    "new_cluster_id",
    "read_kafka_version",
    "render_properties",
    "secure_properties",
    "server_properties",
]

POM_PATH = resources.deploy_dir() / "pom.xml"
LOG4J2_CONFIG = resources.deploy_dir() / "log4j2.properties"

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

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_MVN_ARGS = ("-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime")


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """How a secured broker listens and whom it knows (see :func:`secure_properties`).

    Three listeners: SASL_SSL on the spec's ``port`` (SCRAM-SHA-512 over TLS), SSL on
    ``tls_port`` (mutual TLS: a client certificate is required) and the controller on SSL with
    mutual TLS too. A certificate's CN is its principal; the broker's own (``principal``) and
    ``super_users`` bypass ACLs, everyone else gets only what an ACL grants.
    """

    keystore: Path
    """PEM file: the broker's private key (PKCS#8, unencrypted) then its certificate."""
    truststore: Path
    """PEM file: the CA certificates clients' certificates must chain to."""
    tls_port: int
    principal: str
    """The CN of the broker's certificate: it talks to its own controller as this user."""
    scram_users: Mapping[str, Path] = field(default_factory=dict)
    """SCRAM-SHA-512 user -> file holding its password; created when the storage is formatted
    (``kafka-storage format --add-scram``), so the broker knows them from its first start."""
    super_users: tuple[str, ...] = ("admin",)
    probe: Mapping[str, str] = field(default_factory=dict)
    """librdkafka settings of a super user (mutual TLS on ``tls_port``: file paths, no secret)
    for the readiness check."""


SCRAM_MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
PRINCIPAL_RULES = "RULE:^(?:.*,)?CN=([^,]+)(?:,.*)?$/$1/,DEFAULT"
"""A certificate's principal is its CN alone (``O=...,CN=worker`` → ``User:worker``)."""


def secure_properties(spec: KafkaSpec, security: BrokerSecurity) -> dict[str, str]:
    """The listener, TLS, SASL and authorizer settings of a secured broker."""
    sasl, tls, ctl = spec.port, security.tls_port, spec.controller_port
    supers = (security.principal, *security.super_users)
    jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return {
        "listeners": (
            f"SASL_SSL://{LOOPBACK}:{sasl},SSL://{LOOPBACK}:{tls},CONTROLLER://{LOOPBACK}:{ctl}"
        ),
        "advertised.listeners": f"SASL_SSL://{LOOPBACK}:{sasl},SSL://{LOOPBACK}:{tls}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(security.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(security.truststore),
        "ssl.client.auth": "required",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.principal.mapping.rules": PRINCIPAL_RULES,
        "listener.name.sasl_ssl.ssl.client.auth": "none",
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": jaas,
        "authorizer.class.name": AUTHORIZER,
        "super.users": ";".join(f"User:{user}" for user in supers),
        "allow.everyone.if.no.acl.found": "false",
    }


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
    security: BrokerSecurity | None = None
    """TLS and SCRAM instead of PLAINTEXT: ``port`` is then the SASL_SSL listener."""

    def __post_init__(self) -> None:
        check_name("kafka", self.name)
        check_port(f"kafka '{self.name}'", self.port)
        check_port(f"kafka '{self.name}' controller", self.controller_port)
        if self.port == self.controller_port:
            raise StackError(
                f"kafka '{self.name}': port and controller_port are both {self.port}, want two "
                "different ports"
            )
        if self.security is not None:
            tls = self.security.tls_port
            check_port(f"kafka '{self.name}' TLS", tls)
            if tls in (self.port, self.controller_port):
                raise StackError(
                    f"kafka '{self.name}': TLS port {tls} is also its listener or controller "
                    "port: want three different ports"
                )

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"{LOOPBACK}:{self.port}"


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
    secured = secure_properties(spec, spec.security) if spec.security is not None else {}
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
        **secured,
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


def _kafka_answers(port: int, cluster_id: str, client: Mapping[str, str] | None = None) -> bool:
    """True if *our* broker answers a metadata request on ``port`` (its cluster id matches);
    ``client`` are the settings of a secured broker's probe (bootstrap included)."""
    if not procs.port_accepts(port):
        return False
    # log_level 0: librdkafka would print every refused connection to stderr.
    config = dict(client) if client else {"bootstrap.servers": f"{LOOPBACK}:{port}"}
    admin = AdminClient({**config, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=2)
    except KafkaException:
        return False
    return bool(metadata.cluster_id == cluster_id)


_SCRAM_SAFE = re.compile(r"[A-Za-z0-9_.~+/-]{8,200}")


def _read_password(path: Path) -> str:
    """A SCRAM password from its file (one final newline dropped); StackError if it holds
    characters that Kafka's ``--add-scram`` syntax or a Java argument file would misread."""
    try:
        password = path.read_text(encoding="utf-8").removesuffix("\n")
    except OSError as exc:
        raise StackError(f"cannot read the SCRAM password file {path}: {exc}") from exc
    if not _SCRAM_SAFE.fullmatch(password):
        raise StackError(
            f"the SCRAM password in {path}: want 8-200 characters of letters, digits and "
            "_.~+/- (generated ones are)"
        )
    return password


def _probe_client(spec: KafkaSpec) -> dict[str, str] | None:
    """What the readiness check connects with: None for PLAINTEXT on ``port``."""
    if spec.security is None:
        return None
    return {
        "bootstrap.servers": f"{LOOPBACK}:{spec.security.tls_port}",
        **spec.security.probe,
    }


# --- the launcher ----------------------------------------------------------------------------


class KafkaLauncher(ServiceRunner):
    """Start and stop Kafka clusters in ``run_dir``; the jars are cached in ``cache_dir``."""

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

    def _probe(self, state: ServiceState, pid: int) -> Callable[[], bool]:
        if state.kind == "kafka":
            cluster_id = state.cluster_id or ""
            return lambda: _kafka_answers(state.port, cluster_id, state.client)
        return super()._probe(state, pid)

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
            ports = {
                spec.port: f"{svc.label} listener",
                spec.controller_port: f"{svc.label} controller",
            }
            if spec.security is not None:
                ports[spec.security.tls_port] = f"{svc.label} TLS listener"
            self._require_free(ports)
            props_path = svc.path / "server.properties"
            header = f"written by bilat for {svc.label}; `bilat up` rewrites it"
            props_path.write_text(
                render_properties(server_properties(spec, svc.path / "data"), header)
            )
            log_start = svc.begin_log(f"starting Kafka {self.kafka_version}")
            state = ServiceState(
                kind="kafka",
                name=spec.name,
                port=spec.port,
                address=spec.bootstrap,
                controller_port=spec.controller_port,
                kafka_version=self.kafka_version,
                cluster_id=self._format_storage(svc, props_path, log_start, spec.security),
                client=_probe_client(spec),
            )
            write_state(svc, state)
            argv = self._java_command(*KAFKA_JVM, *spec.jvm_options, "kafka.Kafka", str(props_path))
            pid = self._launch(svc, state, argv, spec.start_timeout, log_start)
            return self._kafka_handle(svc, state, pid, started=True)

    def kafka_down(self, name: str) -> bool:
        """Stop the cluster ``name``; True if it stopped something, False if nothing ran."""
        return self._down(self._service("kafka", name))

    def _format_storage(
        self,
        svc: ServiceFolder,
        props: Path,
        log_start: int,
        security: BrokerSecurity | None = None,
    ) -> str:
        """Format ``data/`` once with a new cluster id; return the id it is formatted with.

        Kafka 4.x validates the whole broker configuration here, so a bad override fails now,
        before any broker starts. A secured broker's SCRAM users are created here by Kafka's
        own tool (``--add-scram``); their passwords reach it in a Java argument file (mode
        0600, removed after), never on a command line.
        """
        existing = _formatted_cluster_id(svc.path / "data")
        if existing is not None:
            return existing
        cluster_id = new_cluster_id()
        storage_tool = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)]
        storage_tool.append("--ignore-formatted")
        argfile = svc.path / ".format-args"
        if security is not None and security.scram_users:
            for user, password_file in sorted(security.scram_users.items()):
                password = _read_password(password_file)
                scram = f"{SCRAM_MECHANISM}=[name={user},password={password}]"
                storage_tool += ["--add-scram", scram]
            write_secret(argfile, "\n".join(f'"{arg}"' for arg in storage_tool) + "\n")
            command = self._java_command(f"@{argfile}")
        else:
            command = self._java_command(*storage_tool)
        try:
            with svc.log_path.open("ab") as log:
                result = subprocess.run(
                    command, cwd=svc.path, stdout=log, stderr=subprocess.STDOUT, check=False
                )
        finally:
            argfile.unlink(missing_ok=True)
        if result.returncode != 0:
            reason = f"formatting its storage failed (exit {result.returncode})"
            raise ServiceStartError(svc.start_failure(reason, log_start))
        return cluster_id

    def _kafka_handle(
        self, svc: ServiceFolder, state: ServiceState, pid: int, started: bool
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
