"""The usage pipeline through a real broker: ingest → Faust worker → usage.rated / usage.dlq.

Expected results are computed independently, by the pure core, from the same file: every
valid line must arrive rated with exactly that amount, every invalid line must be in the DLQ
with its reason, and the counts must add up with nothing extra.
"""

from __future__ import annotations

import io
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.mediation.base import FormatOptions
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.ingest import ingest_files
from connectors.mediation.synth import PRODUCT_ID, synth_order, synth_pair
from streams.agreement.loader import load_book
from streams.contract.records import DeadLetter, RatedUsage
from streams.core.errors import InvalidRecord, RatingError
from streams.rating.inventory import Inventory, OrderEvent
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from streams.runtime.topics import ensure_topics
from streams.runtime.workers import message_count, start_worker, stop_worker

CODEC = make_codec()


@dataclass
class Expected:
    amounts: dict[str, Decimal]
    """usage key → amount, for every line that must be rated."""
    dead: dict[str, str]
    """identity (usage key, or file:line for unparsable lines) → expected stage."""
    lines: int


def expected_from(text: str, path: Path, now: datetime) -> Expected:
    inventory = Inventory([OrderEvent.from_avro(synth_order(now))])
    rater = Rater(load_book(Settings().agreement), inventory)
    amounts: dict[str, Decimal] = {}
    dead: dict[str, str] = {}
    lines = 0
    for line in GenericCsv().lines(io.StringIO(text), str(path)):
        lines += 1
        if line.fields is None:
            dead[f"{path}:{line.number}"] = "parse"
            continue
        key = f"{line.fields['source']}/{line.fields['record_id']}"
        if key in amounts:
            dead[key] = "dedup"  # the same record sent again: rated once, reported once
            continue
        try:
            amounts[key] = rater.rate(parse_usage(line.fields, now=now), now).amount
        except InvalidRecord:
            dead[key] = "validate"
        except RatingError:
            dead[key] = "rate"
    return Expected(amounts, dead, lines)


