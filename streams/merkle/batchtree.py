"""The bucketed Merkle batch: one event-time window of one agreement, one anchored root that
serves both record inclusion proofs and cheap reconciliation between the two parties.

Design
------
Leaves come as ``(usage_key, leaf_hash)``; the caller hashes the canonical leaf encoding of
each rated record with :func:`streams.merkle.rfc9162.leaf_hash`. A usage key appears at most once.

* **Bucket of a leaf**: the leading ``depth`` bits (``0 <= depth <= 16``) of a keyed BLAKE2b of
  the usage key, ``blake2b(usage_key.encode(), key=salt, digest_size=8)`` read big-endian. The
  salt is bytes the agreement gives, the same for both parties. The bucket depends *only* on
  the usage key, so both parties put a record in the same bucket even when they disagree on
  its amount; keying it stops a party from steering keys into one bucket.
* **Inside a bucket** leaves are ordered by leaf hash (bytes order): a canonical order that
  needs no agreement on how keys sort. The bucket hash is ``root_from_hashes`` of the sorted
  leaf hashes (:data:`~streams.merkle.rfc9162.EMPTY_ROOT` for an empty bucket).
* **Batch root** = ``root_from_hashes([leaf_hash(b) for b in bucket_hashes])`` over exactly
  ``2^depth`` bucket hashes: the top tree's leaves are the bucket roots, domain-separated as
  RFC 9162 leaves so a bucket root can never be confused with an interior node.

So one anchored root serves

* **(a) inclusion proofs**: record → its bucket's tree → the top tree (:class:`RecordProof`,
  checked offline by :func:`verify_record`);
* **(b) reconciliation**: the two parties exchange ``bucket_hashes`` (carried in the
  ``BatchDigest``; anyone can check them against the anchored root with :func:`batch_root`),
  list the :func:`differing_buckets`, and exchange leaves only of those buckets. The cost grows
  with the number of divergences, not with the batch size.

Building costs, per leaf, one keyed BLAKE2b, a share of a sort and about one node hash
(SHA-256 of 65 bytes). It runs in C (``streams/merkle/_batchhash.c``, compiled at install where a
C compiler and OpenSSL headers exist; :data:`NATIVE` says whether it was) or, the same tree
byte for byte, in Python; ``bench/merkle.py`` measures both against the bare cost of hashing
the leaves.

Modules: this one builds batches and makes their proofs; the bucketing and bucket-hash
arithmetic are in :mod:`streams.merkle.buckets`, record proofs and their offline check in
:mod:`streams.merkle.recordproof`, so checking needs no building. Their names are re-exported
here, the one import for callers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import NoReturn

from streams.merkle.buckets import (
    MAX_DEPTH,
    MAX_SALT,
    batch_root,
    bucket_of,
    bucket_root,
    check_params,
    differing_buckets,
    top_levels,
)
from streams.merkle.recordproof import RecordProof, verify_record
from streams.merkle.rfc9162 import HASH_SIZE, path_from_levels, root_from_hashes, tree_levels

try:  # the C build of a batch (streams/merkle/_batchhash.c), where it could be compiled
    from streams.merkle import _batchhash as _native
except ImportError:  # pragma: no cover - depends on the machine; the Python path is the same
    _native = None  # type: ignore[assignment]  # the optional-import idiom

__all__ = [
    "MAX_DEPTH",
    "MAX_SALT",
    "NATIVE",
    "NATIVE_HINT",
    "BatchTree",
    "RecordProof",
    "batch_root",
    "bucket_of",
    "bucket_root",
    "differing_buckets",
    "verify_record",
]

NATIVE = _native is not None
"""Whether :meth:`BatchTree.build` uses the C build (same trees, about 6x faster)."""

NATIVE_HINT = (
    "reinstall Bilat with a C compiler and OpenSSL headers "
    "(apt-get install gcc libssl-dev python3-dev)"
)
"""What to do where :data:`NATIVE` is False."""


class BatchTree:
    """The bucketed Merkle tree of one batch. Build with :meth:`build` or :meth:`from_columns`;
    read-only after.

    Held as the leaves' two columns (usage keys, leaf hashes) in the caller's order plus, per
    bucket, the indices of its leaves: the build allocates no per-leaf objects.
    """

    __slots__ = (
        "_bucket_hashes",
        "_depth",
        "_hashes",
        "_keys",
        "_members",
        "_ordered",
        "_root",
        "_salt",
        "_top",
    )

    def __init__(
        self,
        depth: int,
        salt: bytes,
        keys: Sequence[str],
        hashes: Sequence[bytes],
        members: Sequence[Sequence[int]],
        ordered: bool,
        bucket_hashes: Sequence[bytes],
    ) -> None:
        """Internal: use :meth:`build`. Leaf ``i`` is ``(keys[i], hashes[i])``; bucket ``b``
        holds leaves ``members[b]``, already in bucket order if ``ordered``.
        """
        self._depth = depth
        self._salt = salt
        self._keys = keys
        self._hashes = hashes
        self._members = members
        self._ordered = ordered
        self._bucket_hashes = tuple(bucket_hashes)
        self._top = top_levels(self._bucket_hashes)
        self._root = self._top[-1][0]

    @classmethod
    def build(
        cls,
        leaves: Iterable[tuple[str, bytes]],
        depth: int,
        salt: bytes,
        *,
        native: bool | None = None,
    ) -> BatchTree:
        """The batch of these ``(usage_key, leaf_hash)`` leaves, in any order.

        Raises ``ValueError`` unless ``0 <= depth <= 16``, the salt has at most 64 bytes,
        every leaf hash is 32 bytes (the message names the key) and no usage key is given
        twice (the message names it). An empty batch is valid: every bucket is empty.
        ``native`` as :meth:`from_columns`.
        """
        pairs = list(leaves)
        keys = [key for key, _ in pairs]
        hashes = [hashed for _, hashed in pairs]
        return cls.from_columns(keys, hashes, depth, salt, native=native)

    @classmethod
    def from_columns(
        cls,
        keys: Sequence[str],
        hashes: Sequence[bytes],
        depth: int,
        salt: bytes,
        *,
        native: bool | None = None,
    ) -> BatchTree:
        """:meth:`build` from two columns: leaf ``i`` is ``(keys[i], hashes[i])``. The cheapest
        way to build a large batch (no pairs to make and take apart); the tree keeps both.

        ``native``: None (default) uses the C build (``streams/merkle/_batchhash.c``) where it was
        compiled and the pure-Python one otherwise; True requires the C build (``RuntimeError``
        if absent); False forces Python. Both give the same tree, byte for byte.
        """
        check_params(depth, salt)
        if len(keys) != len(hashes):
            raise ValueError(f"leaf hashes: got {len(hashes)}, want one per key ({len(keys)})")
        use_native = NATIVE if native is None else native
        if use_native:
            if _native is None:
                raise RuntimeError(f"the C batch builder is not compiled here; {NATIVE_HINT}")
            key_list = keys if isinstance(keys, list) else list(keys)
            hash_list = hashes if isinstance(hashes, list) else list(hashes)
            try:
                raw_order, raw_offsets, bucket_hashes = _native.build(
                    key_list, hash_list, depth, salt
                )
            except KeyError:
                _raise_duplicates(key_list)
            order = memoryview(raw_order).cast("I")
            offsets = memoryview(raw_offsets).cast("I")
            sorted_members = [order[offsets[b] : offsets[b + 1]] for b in range(1 << depth)]
            return cls(depth, salt, key_list, hash_list, sorted_members, True, bucket_hashes)
        members, bucket_hashes = _build_python(keys, hashes, depth, salt)
        return cls(depth, salt, keys, hashes, members, False, bucket_hashes)

    @property
    def root(self) -> bytes:
        """The batch root: what is signed and anchored."""
        return self._root

    @property
    def depth(self) -> int:
        """``2**depth`` buckets."""
        return self._depth

    @property
    def salt(self) -> bytes:
        """The BLAKE2b key of the bucketing, from the agreement."""
        return self._salt

    @property
    def bucket_hashes(self) -> tuple[bytes, ...]:
        """Every bucket's hash, in bucket order: the ``BatchDigest`` content."""
        return self._bucket_hashes

    @property
    def leaf_count(self) -> int:
        """Records in the batch."""
        return len(self._keys)

    def _bucket(self, bucket: int) -> Sequence[int]:
        """Leaf indices of one bucket, in bucket order: by leaf hash, then key."""
        if self._ordered:
            return self._members[bucket]
        keys, hashes = self._keys, self._hashes
        return sorted(self._members[bucket], key=lambda i: (hashes[i], keys[i]))

    def _columns(self, bucket: int) -> tuple[list[str], list[bytes]]:
        """The keys and leaf hashes of one bucket, in bucket order (gathered at C speed)."""
        members = self._bucket(bucket)
        if len(members) < 2:  # itemgetter of one index returns the item, not a tuple
            return [self._keys[i] for i in members], [self._hashes[i] for i in members]
        pick = itemgetter(*members)
        return list(pick(self._keys)), list(pick(self._hashes))

    def proof(self, usage_key: str) -> RecordProof:
        """The inclusion proof of the record with this usage key; ``KeyError`` if absent.

        Costs one bucket's hashing (about ``leaf_count / 2**depth`` node hashes); to prove
        many records, :meth:`proofs` hashes each bucket once.
        """
        return self.proofs([usage_key])[0]

    def proofs(self, usage_keys: Iterable[str]) -> list[RecordProof]:
        """The inclusion proofs of these records, in the order given (e.g. for an audit
        bundle); ``KeyError`` naming an absent key. Hashes each bucket involved once.
        """
        wanted = list(usage_keys)
        by_bucket: dict[int, list[int]] = {}
        for i, key in enumerate(wanted):
            by_bucket.setdefault(bucket_of(key, self._depth, self._salt), []).append(i)
        found: dict[int, RecordProof] = {}
        for bucket, positions in by_bucket.items():
            in_bucket, ordered = self._columns(bucket)
            index_of = (
                in_bucket.index
                if len(positions) < 8
                else {key: at for at, key in enumerate(in_bucket)}.__getitem__
            )
            levels = tree_levels(ordered) if ordered else []
            top_path = tuple(path_from_levels(self._top, bucket))
            for i in positions:
                try:
                    index = index_of(wanted[i])
                except (KeyError, ValueError):
                    raise KeyError(wanted[i]) from None
                found[i] = RecordProof(
                    usage_key=wanted[i],
                    leaf_hash=ordered[index],
                    bucket=bucket,
                    index=index,
                    bucket_size=len(ordered),
                    bucket_path=tuple(path_from_levels(levels, index)),
                    top_path=top_path,
                )
        return [found[i] for i in range(len(wanted))]

    def bucket_leaves(self, bucket: int) -> list[tuple[str, bytes]]:
        """``(usage_key, leaf_hash)`` of one bucket, in bucket order (by leaf hash, then key):
        what a party sends its partner for a differing bucket. ``ValueError`` unless
        ``0 <= bucket < 2**depth``.
        """
        if not 0 <= bucket < 1 << self._depth:
            raise ValueError(f"bucket: got {bucket}, want 0 <= bucket < {1 << self._depth}")
        return list(zip(*self._columns(bucket), strict=True))

    def leaves(self) -> list[tuple[str, bytes]]:
        """Every ``(usage_key, leaf_hash)``, bucket by bucket, each in bucket order."""
        return [leaf for bucket in range(1 << self._depth) for leaf in self.bucket_leaves(bucket)]

    def __repr__(self) -> str:
        return (
            f"BatchTree(root={self._root.hex()}, depth={self._depth}, leaf_count={self.leaf_count})"
        )


