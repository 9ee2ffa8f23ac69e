"""The bucketed batch: build, prove, verify; bucketing by key only; reconciliation by bucket;
proof JSON; every mutation of a record proof rejected."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.merkle.batchtree
from streams.merkle.batchtree import (
    NATIVE,
    BatchTree,
    RecordProof,
    batch_root,
    bucket_of,
    bucket_root,
    differing_buckets,
    verify_record,
)
from streams.merkle.rfc9162 import (
    EMPTY_ROOT,
    MerkleError,
    ProofError,
    RootMismatchError,
    leaf_hash,
    node_hash,
    root_from_hashes,
)

SALT = b"agreement-salt"


def record(key: str, amount: str = "1.00") -> bytes:
    """Stand-in for the canonical leaf encoding: only its hash matters here."""
    return json.dumps({"usage_key": key, "amount": amount}, sort_keys=True).encode()


def leaves(n: int, amount: str = "1.00", prefix: str = "cdr") -> list[tuple[str, bytes]]:
    return [(f"{prefix}-{i:04d}", leaf_hash(record(f"{prefix}-{i:04d}", amount))) for i in range(n)]


@pytest.fixture(autouse=True, params=["native", "python"])
def build_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both builds of a batch: the C one and the pure-Python one."""
    if request.param == "native" and not NATIVE:
        pytest.skip("the C module streams.merkle._batchhash is not compiled here")
    monkeypatch.setattr(streams.merkle.batchtree, "NATIVE", request.param == "native")
    return str(request.param)


def flip(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


# --- bucketing -----------------------------------------------------------------------------


def test_bucket_is_the_leading_bits_of_the_keyed_blake2b_of_the_key() -> None:
    digest = hashlib.blake2b(b"cdr-0001", key=SALT, digest_size=8).digest()
    assert digest.hex() == "57bbef82731aa2cd"
    assert [bucket_of("cdr-0001", d, SALT) for d in (0, 1, 4, 8, 16)] == [0, 0, 5, 0x57, 0x57BB]
    # pinned, so that a change of the bucketing (which would split the parties) is noticed
    assert [bucket_of("cdr-0002", d, SALT) for d in (0, 1, 4, 8, 16)] == [0, 1, 15, 240, 61629]
    assert bucket_of("ü-naïve-key", 16, SALT) == 8698  # UTF-8


def test_bucket_depends_on_the_salt() -> None:
    keys = [key for key, _ in leaves(64)]
    assert [bucket_of(k, 8, SALT) for k in keys] != [bucket_of(k, 8, b"other") for k in keys]


def test_bucket_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="depth: got 17, want 0 <= depth <= 16"):
        bucket_of("k", 17, SALT)
    with pytest.raises(ValueError, match="depth: got -1"):
        BatchTree.build([], -1, SALT)
    with pytest.raises(ValueError, match="salt: got 65 bytes, want bytes, at most 64"):
        BatchTree.build([], 4, b"s" * 65)
    with pytest.raises(ValueError, match="depth: got '4'"):  # e.g. from a JSON bundle
        verify_record(PROOF, TREE.root, "4", SALT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="salt: got 'ab'"):
        bucket_of("k", 4, "ab")  # type: ignore[arg-type]


def test_buckets_do_not_depend_on_amounts() -> None:
    """Both parties bucket a record alike even when they disagree on its amount."""
    ours = BatchTree.build(leaves(300, "1.00"), 6, SALT)
    theirs = BatchTree.build(leaves(300, "2.50"), 6, SALT)
    for bucket in range(64):
        assert {k for k, _ in ours.bucket_leaves(bucket)} == {
            k for k, _ in theirs.bucket_leaves(bucket)
        }
    assert ours.root != theirs.root


# --- the structure, by hand --------------------------------------------------------------------


def test_root_of_depth_one_by_hand() -> None:
    pairs = leaves(5)
    tree = BatchTree.build(pairs, 1, SALT)
    by_bucket: dict[int, list[bytes]] = {0: [], 1: []}
    for key, hashed in pairs:
        by_bucket[bucket_of(key, 1, SALT)].append(hashed)
    b0, b1 = (root_from_hashes(sorted(by_bucket[b])) for b in (0, 1))
    assert tree.bucket_hashes == (b0, b1)
    assert tree.root == node_hash(leaf_hash(b0), leaf_hash(b1))
    assert tree.root == batch_root(tree.bucket_hashes)
    assert (tree.depth, tree.salt, tree.leaf_count) == (1, SALT, 5)


