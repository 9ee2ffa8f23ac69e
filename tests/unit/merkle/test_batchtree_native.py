"""The C build of a batch (streams/merkle/_batchhash.c) against the pure-Python one: the same order,
bucket hashes and root, byte for byte, on every shape of input its code paths treat apart
(AVX2 groups of four and their leftovers, keys longer than a BLAKE2b block, the empty key with
and without a salt, buckets sorted by counting then by quicksort, runs of equal leaf hashes),
and the same errors."""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.merkle.batchtree
import streams.merkle.rfc9162
from streams.merkle.batchtree import NATIVE, BatchTree, bucket_of, verify_record
from streams.merkle.rfc9162 import leaf_hash, leaf_hashes

needs_native = pytest.mark.skipif(
    not NATIVE, reason="streams.merkle._batchhash is not compiled here"
)


def both(
    keys: list[str], hashes: list[bytes], depth: int, salt: bytes
) -> tuple[BatchTree, BatchTree]:
    native = BatchTree.from_columns(keys, hashes, depth, salt, native=True)
    python = BatchTree.from_columns(keys, hashes, depth, salt, native=False)
    return native, python


def assert_same(native: BatchTree, python: BatchTree) -> None:
    assert native.root == python.root
    assert native.bucket_hashes == python.bucket_hashes
    assert native.leaves() == python.leaves()  # the same order, ties included
    assert native.leaf_count == python.leaf_count


keys_strategy = st.lists(
    st.one_of(
        st.text(max_size=12),  # includes "" and non-ASCII
        st.text(min_size=100, max_size=200),  # past one 128-byte block in UTF-8
    ),
    unique=True,
    max_size=60,
)


@needs_native
@settings(max_examples=200, deadline=None)
@given(
    keys=keys_strategy,
    depth=st.integers(0, 10),  # 16 (slow in Python) in the edge-key test
    salt=st.binary(max_size=64),
    seed=st.integers(0, 2**32),
    distinct_hashes=st.integers(1, 8),
)
def test_native_and_python_builds_agree(
    keys: list[str], depth: int, salt: bytes, seed: int, distinct_hashes: int
) -> None:
    rnd = random.Random(seed)
    pool = [rnd.randbytes(32) for _ in range(distinct_hashes)]  # few: equal hashes, ties by key
    hashes = [rnd.choice(pool) if rnd.random() < 0.5 else rnd.randbytes(32) for _ in keys]
    native, python = both(keys, hashes, depth, salt)
    assert_same(native, python)
    for key in keys:
        assert native.proof(key) == python.proof(key)


@needs_native
@pytest.mark.parametrize("salt", [b"", b"k", b"s" * 64])
def test_bucketing_of_edge_keys_matches_hashlib(salt: bytes) -> None:
    keys = ["", "a", "ü" * 64, "x" * 128, "x" * 129, "y" * 300]  # 0, 1, 128, 128, 129, 300 bytes
    hashes = [leaf_hash(k.encode()) for k in keys]
    for depth in (1, 8, 16):
        tree = BatchTree.from_columns(keys, hashes, depth, salt, native=True)
        for key in keys:
            digest = hashlib.blake2b(key.encode(), key=salt, digest_size=8).digest()
            want = int.from_bytes(digest, "big") >> (64 - depth)
            assert bucket_of(key, depth, salt) == want
            assert tree.proof(key).bucket == want
            verify_record(tree.proof(key), tree.root, depth, salt)


@needs_native
@pytest.mark.parametrize(("size", "depth"), [(5_003, 2), (20_000, 4), (3_000, 0)])
def test_large_buckets_agree(size: int, depth: int) -> None:
    """Buckets of hundreds to thousands: the counting pass, then small sorts."""
    keys = [f"cdr-{i:06d}" for i in range(size)]
    hashes = leaf_hashes([key.encode() for key in keys])
    assert_same(*both(keys, hashes, depth, b"agreement-salt"))


@needs_native
def test_a_bucket_of_one_repeated_hash_sorts_by_key() -> None:
    same = leaf_hash(b"same")
    keys = [f"k{i}" for i in random.Random(3).sample(range(500), 500)]
    native, python = both(keys, [same] * len(keys), 0, b"")
    assert_same(native, python)
    assert [key for key, _ in native.leaves()] == sorted(keys)


@needs_native
def test_errors_are_the_same_on_both_paths() -> None:
    keys = ["a", "b", "c", "b", "d", "a"]
    hashes = [leaf_hash(k.encode()) for k in keys]
    for native in (True, False):
        with pytest.raises(ValueError, match=r"usage key given twice: 'a' \(and 1 more\)$"):
            BatchTree.from_columns(keys, hashes, 3, b"s", native=native)
        with pytest.raises(ValueError, match="leaf hash of 'c': got 31 bytes, want 32"):
            short = [*hashes[:2], b"x" * 31]
            BatchTree.from_columns(["a", "b", "c"], short, 3, b"s", native=native)
        with pytest.raises(ValueError, match="leaf hashes: got 2, want one per key"):
            BatchTree.from_columns(["a", "b", "c"], hashes[:2], 3, b"s", native=native)
        with pytest.raises(ValueError, match="depth: got 17"):
            BatchTree.from_columns([], [], 17, b"s", native=native)
    with pytest.raises(TypeError, match="usage key 1: got int, want str"):
        BatchTree.from_columns(["a", 7], hashes[:2], 3, b"s", native=True)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="leaf hash of 'a': got str, want bytes"):
        BatchTree.from_columns(["a"], ["ab" * 16], 3, b"s", native=True)  # type: ignore[list-item]


@needs_native
def test_native_leaf_hashes_equal_hashlib() -> None:
    rnd = random.Random(7)
    datas = [rnd.randbytes(rnd.randrange(0, 400)) for _ in range(1_001)]
    assert leaf_hashes(datas) == [leaf_hash(d) for d in datas]
    assert leaf_hashes(tuple(datas[:3])) == [leaf_hash(d) for d in datas[:3]]
    with pytest.raises(TypeError, match="leaf data 1: got str, want bytes"):
        leaf_hashes([b"a", "b"])  # type: ignore[list-item]


def test_leaf_hashes_without_the_c_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams.merkle.rfc9162, "_native", None)
    assert leaf_hashes([b"a", b""]) == [leaf_hash(b"a"), leaf_hash(b"")]
    with pytest.raises(TypeError, match="leaf data 0: got str, want bytes"):
        leaf_hashes(["a"])  # type: ignore[list-item]


def test_requiring_the_c_build_where_it_is_missing_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams.merkle.batchtree, "_native", None)
    with pytest.raises(RuntimeError, match="apt-get install gcc libssl-dev python3-dev"):
        BatchTree.build([], 2, b"s", native=True)
    assert BatchTree.build([], 2, b"s", native=False).leaf_count == 0


@pytest.mark.skipif(
    os.environ.get("BILAT_EXPECT_NATIVE") != "1", reason="only where the C build is expected"
)
def test_the_c_build_is_in_use() -> None:
    """CI sets BILAT_EXPECT_NATIVE=1: a build that silently fell back to Python fails here."""
    assert streams.merkle.batchtree.NATIVE
