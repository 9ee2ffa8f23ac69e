"""Stored digests and leaf batches held against the anchors that sign them: each kind of
damage gives its finding, a clean store gives none."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.contract.records import RatedUsage
from streams.core.keys import demo_keypair
from streams.ledger.anchoring import anchor_entry, digest_record, leaves_record
from streams.ledger.batch_check import check_batches
from streams.ledger.batching import Batcher
from streams.ledger.chain import ChainTip
from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_payload
from streams.runtime.registry import make_codec
from tests.fakes.rated import rated_call
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
SALT = book_hash(BOOK)
DAY = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
CODEC = make_codec()


def rated(n: int, hour: int, currency: str = "EUR") -> RatedUsage:
    return rated_call(f"{hour}-{n}", DAY + timedelta(hours=hour), n, "0.0142", currency=currency)


Store = tuple[list[LedgerEntry], list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def store() -> Store:
    """A chain of genesis + 2 anchors, with their digests and leaf batches as decoded from Avro."""
    keys = {party: demo_keypair(party) for party in ("hgc", "dcc")}  # the example's keys
    docs = [sign_agreement(BOOK, keys[p], p) for p in ("hgc", "dcc")]
    tip = ChainTip("hgc", BOOK.id)
    entries = [tip.append("genesis", genesis_payload(BOOK, docs), keys["hgc"], NOW)]
    batcher = Batcher(BOOK.id, 600, 3, SALT)
    records = [rated(n, 9) for n in range(20)] + [rated(n, 10, "USD") for n in range(7)]
    for i, record in enumerate(records):
        batcher.add(record, 0, i)
    digests, batches = [], []
    for batch in batcher.due(NOW):
        entry = anchor_entry(batch, tip, "hgc", keys["hgc"], NOW)
        tip.advance(entry)
        entries.append(entry)
        for name, record, out in (
            ("batch_digest", digest_record(batch, "hgc", entry.sequence), digests),
            ("batch_leaves", leaves_record(batch, "hgc", entry.sequence), batches),
        ):
            out.append(CODEC.decode(name, CODEC.encode(name, record)))
    return entries, digests, batches


def kinds(store: Store, digests: Any = None, batches: Any = None) -> list[tuple[str, int | None]]:
    entries, clean_digests, clean_batches = store
    found = check_batches(
        entries,
        clean_digests if digests is None else digests,
        clean_batches if batches is None else batches,
        SALT,
    )
    return [(f.kind, f.sequence) for f in found]


def test_a_clean_store_has_no_findings(store: Store) -> None:
    assert kinds(store) == []
    entries, digests, _ = store
    assert check_batches(entries, digests, None, SALT) == []  # a partner's: digests only


def test_a_missing_digest_or_batch_is_named_by_its_anchor(store: Store) -> None:
    _, digests, batches = store
    assert kinds(store, digests=digests[:1]) == [("missing-digest", 2)]
    assert kinds(store, batches=batches[1:]) == [("missing-batch", 1)]


def test_a_forged_bucket_hash_is_a_bad_digest(store: Store) -> None:
    forged = copy.deepcopy(store[1])
    hashes = forged[0]["bucket_hashes"]
    hashes[3] = bytes([hashes[3][0] ^ 1]) + hashes[3][1:]
    found = check_batches(store[0], forged, store[2], SALT)
    assert [(f.kind, f.sequence) for f in found] == [("bad-digest", 1)] * 2
    assert "bucket hashes hash to" in found[0].detail
    assert "digest hash" in found[1].detail  # the anchor signed the digest's hash too


def test_a_digest_claiming_another_count_or_window_is_bad(store: Store) -> None:
    forged = copy.deepcopy(store[1])
    forged[1]["leaf_count"] += 1
    forged[0]["revision"] = 1
    found = check_batches(store[0], forged, store[2], SALT)
    assert {(f.kind, f.sequence) for f in found} == {("bad-digest", 1), ("bad-digest", 2)}
    details = " ".join(f.detail for f in found)
    assert "leaf_count: got 8, anchor has 7" in details and "revision: got 1" in details


def test_a_changed_leaf_hash_or_a_dropped_leaf_is_a_bad_batch(store: Store) -> None:
    changed = copy.deepcopy(store[2])
    leaf = changed[0]["leaves"][4]
    leaf["leaf_hash"] = bytes(32)
    assert kinds(store, batches=changed) == [("bad-batch", 1)]
    dropped = copy.deepcopy(store[2])
    del dropped[1]["leaves"][0]
    found = check_batches(store[0], store[1], dropped, SALT)
    assert [(f.kind, f.sequence) for f in found] == [
        ("bad-batch", 2),
        ("bad-batch", 2),
        ("total-mismatch", 2),
    ]
    assert "leaf count: got 6, anchor has 7" in found[0].detail
    assert "USD: stored leaves add up to 0.0852, anchor signs 0.0994" in found[2].detail


def test_an_edited_amount_under_the_same_leaf_hash_is_a_total_mismatch(store: Store) -> None:
    edited = copy.deepcopy(store[2])
    edited[0]["leaves"][0]["amount"] = "1.0142"
    found = check_batches(store[0], store[1], edited, SALT)
    assert [(f.kind, f.sequence) for f in found] == [("total-mismatch", 1)]
    assert "EUR: stored leaves add up to 1.2840, anchor signs 0.284" in found[0].detail


def test_records_naming_no_anchor_are_orphans_and_other_parties_are_ignored(
    store: Store,
) -> None:
    stray = copy.deepcopy(store[1][0])
    stray["anchor_sequence"] = 9
    partner = copy.deepcopy(store[1][0])
    partner["party"] = "dcc"
    assert kinds(store, digests=[*store[1], stray, partner]) == [("orphan", None)]


def test_a_wrong_salt_rebuilds_another_root(store: Store) -> None:
    entries, digests, batches = store
    found = check_batches(entries, digests, batches, b"not the agreement")
    assert [(f.kind, f.sequence) for f in found] == [("bad-batch", 1), ("bad-batch", 2)]