def test_depth_zero_is_one_bucket_under_a_leaf_hash() -> None:
    pairs = leaves(7)
    tree = BatchTree.build(pairs, 0, SALT)
    assert tree.bucket_hashes == (root_from_hashes(sorted(h for _, h in pairs)),)
    assert tree.root == leaf_hash(tree.bucket_hashes[0])


def test_empty_batch_has_empty_buckets() -> None:
    tree = BatchTree.build([], 3, SALT)
    assert tree.bucket_hashes == (EMPTY_ROOT,) * 8
    assert tree.root == root_from_hashes([leaf_hash(EMPTY_ROOT)] * 8)
    assert tree.leaf_count == 0
    assert tree.leaves() == []


def test_bucket_hash_is_the_root_of_its_leaves_in_hash_order() -> None:
    tree = BatchTree.build(leaves(200), 4, SALT)
    for bucket in range(16):
        pairs = tree.bucket_leaves(bucket)
        hashes = [h for _, h in pairs]
        assert hashes == sorted(hashes)
        assert all(bucket_of(k, 4, SALT) == bucket for k, _ in pairs)
        assert tree.bucket_hashes[bucket] == root_from_hashes(hashes)
        assert tree.bucket_hashes[bucket] == bucket_root(reversed(hashes))
    assert tree.leaves() == [p for b in range(16) for p in tree.bucket_leaves(b)]
    assert sorted(tree.leaves()) == sorted(leaves(200))


# --- build / prove / verify ---------------------------------------------------------------


@pytest.mark.parametrize("depth", [0, 1, 4, 8])
@pytest.mark.parametrize("size", [1, 2, 3, 17, 150])
def test_every_record_proves_and_verifies(depth: int, size: int) -> None:
    pairs = leaves(size)
    tree = BatchTree.build(pairs, depth, SALT)
    assert len(tree.bucket_hashes) == 1 << depth
    assert tree.leaf_count == size
    for key, hashed in pairs:
        proof = tree.proof(key)
        assert (proof.usage_key, proof.leaf_hash) == (key, hashed)
        assert proof.bucket == bucket_of(key, depth, SALT)
        assert len(proof.top_path) == depth
        verify_record(proof, tree.root, depth, SALT)
        verify_record(proof, tree.root, depth, SALT, leaf_data=record(key))
        assert RecordProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(0, 300),
    depth=st.sampled_from([0, 1, 2, 4, 8]),
    seed=st.integers(0, 2**32),
)
def test_insertion_order_does_not_change_the_root(size: int, depth: int, seed: int) -> None:
    pairs = leaves(size)
    shuffled = pairs[:]
    random.Random(seed).shuffle(shuffled)
    tree = BatchTree.build(pairs, depth, SALT)
    other = BatchTree.build(iter(shuffled), depth, SALT)  # any iterable
    assert other.root == tree.root
    assert other.bucket_hashes == tree.bucket_hashes
    assert other.leaves() == tree.leaves()
    if size:
        key = shuffled[0][0]
        verify_record(other.proof(key), tree.root, depth, SALT)


def test_duplicate_key_is_rejected_by_name() -> None:
    pairs = [*leaves(10), ("cdr-0003", leaf_hash(b"again"))]
    with pytest.raises(ValueError, match=r"usage key given twice: 'cdr-0003'$"):
        BatchTree.build(pairs, 4, SALT)
    pairs.append(("cdr-0007", leaf_hash(b"again")))
    with pytest.raises(ValueError, match=r"'cdr-0003' \(and 1 more\)"):
        BatchTree.build(pairs, 4, SALT)


def test_leaf_hash_of_the_wrong_length_is_rejected_by_key() -> None:
    pairs = [*leaves(3), ("short", b"\x00" * 31)]
    with pytest.raises(ValueError, match="leaf hash of 'short': got 31 bytes, want 32"):
        BatchTree.build(pairs, 2, SALT)


def test_proofs_of_many_records_equal_their_single_proofs() -> None:
    tree = BatchTree.build(leaves(300), 3, SALT)
    keys = [key for key, _ in reversed(leaves(300))]
    assert tree.proofs(keys) == [tree.proof(key) for key in keys]
    assert tree.proofs([]) == []


def test_absent_key_has_no_proof() -> None:
    tree = BatchTree.build(leaves(10), 2, SALT)
    with pytest.raises(KeyError, match="nope"):
        tree.proof("nope")
    with pytest.raises(KeyError, match="nope"):
        tree.proofs(["cdr-0001", "nope"])
    with pytest.raises(KeyError):
        BatchTree.build([], 2, SALT).proof("cdr-0001")
    with pytest.raises(ValueError, match="bucket: got 4, want 0 <= bucket < 4"):
        tree.bucket_leaves(4)


