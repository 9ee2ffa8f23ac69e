"""Starting and stopping rating workers as child processes (demo, tests, `bilat demo`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.runtime.config import Settings
from streams.runtime.progress import end_offsets

__all__ = ["message_count", "start_worker", "stop_worker"]


def start_worker(
    settings: Settings,
    log_path: Path,
    *args: str,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``bilat worker [args]`` for ``settings`` in its own session, logging to
    ``log_path`` (``extra_env`` on top, e.g. ``BILAT_FAULT`` in tests)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BILAT_KAFKA_", "BILAT_REDIS_"))  # settings' own security below
    }
    env = dict(
        inherited,
        **settings.security.to_env(),
        **settings.redis_security.to_env(),
        BILAT_KAFKA=settings.kafka,
        BILAT_TOPIC_PREFIX=settings.topic_prefix,
        BILAT_PARTY=settings.party,
        BILAT_AGREEMENT=str(settings.agreement),
        BILAT_RUN_DIR=str(settings.run_dir),
        BILAT_PARTITIONS=str(settings.partitions),
        BILAT_REDIS=settings.redis,
    )
    if settings.schema_registry:
        env["BILAT_SCHEMA_REGISTRY"] = settings.schema_registry
    env.update(extra_env or {})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 30.0
) -> int:
    """Signal the worker's process group (SIGTERM: clean shutdown; SIGKILL: a crash).

    Escalates to SIGKILL after ``wait`` seconds. Returns the exit code.
    """
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def message_count(settings: Settings, *logical: str) -> int:
    """Messages now in the named topics (sum of high watermarks; topics start at offset 0)."""
    return sum(sum(end_offsets(settings, settings.topic(n)).values()) for n in logical)
