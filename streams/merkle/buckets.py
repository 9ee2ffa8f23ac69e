"""Bucketing a batch and the arithmetic of its bucket hashes: what both parties compute alike.

A record's bucket is the leading ``depth`` bits (``0 <= depth <= 16``) of a keyed BLAKE2b of
its usage key (:func:`bucket_of`), so it depends only on the usage key and both parties put a
record in the same bucket even when they disagree on its amount. A bucket's hash is the RFC 9162
root of its sorted leaf hashes (:func:`bucket_root`); the batch root is the RFC 9162 root of the
``2**depth`` bucket hashes taken as leaves (:func:`batch_root`). Reconciling two digests of a
window lists the :func:`differing_buckets`. The design is in :mod:`streams.merkle.batchtree`,
which builds batches; nothing here builds one, so a party checking its partner's digest needs
only this module and :mod:`streams.merkle.rfc9162`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from streams.merkle.rfc9162 import HASH_SIZE, ProofError, leaf_hash, root_from_hashes, tree_levels

__all__ = [
    "MAX_DEPTH",
    "MAX_SALT",
    "batch_root",
    "bucket_key",
    "bucket_of",
    "bucket_root",
    "check_params",
    "differing_buckets",
    "top_levels",
]

MAX_DEPTH = 16
"""Deepest bucketing: 65,536 buckets, a 2 MiB digest of bucket hashes."""

MAX_SALT = 64
"""Longest salt, in bytes: BLAKE2b's key limit."""


def check_params(depth: int, salt: bytes) -> None:
    """Raises ``ValueError`` unless ``0 <= depth <= 16`` and ``salt`` is bytes, at most 64."""
    # Types checked too: depth and salt often come from a JSON audit bundle.
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth: got {depth!r}, want 0 <= depth <= {MAX_DEPTH}")
    if not isinstance(salt, bytes) or len(salt) > MAX_SALT:
        shown = f"{len(salt)} bytes" if isinstance(salt, bytes) else repr(salt)
        raise ValueError(f"salt: got {shown}, want bytes, at most {MAX_SALT}")


def bucket_key(usage_key: str) -> str:
    """What chooses a record's bucket: its usage key up to the first ``|``, or all of it.

    Usage keys (``source/record_id``) never hold a ``|``; a key correlating records by numbers
    does (``<A>><B>|<start_ms>``, :mod:`streams.reconcile.correlation`), so every call between
    one pair of numbers falls in one bucket on both sides, whatever its start.
    """
    return usage_key.partition("|")[0]


def bucket_of(usage_key: str, depth: int, salt: bytes) -> int:
    """The bucket, ``0 <= b < 2**depth``, of the record with this usage key.

    The leading ``depth`` bits of ``blake2b(bucket_key(usage_key).encode(), key=salt,
    digest_size=8)`` read big-endian. Raises ``ValueError`` unless ``0 <= depth <= 16`` and
    ``salt`` has at most 64 bytes.
    """
    check_params(depth, salt)
    digest = hashlib.blake2b(bucket_key(usage_key).encode(), key=salt, digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - depth)


def bucket_root(leaf_hashes: Iterable[bytes]) -> bytes:
    """The hash of a bucket holding leaves with these hashes, in any order: the root of the
    sorted hashes. What a reconciler checks a partner's bucket leaves against.

    Raises ``ValueError`` if a hash is not 32 bytes.
    """
    return root_from_hashes(sorted(leaf_hashes))


def batch_root(bucket_hashes: Sequence[bytes]) -> bytes:
    """The batch root over these bucket hashes: what a digest's bucket hashes must hash to.

    Meant for a partner's digest, so malformed input raises
    :class:`~streams.merkle.rfc9162.ProofError`: unless there are ``2**d`` of them for some
    ``0 <= d <= 16`` and each is 32 bytes.
    """
    return top_levels(bucket_hashes)[-1][0]


def top_levels(bucket_hashes: Sequence[bytes]) -> list[Sequence[bytes]]:
    """The levels of the top tree over these bucket hashes (as :func:`batch_root` checks
    them), its root last."""
    problems = []
    count = len(bucket_hashes)
    if count < 1 or count & (count - 1) or count > 1 << MAX_DEPTH:
        problems.append(f"bucket hashes: got {count}, want 2**d for 0 <= d <= {MAX_DEPTH}")
    problems.extend(
        f"bucket hash {i}: got {len(h)} bytes, want {HASH_SIZE}"
        for i, h in enumerate(bucket_hashes)
        if len(h) != HASH_SIZE
    )
    if problems:
        raise ProofError("malformed bucket hashes: " + "; ".join(problems[:5]), problems)
    return tree_levels([leaf_hash(b) for b in bucket_hashes])


def differing_buckets(ours: Sequence[bytes], theirs: Sequence[bytes]) -> list[int]:
    """Indices of the buckets whose hashes differ between two digests of the same window.

    Raises :class:`~streams.merkle.rfc9162.ProofError` if the digests have different lengths (they
    were bucketed with different depths and cannot be compared).
    """
    if len(ours) != len(theirs):
        raise ProofError(f"bucket hashes: got {len(theirs)}, want {len(ours)}")
    return [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
