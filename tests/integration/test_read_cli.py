"""``bilat read``, ``bilat ledger check --json`` and ``bilat verify --json`` on a real broker.

Records are put on the topics directly (rating and ingest are tested elsewhere), then read
back the way a user does: click's runner, whose output is not a terminal, as when piped.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Producer

from streams.agreement.loader import load_book
from streams.agreement.signing import sign_agreement
from streams.cli.main import main
from streams.contract.records import DeadLetter, RatedUsage
from streams.core.keys import demo_keypair
from streams.runtime.batcher import BatcherLoop, init_ledger
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.topics import ensure_topics
from tests.fakes.rated import rated_call
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # version 1 in force; windows long closed
LONG_ERROR = (
    "field 'b_number': got '49-30-ABC', want 1 to 15 digits (E.164 without '+'), "
    "and this sentence goes on well past eighty columns so that a cut would show"
)


def bilat(settings: Settings, *args: str) -> Result:
    """``bilat ARGS`` as party hgc on ``settings``' broker and topics."""
    env = {
        "BILAT_KAFKA": settings.kafka,
        "BILAT_TOPIC_PREFIX": settings.topic_prefix,
        "BILAT_PARTY": "hgc",
        "COLUMNS": "80",
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def rated(n: int, hour: int = 9, amount: str = "0.0150") -> RatedUsage:
    return rated_call(f"{hour:02d}-{n:04d}", DAY + timedelta(hours=hour), n * 7, amount)


def dead_letters() -> list[DeadLetter]:
    failed = datetime(2026, 11, 21, 8, tzinfo=UTC)
    return [
        DeadLetter(
            original=b"ix-fra-01,1,hgc-dcc-2026",
            source_topic="file:/data/cdrs.csv",
            source_partition=-1,
            source_offset=2,
            stage="parse",
            error_code="malformed-line",
            error_message="parse failed at /data/cdrs.csv:2: got 3 columns, want 12",
            errors=("got 3 columns, want 12 as in the header",),
            failed_at=failed,
        ),
        DeadLetter(
            original=b"\xc3\x01 not really avro",
            key=b"ix-fra-01/20261120-0000042",
            source_topic="t.usage.cdr",
            source_partition=1,
            source_offset=76,
            stage="validate",
            error_code="invalid-usage",
            error_message="invalid usage record",
            errors=(LONG_ERROR, "field 'quantity': got '-42', want >= 0"),
            failed_at=failed + timedelta(seconds=1),
        ),
    ]


@pytest.fixture
def topics(settings: Settings) -> Settings:
    ensure_topics(settings)
    return settings


def put_usage(settings: Settings) -> tuple[list[RatedUsage], list[DeadLetter]]:
    records = [rated(n) for n in range(5)]
    publish(settings, "usage.rated", "rated_usage", [r.to_avro() for r in records], _key)
    letters = dead_letters()
    for letter in letters:  # one by one: their timestamps give the order shown
        publish(settings, "usage.dlq", "dead_letter", [letter.to_avro()], lambda _r: "k")
    return records, letters


def _key(record: Any) -> str:
    return f"{record['source']}/{record['record_id']}"


def test_read_dead_letters_and_rated_usage_as_json(topics: Settings) -> None:
    records, letters = put_usage(topics)

    dlq = bilat(topics, "read", "usage.dlq", "--json")
    assert dlq.exit_code == 0, dlq.output
    got = lines(dlq)
    assert [g["value"]["stage"] for g in got] == ["parse", "validate"]
    parse, validate = (g["value"] for g in got)
    assert got[0]["topic"] == topics.topic("usage.dlq")
    assert isinstance(got[0]["partition"], int) and isinstance(got[0]["offset"], int)
    assert got[0]["timestamp"].endswith("Z")
    assert parse["source_topic"] == "file:/data/cdrs.csv" and parse["source_offset"] == 2
    assert bytes.fromhex(parse["original"]) == letters[0].original  # bytes as hex
    assert validate["error_code"] == "invalid-usage"
    assert validate["errors"] == list(letters[1].errors)
    assert bytes.fromhex(validate["key"]) == letters[1].key
    assert (validate["source_partition"], validate["source_offset"]) == (1, 76)

    usage = bilat(topics, "read", "usage.rated", "--json", "--limit", "0")
    assert usage.exit_code == 0, usage.output
    values = {g["key"]: g["value"] for g in lines(usage)}
    assert set(values) == {r.key for r in records}
    first = values[records[0].key]
    assert first["amount"] == "0.0150" and first["currency"] == "EUR"  # decimals as strings
    assert (first["rate_id"], first["agreement_version"]) == ("voice-de-mobile@peak", "1")
    assert first["start_ms"] == int(records[0].start.timestamp() * 1000)


def test_read_prints_whole_tables_when_piped(topics: Settings) -> None:
    records, _ = put_usage(topics)

    dlq = bilat(topics, "read", "usage.dlq")
    assert dlq.exit_code == 0, dlq.output
    assert LONG_ERROR + " (+1 more)" in dlq.stdout  # never cut, though COLUMNS=80
    assert "file:/data/cdrs.csv:2" in dlq.stdout
    assert "t.usage.cdr[1]@76" in dlq.stdout
    assert "malformed-line" in dlq.stdout and "invalid-usage" in dlq.stdout
    assert "2 messages of" in dlq.stdout and "(all of them)" in dlq.stdout

    usage = bilat(topics, "read", "usage.rated")
    assert usage.exit_code == 0, usage.output
    row = next(line for line in usage.stdout.splitlines() if records[0].key in line)
    for cell in ("2026-11-20T09:00:00Z", "0.0150", "EUR", "voice-de-mobile@peak", "60 second"):
        assert cell in row, row


def test_limit_tail_and_partition_choose_what_is_read(topics: Settings) -> None:
    records, _ = put_usage(topics)

    oldest = bilat(topics, "read", "usage.rated", "--json", "--limit", "2")
    assert oldest.exit_code == 0
    assert len(lines(oldest)) == 2
    assert "--limit 0 shows all" in oldest.stderr

    newest = bilat(topics, "read", "usage.rated", "--json", "--tail", "1")
    (last,) = lines(newest)
    assert last["key"] == records[-1].key  # published last, so the newest
    assert "a larger --tail shows more" in newest.stderr

    by_partition = [
        {g["partition"] for g in lines(bilat(topics, "read", "usage.rated", "--json", *p))}
        for p in (("--partition", "0"), ("--partition", "1"))
    ]
    assert by_partition[0] <= {0} and by_partition[1] <= {1}
    assert sum(1 for part in by_partition if part) >= 1

    wrong = bilat(topics, "read", "usage.rated", "--partition", "7")
    assert wrong.exit_code == 2 and "want one of 0..1" in wrong.stderr


def test_undecodable_values_are_shown_not_skipped(topics: Settings) -> None:
    producer = Producer({"bootstrap.servers": topics.kafka})
    producer.produce(topics.topic("usage.dlq"), key=b"bad", value=b"not avro at all")
    assert producer.flush(30) == 0

    table = bilat(topics, "read", "usage.dlq")
    assert table.exit_code == 0 and "undecodable:" in table.stdout
    (line,) = lines(bilat(topics, "read", "usage.dlq", "--json"))
    assert line["value"] is None and line["error"]
    assert bytes.fromhex(line["value_hex"]) == b"not avro at all"
    assert line["key"] == "bad"


def test_a_missing_topic_names_the_ones_that_exist(topics: Settings) -> None:
    unprefixed = CliRunner().invoke(
        main,
        ["read", "usage.dlq", "--topic-prefix", topics.topic_prefix + "nope."],
        env={"BILAT_KAFKA": topics.kafka},
    )
    assert unprefixed.exit_code == 2
    assert "no such topic" in unprefixed.stderr
    assert topics.topic("usage.dlq") in unprefixed.stderr  # the one meant, with its prefix

    unknown = bilat(topics, "read", "usage.nothing")
    assert unknown.exit_code == 2 and "want one of usage.cdr" in unknown.stderr


@pytest.fixture
def ledger(settings: Settings, tmp_path: Path) -> tuple[Settings, list[RatedUsage], Path]:
    """A party hgc with genesis and one anchored window of rated usage."""
    party = Settings.from_env(
        {},
        party="hgc",
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        redis=settings.redis,
        run_dir=tmp_path,
    )
    ensure_topics(party)
    pairs = {name: demo_keypair(name) for name in ("hgc", "dcc")}  # the example's keys
    docs = [sign_agreement(BOOK, pair, name) for name, pair in pairs.items()]
    assert init_ledger(party, docs, pairs["hgc"]) is not None
    records = [rated(n, hour=10) for n in range(6)]
    publish(party, "usage.rated", "rated_usage", [r.to_avro() for r in records], _key)
    assert BatcherLoop(party, pairs["hgc"], say=lambda _m: None).run(once=True) == 1
    return party, records, tmp_path


def test_ledger_check_and_verify_speak_json(
    ledger: tuple[Settings, list[RatedUsage], Path],
) -> None:
    party, records, folder = ledger

    check = bilat(party, "ledger", "check", "--json")
    assert check.exit_code == 0, check.output
    document = json.loads(check.stdout)
    assert document["intact"] is True and document["findings"] == []
    assert (document["owner"], document["entries"], document["anchors"]) == ("hgc", 2, 1)
    assert document["digests_checked"] and document["leaf_batches_checked"]
    assert document["tip"]["sequence"] == 1 and len(document["tip"]["entry_hash"]) == 64

    bundle = folder / "record.json"
    live = bilat(party, "verify", records[2].key, "--export", str(bundle), "--json")
    assert live.exit_code == 0, live.output
    proof = json.loads(live.stdout)
    assert proof["ok"] is True and proof["usage_key"] == records[2].key
    assert [c["name"] for c in proof["checks"]] == [
        "leaf",
        "inclusion",
        "chain",
        "anchor",
        "record",
        "revision",
        "salt",
    ]
    assert all(c["ok"] for c in proof["checks"])
    assert proof["record"]["amount"] == "0.015" and proof["anchor_sequence"] == 1
    assert (proof["source"], proof["exported_to"]) == ("kafka", str(bundle))

    offline = CliRunner().invoke(
        main,
        ["verify", "--bundle", str(bundle), "--json", "--agreement", str(party.agreement)],
        env={"BILAT_KAFKA": "127.0.0.1:1"},
    )
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["ok"] is True
    assert json.loads(offline.stdout)["trusted_keys"] == f"agreement {party.agreement}"
    forged = json.loads(bundle.read_text())
    forged["record"]["amount"] = "0.0001"
    bundle.write_text(json.dumps(forged))
    bad = CliRunner().invoke(
        main, ["verify", "--bundle", str(bundle), "--json", "--agreement", str(party.agreement)]
    )
    assert bad.exit_code == 1  # unchanged exit codes
    result = json.loads(bad.stdout)
    assert result["ok"] is False
    assert [c["name"] for c in result["checks"] if not c["ok"]] == ["leaf"]

    anchors = lines(bilat(party, "read", "ledger.anchors", "--json"))
    assert [a["value"]["kind"] for a in anchors] == ["genesis", "anchor"]
    payload = json.loads(anchors[1]["value"]["payload"])  # the payload as its JSON text
    assert payload["leaf_count"] == 6 and payload["totals"] == {"EUR": "0.09"}
    table = bilat(party, "read", "ledger.anchors")
    assert payload["root"] in table.stdout and "0.09 EUR" in table.stdout
    for logical in ("ledger.digests", "ledger.batches"):
        (batch,) = lines(bilat(party, "read", logical, "--json"))
        assert batch["value"]["root"] == payload["root"]


def test_ledger_check_json_lists_findings_with_exit_1(
    ledger: tuple[Settings, list[RatedUsage], Path],
) -> None:
    party, _, _ = ledger
    tampered = replace(party, topic_prefix=party.topic_prefix + "copy.")
    ensure_topics(tampered, ["ledger.anchors"])
    entries = lines(bilat(party, "read", "ledger.anchors", "--json"))
    records = []
    for entry in entries:
        value = entry["value"]
        records.append(
            {
                **value,
                "prev_hash": bytes.fromhex(value["prev_hash"]),
                "payload": value["payload"].replace('"leaf_count":6', '"leaf_count":7').encode(),
                "payload_hash": bytes.fromhex(value["payload_hash"]),
                "signature": bytes.fromhex(value["signature"]),
            }
        )
    publish(tampered, "ledger.anchors", "ledger_entry", records, lambda _r: "hgc")
    check = bilat(party, "ledger", "check", "--json", "--topic", tampered.topic("ledger.anchors"))
    assert check.exit_code == 1, check.output
    document = json.loads(check.stdout)
    assert document["intact"] is False
    assert any(f["sequence"] == 1 for f in document["findings"])
    assert not document["leaf_batches_checked"]  # not one's own ledger topic
