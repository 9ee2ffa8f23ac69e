"""Poison messages and loop failures through a real broker and a running worker.

What the review found: one hostile message made the agent raise, Faust acknowledged (and then
committed) the whole batch around it, and a restart skipped those records. Here every hostile
value of that review goes through ``usage.cdr`` beside good records: each good record must be
rated once, each hostile one dead-lettered once with its reason, and when the loop itself
cannot go on (the broker refuses a send) the worker must stop with exit 70 before any offset
past the unprocessed records is committed, then finish the job on restart.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from streams.contract.records import MAX_ORIGINAL_BYTES, DeadLetter, RatedUsage
from streams.runtime.config import Settings
from streams.runtime.halt import EXIT_LOOP_FAILED
from streams.runtime.progress import end_offsets
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from streams.runtime.topics import ensure_topics
from streams.runtime.workers import start_worker, stop_worker
from tests.fakes.usage import usage as encoded_usage

CODEC = make_codec()
START_MS = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)


def usage(record_id: str, **changes: Any) -> bytes:
    return encoded_usage(**{"record_id": record_id, "start_ms": START_MS, **changes})


BIG = b"\xc3\x01" + b"x" * 999_000  # near Kafka's 1 MB default: its dead letter must still fit
POISON: dict[str, tuple[bytes | None, str, str]] = {
    # name: (value, stage, error code)
    "tombstone": (None, "decode", "no-value"),
    "near-1MB": (BIG, "decode", "unknown-schema"),
    "1E+40": (usage("p-exp", quantity="1E+40"), "validate", "invalid-usage"),
    "5000 digits": (usage("p-long", quantity="9" * 5000), "validate", "invalid-usage"),
    "2^62 ms": (usage("p-time", start_ms=2**62), "validate", "invalid-usage"),
    "6_0": (usage("p-under", quantity="6_0"), "validate", "invalid-usage"),
    "arabic digits": (usage("p-arabic", quantity="\u0666\u0660"), "validate", "invalid-usage"),
    "id with newline": (usage("r1\n"), "validate", "invalid-usage"),
    "huge raw_ref": (usage("p-ref", raw_ref="x" * 100_000), "validate", "invalid-usage"),
}


def produce(settings: Settings, messages: list[tuple[bytes, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka, "message.max.bytes": 1_048_576})
    for key, value in messages:
        producer.produce(settings.topic("usage.cdr"), key=key, value=value)
    assert producer.flush(30) == 0


def mixed(good: int) -> tuple[list[tuple[bytes, bytes | None]], dict[bytes, str]]:
    """Good records with the poison spread among them, so poison shares every batch."""
    messages: list[tuple[bytes, bytes | None]] = []
    names = {}
    poison = list(POISON.items())
    for n in range(good):
        messages.append((f"ix/g{n}".encode(), usage(f"g{n}")))
        if n % (good // (len(POISON) + 1)) == 0 and poison:
            name, (value, _stage, _code) = poison.pop()
            key = f"poison/{name}".encode()
            messages.append((key, value))
            names[key] = name
    assert not poison
    return messages, names


def collect(settings: Settings) -> tuple[Counter[str], list[DeadLetter]]:
    rated: Counter[str] = Counter()
    for _key, value in read_topic(settings, settings.topic("usage.rated")):
        rated[RatedUsage.from_avro(CODEC.decode("rated_usage", value)).key] += 1
    dead = [
        DeadLetter.from_avro(CODEC.decode("dead_letter", v))
        for _k, v in read_topic(settings, settings.topic("usage.dlq"))
    ]
    return rated, dead


def committed(settings: Settings) -> dict[int, int]:
    topic = settings.topic("usage.cdr")
    admin = AdminClient({"bootstrap.servers": settings.kafka})
    parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
    request = [ConsumerGroupTopicPartitions(settings.app_id, parts)]
    listed = admin.list_consumer_group_offsets(request)[settings.app_id].result(timeout=10)
    return {tp.partition: tp.offset for tp in listed.topic_partitions if tp.offset >= 0}


def run_until_caught_up(
    settings: Settings, log: Path, extra_env: dict[str, str] | None = None
) -> int:
    proc = start_worker(settings, log, "--until-caught-up", extra_env=extra_env)
    try:
        return proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        stop_worker(proc)
        pytest.fail(f"worker did not stop by itself; log:\n{log.read_text()[-3000:]}")


def assert_exactly_once(settings: Settings, good: int, names: dict[bytes, str]) -> None:
    rated, dead = collect(settings)
    assert rated == Counter({f"ix/g{n}": 1 for n in range(good)})
    origins = Counter((d.source_partition, d.source_offset) for d in dead)
    assert max(origins.values()) == 1, "a dead letter was published twice"
    by_key = {d.key: d for d in dead}
    assert set(by_key) == set(names)
    for key, name in names.items():
        value, stage, code = POISON[name]
        letter = by_key[key]
        assert (letter.stage, letter.error_code) == (stage, code), (name, letter.errors)
        if value is None:
            assert letter.original is None and letter.original_size == -1
        else:
            assert letter.original == value[:MAX_ORIGINAL_BYTES]
            assert letter.original_size == len(value)
            assert letter.original_sha256 == hashlib.sha256(value).digest()
    ends = end_offsets(settings, settings.topic("usage.cdr"))
    assert committed(settings) == ends, "every message is committed once handled"


@pytest.fixture
def loaded(settings: Settings, tmp_path: Path) -> tuple[dict[bytes, str], Path]:
    """450 good records and the poison among them on usage.cdr; the worker log's path."""
    ensure_topics(settings)
    messages, names = mixed(450)
    produce(settings, messages)
    return names, tmp_path / "worker.log"


