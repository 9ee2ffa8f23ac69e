"""The topic table's naming helpers."""

from __future__ import annotations

from streams.contract.topics import sibling_topic


def test_a_sibling_keeps_whatever_prefix_the_topic_carries() -> None:
    assert sibling_topic("ledger.anchors", "ledger.anchors", "ledger.digests") == "ledger.digests"
    assert sibling_topic("run-7.ledger.anchors", "ledger.anchors", "ledger.batches") == (
        "run-7.ledger.batches"
    )
    assert sibling_topic("dcc.run-7.ledger.anchors", "ledger.anchors", "ledger.digests") == (
        "dcc.run-7.ledger.digests"
    )


def test_a_topic_of_another_kind_has_no_sibling() -> None:
    assert sibling_topic("usage.rated", "ledger.anchors", "ledger.digests") is None
