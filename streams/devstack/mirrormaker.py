"""The MirrorMaker 2 launcher: one MM2 process per mirror link, next to its target cluster.

Each link (:class:`~streams.reconcile.mirroring.MirrorLink`, one direction) runs as
``org.apache.kafka.connect.mirror.MirrorMaker mm2.properties --clusters <target>`` on the same
jars and log4j2 config as the brokers (:class:`~streams.devstack.kafka_broker.KafkaLauncher`).
Its folder is ``<run_dir>/mm2-<source>-to-<target>/``: mm2.properties (rendered on every
start), link.json (the link, read back by status), mm2.log, mm2.pid, state.json, .lock. MM2
keeps its own state (offsets, configs, status) in topics on the target cluster, so the folder
holds no data.

Ready means more than a live JVM, because MM2 reports a topic it failed to create only as a WARN
in its log and keeps running: the process runs, its Connect topics exist on the target, the
``MirrorSourceConnector`` is RUNNING (read from MM2's status topic on the target), and every
mirrored topic that exists on the source exists on the target. :func:`mirror_status` checks the
same at any time, naming what is missing and the lines of ``mm2.log`` about it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from streams.core.errors import MirrorError, StackError
from streams.devstack import procs
from streams.devstack.certs import write_secret
from streams.devstack.kafka_broker import KafkaLauncher
from streams.devstack.procs import ServiceFolder
from streams.devstack.services import ServiceState, write_state
from streams.reconcile.mirroring import (
    MM2_MAIN_CLASS,
    MirrorLink,
    internal_topics,
    is_mirrored,
    mirrored_topic,
    render_mm2_properties,
)

__all__ = [
    "MM2_JVM",
    "MM2_START_TIMEOUT",
    "REST_PORT_OFFSET",
    "MirrorAccess",
    "MirrorHandle",
    "MirrorLauncher",
    "MirrorStatus",
    "SourceState",
    "TopicLag",
    "connector_state",
    "local_rest_port",
    "log_lines_about",
    "mirror_lag",
]

# Heap: MM2 copies a few small ledger topics; 384 MiB leaves room for its Connect runtime.
# Serial GC and a small initial heap suit a background JVM on a 2-core machine.
MM2_JVM = (
    "-Xms64m",
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
MM2_START_TIMEOUT = 120.0
"""Seconds for a start: a JVM, three Connect herders' joins, and the first topic creation."""
REST_PORT_OFFSET = 10
"""On the local stack, the MM2 next to a broker on port p has its internal REST on p + 10."""
_POLL = 0.5
_CLIENT_TIMEOUT = 5.0
_SOURCE_CONNECTOR = "MirrorSourceConnector"


def local_rest_port(kafka_port: int) -> int:
    """The internal REST port of the local MM2 that writes to the broker on ``kafka_port``."""
    return kafka_port + REST_PORT_OFFSET


@dataclass(frozen=True, slots=True)
class MirrorHandle:
    """A running MM2 process."""

    name: str
    source: str
    target: str
    pid: int
    log_path: Path
    started: bool
    """True if this call started it, False if it was already running."""
    seconds: float
    """How long this call took to see it ready."""