def _build_python(
    keys: Sequence[str], hashes: Sequence[bytes], depth: int, salt: bytes
) -> tuple[list[list[int]], list[bytes]]:
    """The pure-Python build: each bucket's leaf indices (in input order) and bucket hash."""
    if set(map(len, hashes)) - {HASH_SIZE}:
        key, bad = next((k, h) for k, h in zip(keys, hashes, strict=True) if len(h) != HASH_SIZE)
        raise ValueError(f"leaf hash of {key!r}: got {len(bad)} bytes, want {HASH_SIZE}")
    count = 1 << depth
    members: list[list[int]] = [[] for _ in range(count)]
    bucket_keys: list[list[str]] = [[] for _ in range(count)]
    bucket_leaves: list[list[bytes]] = [[] for _ in range(count)]
    # One keyed BLAKE2b state copied per key: saves parsing the arguments and compressing
    # the key block again for every leaf; the digest is the same as bucket_of's.
    fresh = hashlib.blake2b(key=salt, digest_size=8).copy
    shift = 64 - depth
    from_bytes = int.from_bytes
    for index, (key, hashed) in enumerate(zip(keys, hashes, strict=True)):
        state = fresh()
        state.update(key.partition("|")[0].encode())  # bucket_key: up to the first "|"
        bucket = from_bytes(state.digest(), "big") >> shift
        members[bucket].append(index)
        bucket_keys[bucket].append(key)  # a bucket's keys and hashes side by side: the
        bucket_leaves[bucket].append(hashed)  # checks below stay in the CPU cache
    # A key given twice is in one bucket, so per-bucket checks find every duplicate. The
    # bucket order is only needed for proofs: sorting the hashes alone gives the bucket hash.
    bucket_hashes = []
    for in_bucket, leaves in zip(bucket_keys, bucket_leaves, strict=True):
        if len(set(in_bucket)) != len(in_bucket):
            _raise_duplicates(keys)
        bucket_hashes.append(root_from_hashes(sorted(leaves)))
    return members, bucket_hashes


def _raise_duplicates(keys: Iterable[str]) -> NoReturn:
    counts = Counter(keys)
    twice = sorted(key for key, n in counts.items() if n > 1)
    more = f" (and {len(twice) - 1} more)" if len(twice) > 1 else ""
    raise ValueError(f"usage key given twice: {twice[0]!r}{more}")
