"""The Redis launcher: Debian's ``redis-server`` on loopback, installed when missing and root.

Its folder is ``<run_dir>/redis-<name>/``: appendonlydir/, redis.log, redis.pid, state.json,
.lock. The append-only file is on, so a restart keeps the dedup claims; RDB snapshots are off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from streams.core.errors import ToolMissingError
from streams.devstack.procs import LOOPBACK, ServiceFolder
from streams.devstack.services import (
    ServiceRunner,
    ServiceState,
    check_name,
    check_port,
    write_state,
)

__all__ = ["DEFAULT_REDIS_PORT", "RedisHandle", "RedisLauncher", "RedisSpec", "RedisTls"]

DEFAULT_REDIS_PORT = 6390
"""Not 6379: installing Debian's redis-server may start a system Redis there."""

REDIS_HINT = (
    "redis-server not found: install it with `sudo apt-get update && sudo apt-get install -y "
    "redis-server` (Bilat installs it by itself only when run as root)"
)

# Append-only file on, so a restart keeps dedup keys; RDB snapshots off; in the foreground.
_REDIS_ARGS = ("--bind", LOOPBACK, "--daemonize", "no", "--save", "", "--appendonly", "yes")


@dataclass(frozen=True, slots=True)
class RedisTls:
    """A Redis that listens on TLS only and knows users from an ACL file.

    The port of the spec is then a TLS port (``--port 0 --tls-port``); clients may present a
    certificate from ``ca`` (``tls-auth-clients optional``) and must log in as a user of
    ``acl_file`` (the ``default`` user is off there). ``probe_user`` and its password file are
    what the readiness check logs in with.
    """

    cert: Path
    key: Path
    ca: Path
    acl_file: Path
    probe_user: str
    probe_password_file: Path


@dataclass(frozen=True, slots=True)
class RedisSpec:
    """One ``redis-server`` on loopback, append-only file on, RDB snapshots off."""

    name: str = "redis"
    """Names its folder ``redis-<name>``."""
    port: int = DEFAULT_REDIS_PORT
    start_timeout: float = 15.0
    """Seconds to wait for it to answer."""
    tls: RedisTls | None = None
    """TLS and ACL users instead of plain TCP without a password."""

    def __post_init__(self) -> None:
        check_name("redis", self.name)
        check_port(f"redis '{self.name}'", self.port)

    @property
    def url(self) -> str:
        """URL for ``redis.Redis.from_url`` (database 0); ``rediss://user@`` when secured."""
        if self.tls is not None:
            return f"rediss://{self.tls.probe_user}@{LOOPBACK}:{self.port}/0"
        return f"redis://{LOOPBACK}:{self.port}/0"

    def server_args(self) -> list[str]:
        """The listening and security options of ``redis-server`` for this spec."""
        if self.tls is None:
            return ["--port", str(self.port)]
        tls = self.tls
        return [
            "--port", "0",
            "--tls-port", str(self.port),
            "--tls-cert-file", str(tls.cert),
            "--tls-key-file", str(tls.key),
            "--tls-ca-cert-file", str(tls.ca),
            "--tls-auth-clients", "optional",
            "--aclfile", str(tls.acl_file),
        ]  # fmt: skip

    def probe_client(self) -> dict[str, str] | None:
        """What the readiness check needs besides the URL (paths, no secret); None if plain."""
        if self.tls is None:
            return None
        return {"ca": str(self.tls.ca), "password_file": str(self.tls.probe_password_file)}


@dataclass(frozen=True, slots=True)
class RedisHandle:
    """A running Redis server."""

    name: str
    url: str
    pid: int
    log_path: Path
    started: bool
    """True if this call started it, False if it was already running."""


def _redis_answers(url: str, pid: int, probe: dict[str, str] | None = None) -> bool:
    """True if the Redis at ``url`` answers and is process ``pid`` (not some other Redis);
    ``probe`` holds a secured one's CA and password file."""
    password, ca = None, None
    if probe is not None:
        try:
            password = Path(probe["password_file"]).read_text(encoding="utf-8").strip()
        except (OSError, KeyError):
            return False
        ca = probe.get("ca")
    # redis-py refuses TLS keywords on a plain redis:// connection (TypeError), so they are
    # passed only for rediss://.
    tls: dict[str, Any] = {"ssl_ca_certs": ca} if url.startswith("rediss://") else {}
    client = redis.Redis.from_url(
        url, socket_timeout=1, socket_connect_timeout=1, password=password, **tls
    )
    try:
        info = client.info("server")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return bool(info.get("process_id") == pid)


class RedisLauncher(ServiceRunner):
    """Start and stop Redis servers in ``run_dir``."""

    def _probe(self, state: ServiceState, pid: int) -> Callable[[], bool]:
        if state.kind == "redis":
            return lambda: _redis_answers(state.address, pid, state.client)
        return super()._probe(state, pid)

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
            state = ServiceState(
                kind="redis",
                name=spec.name,
                port=spec.port,
                address=spec.url,
                client=spec.probe_client(),
            )
            write_state(svc, state)
            log_start = svc.begin_log("starting redis-server")
            argv = [server, *spec.server_args(), "--dir", str(svc.path), *_REDIS_ARGS]
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
        self, svc: ServiceFolder, state: ServiceState, pid: int, started: bool
    ) -> RedisHandle:
        return RedisHandle(
            name=svc.name, url=state.address, pid=pid, log_path=svc.log_path, started=started
        )
