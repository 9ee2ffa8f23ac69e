"""The process side of one local service: its folder, pid file, log, identity, start and stop.

Linux only (reads ``/proc``). A pid is *ours* only when the process is alive (not a zombie), its
working directory is the service's own folder (every service is started there) and its command
line carries the service's marker (``kafka.Kafka``, ``redis-server``). Every signal is guarded by
that check, so a stale pid file whose number the kernel gave to another process since never gets
that process killed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "LOOPBACK",
    "ServiceFolder",
    "file_lock",
    "is_our_process",
    "log_tail",
    "port_accepts",
    "port_is_free",
    "read_pid",
    "spawn_detached",
    "stop_process",
    "wait_for",
]

LOOPBACK = "127.0.0.1"

# `sh` starts the service in the background, prints its pid and exits: the service is re-parented
# to init, so it never lingers as a zombie child of a long-lived Python process (a test session)
# and outlives the CLI that started it. Output is appended to the log; stdin is /dev/null.
_TRAMPOLINE = 'log=$1; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!'


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if ``host:port`` can be bound now, i.e. no other socket listens there.

    SO_REUSEADDR mirrors what Java and Redis set on their listening sockets, so connections of
    an earlier run lingering in TIME_WAIT do not count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The pid stored in ``pid_file``, or None when the file is missing or unreadable."""
    try:
        return int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def is_our_process(pid: int, workdir: Path, marker: str) -> bool:
    """True if ``pid`` is alive, runs in ``workdir`` and its command line contains ``marker``."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text(encoding="ascii", errors="replace")
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        cwd = os.readlink(proc / "cwd")
    except OSError:
        return False
    # The state (field 3 of /proc/<pid>/stat) follows the ")" that closes the command name.
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        return False
    return marker in cmdline and Path(cwd) == workdir.resolve()


def spawn_detached(argv: Sequence[str], workdir: Path, log_path: Path) -> int:
    """Start ``argv`` in ``workdir`` in a new session, output appended to ``log_path``.

    Returns its pid at once; the caller checks readiness. The process is not our child (see
    ``_TRAMPOLINE``), so only :func:`is_our_process` tells whether it still runs.
    """
    shell = subprocess.run(
        ["/bin/sh", "-c", _TRAMPOLINE, "sh", str(log_path), *argv],
        cwd=workdir,
        start_new_session=True,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shell.stdout.strip())


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it is true (returns True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def stop_process(pid: int, is_ours: Callable[[], bool], timeout: float) -> bool:
    """Stop ``pid`` cleanly: SIGTERM, up to ``timeout`` s, then SIGKILL and up to 5 s more.

    ``is_ours`` is checked before each signal, so a process that exited and whose pid was
    reused meanwhile is never signalled. Returns True once the process is gone, False if it
    survived SIGKILL (stuck in the kernel).
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not is_ours():
            return True
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        if wait_for(lambda: not is_ours(), wait):
            return True
    return False


def log_tail(path: Path, start: int = 0, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path`` written after byte offset ``start`` ("" if none)."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    Serialises up/down of one service across processes, e.g. two test sessions racing to start
    the same broker; the kernel drops the lock if its holder dies.
    """
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True, slots=True)
class ServiceFolder:
    """The folder of one service (``<run_dir>/<kind>-<name>``) and the process it records."""

    kind: str
    name: str
    path: Path
    marker: str
    """A string in the command line of the service's process, e.g. ``kafka.Kafka``."""
    log_name: str

    @property
    def label(self) -> str:
        """How messages name the service: ``kafka 'hgc'``."""
        return f"{self.kind} '{self.name}'"

    @property
    def log_path(self) -> Path:
        return self.path / self.log_name

    @property
    def pid_file(self) -> Path:
        return self.path / f"{self.kind}.pid"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    def owns(self, pid: int) -> bool:
        """True if ``pid`` is alive and is this service's process."""
        return is_our_process(pid, self.path, self.marker)

    def live_pid(self) -> int | None:
        """The pid of the running service, None if it does not run (or the pid file is stale)."""
        pid = read_pid(self.pid_file)
        return pid if pid is not None and self.owns(pid) else None

    def write_pid(self, pid: int) -> None:
        self.pid_file.write_text(f"{pid}\n", encoding="ascii")

    def clear_pid(self) -> None:
        self.pid_file.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Create the folder and hold the service's lock (see :func:`file_lock`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path / ".lock"):
            yield

    def begin_log(self, what: str) -> int:
        """Append a start banner to the log; return the offset where this run's lines begin."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n=== bilat {stamp}: {what} ===\n")
        return self.log_path.stat().st_size

    def await_ready(self, pid: int, probe: Callable[[], bool], timeout: float) -> str | None:
        """Poll ``probe`` until true (returns None), or say why not: exited or timed out."""
        deadline = time.monotonic() + timeout
        while not probe():
            if not self.owns(pid):
                return "its process exited"
            if time.monotonic() >= deadline:
                return f"it did not answer within {timeout:.0f} s"
            time.sleep(0.25)
        return None

    def start_failure(self, reason: str, log_start: int) -> str:
        """The message for a failed start: the reason, this run's log tail, what to do."""
        tail = log_tail(self.log_path, log_start) or "(nothing logged)"
        return (
            f"{self.label} did not start: {reason}.\n"
            f"Last lines of {self.log_path}:\n{textwrap.indent(tail, '  ')}\n"
            "Fix the cause shown above (a bad setting, a port taken meanwhile, too little "
            "memory), then start it again (`bilat up`)."
        )
