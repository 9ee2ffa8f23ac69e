"""A bundle's record is held against what its anchor signs, and its revision is reported.

The forgeries here are made by a party that *can* sign (its own key): every leaf, proof and
signature is sound, yet the record does not belong where the anchor says. A valid inclusion
proof alone would pass them; the ``record`` check must not.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core.canonical import leaf_hash
from streams.core.keys import demo_keypair
from streams.ledger.audit import build_bundle, verify_bundle
from streams.ledger.chain import ChainTip
from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import anchor_payload
from streams.merkle.batchtree import BatchTree
from tests.fakes.rated import rated_call
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
WINDOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
SALT = book_hash(BOOK)
KEYS = {party: demo_keypair(party) for party in ("hgc", "dcc")}  # the keys the example lists
TRUST = TrustedKeys.of_book(BOOK)


def chain_start() -> tuple[ChainTip, LedgerEntry]:
    docs = [sign_agreement(BOOK, KEYS[p], p) for p in ("hgc", "dcc")]
    tip = ChainTip("hgc", BOOK.id)
    return tip, tip.append("genesis", genesis_payload(BOOK, docs), KEYS["hgc"], NOW)


def anchored(
    tip: ChainTip, records: list[RatedUsage], revision: int = 0, **signed: Any
) -> tuple[LedgerEntry, BatchTree]:
    """Anchor ``records`` as one batch of WINDOW, signing whatever ``signed`` overrides."""
    tree = BatchTree.from_columns(
        [r.key for r in records], [leaf_hash(r) for r in records], 2, SALT
    )
    fields: dict[str, Any] = {
        "agreement_id": BOOK.id,
        "window_start_ms": int(WINDOW.timestamp() * 1000),
        "window_end_ms": int((WINDOW + timedelta(hours=1)).timestamp() * 1000),
        "revision": revision,
        "leaf_count": len(records),
        "totals": {"EUR": sum((r.amount for r in records), Decimal(0))},
        "root": tree.root,
        "digest_depth": 2,
        "digest_hash": bytes(32),
        "agreement_versions": ["1"],
        "supersedes": None if revision == 0 else (revision - 1, bytes(32)),
        **signed,
    }
    return tip.append("anchor", anchor_payload(**fields), KEYS["hgc"], NOW), tree


def bundle_of(
    record: RatedUsage, entry: LedgerEntry, tree: BatchTree, chain: list[LedgerEntry]
) -> dict[str, Any]:
    payload = entry.payload_json()
    meta = {
        "window_start_ms": payload["window_start_ms"],
        "window_end_ms": payload["window_end_ms"],
        "revision": payload["revision"],
        "depth": 2,
        "root": tree.root,
        "leaf_count": payload["leaf_count"],
        "anchor_sequence": entry.sequence,
    }
    document = build_bundle(record, tree.proof(record.key), meta, chain)
    return json.loads(json.dumps(document))  # as an auditor receives it


def calls(n: int) -> list[RatedUsage]:
    return [rated_call(str(i), WINDOW, 60 * i, "0.0142", source="ix") for i in range(n)]


def failures(document: dict[str, Any]) -> dict[str, str]:
    return {c.name: c.detail for c in verify_bundle(document, TRUST) if not c.ok}


def test_an_honest_bundle_passes_and_says_its_revision_is_current() -> None:
    tip, genesis = chain_start()
    records = calls(5)
    entry, tree = anchored(tip, records)
    checks = {
        c.name: c
        for c in verify_bundle(bundle_of(records[2], entry, tree, [genesis, entry]), TRUST)
    }
    assert all(c.ok for c in checks.values()), checks
    assert checks["revision"].detail == "revision 0, current as of entry 1"


@pytest.mark.parametrize(
    ("record_change", "signed", "needle"),
    [
        ({"start": WINDOW - timedelta(minutes=5)}, {}, "start_ms: got"),
        ({"agreement_version": "2"}, {}, "agreement_version: got '2', want one the anchor lists"),
        ({"currency": "USD"}, {}, "currency: got 'USD', want one the anchor totals: ['EUR']"),
        ({}, {"leaf_count": 0}, "leaf_count: got 0, want > 0"),
    ],
)
def test_a_record_that_does_not_belong_to_its_signed_anchor_fails(
    record_change: dict[str, Any], signed: dict[str, Any], needle: str
) -> None:
    tip, genesis = chain_start()
    records = calls(5)
    records[2] = replace(records[2], **record_change)
    entry, tree = anchored(tip, records, **signed)
    document = bundle_of(records[2], entry, tree, [genesis, entry])
    failed = failures(document)
    assert set(failed) == {"record"}, failed
    assert needle in failed["record"]


def test_non_canonical_decimal_text_is_refused_by_name() -> None:
    tip, genesis = chain_start()
    records = calls(3)
    entry, tree = anchored(tip, records)
    document = bundle_of(records[1], entry, tree, [genesis, entry])
    assert document["record"]["amount"] == "0.0142"
    forged = copy.deepcopy(document)
    forged["record"]["amount"] = "0.01420"
    assert failures(forged) == {
        "leaf": "field 'amount': got '0.01420', want the canonical text '0.0142'"
    }
    forged["record"]["amount"] = "1.42E-2"
    assert "want the canonical text" in failures(forged)["leaf"]


def test_a_later_revision_is_reported_and_the_stated_status_must_match_the_chain() -> None:
    tip, genesis = chain_start()
    records = calls(4)
    first, tree = anchored(tip, records)
    late = [*records, rated_call("late", WINDOW, 3000, "0.0100", source="ix")]
    second, _ = anchored(tip, late, revision=1, supersedes=(0, tree.root))
    document = bundle_of(records[0], first, tree, [genesis, first, second])
    assert document["status"] == {
        "revision": 0,
        "tip_sequence": 2,
        "superseded_by": {"revision": 1, "sequence": 2},
    }
    checks = {c.name: c for c in verify_bundle(document, TRUST)}
    assert all(c.ok for c in checks.values()), checks
    assert checks["revision"].detail == (
        "revision 0, superseded by revision 1 (entry 2) as of entry 2"
    )
    lying = copy.deepcopy(document)
    lying["status"]["superseded_by"] = None
    assert "revision" in failures(lying)
    typed = copy.deepcopy(document)
    typed["status"]["revision"] = False  # JSON false is not 0
    assert "revision" in failures(typed)


def test_a_version_1_bundle_still_verifies_with_its_anchor_last() -> None:
    tip, genesis = chain_start()
    records = calls(3)
    entry, tree = anchored(tip, records)
    document = bundle_of(records[0], entry, tree, [genesis, entry])
    document["bilat_bundle"] = 1
    del document["batch"]["anchor_sequence"], document["status"]
    assert failures(document) == {}
