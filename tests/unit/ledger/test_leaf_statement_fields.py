"""batch_leaves v4: a leaf keeps the record's product_id and direction for the statement,
outside the leaf hash; leaf stores written before v4 read them as None."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from streams.core.canonical import leaf_hash
from streams.ledger.anchoring import leaves_from_record, leaves_record
from streams.ledger.batching import Batcher, Leaf
from tests.fakes.rated import rated_call

WINDOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_product_and_direction_are_kept_but_not_hashed() -> None:
    plain = rated_call("r1", WINDOW, 5, "0.0140")
    linked = dataclasses.replace(plain, product_id="PRD-VOICE-1", direction="outbound")
    assert leaf_hash(linked) == leaf_hash(plain)
    leaf = Leaf.of(linked)
    assert (leaf.product_id, leaf.direction, leaf.leaf_hash) == (
        "PRD-VOICE-1",
        "outbound",
        leaf_hash(plain),
    )
    assert Leaf.of(plain).direction == "inbound" and Leaf.of(plain).product_id is None


def test_the_leaf_store_round_trips_them_and_reads_old_stores_as_none() -> None:
    batcher = Batcher("hgc-dcc-2026", grace_seconds=0, depth=2, salt=b"s")
    batcher.add(dataclasses.replace(rated_call("r1", WINDOW, 5, "0.0140"), product_id="P-1"), 0, 1)
    batcher.add(rated_call("r2", WINDOW, 9, "0.0200"), 0, 2)
    (batch,) = batcher.due(WINDOW.replace(hour=12))
    record = leaves_record(batch, "hgc", 3)
    assert [(x["product_id"], x["direction"]) for x in record["leaves"]] == [
        ("P-1", "inbound"),
        (None, "inbound"),
    ]
    *_, leaves = leaves_from_record(record)
    assert leaves == list(batch.leaves)
    for leaf in record["leaves"]:  # a v3 store: no such fields
        del leaf["product_id"], leaf["direction"]
    *_, old = leaves_from_record(record)
    assert [(x.product_id, x.direction) for x in old] == [(None, None), (None, None)]
    assert [x.leaf_hash for x in old] == [x.leaf_hash for x in batch.leaves]
