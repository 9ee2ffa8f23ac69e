"""RFC 9162 Merkle trees: golden vectors, a naive reference from the RFC text, properties, and
one test per mutation that verification must reject.

Golden vectors: the standard Certificate Transparency test data, as published in
transparency-dev/merkle ``testonly/constants.go`` (leaf inputs, node hashes of every complete
subtree, roots of every prefix) and ``proof/verify_test.go`` (inclusion and consistency
proofs); they descend from google/certificate-transparency's ``merkle_tree_test.cc``. The Go
tests number leaves from 1; here ``index`` is 0-based.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.errors import BilatError
from streams.merkle.rfc9162 import (
    EMPTY_ROOT,
    MerkleError,
    ProofError,
    RootMismatchError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    path_from_levels,
    root_from_hashes,
    root_from_inclusion,
    tree_levels,
    verify_consistency,
    verify_inclusion,
)


def h(hex_digits: str) -> bytes:
    return bytes.fromhex(hex_digits)


LEAF_INPUTS = [h(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                              "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]

ROOTS = [h(x) for x in [  # by tree size, 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]  # fmt: skip

NODE_HASHES = [[h(x) for x in level] for level in [  # [level][index] of complete subtrees
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]]  # fmt: skip

# (index, tree size, proof)
INCLUSION_VECTORS = [
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]  # fmt: skip

# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]  # fmt: skip

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


# --- the naive reference, straight from RFC 9162 §2.1 ----------------------------------------
# Over leaf *data*, with its own SHA-256 calls: shares no code with streams.merkle.rfc9162.


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of §2.1.1."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = ref_k(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of §2.1.4.1, 0 < m < n."""
    return ref_subproof(m, d, True)


# Leaf data of varied lengths (empty included) for the exhaustive and property tests.
DATA = [bytes([i % 251]) * (i % 7) + i.to_bytes(2, "big") for i in range(320)]
DATA[0] = b""
DATA_HASHES = [leaf_hash(x) for x in DATA]


def flip(node: bytes, bit: int = 3) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


# --- hashing and the golden vectors --------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]
    assert root_from_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"ab") == hashlib.sha256(b"\x00ab").digest()
    assert (
        node_hash(LEAVES[0], LEAVES[1]) == hashlib.sha256(b"\x01" + LEAVES[0] + LEAVES[1]).digest()
    )
    assert node_hash(LEAVES[0], LEAVES[1]) != leaf_hash(LEAVES[0] + LEAVES[1])


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix_matches_the_published_roots(size: int) -> None:
    assert root_from_hashes(LEAVES[:size]) == ROOTS[size]
    assert ref_mth(LEAF_INPUTS[:size]) == ROOTS[size]  # the reference agrees with CT, too


def test_leaf_hashes_and_complete_subtrees_match_the_published_node_hashes() -> None:
    levels = tree_levels(LEAVES)
    for level, nodes in enumerate(NODE_HASHES):
        assert list(levels[level]) == nodes
        for j, node in enumerate(nodes):
            assert root_from_hashes(LEAVES[j << level : (j + 1) << level]) == node


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_published_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, LEAVES[:size]) == proof
    verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])
    assert root_from_inclusion(LEAVES[index], index, size, proof) == ROOTS[size]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_published_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, LEAVES[:new]) == proof
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_single_leaf_tree_has_an_empty_path_and_its_leaf_as_root() -> None:
    assert inclusion_proof(0, LEAVES[:1]) == []
    verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])
    assert ROOTS[1] == LEAVES[0]


# --- against the reference -----------------------------------------------------------------


def test_every_root_path_and_proof_of_small_trees_matches_the_reference() -> None:
    for n in range(1, 34):
        data, hashes = DATA[:n], DATA_HASHES[:n]
        root = root_from_hashes(hashes)
        assert root == ref_mth(data)
        levels = tree_levels(hashes)
        for m in range(n):
            path = inclusion_proof(m, hashes)
            assert path == ref_path(m, data) == path_from_levels(levels, m)
            verify_inclusion(hashes[m], m, n, path, root)
        for m in range(1, n):
            proof = consistency_proof(m, hashes)
            assert proof == ref_proof(m, data)
            verify_consistency(m, n, ref_mth(data[:m]), root, proof)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 300))
def test_root_matches_the_reference(n: int) -> None:
    assert root_from_hashes(DATA_HASHES[:n]) == ref_mth(DATA[:n])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 300))
def test_inclusion_proof_matches_the_reference_and_verifies(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, DATA_HASHES[:n])
    assert proof == ref_path(m, DATA[:n])
    verify_inclusion(DATA_HASHES[m], m, n, proof, ref_mth(DATA[:n]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, 300))
