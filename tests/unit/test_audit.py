"""Audit bundles built and checked in memory: the offline proof of one record."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.agreement_loader import load_book
from streams.agreement_signing import book_hash, genesis_payload, sign_agreement
from streams.anchoring import anchor_entry
from streams.audit import build_bundle, verify_bundle
from streams.batching import Batcher
from streams.chain import ChainTip
from streams.config import REPO
from streams.keys import KeyPair
from streams.records import RatedUsage
from tests.fakes.rated import rated_call

BOOK = load_book(REPO / "examples" / "agreement.yaml")
WINDOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def rated(n: int) -> RatedUsage:
    return rated_call(str(n), WINDOW, n, "0.0142", source="ix", seconds=61)


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    keys = {party: KeyPair.generate() for party in ("hgc", "dcc")}
    docs = [sign_agreement(BOOK, keys[p], p) for p in ("hgc", "dcc")]
    tip = ChainTip("hgc", BOOK.id)
    genesis = tip.append("genesis", genesis_payload(BOOK, docs), keys["hgc"], NOW)
    batcher = Batcher(BOOK.id, 600, 4, book_hash(BOOK))
    records = [rated(n) for n in range(25)]
    for i, record in enumerate(records):
        batcher.add(record, 0, i)
    (batch,) = batcher.due(NOW)
    anchor = anchor_entry(batch, tip, "hgc", keys["hgc"], NOW)
    meta = {
        "window_start_ms": anchor.payload_json()["window_start_ms"],
        "window_end_ms": anchor.payload_json()["window_end_ms"],
        "revision": 0,
        "depth": 4,
        "root": batch.root,
        "leaf_count": 25,
        "anchor_sequence": anchor.sequence,
    }
    return build_bundle(records[7], batch.tree.proof(records[7].key), meta, [genesis, anchor])


def failed(document: dict[str, Any]) -> set[str]:
    return {c.name for c in verify_bundle(document) if not c.ok}


def test_a_sound_bundle_passes_every_check(bundle: dict[str, Any]) -> None:
    checks = verify_bundle(json.loads(json.dumps(bundle)))  # survives a JSON round trip
    assert [c.name for c in checks] == [
        "leaf",
        "inclusion",
        "chain",
        "anchor",
        "record",
        "revision",
        "salt",
    ]
    assert all(c.ok for c in checks), checks


@pytest.mark.parametrize(
    ("mutate", "check"),
    [
        (lambda b: b["record"].update(amount="0.0143"), "leaf"),
        (lambda b: b["record"].update(key="ix/8"), "leaf"),
        (lambda b: b["proof"].update(index=(b["proof"]["index"] + 1) % 2), "inclusion"),
        (lambda b: b["batch"].update(root="00" * 32), "inclusion"),
        (lambda b: b["chain"][1].update(signature="00" * 64), "chain"),
        (
            lambda b: b["chain"][0].update(
                payload=b["chain"][0]["payload"].replace("hgc", "hgd", 1)
            ),
            "chain",
        ),
        (lambda b: b["batch"].update(leaf_count=24), "anchor"),
        (lambda b: b["batch"].update(revision=1), "anchor"),
    ],
)
def test_each_forgery_is_caught_by_its_check(
    bundle: dict[str, Any], mutate: Any, check: str
) -> None:
    forged = copy.deepcopy(bundle)
    mutate(forged)
    assert check in failed(forged)


def test_an_unreadable_bundle_is_one_failed_format_check(bundle: dict[str, Any]) -> None:
    assert failed({"bilat_bundle": 2}) == {"format"}
    broken = copy.deepcopy(bundle)
    del broken["proof"]
    assert failed(broken) == {"format"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x89PNG\r\n", "not a bundle"),
        (b"{not json", "not a bundle"),
        (b"[1, 2]", "got a JSON list, want a bundle object"),
    ],
)
def test_verify_bundle_on_a_file_that_is_no_bundle_says_so(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    from click.testing import CliRunner

    from streams.cli import main

    path = tmp_path / "record.bundle.json"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["verify", "--bundle", str(path)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
