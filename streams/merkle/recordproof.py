"""Record proofs of a bucketed Merkle batch and their offline verification.

A :class:`RecordProof` carries a record's inclusion path in its bucket's tree, then its
bucket's path in the top tree; with the batch's anchored root, depth and salt,
:func:`verify_record` checks it without the batch. :mod:`streams.merkle.batchtree` makes the
proofs; this module never builds a batch, so an auditor needs only it,
:mod:`streams.merkle.buckets` and :mod:`streams.merkle.rfc9162`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.merkle.buckets import bucket_of
from streams.merkle.rfc9162 import (
    HASH_SIZE,
    ProofError,
    RootMismatchError,
    leaf_hash,
    root_from_inclusion,
    verify_inclusion,
)

__all__ = ["RecordProof", "verify_record"]


def _hex_hash(name: str, value: object, problems: list[str]) -> bytes:
    """A 32-byte hash from its hex form, lowercase (the one spelling of bytes: a proof has one
    JSON form); on failure notes the problem and returns ``b""``."""
    if not (isinstance(value, str) and _LOWER_HEX.fullmatch(value)):
        problems.append(f"field '{name}': got {value!r}, want {2 * HASH_SIZE} lowercase hex digits")
        return b""
    return bytes.fromhex(value)


_LOWER_HEX = re.compile(f"[0-9a-f]{{{2 * HASH_SIZE}}}")


def _natural(name: str, value: object, minimum: int, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(f"field '{name}': got {value!r}, want an integer >= {minimum}")
        return None
    return value


def _hash_list(name: str, value: object, problems: list[str]) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        problems.append(f"field '{name}': got {value!r}, want a list of hex hashes")
        return ()
    return tuple(_hex_hash(f"{name}[{i}]", item, problems) for i, item in enumerate(value))


_FIELDS = ("usage_key", "leaf_hash", "bucket", "index", "bucket_size", "bucket_path", "top_path")


@dataclass(frozen=True, slots=True)
class RecordProof:
    """Proof that one record is in a batch: its bucket's inclusion path, then the top path.

    Self-contained for offline audit: with the batch's anchored root, depth and salt,
    :func:`verify_record` checks it without the batch.
    """

    usage_key: str
    """The record's usage key; fixes its bucket."""
    leaf_hash: bytes
    """SHA-256(0x00 || canonical leaf encoding) of the record."""
    bucket: int
    """The record's bucket, ``bucket_of(usage_key, depth, salt)``."""
    index: int
    """The leaf's position in its bucket, leaves ordered by leaf hash."""
    bucket_size: int
    """Leaves in the bucket."""
    bucket_path: tuple[bytes, ...]
    """RFC 9162 PATH from the leaf to the bucket root."""
    top_path: tuple[bytes, ...]
    """RFC 9162 PATH from ``leaf_hash(bucket root)`` to the batch root."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (hashes as lowercase hex), for offline audit bundles."""
        return {
            "usage_key": self.usage_key,
            "leaf_hash": self.leaf_hash.hex(),
            "bucket": self.bucket,
            "index": self.index,
            "bucket_size": self.bucket_size,
            "bucket_path": [h.hex() for h in self.bucket_path],
            "top_path": [h.hex() for h in self.top_path],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordProof:
        """Parse :meth:`to_json` output. Checks shapes only (types, hex, 32-byte hashes,
        non-negative integers, ``index < bucket_size``), not the proof itself.

        Raises :class:`~streams.merkle.rfc9162.ProofError` whose ``problems`` lists every problem.
        """
        if not isinstance(data, Mapping):
            raise ProofError(f"record proof: got {type(data).__name__}, want a JSON object")
        problems: list[str] = []
        key = data.get("usage_key")
        if not isinstance(key, str) or not key:
            problems.append(f"field 'usage_key': got {key!r}, want a non-empty string")
            key = ""
        leaf = _hex_hash("leaf_hash", data.get("leaf_hash"), problems)
        bucket = _natural("bucket", data.get("bucket"), 0, problems)
        index = _natural("index", data.get("index"), 0, problems)
        size = _natural("bucket_size", data.get("bucket_size"), 1, problems)
        if index is not None and size is not None and index >= size:
            problems.append(f"field 'index': got {index}, want < bucket_size {size}")
        bucket_path = _hash_list("bucket_path", data.get("bucket_path"), problems)
        top_path = _hash_list("top_path", data.get("top_path"), problems)
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            problems.append(f"unknown fields: got {unknown}, want none")
        if problems or bucket is None or index is None or size is None:
            raise ProofError(
                f"record proof is malformed ({len(problems)} problems): " + "; ".join(problems),
                problems,
            )
        return cls(key, leaf, bucket, index, size, bucket_path, top_path)


def verify_record(
    proof: RecordProof, root: bytes, depth: int, salt: bytes, *, leaf_data: bytes | None = None
) -> None:
    """Check that ``proof`` proves its record is in the batch with this anchored ``root``,
    bucketed with ``depth`` and ``salt`` (both from the agreement).

    Checks that the usage key falls in ``proof.bucket``, then the bucket path (leaf → bucket
    root), then the top path (``leaf_hash(bucket root)`` → ``root``). Returns nothing on
    success; raises :class:`~streams.merkle.rfc9162.ProofError` for a wrong bucket or a malformed
    path, :class:`~streams.merkle.rfc9162.RootMismatchError` when the paths lead to another root.
    ``ValueError`` for a bad ``depth`` or ``salt``, as :func:`bucket_of`.

    What it proves: a leaf with hash ``proof.leaf_hash`` is in bucket ``proof.bucket``. It
    does not tie that hash to ``proof.usage_key`` or to any record: pass the record's
    canonical bytes as ``leaf_data`` (or compare ``leaf_hash(data)`` yourself) so that a
    proof of one record relabelled with another key of the same bucket is refused
    (:class:`~streams.merkle.rfc9162.RootMismatchError`, ``what="leaf hash"``). Nor does it
    authenticate ``index`` or ``bucket_size`` beyond the path's shape (RFC 9162 proofs bind
    the position only together with a signed size).
    """
    if leaf_data is not None and leaf_hash(leaf_data) != proof.leaf_hash:
        raise RootMismatchError(proof.leaf_hash, leaf_hash(leaf_data), "leaf hash")
    want = bucket_of(proof.usage_key, depth, salt)
    if proof.bucket != want:
        raise ProofError(f"bucket of {proof.usage_key!r}: got {proof.bucket}, want {want}")
    bucket_hash = root_from_inclusion(
        proof.leaf_hash, proof.index, proof.bucket_size, proof.bucket_path
    )
    verify_inclusion(leaf_hash(bucket_hash), proof.bucket, 1 << depth, proof.top_path, root)
