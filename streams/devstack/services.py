"""What every local service shares: its kind and name, its recorded state, and the steps of
starting and stopping it (already running? ports free? launch and wait; stop only what is ours).

:class:`ServiceRunner` holds those steps for the launchers of each kind
(:mod:`streams.devstack.kafka_broker`, :mod:`streams.devstack.redis_server`,
:mod:`streams.devstack.mirrormaker`), which
:class:`~streams.devstack.localstack.LocalStack` combines. A launcher answers for its own kind
in :meth:`ServiceRunner._probe` and hands every other kind on (``super()``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streams.core import resources
from streams.core.errors import PortInUseError, ServiceStartError, StackError
from streams.devstack import procs
from streams.devstack.procs import LOOPBACK, ServiceFolder

__all__ = [
    "KINDS",
    "STOP_ORDER",
    "STOP_TIMEOUT",
    "ServiceKind",
    "ServiceRunner",
    "ServiceState",
    "ServiceStatus",
    "check_name",
    "check_port",
    "read_state",
    "write_state",
]

STOP_TIMEOUT = 30.0

ServiceKind = Literal["kafka", "redis", "mm2"]
KINDS: tuple[ServiceKind, ...] = ("kafka", "redis", "mm2")
"""Every kind, in the order status lists them."""
STOP_ORDER: tuple[ServiceKind, ...] = ("mm2", "kafka", "redis")
"""The order ``down_all`` stops kinds in: MirrorMaker before the clusters it reads and writes."""
_MARKERS: dict[ServiceKind, str] = {
    "kafka": "kafka.Kafka",
    "redis": "redis-server",
    "mm2": "connect.mirror.MirrorMaker",
}
_LOG_NAMES: dict[ServiceKind, str] = {"kafka": "broker.log", "redis": "redis.log", "mm2": "mm2.log"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def check_name(kind: str, name: str) -> None:
    """Raise StackError unless ``name`` is a valid service name (it names a folder)."""
    if not _NAME.fullmatch(name):
        raise StackError(
            f"{kind} name {name!r}: want 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def check_port(what: str, port: int) -> None:
    """Raise StackError unless ``port`` is a TCP port number."""
    if not 1 <= port <= 65535:
        raise StackError(f"{what}: got port {port}, want 1..65535")


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
class ServiceState:
    """What ``state.json`` records about a service (written before each start)."""

    kind: ServiceKind
    name: str
    port: int
    address: str
    controller_port: int | None = None
    cluster_id: str | None = None
    kafka_version: str | None = None
    client: dict[str, str] | None = None
    """A secured service's probe settings (file paths, never a secret); None when plain."""


def read_state(folder: ServiceFolder) -> ServiceState | None:
    """The service's ``state.json``, None if missing, unreadable or of another kind."""
    try:
        state = ServiceState(**json.loads(folder.state_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return state if state.kind == folder.kind and state.name == folder.name else None


def write_state(folder: ServiceFolder, state: ServiceState) -> None:
    """Record ``state`` in the service's ``state.json``."""
    folder.state_file.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n")


def _quiet(_message: str) -> None:
    """Default progress callback: say nothing."""


class ServiceRunner:
    """The services of one run folder and the steps every launcher shares.

    ``run_dir`` defaults to ``$BILAT_RUN_DIR`` or ``<work dir>/run`` (``.bilat/run`` in the
    checkout, see :func:`streams.core.resources.work_dir`); ``cache_dir`` (the resolved jars)
    to ``$BILAT_CACHE_DIR`` or ``~/.cache/bilat``. ``progress`` receives short human messages
    ("starting kafka 'hgc' on 127.0.0.1:9092…").
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

    def _probe(self, state: ServiceState, pid: int) -> Callable[[], bool]:
        """A check that the service of ``state`` (process ``pid``) answers; per kind."""
        raise StackError(f"no launcher for services of kind {state.kind!r}")

    def _service(self, kind: ServiceKind, name: str) -> ServiceFolder:
        check_name(kind, name)
        return ServiceFolder(
            kind=kind,
            name=name,
            path=self.run_dir / f"{kind}-{name}",
            marker=_MARKERS[kind],
            log_name=_LOG_NAMES[kind],
        )

    def _known_services(
        self, kinds: Sequence[ServiceKind] = KINDS
    ) -> Iterator[tuple[ServiceFolder, ServiceState]]:
        """Services with a folder and a readable state file in ``run_dir``, by kind in the order
        of ``kinds`` (Kafka, Redis, MirrorMaker by default), then by name."""
        for kind in kinds:
            for folder in sorted(self.run_dir.glob(f"{kind}-*")):
                name = folder.name.removeprefix(f"{kind}-")
                if not _NAME.fullmatch(name):
                    continue
                svc = self._service(kind, name)
                state = read_state(svc)
                if state is not None:
                    yield svc, state

    def _running(
        self, svc: ServiceFolder, port: int, timeout: float
    ) -> tuple[ServiceState, int] | None:
        """The state and pid of ``svc`` if it already runs and answers; None if it does not run.

        A stale pid file is removed. Raises if it runs on another port or does not answer.
        """
        pid = svc.live_pid()
        if pid is None:
            if svc.pid_file.exists():
                self._progress(f"{svc.label}: removing a stale pid file")
                svc.clear_pid()
            return None
        state = read_state(svc)
        if state is None or state.port != port:
            where = state.address if state else "an unrecorded port"
            raise StackError(
                f"{svc.label} already runs on {where} (pid {pid}), not on port {port}: stop it "
                "first (`bilat down`), then start it on the new port"
            )
        failure = svc.await_ready(pid, self._probe(state, pid), timeout)
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
        self,
        svc: ServiceFolder,
        state: ServiceState,
        argv: Sequence[str],
        timeout: float,
        log_start: int,
    ) -> int:
        """Spawn ``argv`` detached, record its pid, wait until it answers; return the pid.

        On failure the process is stopped and ServiceStartError carries this run's log tail.
        """
        self._progress(f"starting {svc.label} on {state.address}…")
        began = time.monotonic()
        pid = procs.spawn_detached(argv, svc.path, svc.log_path)
        svc.write_pid(pid)
        failure = svc.await_ready(pid, self._probe(state, pid), timeout)
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
