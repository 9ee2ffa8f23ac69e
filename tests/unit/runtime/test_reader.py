"""The typed reader over the topic table, on canned messages instead of a broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.contract.records import DeadLetter, RatedUsage
from streams.contract.schemas import SchemaStore
from streams.contract.topics import SUBJECTS
from streams.core.errors import CodecError
from streams.runtime import reader
from streams.runtime.config import TOPICS, Settings
from streams.runtime.reader import DECODERS, read_records
from streams.runtime.registry import make_codec
from tests.fakes.rated import rated_call
from tests.fakes.usage import USAGE_FIELDS, usage

CODEC = make_codec()
SETTINGS = Settings(kafka="127.0.0.1:1", topic_prefix="p.")
HOUR = datetime(2026, 11, 20, 9, tzinfo=UTC)
RATED = [rated_call(f"r-{n}", HOUR, n, "0.0150") for n in range(3)]
LETTER = DeadLetter(
    original=b"\x00",
    source_topic="p.usage.cdr",
    source_partition=0,
    source_offset=7,
    stage="decode",
    error_code="corrupt-message",
    error_message="not Avro",
    errors=("not Avro",),
    failed_at=HOUR,
)


Held = dict[str, list[tuple[bytes | None, bytes]]]


@pytest.fixture
def topics(monkeypatch: pytest.MonkeyPatch) -> Held:
    """What each full topic name holds; read_topic is replaced by a lookup in it."""
    held: Held = {}

    def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes]]:
        assert settings.kafka == SETTINGS.kafka
        return held.get(topic, [])

    monkeypatch.setattr(reader, "read_topic", read_topic)
    return held


def test_the_table_covers_every_topic_with_a_known_subject() -> None:
    assert tuple(SUBJECTS) == TOPICS
    assert set(DECODERS) == set(SUBJECTS)
    assert set(SUBJECTS.values()) <= set(SchemaStore.default().subjects())


def test_each_topic_reads_as_its_record_type(topics: Held) -> None:
    topics["p.usage.rated"] = [
        (r.key.encode(), CODEC.encode("rated_usage", r.to_avro())) for r in RATED
    ]
    topics["p.usage.dlq"] = [(None, CODEC.encode("dead_letter", LETTER.to_avro()))]
    topics["p.usage.cdr"] = [(b"ix/1", usage())]
    assert list(read_records(SETTINGS, "usage.rated")) == RATED
    (letter,) = read_records(SETTINGS, "usage.dlq")
    assert isinstance(letter, DeadLetter) and letter.source_offset == 7
    assert list(read_records(SETTINGS, "usage.cdr")) == [USAGE_FIELDS]
    assert list(read_records(SETTINGS, "ledger.anchors")) == []  # a missing topic is empty


def test_a_key_keeps_only_its_messages_and_decodes_no_other(topics: Held) -> None:
    wanted = RATED[1]
    topics["p.usage.rated"] = [
        (b"other/1", b"not a record at all"),
        (wanted.key.encode(), CODEC.encode("rated_usage", wanted.to_avro())),
    ]
    assert list(read_records(SETTINGS, "usage.rated", key=wanted.key)) == [wanted]


def test_an_undecodable_value_raises_unless_skipped(topics: Held) -> None:
    topics["p.usage.cdr"] = [(b"x", b"poison"), (b"ix/1", usage())]
    with pytest.raises(CodecError):
        list(read_records(SETTINGS, "usage.cdr"))
    assert list(read_records(SETTINGS, "usage.cdr", skip_undecodable=True)) == [USAGE_FIELDS]


def test_another_topic_of_the_same_kind(topics: Held) -> None:
    topics["dcc.usage.rated"] = [(None, CODEC.encode("rated_usage", RATED[0].to_avro()))]
    assert list(read_records(SETTINGS, "usage.rated")) == []
    (record,) = read_records(SETTINGS, "usage.rated", topic="dcc.usage.rated")
    assert isinstance(record, RatedUsage) and record == RATED[0]