def test_poison_messages_are_dead_lettered_and_their_batches_rated(
    settings: Settings, loaded: tuple[dict[bytes, str], Path]
) -> None:
    names, log = loaded
    assert run_until_caught_up(settings, log) == 0, log.read_text()[-3000:]
    assert_exactly_once(settings, 450, names)
    assert "\x1b[" not in log.read_text(), "no terminal escape codes in a worker's log"


def test_a_replayed_batch_publishes_no_dead_letter_twice(
    settings: Settings, loaded: tuple[dict[bytes, str], Path]
) -> None:
    """Killed after claiming, before Faust acknowledged: the batch comes again on restart."""
    names, log = loaded
    code = run_until_caught_up(settings, log, {"BILAT_FAULT": "worker-after-claims"})
    assert code == 137, log.read_text()[-3000:]
    _rated, dead = collect(settings)
    assert dead, "the first batch held dead letters"
    assert run_until_caught_up(settings, log) == 0, log.read_text()[-3000:]
    assert_exactly_once(settings, 450, names)


def set_max_message_bytes(settings: Settings, topic: str, size: int | None) -> None:
    """Set the topic's ``max.message.bytes``, or delete the override (``None``)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka})
    operation = AlterConfigOpType.SET if size else AlterConfigOpType.DELETE
    entry = ConfigEntry("max.message.bytes", str(size or ""), incremental_operation=operation)
    resource = ConfigResource("topic", settings.topic(topic), incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=10)


def test_a_failing_send_stops_the_worker_before_any_offset_is_committed(
    settings: Settings, loaded: tuple[dict[bytes, str], Path]
) -> None:
    names, log = loaded
    set_max_message_bytes(settings, "usage.rated", 64)  # every rated record is now refused
    code = run_until_caught_up(settings, log)
    text = log.read_text()
    assert code == EXIT_LOOP_FAILED, text[-3000:]
    assert "worker stopped:" in text and "start the worker again" in text
    assert committed(settings) == {}, "nothing past the failed batch may be committed"
    set_max_message_bytes(settings, "usage.rated", None)
    assert run_until_caught_up(settings, log) == 0, log.read_text()[-3000:]
    rated, dead = collect(settings)
    assert rated == Counter({f"ix/g{n}": 1 for n in range(450)})
    # Dead letters of the failed batch were durable but never claimed: the replay publishes
    # them again (the documented window); readers count dead letters by origin.
    assert {d.key for d in dead} == set(names)
