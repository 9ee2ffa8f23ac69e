"""The ledger test vectors (tests/vectors/, docs/spec/ledger.md) against Bilat's own code.

Two guarantees: the committed files are exactly what ``python -m tests.vectors.generate``
writes now (so a change of any hashed or signed byte cannot slip through: it fails here until
the vectors are regenerated and the spec updated), and every file, read back from its JSON,
gives Bilat's code the values and the errors or findings it states (so the JSON forms lose
nothing). ``tests/independent/`` runs the same files through a verifier written from the spec.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash_of, signature_problems
from streams.agreement.trust import TrustedKeys, TrustError
from streams.contract.records import RatedUsage
from streams.core.canonical import (
    canonical_json,
    decimal_text,
    leaf_data,
    leaf_fields,
    leaf_hash,
    tagged,
)
from streams.core.keys import KeyFileError, KeyPair, PublicKey, is_small_order
from streams.ledger.anchoring import digest_hash_of
from streams.ledger.audit import entry_from_json
from streams.ledger.batch_check import check_batches
from streams.ledger.check import check_ledger
from streams.merkle.batchtree import NATIVE, BatchTree, batch_root, bucket_of
from streams.merkle.rfc9162 import inclusion_proof, root_from_hashes, verify_inclusion
from streams.merkle.rfc9162 import leaf_hash as rfc_leaf_hash
from tests.vectors import generate

TRUSTED = TrustedKeys.of_book(load_book(generate.AGREEMENT))
"""The keys the vectors' agreement lists (hgc's and dcc's of keys.json; not the stranger's)."""

VECTORS = generate.HERE


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def names(folder: str) -> list[str]:
    return sorted(p.name for p in (VECTORS / folder).glob("*.json"))


def test_the_committed_vectors_are_what_the_generator_writes() -> None:
    built, on_disk = generate.build(), generate.written()
    stale = sorted(p for p in built.keys() | on_disk.keys() if built.get(p) != on_disk.get(p))
    assert not stale, (
        f"tests/vectors differs from what the generator writes now: {stale[:10]}. If the format "
        "changed on purpose, run `python -m tests.vectors.generate`, review the diff, and update "
        "docs/spec/ledger.md to match"
    )


def test_canonical_json_and_decimals() -> None:
    for case in load("canonical/json.json")["cases"]:
        assert canonical_json(json.loads(case["input"])).hex() == case["canonical_hex"]
    for case in load("canonical/refused.json")["cases"]:
        error = TypeError if case["want_error"] == "type" else ValueError
        with pytest.raises(error):
            canonical_json(json.loads(case["input"]))
    decimals = load("canonical/decimals.json")
    for case in decimals["cases"]:
        assert decimal_text(Decimal(case["input"])) == case["text"]
    for text in decimals["refused"]:
        with pytest.raises(ValueError):
            decimal_text(Decimal(text))


def rated(record: dict[str, Any]) -> RatedUsage:
    """A rated record from a leaf vector's ``record`` (the fields the leaf does not use are
    filled with anything: the vector shows they do not matter)."""
    start = datetime.fromisoformat(record["start"])
    quantity = Decimal(record["quantity"])
    return RatedUsage(
        source=record["source"],
        record_id=record["record_id"],
        agreement_id=record["agreement_id"],
        agreement_version=record["agreement_version"],
        rate_id="any",
        product="any",
        start=start,
        quantity=quantity,
        unit=record["unit"],
        billed_quantity=quantity,
        billed_unit=record["unit"],
        amount=Decimal(record["amount"]),
        currency=record["currency"],
        direction="outbound",
        window_start=start,
        window_end=start + timedelta(hours=1),
        rated_at=start,
    )


def test_leaves() -> None:
    for case in load("leaves/leaves.json")["cases"]:
        record = rated(case["record"])
        assert leaf_fields(record) == case["leaf_fields"], case["desc"]
        assert leaf_data(record).hex() == case["leaf_data_hex"], case["desc"]
        assert leaf_hash(record).hex() == case["leaf_hash"], case["desc"]


def test_buckets() -> None:
    vector = load("buckets/buckets.json")
    salt = bytes.fromhex(vector["salt"])
    for case in vector["cases"]:
        for depth, bucket in case["bucket_at_depth"].items():
            assert bucket_of(case["usage_key"], int(depth), salt) == bucket


def test_rfc9162_trees() -> None:
    vector = load("merkle/rfc9162.json")
    leaves = [rfc_leaf_hash(bytes.fromhex(d)) for d in vector["leaf_data_hex"]]
    for tree in vector["trees"]:
        size, root = tree["size"], bytes.fromhex(tree["root"])
        assert root_from_hashes(leaves[:size]) == root
        for proof in tree["inclusion"]:
            path = [bytes.fromhex(h) for h in proof["path"]]
            assert inclusion_proof(proof["index"], leaves[:size]) == path
            verify_inclusion(leaves[proof["index"]], proof["index"], size, path, root)


@pytest.mark.parametrize("name", names("batch"))
@pytest.mark.parametrize("native", [False, True] if NATIVE else [False])
def test_batches(name: str, native: bool) -> None:
    vector = load(f"batch/{name}")
    salt, depth = bytes.fromhex(vector["salt"]), vector["depth"]
    pairs = [
        (leaf["leaf_fields"]["key"], bytes.fromhex(leaf["leaf_hash"])) for leaf in vector["leaves"]
    ]
    tree = BatchTree.build(pairs, depth, salt, native=native)
    assert [h.hex() for h in tree.bucket_hashes] == [b["bucket_hash"] for b in vector["buckets"]]
    assert tree.root.hex() == vector["root"] == batch_root(tree.bucket_hashes).hex()
    assert [p.to_json() for p in tree.proofs(k for k, _ in pairs)] == vector["proofs"]
    if "digest" in vector:
        d = vector["digest"]
        digest = digest_hash_of(
            d["party"],
            d["agreement_id"],
            d["window_start_ms"],
            d["window_end_ms"],
            d["revision"],
            d["depth"],
            [bytes.fromhex(h) for h in d["bucket_hashes"]],
            d["leaf_count"],
            bytes.fromhex(d["root"]),
        )
        assert digest.hex() == vector["digest_hash"]


@pytest.mark.parametrize("name", names("proofs"))
def test_record_proofs(name: str) -> None:
    vector = load(f"proofs/{name}")
    assert generate.proof_error(vector) == vector["want_error"], vector["desc"]


def test_keys_and_the_agreement() -> None:
    for key in load("keys.json")["keys"]:
        pair = KeyPair.from_seed(bytes.fromhex(key["seed"]))
        assert (pair.public.raw.hex(), pair.key_id) == (key["public_key"], key["key_id"])
    vector = load("agreement/book.json")
    book = book_hash_of(vector["agreement_id"], vector["versions"]).hex()
    assert book == vector["book_hash"]
    for signature in vector["signatures"]:
        doc = signature["document"]
        assert signature_problems(doc, vector["agreement_id"], book, ["hgc", "dcc"]) == []
    contents = vector["version_contents"]
    for version, content in zip(vector["versions"], contents, strict=True):
        assert (
            hashlib.sha256(tagged("agreement.v1", content.encode())).hexdigest()
            == (version["hash"])
        )
    assert contents == [
        canonical_json(v.canonical()).decode() for v in load_book(generate.AGREEMENT).versions
    ]


def test_trusted_keys() -> None:
    vector = load("trust/trusted-keys.json")
    assert vector["document"] == TRUSTED.to_json()
    assert TrustedKeys.from_json(vector["document"]).parties == TRUSTED.parties
    for case in load("trust/files.json")["cases"]:
        try:
            TrustedKeys.from_json(case["document"])
            valid = True
        except TrustError:
            valid = False
        assert valid == case["want_valid"], case["desc"]
    keys = load("trust/small-order.json")
    for key in keys["refused"]:
        assert is_small_order(bytes.fromhex(key))
        with pytest.raises(KeyFileError, match="small-order"):
            PublicKey.from_hex(key)
    for key in keys["accepted"]:
        assert not is_small_order(bytes.fromhex(key))


@pytest.mark.parametrize("name", names("bundle"))
def test_bundles(name: str) -> None:
    vector = load(f"bundle/{name}")
    trusted = TrustedKeys.from_json(vector["trusted_keys"])
    assert generate.failed_checks(vector["bundle"], trusted) == vector["want_failed"]


@pytest.mark.parametrize("name", names("entries"))
def test_entries(name: str) -> None:
    vector = load(f"entries/{name}")
    entry = entry_from_json(vector["entry"])
    assert entry.signed_bytes().hex() == vector["signed_bytes_hex"]
    assert entry.entry_hash().hex() == vector["entry_hash"]
    assert entry.payload_hash.hex() == vector["payload_hash"]
    assert entry.payload == canonical_json(entry.payload_json())
    public = PublicKey.from_hex(vector["public_key"])
    assert public.key_id == entry.key_id
    assert public.verify(entry.signed_bytes(), entry.signature)


@pytest.mark.parametrize("name", names("chain"))
def test_chains(name: str) -> None:
    vector = load(f"chain/{name}")
    owner = vector["owner"]
    entries = [entry_from_json(e) for e in vector["entries"]]
    trusted = TrustedKeys.from_json(vector["trusted_keys"])
    found = generate.distinct_findings(check_ledger(entries, owner, trusted=trusted))
    assert found == vector["want_chain_findings"], vector["desc"]
    if vector["digests"] is None:
        return
    mine = [e for e in entries if e.party == owner]  # as `bilat ledger check` reads them
    genesis = next(e for e in mine if e.sequence == 0 and e.kind == "genesis")
    stored = check_batches(
        mine,
        generate.unhex_all(vector["digests"]),
        generate.unhex_all(vector["leaf_stores"]),
        bytes.fromhex(genesis.payload_json()["book_hash"]),
    )
    assert generate.distinct_findings(stored) == vector["want_stored_findings"], vector["desc"]
