"""Starting and stopping rating workers as child processes (demo, tests, `bilat demo`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.config import Settings

__all__ = ["message_count", "start_worker", "stop_worker"]


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``bilat worker`` for ``settings`` in its own session, logging to ``log_path``."""
    env = dict(
        os.environ,
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
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
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
    admin = AdminClient({"bootstrap.servers": settings.kafka})
    consumer = Consumer({"bootstrap.servers": settings.kafka, "group.id": "bilat-watermarks"})
    total = 0
    try:
        for name in logical:
            topic = settings.topic(name)
            meta = admin.list_topics(topic, timeout=10).topics[topic]
            for partition in meta.partitions:
                total += consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)[1]
    finally:
        consumer.close()
    return total