@dataclass(frozen=True, slots=True)
class TopicLag:
    """One mirrored topic: its end offset on the source, and its copy's on the target.

    End offsets are high watermarks summed over partitions. They are not record counts: the
    copy is written in transactions, so it also holds commit markers and its end offset runs
    ahead of the source's. Compare them over time, not with each other.
    """

    source_topic: str
    target_topic: str
    source_end: int
    target_end: int | None
    """None when the copy does not exist on the target."""

    @property
    def missing(self) -> bool:
        return self.target_end is None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What MM2's status topic on the target says about the link's source connector."""

    connector: str | None
    """Latest state of ``MirrorSourceConnector`` (RUNNING, FAILED, ...), None if never started."""
    tasks: Mapping[str, str]
    """Latest state of each of its tasks, by task id."""
    trace: str | None
    """The first line of the trace of a FAILED connector or task."""


@dataclass(frozen=True, slots=True)
class MirrorStatus:
    """One link: its process, its connector, its topics, and what is wrong with them."""

    link: MirrorLink
    pid: int | None
    log_path: Path
    source: SourceState | None
    """None when the target cluster did not answer."""
    topics: tuple[TopicLag, ...]
    problems: tuple[str, ...]
    """Every problem found, each saying what to do; empty when the link mirrors fully."""
    log_lines: tuple[str, ...]
    """Lines of mm2.log (this run) naming a missing topic, or its WARN/ERROR lines."""

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def missing(self) -> tuple[str, ...]:
        """Copies missing on the target of source topics MM2 should mirror."""
        return tuple(lag.target_topic for lag in self.topics if lag.missing)

    @property
    def healthy(self) -> bool:
        return not self.problems


# --- reading the clusters --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MirrorAccess:
    """How a secured link is reached: librdkafka settings of a client allowed to inspect each
    cluster (the launcher's readiness and status checks; file paths, never a secret), and the
    extra ``mm2.properties`` entries that give MM2 its own credentials on both clusters
    (passwords only by reference to files, e.g. ``${dir:<folder>:<file>}``)."""

    source: Mapping[str, str] = dataclasses.field(default_factory=dict)
    target: Mapping[str, str] = dataclasses.field(default_factory=dict)
    properties: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def client(self, which: str, bootstrap: str) -> dict[str, str]:
        """Settings for the ``source`` or ``target`` cluster (its bootstrap unless overridden)."""
        extra = self.source if which == "source" else self.target
        return {"bootstrap.servers": bootstrap, **extra}


_PLAIN = MirrorAccess()


def _admin(bootstrap: str, access: MirrorAccess = _PLAIN, which: str = "target") -> AdminClient:
    return AdminClient({**access.client(which, bootstrap), "log_level": 0})


def _partitions(admin: AdminClient, bootstrap: str, what: str) -> dict[str, int]:
    """Topic -> partition count on a cluster; MirrorError naming it when it does not answer."""
    try:
        metadata = admin.list_topics(timeout=_CLIENT_TIMEOUT)
    except KafkaException as exc:
        raise MirrorError(
            f"{what} cluster at {bootstrap} did not answer ({exc}): start it (`bilat up`)"
        ) from exc
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def _high_watermarks(
    admin: AdminClient, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The high watermark of each partition; MirrorError when the cluster cannot say."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    wanted = dict.fromkeys(partitions, latest)
    if not wanted:
        return {}
    ends = {}
    for partition, future in admin.list_offsets(wanted, request_timeout=_CLIENT_TIMEOUT).items():
        try:
            ends[partition] = max(future.result().offset, 0)
        except KafkaException as exc:
            raise MirrorError(f"cannot read the end offset of {partition.topic}: {exc}") from exc
    return ends


def _end_offsets(admin: AdminClient, topics: Mapping[str, int]) -> dict[str, int]:
    """Sum of the high watermarks of each topic's partitions (``topics``: name -> count)."""
    ends = dict.fromkeys(topics, 0)
    partitions = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
    for partition, end in _high_watermarks(admin, partitions).items():
        ends[partition.topic] += end
    return ends


def mirror_lag(link: MirrorLink, access: MirrorAccess = _PLAIN) -> list[TopicLag]:
    """Every source topic ``link`` mirrors, with its end offset and its copy's (by source topic
    name). Raises MirrorError when a cluster does not answer."""
    source_admin = _admin(link.source_bootstrap, access, "source")
    target_admin = _admin(link.target_bootstrap, access, "target")
    on_source = _partitions(source_admin, link.source_bootstrap, f"source ({link.source})")
    on_target = _partitions(target_admin, link.target_bootstrap, f"target ({link.target})")
    mirrored = {t: n for t, n in sorted(on_source.items()) if is_mirrored(link, t)}
    copies = {t: mirrored_topic(link.source, t) for t in mirrored}
    source_ends = _end_offsets(source_admin, mirrored)
    present = {copy: on_target[copy] for copy in copies.values() if copy in on_target}
    target_ends = _end_offsets(target_admin, present)
    return [
        TopicLag(topic, copies[topic], source_ends[topic], target_ends.get(copies[topic]))
        for topic in mirrored
    ]


def connector_state(
    link: MirrorLink, timeout: float = _CLIENT_TIMEOUT, access: MirrorAccess = _PLAIN
) -> SourceState | None:
    """The latest states MM2 recorded for the link's source connector and tasks, read from its
    status topic on the target (``mm2-status.<source>.internal``, compacted JSON). None if the
    topic does not exist yet (MM2 never started)."""
    status_topic = internal_topics(link.source)[2]
    admin = _admin(link.target_bootstrap, access)
    partitions = _partitions(admin, link.target_bootstrap, f"target ({link.target})")
    if status_topic not in partitions:
        return None
    ends = {
        partition.partition: end
        for partition, end in _high_watermarks(
            admin, (TopicPartition(status_topic, p) for p in range(partitions[status_topic]))
        ).items()
    }
    latest: dict[str, dict[str, object]] = {}
    consumer = Consumer(
        {
            **access.client("target", link.target_bootstrap),
            "group.id": f"bilat-mirror-status-{uuid.uuid4().hex[:8]}",  # never committed
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(status_topic, p, 0) for p in pending])
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = (message.key() or b"").decode(errors="replace")
            value = message.value()
            if value:
                with contextlib.suppress(ValueError):  # never written by MM2; a probe is lenient
                    latest[key] = json.loads(value)
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
    finally:
        consumer.close()
    return _source_state(latest)


def _source_state(latest: Mapping[str, Mapping[str, object]]) -> SourceState:
    """The source connector's state from the latest status records, keyed as Connect keys them
    (``status-connector-<name>``, ``status-task-<name>-<n>``)."""
    connector_key = f"status-connector-{_SOURCE_CONNECTOR}"
    task_prefix = f"status-task-{_SOURCE_CONNECTOR}-"
    connector = latest.get(connector_key, {}).get("state")
    tasks = {
        key.removeprefix("status-task-"): str(value.get("state"))
        for key, value in sorted(latest.items())
        if key.startswith(task_prefix)
    }
    trace = None
    for key in (connector_key, *(k for k in sorted(latest) if k.startswith(task_prefix))):
        record = latest.get(key, {})
        if record.get("state") == "FAILED" and record.get("trace"):
            trace = str(record["trace"]).splitlines()[0]
            break
    return SourceState(connector=str(connector) if connector else None, tasks=tasks, trace=trace)


def log_lines_about(
    log_path: Path, topics: Iterable[str], start: int | None = None, limit: int = 10
) -> tuple[str, ...]:
    """The last ``limit`` lines of the current run of ``mm2.log`` (from byte ``start``, or from
    its last start banner) that name one of ``topics``, or are a WARN or ERROR."""
    try:
        with log_path.open("rb") as log:
            if start is None:
                size = log.seek(0, 2)
                log.seek(max(0, size - 4_000_000))
            else:
                log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError:
        return ()
    if start is None:
        text = text[text.rfind("\n=== bilat ") + 1 :]
    names = tuple(topics)
    lines = [
        line
        for line in text.splitlines()
        if any(name in line for name in names) or " WARN " in line or " ERROR " in line
    ]
    noise = (
        "Catching up to assignment's config offset",
        # MM2 4.1.1 logs "Could not alter configuration of topic X." after every *successful*
        # config sync (its else-branch misses `e != null`; the null cause is the second
        # argument log4j complains about). A real failure is followed by its stack trace.
        "Could not alter configuration of topic",
        "argument placeholders, but provided",
    )
    return tuple(line for line in lines if not any(n in line for n in noise))[-limit:]


# --- the launcher ----------------------------------------------------------------------------


class MirrorLauncher(KafkaLauncher):
    """Start, stop and inspect MM2 processes in ``run_dir`` (on the Kafka launcher's jars)."""

    def _probe(self, state: ServiceState, pid: int) -> Callable[[], bool]:
        if state.kind == "mm2":
            svc = self._service("mm2", state.name)
            link, access = self._recorded_link(svc), self._recorded_access(svc)
            if link is None:
                return lambda: False
            return lambda: _connect_topics_exist(link, access)
        return super()._probe(state, pid)

    def mirror_up(
        self,
        link: MirrorLink,
        timeout: float = MM2_START_TIMEOUT,
        jvm_options: Sequence[str] = (),
        access: MirrorAccess | None = None,
    ) -> MirrorHandle:
        """Start the MM2 of ``link`` and wait until it mirrors (see the module docstring), or
        return the running one. A running MM2 with other settings is restarted.

        Raises PortInUseError (the REST port), ToolMissingError, ServiceStartError (the process
        exited or its Connect topics never appeared), MirrorError (its connector failed, or
        mirrored topics still miss on the target at the deadline; the message names them with
        the lines of mm2.log about them). On failure the process is stopped.

        ``access`` reaches secured clusters (see :class:`MirrorAccess`); it is recorded with
        the link (``access.json``, mode 0600), so status checks use it too.
        """
        began = time.monotonic()
        access = access or _PLAIN
        svc = self._service("mm2", link.name)
        header = f"written by bilat for {svc.label} ({link.flow}); `bilat mirror up` rewrites it"
        rendered = render_mm2_properties(link, header) + _render_extra(access.properties)
        props_path = svc.path / "mm2.properties"
        with svc.locked():
            pid = svc.live_pid()
            if pid is not None and _read_text(props_path) != rendered:
                self._progress(f"{svc.label}: its settings changed, restarting it")
                self._stop(svc, pid)
            running = self._running(svc, link.rest_port, timeout)
            if running is not None:
                self._await_mirroring(svc, link, running[1], timeout, None, access)
                return self._handle(svc, link, running[1], False, began)
            self._require_free({link.rest_port: f"{svc.label} internal REST"})
            write_secret(props_path, rendered)
            (svc.path / "link.json").write_text(
                json.dumps(dataclasses.asdict(link), indent=2) + "\n", encoding="utf-8"
            )
            write_secret(svc.path / "access.json", json.dumps(dataclasses.asdict(access)))
            state = ServiceState(
                kind="mm2",
                name=link.name,
                port=link.rest_port,
                address=f"{link.source_bootstrap} -> {link.target_bootstrap}",
                kafka_version=self.kafka_version,
            )
            write_state(svc, state)
            log_start = svc.begin_log(f"starting MirrorMaker 2 ({link.flow}) {self.kafka_version}")
            argv = self._java_command(
                *MM2_JVM,
                *jvm_options,
                MM2_MAIN_CLASS,
                str(props_path),
                "--clusters",
                link.target,
            )
            pid = self._launch(svc, state, argv, timeout, log_start)
            left = timeout - (time.monotonic() - began)
            self._await_mirroring(svc, link, pid, left, log_start, access)
            return self._handle(svc, link, pid, True, began)

    def mirror_up_all(
        self, links: Sequence[MirrorLink], timeout: float = MM2_START_TIMEOUT
    ) -> list[MirrorHandle]:
        """:meth:`mirror_up` for every link at once (one thread each: the JVMs start in
        parallel), handles in the order of ``links``. If one fails, the others still finish
        starting, then the first failure is raised."""
        with ThreadPoolExecutor(max_workers=max(1, len(links))) as pool:
            futures = [pool.submit(self.mirror_up, link, timeout) for link in links]
        return [future.result() for future in futures]

    def mirror_down(self, name: str) -> bool:
        """Stop the MM2 ``name`` (``<source>-to-<target>``); True if it stopped something."""
        return self._down(self._service("mm2", name))

    def mirror_links(self) -> list[MirrorLink]:
        """The links of every MM2 known in ``run_dir`` (running or not), by name."""
        links = []
        for svc, _ in self._known_services(("mm2",)):
            link = self._recorded_link(svc)
            if link is not None:
                links.append(link)
        return links

    def mirror_status(self, link: MirrorLink) -> MirrorStatus:
        """What runs and what is missing for ``link``, now; never raises for a cluster that does
        not answer (that is a problem in the result)."""
        svc = self._service("mm2", link.name)
        pid = svc.live_pid()
        problems: list[str] = []
        if pid is None:
            problems.append(f"mm2 '{link.name}' is not running: start it with `bilat mirror up`")
        source: SourceState | None = None
        topics: list[TopicLag] = []
        access = self._recorded_access(svc)
        try:
            source = connector_state(link, access=access)
            topics = mirror_lag(link, access)
        except MirrorError as exc:
            problems.append(str(exc))
        problems += _connector_problems(link, source, running=pid is not None)
        missing = [lag.target_topic for lag in topics if lag.missing]
        if missing:
            problems.append(
                f"{len(missing)} mirrored topic(s) missing on {link.target}: "
                f"{', '.join(missing)} (MM2 looks for new topics every {link.refresh_seconds} s; "
                f"if they stay missing, see {svc.log_path})"
            )
        lines = log_lines_about(svc.log_path, missing) if problems else ()
        return MirrorStatus(
            link=link,
            pid=pid,
            log_path=svc.log_path,
            source=source,
            topics=tuple(topics),
            problems=tuple(problems),
            log_lines=lines,
        )

    def _await_mirroring(
        self,
        svc: ServiceFolder,
        link: MirrorLink,
        pid: int,
        timeout: float,
        log_start: int | None,
        access: MirrorAccess = _PLAIN,
    ) -> None:
        """Wait until the source connector runs and every mirrored topic has its copy; on a
        failure or at the deadline, stop the process and raise MirrorError saying why."""
        deadline = time.monotonic() + max(timeout, 1.0)
        self._progress(f"{svc.label}: waiting for the mirrored topics on {link.target}…")
        while True:
            if not svc.owns(pid):
                reason = "its process exited"
                break
            try:
                source = connector_state(link, access=access)
                lags = mirror_lag(link, access)
            except MirrorError as exc:
                source, lags, reason = None, [], str(exc)
            else:
                if source is not None and source.trace is not None:
                    reason = f"its source connector failed: {source.trace}"
                    break
                missing = [lag.target_topic for lag in lags if lag.missing]
                if source is not None and source.connector == "RUNNING" and not missing:
                    return
                reason = (
                    f"mirrored topics missing on {link.target}: {', '.join(missing)}"
                    if missing
                    else f"its source connector is {source.connector if source else 'not started'}"
                )
            if time.monotonic() >= deadline:
                reason += f" after {timeout:.0f} s"
                break
            time.sleep(_POLL)
        self._stop(svc, pid)
        missing_names = [lag.target_topic for lag in lags if lag.missing]
        lines = log_lines_about(svc.log_path, missing_names, start=log_start)
        shown = "\n".join(f"  {line}" for line in lines) or "  (nothing about it in the log)"
        raise MirrorError(
            f"{svc.label} ({link.flow}) does not mirror: {reason}; it was stopped.\n"
            f"Lines of {svc.log_path} about it:\n{shown}\n"
            f"Fix the cause (is {link.target} at {link.target_bootstrap} up and may MM2 create "
            "topics there?), then start it again (`bilat mirror up`)."
        )

    def _stop(self, svc: ServiceFolder, pid: int) -> None:
        """Stop ``pid`` (ours) while the caller holds the service's lock."""
        procs.stop_process(pid, lambda: svc.owns(pid), timeout=30.0)
        svc.clear_pid()

    def _recorded_access(self, svc: ServiceFolder) -> MirrorAccess:
        try:
            return MirrorAccess(**json.loads((svc.path / "access.json").read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return _PLAIN

    def _recorded_link(self, svc: ServiceFolder) -> MirrorLink | None:
        try:
            return MirrorLink(**json.loads((svc.path / "link.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, StackError):
            return None

    def _handle(
        self, svc: ServiceFolder, link: MirrorLink, pid: int, started: bool, began: float
    ) -> MirrorHandle:
        seconds = time.monotonic() - began
        if started:
            self._progress(f"{svc.label} mirrors {link.flow} ({seconds:.1f} s)")
        return MirrorHandle(
            name=link.name,
            source=link.source,
            target=link.target,
            pid=pid,
            log_path=svc.log_path,
            started=started,
            seconds=seconds,
        )

    def mirrors_touching(self, cluster: str) -> list[str]:
        """Names of the known MM2 services whose link reads or writes the alias ``cluster``."""
        return [link.name for link in self.mirror_links() if cluster in (link.source, link.target)]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _render_extra(properties: Mapping[str, str]) -> str:
    """Extra ``mm2.properties`` entries (a secured link's client settings), after the link's."""
    if not properties:
        return ""
    lines = ["", "# how MM2 reaches the secured clusters (bilat up --secure)"]
    for key, value in properties.items():
        lines.append(f"{key}={value.replace(chr(92), chr(92) * 2)}")
    return "\n".join(lines) + "\n"


def _connect_topics_exist(link: MirrorLink, access: MirrorAccess = _PLAIN) -> bool:
    """True once MM2's Connect topics exist on the target: its herder has started."""
    try:
        admin = _admin(link.target_bootstrap, access)
        topics = _partitions(admin, link.target_bootstrap, "target")
    except MirrorError:
        return False
    return all(topic in topics for topic in internal_topics(link.source))


def _connector_problems(link: MirrorLink, source: SourceState | None, running: bool) -> list[str]:
    if source is None:
        return [f"MM2 never started for {link.flow}: no status topic on {link.target}"]
    if source.trace is not None:
        return [
            f"the source connector of {link.flow} failed: {source.trace}; restart it "
            "(`bilat mirror down`, `bilat mirror up`) after fixing the cause"
        ]
    if running and source.connector != "RUNNING":
        return [f"the source connector of {link.flow} is {source.connector}, not RUNNING"]
    return []
