"""Audit bundles built and checked in memory: the offline proof of one record."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core.keys import KeyPair, demo_keypair
from streams.ledger.anchoring import anchor_entry
from streams.ledger.audit import build_bundle, verify_bundle
from streams.ledger.batching import Batcher
from streams.ledger.chain import ChainTip
from streams.ledger.genesis import genesis_payload
from tests.fakes.agreements import EXAMPLE, book_with_keys, forged_genesis, key, trusted
from tests.fakes.rated import rated_call
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
WINDOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
TRUST = TrustedKeys.of_book(BOOK)


def rated(n: int) -> RatedUsage:
    return rated_call(str(n), WINDOW, n, "0.0142", source="ix", seconds=61)


def signed_bundle(
    signer: KeyPair, genesis_body: dict[str, Any], amount: str = "0.0142"
) -> dict[str, Any]:
    """The bundle of record 7 of a 25-record batch, its record priced ``amount``, in a chain
    whose genesis payload is ``genesis_body``, every entry signed by ``signer``."""
    tip = ChainTip("hgc", BOOK.id)
    genesis = tip.append("genesis", genesis_body, signer, NOW)
    batcher = Batcher(BOOK.id, 600, 4, book_hash(BOOK))
    records = [rated(n) for n in range(25)]
    records[7] = rated_call("7", WINDOW, 7, amount, source="ix", seconds=61)
    for i, record in enumerate(records):
        batcher.add(record, 0, i)
    (batch,) = batcher.due(NOW)
    anchor = anchor_entry(batch, tip, "hgc", signer, NOW)
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


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    keys = {party: demo_keypair(party) for party in ("hgc", "dcc")}  # the example's keys
    docs = [sign_agreement(BOOK, keys[p], p) for p in ("hgc", "dcc")]
    return signed_bundle(keys["hgc"], genesis_payload(BOOK, docs))


FRESH = {party: KeyPair.from_seed(bytes([9, n]) * 16) for n, party in enumerate(("hgc", "dcc"))}


@pytest.fixture(scope="module")
def forged() -> dict[str, Any]:
    """The auditor's forgery: the amount changed, the batch rebuilt to a new root, the whole
    chain re-signed from genesis with fresh keys for both parties (same agreement)."""
    return signed_bundle(FRESH["hgc"], forged_genesis(BOOK, FRESH), amount="1000.0142")


def failed(document: dict[str, Any]) -> set[str]:
    return {c.name for c in verify_bundle(document, TRUST) if not c.ok}


def test_a_sound_bundle_passes_every_check(bundle: dict[str, Any]) -> None:
    checks = verify_bundle(json.loads(json.dumps(bundle)), TRUST)  # survives a JSON round trip
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
        (lambda b: b["batch"].update(agreement_id="another-agreement"), "anchor"),
        (lambda b: b["batch"].update(depth=3), "anchor"),
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
    ("mutate", "problem"),
    [
        (lambda b: b.pop("record"), "bundle: missing ['record']"),
        (lambda b: b.update(note="trust me"), "bundle: got unknown fields ['note']"),
        (lambda b: b["batch"].update(signer="hgc"), "batch: got unknown fields ['signer']"),
        (lambda b: b["record"].update(rate="0.0142"), "record: got unknown fields ['rate']"),
        (lambda b: b["record"].update(start_ms="1"), "record.start_ms: got '1', want a int"),
        (lambda b: b["batch"].update(depth=True), "batch.depth: got True, want an integer"),
        (lambda b: b["batch"].update(depth=17), "batch.depth: got 17, want 0 to 16"),
        (lambda b: b["batch"].update(root=b["batch"]["root"].upper()), "batch.root: got"),
        (lambda b: b["batch"].pop("anchor_sequence"), "batch: missing ['anchor_sequence']"),
        (lambda b: b["batch"].update(anchor_sequence=7), "want the sequence of one entry"),
        (lambda b: b["chain"][0].update(prev_hash="00" * 31), "chain[0].prev_hash: got"),
        (lambda b: b["chain"][1].update(signature="ABCD"), "chain[1].signature: got 'ABCD'"),
        (lambda b: b["chain"][1].update(kind="memo"), "chain[1].kind: got 'memo'"),
        (lambda b: b["chain"][1].update(time_ms=10**16), "chain[1].time_ms: got"),
        (lambda b: b["chain"][1].update(sequence=2**60), "chain[1].sequence: got"),
        (lambda b: b["chain"][1].pop("key_id"), "chain[1]: missing ['key_id']"),
        (lambda b: b["proof"].update(leaf_hash=b["proof"]["leaf_hash"].upper()), "lowercase"),
        (lambda b: b.update(bilat_bundle=True), "bilat_bundle: got True"),
    ],
)
def test_nothing_in_a_bundle_goes_unchecked(
    bundle: dict[str, Any], mutate: Any, problem: str
) -> None:
    """A member the checks would not read, of a type they do not expect, or a second spelling
    of some bytes is a failed format check: never a traceback, never silently ignored."""
    changed = copy.deepcopy(bundle)
    mutate(changed)
    (check,) = verify_bundle(changed, TRUST)
    assert (check.name, check.ok) == ("format", False)
    assert problem in check.detail, check.detail


def test_version_1_layout_has_no_anchor_sequence_or_status(bundle: dict[str, Any]) -> None:
    old = copy.deepcopy(bundle)
    old["bilat_bundle"] = 1
    assert failed(old) == {"format"}  # a version 2 layout under version 1
    del old["status"], old["batch"]["anchor_sequence"]
    assert failed(old) == set()


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

    from streams.cli.main import main

    path = tmp_path / "record.bundle.json"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["verify", "--bundle", str(path)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


# --- trusted keys ----------------------------------------------------------------------------


def test_a_bundle_re_signed_with_fresh_keys_fails_only_its_chain(forged: dict[str, Any]) -> None:
    checks = {c.name: c for c in verify_bundle(forged, TRUST)}
    assert forged["record"]["amount"] == "1000.0142"
    assert {name for name, c in checks.items() if not c.ok} == {"chain"}  # all else is sound
    detail = checks["chain"].detail
    assert "unknown-key at sequence 0" in detail and "unknown-key at sequence 1" in detail
    for key_id in (FRESH["hgc"].key_id, FRESH["dcc"].key_id, demo_keypair("hgc").key_id):
        assert key_id in detail
    # By the keys it brings itself, the forgery is flawless: which is why they are never used.
    own = trusted(book_with_keys(hgc=[key(FRESH["hgc"])], dcc=[key(FRESH["dcc"])]))
    assert all(c.ok for c in verify_bundle(forged, TrustedKeys(own.parties, None, None, "own")))


def invoke(*args: str) -> Any:
    from click.testing import CliRunner

    from streams.cli.main import main

    return CliRunner().invoke(main, list(args), env={"BILAT_AGREEMENT": None})


def test_verify_bundle_checks_against_the_agreement_or_trusted_keys(
    tmp_path: Path, bundle: dict[str, Any], forged: dict[str, Any]
) -> None:
    honest_file, forged_file = tmp_path / "honest.json", tmp_path / "forged.json"
    honest_file.write_text(json.dumps(bundle))
    forged_file.write_text(json.dumps(forged))
    trusted_file = tmp_path / "trusted.json"
    written = invoke("keys", "trusted", "--agreement", str(EXAMPLE), "--out", str(trusted_file))
    assert written.exit_code == 0, written.output
    for source in (["--agreement", str(EXAMPLE)], ["--trusted-keys", str(trusted_file)]):
        good = invoke("verify", "--bundle", str(honest_file), *source)
        assert good.exit_code == 0, good.output
        assert "✓ chain" in good.output
        bad = invoke("verify", "--bundle", str(forged_file), *source, "--json")
        assert bad.exit_code == 1, bad.output
        result = json.loads(bad.stdout)
        assert result["ok"] is False and result["trusted_keys"].endswith(source[1])
        (chain,) = [c for c in result["checks"] if c["name"] == "chain"]
        assert not chain["ok"] and FRESH["hgc"].key_id in chain["detail"]
        assert demo_keypair("hgc").key_id in chain["detail"]  # the one trusted


def test_verify_bundle_without_a_trust_source_exits_2(
    tmp_path: Path, bundle: dict[str, Any]
) -> None:
    path = tmp_path / "honest.json"
    path.write_text(json.dumps(bundle))
    result = invoke("verify", "--bundle", str(path))
    assert result.exit_code == 2, result.output
    assert "no trusted keys: pass --agreement FILE" in result.output
    assert "--trusted-keys FILE" in result.output and "Traceback" not in result.output
    both = invoke("verify", "--bundle", str(path), "--agreement", str(EXAMPLE),
                  "--trusted-keys", str(path))  # fmt: skip
    assert both.exit_code == 2 and "not both" in both.output
    not_keys = invoke("verify", "--bundle", str(path), "--trusted-keys", str(path))
    assert not_keys.exit_code == 2 and "not a trusted-keys document" in not_keys.output


def test_a_bundle_for_another_agreement_fails_against_this_one(bundle: dict[str, Any]) -> None:
    # Same keys, another set of versions: the genesis's book hash is not the trusted one.
    other = book_with_keys()
    first_only = TrustedKeys.of_book(type(other)(other.versions[:1]), "agreement v1 only")
    checks = {c.name: c for c in verify_bundle(bundle, first_only)}
    assert not checks["chain"].ok
    assert "wrong-agreement at sequence 0: book_hash: got" in checks["chain"].detail