def wait_for_outputs(settings: Settings, want: int, proc: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while message_count(settings, "usage.rated", "usage.dlq") < want:
        assert getattr(proc, "poll")() is None, "worker died; see its log in the test's tmp dir"  # noqa: B009
        assert time.monotonic() < deadline, (
            f"only {message_count(settings, 'usage.rated', 'usage.dlq')} of {want} outputs"
        )
        time.sleep(0.3)


def collect(settings: Settings) -> tuple[dict[str, list[RatedUsage]], list[DeadLetter]]:
    rated: dict[str, list[RatedUsage]] = {}
    for _key, value in read_topic(settings, settings.topic("usage.rated")):
        record = RatedUsage.from_avro(CODEC.decode("rated_usage", value))
        rated.setdefault(record.key, []).append(record)
    dead = [
        DeadLetter.from_avro(CODEC.decode("dead_letter", v))
        for _k, v in read_topic(settings, settings.topic("usage.dlq"))
    ]
    return rated, dead


def identity(letter: DeadLetter) -> str:
    if letter.stage == "parse":
        return f"{letter.source_topic.removeprefix('file:')}:{letter.source_offset}"
    fields = CODEC.decode("usage_record", letter.original)
    return f"{fields['source']}/{fields['record_id']}"


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


def run_file(settings: Settings, tmp: Path, count: int, now: datetime) -> tuple[Expected, int, int]:
    """Order the circuit the data usage runs over, then ingest the Seller's file."""
    seller, _buyer = synth_pair(count, now)
    path = tmp / "usage.csv"
    path.write_text(seller.text, encoding="utf-8")
    ensure_topics(settings)
    publish(
        settings,
        "sonata.orders",
        "sonata_order_event",
        [synth_order(now)],
        lambda r: str(r["product_id"]),
    )
    report = ingest_files([path], settings)
    return expected_from(seller.text, path, now), report.produced, report.dead_lettered


def test_every_line_is_rated_or_dead_lettered_exactly(
    settings: Settings, tmp_path: Path, now: datetime
) -> None:
    expected, produced, parse_dead = run_file(settings, tmp_path, 800, now)
    assert produced + parse_dead == expected.lines
    proc = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for_outputs(settings, produced + parse_dead, proc)
    finally:
        assert stop_worker(proc) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    rated, dead = collect(settings)

    assert {k: v[0].amount for k, v in rated.items()} == expected.amounts
    assert all(len(v) == 1 for v in rated.values()), "a clean run must not duplicate"
    assert {identity(d): d.stage for d in dead} == expected.dead
    assert len(rated) + len(dead) == expected.lines
    assert all(d.errors and d.error_message for d in dead)
    worker_dead = [d for d in dead if d.stage != "parse"]
    assert all(
        d.source_topic == settings.topic("usage.cdr") and d.source_offset >= 0 for d in worker_dead
    )
    assert {d.stage for d in dead} == {"parse", "validate", "rate", "dedup"}
    codes = {d.error_code for d in dead}
    assert {"no-tariff", "unknown-product", "invalid-usage", "malformed-line", "duplicate"} <= codes
    assert any(r[0].product_id == PRODUCT_ID for r in rated.values()), "ordered circuit is billable"


def test_a_file_ingested_twice_is_rated_once_and_duplicates_reported(
    settings: Settings, tmp_path: Path, now: datetime
) -> None:
    expected, produced, parse_dead = run_file(settings, tmp_path, 300, now)
    again = ingest_files([tmp_path / "usage.csv"], settings)
    proc = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for_outputs(settings, 2 * (produced + parse_dead), proc)
    finally:
        assert stop_worker(proc) == 0
    rated, dead = collect(settings)
    assert {k: [c.amount for c in v] for k, v in rated.items()} == {
        k: [a] for k, a in expected.amounts.items()
    }
    duplicates = [d for d in dead if d.stage == "dedup"]
    resent = [k for k, stage in expected.dead.items() if stage == "dedup"]
    assert resent, "the synthetic file re-sends some records"
    # the second ingest repeats every rated key; each re-sent line is a duplicate both times
    assert len(duplicates) == len(expected.amounts) + 2 * len(resent)
    assert {identity(d) for d in duplicates} == set(expected.amounts)
    assert all(
        d.error_code == "duplicate" and "already rated from" in d.errors[0] for d in duplicates
    )
    # every other bad line is dead-lettered once per ingest
    assert len(dead) - len(duplicates) == 2 * (len(expected.dead) - len(resent))
    assert again.produced == produced


def test_worker_killed_midway_loses_nothing(
    settings: Settings, tmp_path: Path, now: datetime
) -> None:
    expected, produced, parse_dead = run_file(settings, tmp_path, 3000, now)
    log = tmp_path / "worker.log"
    proc = start_worker(settings, log)
    try:
        deadline = time.monotonic() + 90
        while message_count(settings, "usage.rated") < 200:  # mid-stream
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
    finally:
        stop_worker(proc, signal.SIGKILL)
    proc = start_worker(settings, log)
    try:
        wait_for_outputs(settings, produced + parse_dead, proc)
        # Outputs are at-least-once: wait until the restarted worker has caught up completely.
        deadline = time.monotonic() + 60
        while True:
            rated, dead = collect(settings)
            if set(rated) == set(expected.amounts) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        stop_worker(proc)
    assert set(rated) == set(expected.amounts), "a record was lost in the crash"
    for key, copies in rated.items():
        # replayed copies are identical but for the rating time: safe to deduplicate by key
        assert {(c.amount, c.billed_quantity, c.rate_id) for c in copies} == {
            (expected.amounts[key], copies[0].billed_quantity, copies[0].rate_id)
        }
    assert {identity(d) for d in dead} == set(expected.dead)


def test_switch_cdrs_unanswered_calls_are_counted_and_never_rated(
    settings: Settings, tmp_path: Path, now: datetime
) -> None:
    """An Asterisk Master.csv through the broker and a worker: the answered calls are rated or
    refused at rating, a line with a bad time is a parse dead letter, and the calls never
    answered are counted by ingest and reach neither rating nor the DLQ (a BUSY call to a
    destination without a tariff used to become a `no-tariff` dead letter)."""
    t0 = now.replace(microsecond=0) - timedelta(hours=2)

    def at(seconds: int) -> str:
        return f"{t0 + timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S}"

    def cdr(n: int, dst: str, answer: int | None, end: str, disposition: str) -> str:
        answered = f'"{at(answer)}"' if answer is not None else ""
        billsec = 71 - answer if answer is not None else 0
        return (
            f'"pbx-{settings.party}","4969123456","{dst}","ctx","clid","chan","dchan","Dial",'
            f'"args","{at(0)}",{answered},"{end}",71,{billsec},"{disposition}","DOCUMENTATION",'
            f'"pbx-1.{n}",""'
        )

    lines = [
        cdr(1, "4930901820", 10, at(71), "ANSWERED"),  # rated
        cdr(2, "33142685300", 10, at(71), "ANSWERED"),  # no tariff for France: rate DLQ
        cdr(3, "33142685300", None, at(71), "BUSY"),  # not billable
        cdr(4, "4930901821", None, at(71), "NO ANSWER"),  # not billable
        cdr(5, "4930901822", 10, "garbage", "ANSWERED"),  # parse DLQ
    ]
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ensure_topics(settings)
    options = FormatOptions(agreement_id="hgc-dcc-2026", partner="dcc", direction="outbound")
    report = ingest_files([path], settings, "asterisk", options=options)
    assert (report.lines, report.produced, report.dead_lettered, report.not_billable) == (
        5,
        2,
        1,
        2,
    )
    proc = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for_outputs(settings, report.produced + report.dead_lettered, proc)
        time.sleep(1.0)  # nothing more may come: unanswered calls were never produced
    finally:
        assert stop_worker(proc) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    rated, dead = collect(settings)
    assert [(r[0].rate_id, r[0].quantity) for r in rated.values()] == [
        ("voice-de-fixed", Decimal(61))
    ]
    assert sorted((d.stage, d.error_code) for d in dead) == [
        ("parse", "malformed-line"),
        ("rate", "no-tariff"),
    ]
    (parse,) = [d for d in dead if d.stage == "parse"]
    assert parse.source_offset == 5
    assert parse.errors[0].startswith("field 'end': got 'garbage', want a time like")
    assert len(rated) + len(dead) + report.not_billable == report.lines


def test_two_workers_share_the_partitions_and_a_rebalance_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path, now: datetime
) -> None:
    """A second worker (static member 2) joins mid-stream: the group rebalances while the
    first (member 1) has a batch in flight; every line still ends rated or dead-lettered
    exactly once, and both workers rated some."""
    # Long enough that the second worker joins while the first is mid-stream.
    expected, produced, parse_dead = run_file(settings, tmp_path, 100_000, now)
    first = start_worker(settings, tmp_path / "w1.log", "--member", "1")
    second = None
    try:
        deadline = time.monotonic() + 90
        while message_count(settings, "usage.rated") < 1:  # the first has the partitions
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        second = start_worker(settings, tmp_path / "w2.log", "--member", "2")
        wait_for_outputs(settings, produced + parse_dead, first)
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)
    rated, dead = collect(settings)
    assert set(rated) == set(expected.amounts)
    assert all(len(copies) == 1 for copies in rated.values()), "a record rated twice"
    assert {identity(d) for d in dead} == set(expected.dead)
    assert len(dead) == len(expected.dead), "a dead letter published twice"
    logs = [(tmp_path / name).read_text() for name in ("w1.log", "w2.log")]
    assert all("rated " in text for text in logs), "both workers took a share"
