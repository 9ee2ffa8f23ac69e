"""The batcher loop without a broker: a fake LedgerWriter, the chain and the leaf store given.

What the integration tests prove with real Kafka and real crashes (tests/integration/
test_ledger_kafka.py), this checks in milliseconds: one transaction per due batch with the
anchor, digest and leaves and the input offsets, in that order; the chain signed and linked; a
refused commit advances nothing; a restart from the stored leaves anchors nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from streams.agreement.loader import load_book
from streams.agreement.signing import sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.core.canonical import canonical_json
from streams.core.clock import ManualClock
from streams.core.errors import BilatError, StackError
from streams.core.keys import demo_keypair
from streams.ledger.check import check_ledger
from streams.ledger.entries import LedgerEntry, make_entry
from streams.ledger.genesis import genesis_payload
from streams.ledger.settlement import statement_payload
from streams.runtime import batcher as batcher_module
from streams.runtime import faults
from streams.runtime import ledger_writer as writer_module
from streams.runtime import reader as reader_module
from streams.runtime.batcher import FAULT_POINTS, BatcherLoop
from streams.runtime.config import Settings
from streams.runtime.ledger_writer import Outgoing
from streams.runtime.registry import make_codec
from tests.fakes.agreements import EXAMPLE
from tests.fakes.rated import rated_call

BOOK = load_book(EXAMPLE)
CODEC = make_codec()
DAY = datetime(2026, 11, 20, tzinfo=UTC)
LATER = DAY + timedelta(days=1)  # every window of DAY closed, grace included
SETTINGS = Settings(party="hgc", kafka="127.0.0.1:1", topic_prefix="t.", agreement=EXAMPLE)
RECORDS = [
    rated_call(f"{hour:02d}-{n:04d}", DAY + timedelta(hours=hour), n * 7, "0.0150")
    for hour in (9, 10, 11)
    for n in range(5)
]


@dataclass
class FakeWriter:
    """A LedgerWriter that keeps what it is given; ``refuse`` makes that call raise."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    committed: list[list[Outgoing]] = field(default_factory=list)
    refuse: str | None = None
    _open: list[Outgoing] | None = None

    def _call(self, name: str, argument: Any = None) -> None:
        self.calls.append((name, argument))
        if name == self.refuse:
            raise StackError(f"{name}: fenced by a newer writer")

    def begin(self) -> None:
        self._call("begin")
        self._open = []

    def produce(self, messages: Sequence[Outgoing]) -> None:
        self._call("produce", [topic for topic, _key, _value in messages])
        assert self._open is not None, "produce outside a transaction"
        self._open += messages

    def send_offsets(self, offsets: Mapping[int, int]) -> None:
        self._call("send_offsets", dict(offsets))

    def commit(self) -> None:
        self._call("commit")
        assert self._open is not None, "commit outside a transaction"
        self.committed.append(self._open)
        self._open = None

    def values(self, topic: str) -> list[bytes]:
        return [v for batch in self.committed for t, _k, v in batch if t == SETTINGS.topic(topic)]


def genesis() -> LedgerEntry:
    signatures = [sign_agreement(BOOK, demo_keypair(p), p) for p in ("hgc", "dcc")]
    return make_entry(
        None,
        party="hgc",
        agreement_id=BOOK.id,
        kind="genesis",
        payload=genesis_payload(BOOK, signatures, at=DAY),
        signer=demo_keypair("hgc"),
        time=DAY,
    )


def loop(points: list[str] | None = None) -> BatcherLoop:
    hook = points.append if points is not None else faults.no_faults
    return BatcherLoop(SETTINGS, demo_keypair("hgc"), ManualClock(LATER), lambda _m: None, hook)


def feed(batcher: BatcherLoop) -> None:
    for offset, record in enumerate(RECORDS):
        batcher.take(CODEC.encode("rated_usage", record.to_avro()), 0, offset)


def test_constructing_the_loop_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network I/O in BatcherLoop.__init__")

    for module, name in (
        (batcher_module, "Consumer"),
        (batcher_module, "ensure_topics"),
        (reader_module, "read_topic"),
        (writer_module, "Producer"),
    ):
        monkeypatch.setattr(module, name, refuse)
    built = loop()
    assert built.writer is None and built.consumer is None and built.tip is None


def test_each_due_batch_is_one_transaction_with_its_offsets() -> None:
    writer, points = FakeWriter(), list[str]()
    batcher = loop(points)
    batcher.resume(writer, [genesis()], [])
    feed(batcher)
    batcher.close_due()
    assert batcher.anchored == 3
    ledger = [f"t.ledger.{name}" for name in ("anchors", "digests", "batches")]
    assert writer.calls == [
        ("begin", None),
        ("produce", ledger),
        ("send_offsets", {0: 5}),  # the 5 records of 09:00 anchored, 10:00 and 11:00 still held
        ("commit", None),
        ("begin", None),
        ("produce", ledger),
        ("send_offsets", {0: 10}),
        ("commit", None),
        ("begin", None),
        ("produce", ledger),
        ("send_offsets", {0: 15}),
        ("commit", None),
    ]
    assert points == ["before-anchor", "after-anchor", "before-commit", "after-commit"] * 3
    assert set(points) | {"during-rebalance"} == set(FAULT_POINTS)
    entries = [LedgerEntry.from_avro(CODEC.decode("ledger_entry", v))
               for v in writer.values("ledger.anchors")]  # fmt: skip
    assert [(e.kind, e.sequence) for e in entries] == [("anchor", 1), ("anchor", 2), ("anchor", 3)]
    assert check_ledger([genesis(), *entries], "hgc", trusted=TrustedKeys.of_book(BOOK)) == []
    assert [e.payload_json()["leaf_count"] for e in entries] == [5, 5, 5]


