"""Inclusion proofs for alerts: each side's record proven in its own anchored batch, built from
a bucket's leaves and the digest's bucket hashes, so an operator (or auditor) can check both
values against both signed roots (:func:`streams.merkle.recordproof.verify_record`). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.canonical import canonical_json
from streams.ledger.batching import Leaf
from streams.merkle.buckets import top_levels
from streams.merkle.recordproof import RecordProof
from streams.merkle.rfc9162 import path_from_levels, tree_levels
from streams.reconcile.status import Anchor

__all__ = ["bucket_proof", "proof_json"]


def proof_json(anchor: Anchor, proof: RecordProof) -> str:
    return canonical_json(
        {
            "anchor_sequence": anchor.entry.sequence,
            "root": anchor.payload["root"],
            "proof": proof.to_json(),
        }
    ).decode()


def bucket_proof(
    bucket_hashes: Sequence[bytes], leaves: Sequence[Leaf], bucket: int, usage_key: str
) -> RecordProof | None:
    """A record proof from a bucket's leaves and every bucket hash of its digest."""
    ordered = sorted(leaves, key=lambda leaf: (leaf.leaf_hash, leaf.usage_key))
    index = next((i for i, leaf in enumerate(ordered) if leaf.usage_key == usage_key), None)
    if index is None:
        return None
    hashes = [leaf.leaf_hash for leaf in ordered]
    return RecordProof(
        usage_key=usage_key,
        leaf_hash=hashes[index],
        bucket=bucket,
        index=index,
        bucket_size=len(hashes),
        bucket_path=tuple(path_from_levels(tree_levels(hashes), index)),
        top_path=tuple(path_from_levels(top_levels(bucket_hashes), bucket)),
    )
