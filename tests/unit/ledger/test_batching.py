from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from streams.contract.records import RatedUsage
from streams.ledger.batching import Batcher, Leaf

W1 = datetime(2026, 11, 24, 10, tzinfo=UTC)
W2 = W1 + timedelta(hours=1)
SALT = b"agreement-hash"


def rated(n: int, window: datetime, amount: str = "0.0100") -> RatedUsage:
    return RatedUsage(
        source="ix", record_id=str(n), agreement_id="hgc-dcc-2026", agreement_version="1",
        rate_id="voice-de-fixed", product="voice", start=window + timedelta(minutes=n % 60),
        quantity=Decimal(60), unit="second", billed_quantity=Decimal(60), billed_unit="second",
        amount=Decimal(amount), currency="EUR", direction="outbound", window_start=window,
        window_end=window + timedelta(hours=1), rated_at=window + timedelta(hours=2),
    )  # fmt: skip


def batcher() -> Batcher:
    return Batcher("hgc-dcc-2026", grace_seconds=600, depth=4, salt=SALT)


def test_windows_close_after_the_grace_period() -> None:
    b = batcher()
    for n in range(10):
        assert b.add(rated(n, W1), 0, n) == "new"
    b.add(rated(99, W2), 1, 0)
    assert b.due(W1 + timedelta(hours=1, minutes=9)) == []
    (batch,) = b.due(W1 + timedelta(hours=1, minutes=10))
    assert (batch.window_start, batch.revision, batch.tree.leaf_count) == (W1, 0, 10)
    assert batch.totals == {"EUR": Decimal("0.1000")} and batch.supersedes is None
    assert [leaf.usage_key for leaf in batch.leaves] == sorted(f"ix/{n}" for n in range(10))


def test_root_is_independent_of_arrival_order_and_replays() -> None:
    records = [rated(n, W1) for n in range(50)]
    roots = set()
    for seed in range(4):
        b = batcher()
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        for i, record in enumerate(shuffled + shuffled[:10]):  # with replays
            b.add(record, 0, i)
        (batch,) = b.due(W2 + timedelta(hours=1))
        assert batch.tree.leaf_count == 50
        roots.add(batch.root)
    assert len(roots) == 1


def test_offsets_are_held_until_anchored() -> None:
    b = batcher()
    b.add(rated(1, W1), 0, 5)
    b.add(rated(2, W2), 0, 6)
    b.add(rated(3, W1), 1, 7)
    assert b.safe_offsets() == {0: 5, 1: 7}
    now = W1 + timedelta(hours=1, minutes=10)  # W1 due, W2 not yet
    (batch,) = b.due(now)
    b.anchored(batch)
    assert b.safe_offsets() == {0: 6, 1: 8}
    assert b.due(now) == []


def test_late_usage_makes_a_complete_revision_naming_what_it_supersedes() -> None:
    b = batcher()
    for n in range(5):
        b.add(rated(n, W1), 0, n)
    now = W2 + timedelta(hours=1)
    (first,) = b.due(now)
    b.anchored(first)
    assert b.add(rated(2, W1), 0, 2) == "known"  # a replay changes nothing
    assert b.due(now) == []
    assert b.add(rated(7, W1), 0, 9) == "late"
    assert b.add(rated(3, W1, amount="0.0200"), 0, 10) == "late"  # re-rated
    (revision,) = b.due(now)
    assert revision.revision == 1
    assert revision.supersedes == (0, first.root)
    assert revision.tree.leaf_count == 6
    assert revision.totals == {"EUR": Decimal("0.0700")}
    assert b.safe_offsets() == {0: 9}
    b.anchored(revision)
    assert b.safe_offsets() == {0: 11}


def test_restored_batches_recognise_replays() -> None:
    original = batcher()
    records = [rated(n, W1) for n in range(8)]
    for i, record in enumerate(records):
        original.add(record, 0, i)
    (batch,) = original.due(W2 + timedelta(hours=1))

    restarted = batcher()
    restarted.restore(batch.window_start, batch.window_end, 0, batch.root, batch.leaves)
    assert all(restarted.add(r, 0, i) == "known" for i, r in enumerate(records))
    assert restarted.due(W2 + timedelta(hours=1)) == []
    assert restarted.add(rated(8, W1), 0, 8) == "late"
    (revision,) = restarted.due(W2 + timedelta(hours=1))
    assert revision.revision == 1 and revision.tree.leaf_count == 9


def test_other_agreements_are_ignored_and_leaves_carry_versions() -> None:
    b = batcher()
    other = rated(1, W1)
    object.__setattr__(other, "agreement_id", "zzz")
    assert b.add(other, 0, 0) == "foreign"
    b.add(rated(2, W1), 0, 1)
    (batch,) = b.due(W2 + timedelta(hours=1))
    assert batch.versions == ("1",)
    assert batch.leaves[0] == Leaf.of(rated(2, W1))