def test_a_refused_commit_anchors_nothing_and_says_who_may_run() -> None:
    writer = FakeWriter(refuse="commit")
    batcher = loop()
    batcher.resume(writer, [genesis()], [])
    feed(batcher)
    with pytest.raises(StackError, match="only one may run") as caught:
        batcher.close_due()
    assert "fenced by a newer writer" in str(caught.value)
    assert batcher.anchored == 0 and writer.committed == []
    assert batcher.tip is not None and batcher.tip.next_sequence == 1  # still after genesis


def test_a_restart_from_the_leaf_store_anchors_nothing_twice() -> None:
    first = FakeWriter()
    batcher = loop()
    batcher.resume(first, [genesis()], [])
    feed(batcher)
    batcher.close_due()
    chain = [genesis(), *(LedgerEntry.from_avro(CODEC.decode("ledger_entry", v))
                          for v in first.values("ledger.anchors"))]  # fmt: skip
    stored = [CODEC.decode("batch_leaves", v) for v in first.values("ledger.batches")]

    again, second = loop(), FakeWriter()
    again.resume(second, chain, stored)
    feed(again)  # the same records read again, as after a crash before the offsets committed
    again.close_due()
    assert again.anchored == 0 and second.calls == []


def test_resume_refuses_a_chain_without_genesis() -> None:
    with pytest.raises(StackError, match=r"no genesis entry on t\.ledger\.anchors"):
        loop().resume(FakeWriter(), [], [])


def test_anchoring_before_resume_is_a_bug_not_a_silent_no_op() -> None:
    batcher = loop()
    feed(batcher)
    with pytest.raises(RuntimeError, match="open"):
        batcher.close_due()


def test_the_fault_hook_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert faults.fault_hook(FAULT_POINTS, {}) is faults.no_faults
    with pytest.raises(BilatError, match="BILAT_FAULT: got 'worker-after-claims', want one of"):
        faults.fault_hook(FAULT_POINTS, {"BILAT_FAULT": "worker-after-claims"})
    exits: list[tuple[int, tuple[object, ...]]] = []
    monkeypatch.setattr(
        faults, "halt", lambda code, _log, _lvl, _msg, *args: exits.append((code, args))
    )
    hook = faults.fault_hook(FAULT_POINTS, {"BILAT_FAULT": "after-anchor"})
    hook("before-anchor")
    assert exits == []
    hook("after-anchor")
    assert exits == [(70, ("BILAT_FAULT", "after-anchor"))]


def _statement_request(
    bill_id: str = "hgc-dcc-2026-2026-11-EUR", party: str = "hgc"
) -> dict[str, Any]:
    payload = statement_payload(
        agreement_id=BOOK.id,
        bill_id=bill_id,
        currency="EUR",
        period_start=DAY,
        period_end=LATER,
        bill_date=LATER,
        statement_hash=hashlib.sha256(b"statement").digest(),
        amount_due=Decimal("12.3400"),
        item_count=2,
    )
    return {
        "request_id": f"statement:{bill_id}",
        "party": party,
        "agreement_id": BOOK.id,
        "kind": "statement",
        "payload": canonical_json(payload).decode(),
        "requested_ms": 0,
    }


def test_a_settlement_request_is_signed_and_appended_once() -> None:
    writer = FakeWriter()
    batcher = loop()
    batcher.resume(writer, [genesis()], [])
    entry = batcher.append_requested(_statement_request())
    assert entry is not None and (entry.kind, entry.sequence) == ("statement", 1)
    assert entry.payload_json()["amount_due"] == "12.34"
    assert batcher.append_requested(_statement_request()) is None  # asked twice: appended once
    chain = [genesis(), *(LedgerEntry.from_avro(CODEC.decode("ledger_entry", v))
                          for v in writer.values("ledger.anchors"))]  # fmt: skip
    assert [e.kind for e in chain] == ["genesis", "statement"]
    assert check_ledger(chain, "hgc", trusted=TrustedKeys.of_book(BOOK)) == []

    # After a restart the chain says what is done: the same request appends nothing.
    again = loop()
    again.resume(FakeWriter(), chain, [])
    assert again.append_requested(_statement_request()) is None


def test_a_misshapen_or_foreign_settlement_request_is_never_signed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = FakeWriter()
    batcher = loop()
    batcher.resume(writer, [genesis()], [])
    assert batcher.append_requested(_statement_request(party="dcc")) is None  # another chain
    bad = _statement_request()
    bad["payload"] = bad["payload"].replace('"item_count":2', '"item_count":-2')
    assert batcher.append_requested(bad) is None
    assert batcher.append_requested({**_statement_request(), "payload": "{not json"}) is None
    assert batcher.append_requested({**_statement_request(), "kind": "anchor"}) is None
    assert writer.calls == []
    assert "item_count" in caplog.text and "refused, nothing signed" in caplog.text
