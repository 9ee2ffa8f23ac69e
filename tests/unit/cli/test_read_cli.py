"""``bilat read`` without a broker: topic names, JSON lines, and the status message."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from streams.cli.read import SUBJECTS, Decoded, decode, resolve_topic, to_json_line
from streams.cli.stack import Probe, nothing_recorded
from streams.contract.records import DeadLetter
from streams.contract.schemas import SchemaStore
from streams.runtime.config import TOPICS, Settings
from streams.runtime.readback import Message
from streams.runtime.registry import make_codec
from tests.fakes.rated import rated_call
from tests.paths import REPO

CODEC = make_codec()
SETTINGS = Settings.from_env({}, topic_prefix="x.")


def message(value: bytes | None, key: bytes | None = b"ix/1") -> Message:
    return Message("x.usage.dlq", 1, 7, 1_795_132_807_250, key, value)


def test_every_topic_of_the_table_has_a_subject() -> None:
    assert set(SUBJECTS) == set(TOPICS)
    assert set(SUBJECTS.values()) <= set(SchemaStore(REPO / "schemas").subjects())


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("usage.dlq", ("x.usage.dlq", "usage.dlq")),
        ("dcc.ledger.anchors", ("dcc.ledger.anchors", "ledger.anchors")),
        ("x.usage.rated", ("x.usage.rated", "usage.rated")),
    ],
)
def test_topics_are_logical_names_or_full_names(given: str, want: tuple[str, str]) -> None:
    assert resolve_topic(given, SETTINGS) == want


def test_an_unknown_topic_lists_the_known_ones() -> None:
    with pytest.raises(click.BadParameter, match=re.escape("want one of usage.cdr, usage.rated")):
        resolve_topic("usage.cdrs", SETTINGS)


def test_a_dead_letter_as_a_json_line() -> None:
    letter = DeadLetter(
        original=b"\x00\x01raw",
        key=b"ix/1",
        source_topic="x.usage.cdr",
        source_partition=0,
        source_offset=3,
        stage="validate",
        error_code="invalid-usage",
        error_message="invalid",
        errors=("field 'quantity': got '-3', want a decimal >= 0",),
        failed_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )
    item = decode(CODEC, "dead_letter", message(CODEC.encode("dead_letter", letter.to_avro())))
    line = json.loads(to_json_line(item, "dead_letter"))
    assert line["timestamp"] == "2026-11-20T00:00:07.250Z"
    assert (line["topic"], line["partition"], line["offset"], line["key"]) == (
        "x.usage.dlq",
        1,
        7,
        "ix/1",
    )
    value = line["value"]
    assert value["original"] == "0001726177"  # bytes as hex
    assert value["original_sha256"] == letter.original_sha256.hex()  # type: ignore[union-attr]
    assert value["errors"] == list(letter.errors) and value["failed_ms"] == 1_795_165_200_000


def test_rated_amounts_stay_decimal_strings() -> None:
    record = rated_call("1", datetime(2026, 11, 20, 9, tzinfo=UTC), 0, "0.0150")
    encoded = CODEC.encode("rated_usage", record.to_avro())
    line = json.loads(to_json_line(decode(CODEC, "rated_usage", message(encoded)), "rated_usage"))
    assert line["value"]["amount"] == "0.0150" and line["value"]["quantity"] == "60"


def test_undecodable_and_binary_keys_are_shown() -> None:
    item = decode(CODEC, "dead_letter", message(b"junk", key=b"\xff\xfe"))
    assert isinstance(item, Decoded) and item.value is None
    line = json.loads(to_json_line(item, "dead_letter"))
    assert line["value"] is None and line["error"]
    assert line["value_hex"] == b"junk".hex()
    assert line["key"] is None and line["key_hex"] == "fffe"
    tombstone = json.loads(to_json_line(decode(CODEC, "dead_letter", message(None)), "x"))
    assert tombstone["error"] == "no value (a tombstone)" and "value_hex" not in tombstone


def test_nothing_recorded_names_the_run_dir_and_what_answers(tmp_path: Path) -> None:
    answering = [Probe("kafka 'hgc'", 9092), Probe("redis", 6390)]
    said = nothing_recorded(tmp_path, answering, [Path("/srv/bilat/run")])
    assert said.startswith(f"nothing recorded in {tmp_path}; something answers on ")
    assert "127.0.0.1:9092 (kafka 'hgc'?), 127.0.0.1:6390 (redis?)" in said
    assert "`bilat status --run-dir /srv/bilat/run`" in said
    missing = nothing_recorded(tmp_path / "nope", [], [])
    assert f"{tmp_path / 'nope'} (no such folder), and nothing answers" in missing