def test_equal_leaf_hashes_under_different_keys_still_prove() -> None:
    same = leaf_hash(b"encoding without the key")
    tree = BatchTree.build([("a", same), ("b", same), ("c", same)], 0, SALT)
    for key in "abc":
        verify_record(tree.proof(key), tree.root, 0, SALT)
    assert tree.bucket_leaves(0) == [("a", same), ("b", same), ("c", same)]


# --- reconciliation -------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 4, 8])
def test_differing_buckets_are_exactly_those_of_the_differing_records(depth: int) -> None:
    ours = dict(leaves(500))
    theirs = dict(ours)
    rnd = random.Random(depth)
    changed = rnd.sample(sorted(ours), 3)
    for key in changed:  # amount mismatch
        theirs[key] = leaf_hash(record(key, "9.99"))
    missing = rnd.choice(sorted(set(ours) - set(changed)))
    del theirs[missing]  # missing on their side
    theirs["extra-1"] = leaf_hash(record("extra-1"))  # only on their side
    a = BatchTree.build(ours.items(), depth, SALT)
    b = BatchTree.build(theirs.items(), depth, SALT)
    want = sorted({bucket_of(k, depth, SALT) for k in [*changed, missing, "extra-1"]})
    assert differing_buckets(a.bucket_hashes, b.bucket_hashes) == want
    for bucket in want:  # only these buckets' leaves need to cross
        assert a.bucket_leaves(bucket) != b.bucket_leaves(bucket)
        assert bucket_root(h for _, h in b.bucket_leaves(bucket)) == b.bucket_hashes[bucket]


def test_equal_batches_have_no_differing_buckets() -> None:
    a = BatchTree.build(leaves(50), 4, SALT)
    b = BatchTree.build(reversed(leaves(50)), 4, SALT)
    assert differing_buckets(a.bucket_hashes, b.bucket_hashes) == []


def test_digests_of_different_depths_cannot_be_compared() -> None:
    with pytest.raises(ProofError, match="bucket hashes: got 8, want 16"):
        differing_buckets([EMPTY_ROOT] * 16, [EMPTY_ROOT] * 8)


def test_a_digest_is_checked_against_the_anchored_root() -> None:
    tree = BatchTree.build(leaves(40), 3, SALT)
    assert batch_root(tree.bucket_hashes) == tree.root
    forged = list(tree.bucket_hashes)
    forged[5] = flip(forged[5])
    assert batch_root(forged) != tree.root
    with pytest.raises(ProofError, match="bucket hashes: got 7, want 2\\*\\*d"):
        batch_root(tree.bucket_hashes[:7])
    with pytest.raises(ProofError, match="bucket hash 2: got 3 bytes, want 32"):
        batch_root([EMPTY_ROOT, EMPTY_ROOT, b"abc", EMPTY_ROOT])


# --- proof JSON --------------------------------------------------------------------------------

TREE = BatchTree.build(leaves(120), 4, SALT)
KEY = "cdr-0042"
PROOF = TREE.proof(KEY)


def test_proof_json_is_plain_and_round_trips() -> None:
    data = PROOF.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["leaf_hash"] == PROOF.leaf_hash.hex()
    assert set(data) == {
        "usage_key", "leaf_hash", "bucket", "index", "bucket_size", "bucket_path", "top_path"
    }  # fmt: skip
    assert RecordProof.from_json(data) == PROOF


def test_proof_json_lists_every_problem() -> None:
    data = PROOF.to_json() | {
        "usage_key": 7,
        "leaf_hash": "zz",
        "index": -1,
        "bucket_size": True,
        "bucket_path": ["00" * 31],
        "top_path": "not a list",
        "extra": 1,
    }
    with pytest.raises(ProofError) as caught:
        RecordProof.from_json(data)
    assert caught.value.problems == (
        "field 'usage_key': got 7, want a non-empty string",
        "field 'leaf_hash': got 'zz', want 64 lowercase hex digits",
        "field 'index': got -1, want an integer >= 0",
        "field 'bucket_size': got True, want an integer >= 1",
        f"field 'bucket_path[0]': got '{'00' * 31}', want 64 lowercase hex digits",
        "field 'top_path': got 'not a list', want a list of hex hashes",
        "unknown fields: got ['extra'], want none",
    )
    assert "7 problems" in str(caught.value)


def test_proof_json_has_one_spelling_of_a_hash() -> None:
    upper = PROOF.to_json() | {"leaf_hash": PROOF.leaf_hash.hex().upper()}
    with pytest.raises(ProofError, match="want 64 lowercase hex digits"):
        RecordProof.from_json(upper)


