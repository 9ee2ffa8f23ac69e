"""The leaf store in parts: a batch too large for one Kafka message is written as several
BatchLeaves records and joined back whole, whatever the order and repeats of delivery."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from streams.ledger.anchoring import (
    join_leaf_parts,
    leaves_from_record,
    leaves_parts,
    leaves_record,
)
from tests.fakes.recon import Party, call


def batch_of(count: int):  # type: ignore[no-untyped-def]
    party = Party("hgc")
    party.ingest(call(f"9-{n}", 9, n * 0.5) for n in range(count))
    return party.batcher.due(party.tip.last.time.replace(year=2027))[0]  # type: ignore[union-attr]


@given(st.integers(1, 60), st.integers(1, 25), st.randoms())
def test_parts_join_back_to_the_whole_record(count: int, per_part: int, rnd: random.Random) -> None:
    batch = batch_of(count)
    whole = leaves_record(batch, "hgc", 7)
    parts = leaves_parts(batch, "hgc", 7, per_part)
    assert len(parts) == max(1, -(-count // per_part))
    assert all(len(p["leaves"]) <= per_part for p in parts)
    delivered = parts + rnd.sample(parts, k=min(2, len(parts)))  # at least once, any order
    rnd.shuffle(delivered)
    assert join_leaf_parts(delivered) == [whole]
    assert leaves_from_record(join_leaf_parts(delivered)[0])[4] == list(batch.leaves)


def test_a_batch_missing_a_part_is_left_out_and_others_are_kept() -> None:
    big, small = batch_of(30), batch_of(3)
    parts = leaves_parts(big, "hgc", 7, 10)
    other = leaves_parts(small, "hgc", 8, 10)
    assert join_leaf_parts(parts[:2] + other) == [leaves_record(small, "hgc", 8)]


def test_records_written_before_parts_existed_are_whole() -> None:
    record = leaves_record(batch_of(5), "hgc", 3)
    old = {k: v for k, v in record.items() if k not in ("part", "parts")}
    assert join_leaf_parts([old]) == [{**old, "part": 0, "parts": 1}]