def test_consistency_proof_matches_the_reference_and_verifies(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(m, DATA_HASHES[:n])
    assert proof == ref_proof(m, DATA[:n])
    verify_consistency(m, n, ref_mth(DATA[:m]), ref_mth(DATA[:n]), proof)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, 300))
def test_any_flipped_bit_in_an_inclusion_proof_is_rejected(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, DATA_HASHES[:n])
    i = data.draw(st.integers(0, len(proof) - 1))
    byte, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    node = bytearray(proof[i])
    node[byte] ^= 1 << bit
    proof[i] = bytes(node)
    with pytest.raises(RootMismatchError):
        verify_inclusion(DATA_HASHES[m], m, n, proof, root_from_hashes(DATA_HASHES[:n]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, 300))
def test_any_flipped_bit_in_a_consistency_proof_is_rejected(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(m, DATA_HASHES[:n])
    i = data.draw(st.integers(0, len(proof) - 1))
    proof[i] = flip(proof[i], data.draw(st.integers(0, 7)))
    old, new = root_from_hashes(DATA_HASHES[:m]), root_from_hashes(DATA_HASHES[:n])
    with pytest.raises(RootMismatchError):
        verify_consistency(m, n, old, new, proof)


# --- inclusion: one test per mutation --------------------------------------------------------

INCLUSION_IDS = [f"leaf{i}-of-{n}" for i, n, _ in INCLUSION_VECTORS]


def verify_vector(index: int, size: int, proof: Sequence[bytes], /, **change: object) -> None:
    """verify_inclusion of a published vector with some arguments changed."""
    args: dict[str, object] = {"leaf_hash": LEAVES[index], "index": index, "size": size,
                               "proof": proof, "root": ROOTS[size]}  # fmt: skip
    args.update(change)
    verify_inclusion(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_wrong_leaf(index: int, size: int, proof: list[bytes]) -> None:
    with pytest.raises(RootMismatchError):
        verify_vector(index, size, proof, leaf_hash=leaf_hash(b"wrong leaf"))


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_leaf_hash_of_the_wrong_length(
    index: int, size: int, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError, match="leaf hash: got 9 bytes, want 32"):
        verify_vector(index, size, proof, leaf_hash=b"WrongLeaf")


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_wrong_root(index: int, size: int, proof: list[bytes]) -> None:
    for root in (EMPTY_ROOT, SOME_HASH, ROOTS[size - 1]):
        with pytest.raises(RootMismatchError) as caught:
            verify_vector(index, size, proof, root=root)
        assert caught.value.got == ROOTS[size]
        assert caught.value.want == root
        assert f"got {ROOTS[size].hex()}, want {root.hex()}" in str(caught.value)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_wrong_index(index: int, size: int, proof: list[bytes]) -> None:
    """Another index with a path of the same length leads to another root; one with a path
    of another length is malformed."""
    for other in range(size):
        if other == index:
            continue
        same_shape = len(ref_path(other, LEAF_INPUTS[:size])) == len(proof)
        with pytest.raises(RootMismatchError if same_shape else ProofError):
            verify_vector(index, size, proof, index=other)


def test_inclusion_rejects_an_index_not_below_the_size() -> None:
    index, size, proof = INCLUSION_VECTORS[1]
    for bad in (size, size + 1, -1):
        with pytest.raises(ProofError, match=f"index: got {bad}, want 0 <= index < size {size}"):
            verify_vector(index, size, proof, index=bad)


def test_inclusion_rejects_an_empty_tree() -> None:
    with pytest.raises(ProofError, match="index: got 0, want 0 <= index < size 0"):
        verify_inclusion(SOME_HASH, 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_wrong_size(index: int, size: int, proof: list[bytes]) -> None:
    """Another height: the path has the wrong length, or the index is beyond the tree."""
    for other in (size * 2, size // 2):
        with pytest.raises(ProofError):
            verify_vector(index, size, proof, size=other)


def test_inclusion_proof_alone_does_not_bind_the_tree_size() -> None:
    """RFC 9162 property, not a bug: for a given index, a size whose path has the same length
    also takes the same left/right turns, so it recomputes the same root (leaf 0 of 8 "is"
    leaf 0 of 5, 6 or 7). The size is bound by what is signed with the root (an STH; in
    Bilat the anchor's leaf count, and 2**depth for the top tree).
    """
    for index, size, proof in INCLUSION_VECTORS:
        for other in range(index + 1, 2 * size):
            if len(ref_path(index, [b""] * other)) == len(proof):
                verify_vector(index, size, proof, size=other)
            else:
                with pytest.raises(ProofError):
                    verify_vector(index, size, proof, size=other)
    verify_vector(0, 8, INCLUSION_VECTORS[0][2], size=5)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_truncated_proof(index: int, size: int, proof: list[bytes]) -> None:
    with pytest.raises(ProofError, match=f"proof: got {len(proof) - 1} nodes, want {len(proof)}"):
        verify_vector(index, size, proof, proof=proof[:-1])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_an_extended_proof(index: int, size: int, proof: list[bytes]) -> None:
    for extra in (ROOTS[size], SOME_HASH):
        with pytest.raises(ProofError, match=f"got {len(proof) + 1} nodes, want {len(proof)}"):
            verify_vector(index, size, proof, proof=[*proof, extra])
        with pytest.raises(ProofError):
            verify_vector(index, size, proof, proof=[extra, *proof])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_an_inserted_node(index: int, size: int, proof: list[bytes]) -> None:
    with pytest.raises(ProofError):
        verify_vector(index, size, proof, proof=[proof[0], SOME_HASH, *proof[1:]])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS, ids=INCLUSION_IDS)
def test_inclusion_rejects_a_flipped_bit_in_any_node(
    index: int, size: int, proof: list[bytes]
) -> None:
    for i in range(len(proof)):
        with pytest.raises(RootMismatchError):
            verify_vector(index, size, proof, proof=[*proof[:i], flip(proof[i]), *proof[i + 1 :]])


@pytest.mark.parametrize(
    ("index", "size", "proof"), [v for v in INCLUSION_VECTORS if len(v[2]) > 1]
)
def test_inclusion_rejects_swapped_nodes(index: int, size: int, proof: list[bytes]) -> None:
    with pytest.raises(RootMismatchError):
        verify_vector(index, size, proof, proof=[proof[1], proof[0], *proof[2:]])


def test_inclusion_rejects_a_node_of_the_wrong_length() -> None:
    index, size, proof = INCLUSION_VECTORS[1]
    with pytest.raises(ProofError, match="proof\\[1\\]: got 31 bytes, want 32") as caught:
        verify_vector(index, size, proof, proof=[proof[0], proof[1][:-1], proof[2]])
    assert caught.value.problems == ("proof[1]: got 31 bytes, want 32",)


def test_inclusion_rejects_a_root_of_the_wrong_length() -> None:
    index, size, proof = INCLUSION_VECTORS[1]
    with pytest.raises(ProofError, match="root: got 0 bytes, want 32"):
        verify_vector(index, size, proof, root=b"")


def test_inclusion_reports_every_problem_at_once() -> None:
    with pytest.raises(ProofError) as caught:
        verify_inclusion(b"x", 0, 8, [b"y"], ROOTS[8])
    assert caught.value.problems == (
        "proof: got 1 nodes, want 3",
        "proof[0]: got 1 bytes, want 32",
        "leaf hash: got 1 bytes, want 32",
    )


# --- consistency: one test per mutation ------------------------------------------------------

CONSISTENCY_IDS = [f"{m}-to-{n}" for m, n, _ in CONSISTENCY_VECTORS]


def verify_cvector(old: int, new: int, proof: Sequence[bytes], /, **change: object) -> None:
    """verify_consistency of a published vector with some arguments changed."""
    args: dict[str, object] = {"old_size": old, "new_size": new, "old_root": ROOTS[old],
                               "new_root": ROOTS[new], "proof": proof}  # fmt: skip
    args.update(change)
    verify_consistency(**args)  # type: ignore[arg-type]


def consistency_shape(old: int, new: int) -> int:
    return len(ref_proof(old, [b""] * new))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_swapped_roots(old: int, new: int, proof: list[bytes]) -> None:
    with pytest.raises(RootMismatchError):
        verify_cvector(old, new, proof, old_root=ROOTS[new], new_root=ROOTS[old])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_wrong_old_root(old: int, new: int, proof: list[bytes]) -> None:
    """When the old tree is a complete subtree (old size a power of two), the old root is
    the proof's seed, and a wrong one surfaces as a wrong new root."""
    with pytest.raises(RootMismatchError) as caught:
        verify_cvector(old, new, proof, old_root=SOME_HASH)
    assert caught.value.what == ("new root" if old & (old - 1) == 0 else "old root")


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_wrong_new_root(old: int, new: int, proof: list[bytes]) -> None:
    with pytest.raises(RootMismatchError) as caught:
        verify_cvector(old, new, proof, new_root=SOME_HASH)
    assert (caught.value.what, caught.value.got, caught.value.want) == (
        "new root", ROOTS[new], SOME_HASH,
    )  # fmt: skip


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_old_size_above_new_size(
    old: int, new: int, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError, match=f"old_size: got {new}, want <= new_size {old}"):
        verify_cvector(old, new, proof, old_size=new, new_size=old)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_wrong_old_size(old: int, new: int, proof: list[bytes]) -> None:
    for other in {old - 1, old + 1, old ^ 2} - {0, old}:
        want = RootMismatchError if consistency_shape(other, new) == len(proof) else ProofError
        with pytest.raises(want):
            verify_cvector(old, new, proof, old_size=other)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_wrong_new_size(old: int, new: int, proof: list[bytes]) -> None:
    """Another height, or a new size not above the old one: malformed. (As for inclusion, a
    new size with the same turns is not caught by the proof: the signed head binds it.)"""
    for other in (new * 2, old, old - 1):
        with pytest.raises(ProofError):
            verify_cvector(old, new, proof, new_size=other)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_an_empty_proof(old: int, new: int, proof: list[bytes]) -> None:
    with pytest.raises(ProofError, match=f"proof: got 0 nodes, want {len(proof)}"):
        verify_cvector(old, new, proof, proof=[])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_truncated_proof(old: int, new: int, proof: list[bytes]) -> None:
    with pytest.raises(ProofError, match=f"got {len(proof) - 1} nodes, want {len(proof)}"):
        verify_cvector(old, new, proof, proof=proof[:-1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_an_extended_proof(old: int, new: int, proof: list[bytes]) -> None:
    for extra in (ROOTS[old], ROOTS[new], proof[0]):
        with pytest.raises(ProofError, match=f"got {len(proof) + 1} nodes, want {len(proof)}"):
            verify_cvector(old, new, proof, proof=[*proof, extra])
        with pytest.raises(ProofError):
            verify_cvector(old, new, proof, proof=[extra, *proof])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS, ids=CONSISTENCY_IDS)
def test_consistency_rejects_a_flipped_bit_in_any_node(
    old: int, new: int, proof: list[bytes]
) -> None:
    for i in range(len(proof)):
        with pytest.raises(RootMismatchError):
            verify_cvector(old, new, proof, proof=[*proof[:i], flip(proof[i], 4), *proof[i + 1 :]])


def test_consistency_rejects_roots_and_nodes_of_the_wrong_length() -> None:
    old, new, proof = CONSISTENCY_VECTORS[1]
    with pytest.raises(ProofError) as caught:
        verify_cvector(old, new, proof, old_root=b"WrongRoot", proof=[proof[0][:16], *proof[1:]])
    assert caught.value.problems == ("old root: got 9 bytes, want 32",)
    with pytest.raises(ProofError, match="proof\\[0\\]: got 16 bytes, want 32"):
        verify_cvector(old, new, proof, proof=[proof[0][:16], *proof[1:]])


def test_consistency_rejects_a_negative_size() -> None:
    with pytest.raises(ProofError, match="old_size: got -1, want >= 0"):
        verify_consistency(-1, 3, EMPTY_ROOT, ROOTS[3], [])


def test_consistency_of_equal_sizes_needs_equal_roots_and_no_proof() -> None:
    verify_consistency(1, 1, ROOTS[1], ROOTS[1], [])
    verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert consistency_proof(8, LEAVES) == []
    with pytest.raises(RootMismatchError):
        verify_consistency(8, 8, ROOTS[8], ROOTS[7], [])
    with pytest.raises(ProofError, match="proof: got 1 nodes, want 0"):
        verify_consistency(8, 8, ROOTS[8], ROOTS[8], [EMPTY_ROOT])


def test_consistency_from_the_empty_tree_needs_the_empty_root_and_no_proof() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert consistency_proof(0, LEAVES) == []
    with pytest.raises(ProofError, match="proof: got 1 nodes, want 0"):
        verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    with pytest.raises(RootMismatchError) as caught:
        verify_consistency(0, 5, SOME_HASH, ROOTS[5], [])
    assert caught.value.what == "old root"
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 0, EMPTY_ROOT, SOME_HASH, [])


# --- preconditions of building ---------------------------------------------------------------


def test_building_rejects_hashes_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaf hash 1: got 3 bytes, want 32"):
        root_from_hashes([LEAVES[0], b"abc"])
    with pytest.raises(ValueError, match="leaf hash 0"):
        inclusion_proof(0, [b"abc"])
    with pytest.raises(ValueError, match="leaf hash 2"):
        consistency_proof(1, [LEAVES[0], LEAVES[1], b""])


def test_building_rejects_indices_out_of_range() -> None:
    with pytest.raises(ValueError, match="index: got 8, want 0 <= index < 8"):
        inclusion_proof(8, LEAVES)
    with pytest.raises(ValueError, match="index: got -1"):
        inclusion_proof(-1, LEAVES)
    with pytest.raises(ValueError, match="old_size: got 9, want 0 <= old_size <= 8"):
        consistency_proof(9, LEAVES)
    with pytest.raises(ValueError, match="got 0, want at least 1"):
        tree_levels([])


def test_errors_share_the_project_root() -> None:
    assert issubclass(ProofError, MerkleError)
    assert issubclass(RootMismatchError, MerkleError)
    assert issubclass(MerkleError, BilatError)