def test_proof_json_rejects_missing_fields_and_index_beyond_the_bucket() -> None:
    data = PROOF.to_json()
    del data["bucket"]
    data["index"] = data["bucket_size"]
    with pytest.raises(ProofError) as caught:
        RecordProof.from_json(data)
    assert caught.value.problems == (
        "field 'bucket': got None, want an integer >= 0",
        f"field 'index': got {PROOF.bucket_size}, want < bucket_size {PROOF.bucket_size}",
    )
    with pytest.raises(ProofError, match="got list, want a JSON object"):
        RecordProof.from_json([])  # type: ignore[arg-type]


# --- one test per mutation of a record proof ----------------------------------------------


def verify(proof: RecordProof, **change: object) -> None:
    verify_record(dataclasses.replace(proof, **change), TREE.root, 4, SALT)  # type: ignore[arg-type]


def test_record_proof_verifies_unchanged() -> None:
    verify(PROOF)
    verify_record(PROOF, TREE.root, 4, SALT, leaf_data=record(KEY))


def test_record_proof_rejects_another_bucket() -> None:
    with pytest.raises(ProofError, match=f"bucket of '{KEY}': got {(PROOF.bucket + 1) % 16}"):
        verify(PROOF, bucket=(PROOF.bucket + 1) % 16)


def test_record_proof_rejects_another_index() -> None:
    for index in range(PROOF.bucket_size):
        if index == PROOF.index:
            continue
        with pytest.raises(MerkleError):
            verify(PROOF, index=index)
    with pytest.raises(ProofError, match="index: got"):
        verify(PROOF, index=PROOF.bucket_size)


def test_record_proof_rejects_a_tampered_bucket_path_node() -> None:
    for i in range(len(PROOF.bucket_path)):
        path = list(PROOF.bucket_path)
        path[i] = flip(path[i])
        with pytest.raises(RootMismatchError):
            verify(PROOF, bucket_path=tuple(path))


def test_record_proof_rejects_a_tampered_top_path_node() -> None:
    for i in range(len(PROOF.top_path)):
        path = list(PROOF.top_path)
        path[i] = flip(path[i])
        with pytest.raises(RootMismatchError):
            verify(PROOF, top_path=tuple(path))


def test_record_proof_rejects_a_truncated_path() -> None:
    with pytest.raises(ProofError):
        verify(PROOF, bucket_path=PROOF.bucket_path[:-1])
    with pytest.raises(ProofError, match="proof: got 3 nodes, want 4"):
        verify(PROOF, top_path=PROOF.top_path[:-1])


def test_record_proof_rejects_a_tampered_leaf_hash() -> None:
    with pytest.raises(RootMismatchError):
        verify(PROOF, leaf_hash=leaf_hash(record(KEY, "0.01")))


def test_record_proof_rejects_the_wrong_salt() -> None:
    other = b"another agreement"
    assert bucket_of(KEY, 4, other) != PROOF.bucket  # so the failure is the bucket check
    with pytest.raises(ProofError, match="bucket of"):
        verify_record(PROOF, TREE.root, 4, other)


def test_record_proof_rejects_the_wrong_depth() -> None:
    with pytest.raises(MerkleError):
        verify_record(PROOF, TREE.root, 5, SALT)
    with pytest.raises(MerkleError):
        verify_record(PROOF, TREE.root, 3, SALT)


def test_record_proof_rejects_the_wrong_root() -> None:
    other = BatchTree.build(leaves(121), 4, SALT)
    with pytest.raises(RootMismatchError) as caught:
        verify_record(PROOF, other.root, 4, SALT)
    assert caught.value.want == other.root


def test_record_proof_relabelled_with_another_key_is_caught_only_with_the_leaf_data() -> None:
    """The proof binds a leaf *hash* to a bucket; the record's bytes bind it to the key."""
    same_bucket = next(
        k for k, _ in TREE.leaves() if k != KEY and bucket_of(k, 4, SALT) == PROOF.bucket
    )
    relabelled = dataclasses.replace(PROOF, usage_key=same_bucket)
    verify_record(relabelled, TREE.root, 4, SALT)  # membership of the hash: true
    with pytest.raises(RootMismatchError) as caught:
        verify_record(relabelled, TREE.root, 4, SALT, leaf_data=record(same_bucket))
    assert caught.value.what == "leaf hash"
    other_bucket = next(k for k, _ in TREE.leaves() if bucket_of(k, 4, SALT) != PROOF.bucket)
    with pytest.raises(ProofError):
        verify(PROOF, usage_key=other_bucket)
