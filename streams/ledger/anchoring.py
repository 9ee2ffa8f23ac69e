"""From a closed batch to what goes on the ledger topics: anchor entry, digest, leaf store.

Pure: builds the three records a batch is published as, in one Kafka transaction:

* ``ledger.anchors``: the signed, hash-chained anchor :class:`~streams.ledger.entries.LedgerEntry`;
* ``ledger.digests``: the ``BatchDigest`` (bucket hashes, for the partner's reconciler);
* ``ledger.batches``: the ``BatchLeaves`` (every leaf, for this party's own proofs).

The anchor commits to the digest by hash (``digest_hash``), computed over the digest's
canonical encoding without ``anchor_sequence`` (which the digest names only after the fact).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.core.canonical import canonical_json, tagged
from streams.core.clock import from_ms, to_ms
from streams.core.keys import KeyPair
from streams.ledger.batching import Batch, Leaf
from streams.ledger.chain import ChainTip
from streams.ledger.entries import LedgerEntry
from streams.ledger.payloads import anchor_payload

__all__ = [
    "LEAVES_PER_PART",
    "anchor_entry",
    "digest_hash",
    "digest_hash_of",
    "digest_record",
    "join_leaf_parts",
    "leaves_from_record",
    "leaves_parts",
    "leaves_record",
]


def digest_hash(batch: Batch, party: str) -> bytes:
    """SHA-256 of the digest's canonical encoding (what the anchor commits to)."""
    return digest_hash_of(
        party,
        batch.agreement_id,
        to_ms(batch.window_start),
        to_ms(batch.window_end),
        batch.revision,
        batch.tree.depth,
        batch.tree.bucket_hashes,
        batch.tree.leaf_count,
        batch.root,
    )


def digest_hash_of(
    party: str,
    agreement_id: str,
    window_start_ms: int,
    window_end_ms: int,
    revision: int,
    depth: int,
    bucket_hashes: Sequence[bytes],
    leaf_count: int,
    root: bytes,
) -> bytes:
    """:func:`digest_hash` from a digest's fields (a stored or mirrored ``BatchDigest``).

    ``TypeError`` or ``ValueError`` for fields of the wrong type (``bytes.hex`` on a str...).
    """
    body = canonical_json(
        {
            "party": party,
            "agreement_id": agreement_id,
            "window_start_ms": window_start_ms,
            "window_end_ms": window_end_ms,
            "revision": revision,
            "depth": depth,
            "bucket_hashes": [bytes.hex(h) for h in bucket_hashes],
            "leaf_count": leaf_count,
            "root": bytes.hex(root),
        }
    )
    return hashlib.sha256(tagged("batch-digest.v1", body)).digest()


def anchor_entry(
    batch: Batch, tip: ChainTip, party: str, signer: KeyPair, now: datetime
) -> LedgerEntry:
    """The next entry of ``party``'s chain anchoring ``batch`` (``tip`` is not changed)."""
    payload = anchor_payload(
        agreement_id=batch.agreement_id,
        window_start_ms=to_ms(batch.window_start),
        window_end_ms=to_ms(batch.window_end),
        revision=batch.revision,
        leaf_count=batch.tree.leaf_count,
        totals=batch.totals,
        root=batch.root,
        digest_depth=batch.tree.depth,
        digest_hash=digest_hash(batch, party),
        agreement_versions=batch.versions,
        supersedes=batch.supersedes,
    )
    return tip.next_entry("anchor", payload, signer, now)


def _header(batch: Batch, party: str, anchor_sequence: int) -> dict[str, Any]:
    """The fields the digest and the leaf store share."""
    return {
        "party": party,
        "agreement_id": batch.agreement_id,
        "window_start_ms": to_ms(batch.window_start),
        "window_end_ms": to_ms(batch.window_end),
        "revision": batch.revision,
        "depth": batch.tree.depth,
        "root": batch.root,
        "anchor_sequence": anchor_sequence,
    }


def digest_record(batch: Batch, party: str, anchor_sequence: int) -> dict[str, Any]:
    """The ``BatchDigest`` Avro fields of ``batch``."""
    return {
        **_header(batch, party, anchor_sequence),
        "bucket_hashes": list(batch.tree.bucket_hashes),
        "leaf_count": batch.tree.leaf_count,
    }


LEAVES_PER_PART = 4_000
"""Leaves per ``BatchLeaves`` record: about 150 bytes each as Avro, so a part stays well inside
Kafka's 1 MB default message whatever the window's size."""


def leaves_parts(
    batch: Batch, party: str, anchor_sequence: int, per_part: int = LEAVES_PER_PART
) -> list[dict[str, Any]]:
    """The ``BatchLeaves`` records of ``batch``: its leaves in order, ``per_part`` a record
    (one record, part 0 of 1, when they fit), all written in one transaction."""
    whole = leaves_record(batch, party, anchor_sequence)
    leaves = whole["leaves"]
    chunks = [leaves[i : i + per_part] for i in range(0, len(leaves), per_part)] or [[]]
    return [
        {**whole, "leaves": chunk, "part": index, "parts": len(chunks)}
        for index, chunk in enumerate(chunks)
    ]


def join_leaf_parts(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Whole ``BatchLeaves`` records from records that may be parts (v1 and v2 records, and
    v3 records of one part, are whole already), in the order their first part came. A batch
    whose parts are not all there (never on a ``read_committed`` read: the parts are written in
    one transaction) is left out; a part repeated (at-least-once delivery) counts once."""
    groups: dict[tuple[Any, ...], dict[int, Mapping[str, Any]]] = {}
    for record in records:
        key = (
            record["party"],
            record["agreement_id"],
            record["window_start_ms"],
            record["window_end_ms"],
            record["revision"],
            bytes(record["root"]),
            record["anchor_sequence"],
        )
        groups.setdefault(key, {}).setdefault(record.get("part", 0), record)
    whole = []
    for parts in groups.values():
        count = next(iter(parts.values())).get("parts", 1)
        if sorted(parts) != list(range(count)):
            continue
        first = parts[0]
        leaves = [leaf for index in range(count) for leaf in parts[index]["leaves"]]
        whole.append({**first, "leaves": leaves, "part": 0, "parts": 1})
    return whole


def leaves_record(batch: Batch, party: str, anchor_sequence: int) -> dict[str, Any]:
    """The whole ``BatchLeaves`` Avro fields of ``batch`` (one record; the writer stores it in
    parts, :func:`leaves_parts`)."""
    return {
        **_header(batch, party, anchor_sequence),
        "part": 0,
        "parts": 1,
        "leaves": [
            {
                "usage_key": leaf.usage_key,
                "leaf_hash": leaf.leaf_hash,
                "amount": str(leaf.amount),
                "currency": leaf.currency,
                "agreement_version": leaf.agreement_version,
                "start_ms": leaf.start_ms,
                "quantity": leaf.quantity,
                "unit": leaf.unit,
                "rate_id": leaf.rate_id,
                "product_id": leaf.product_id,
                "direction": leaf.direction,
            }
            for leaf in batch.leaves
        ],
    }


def leaves_from_record(
    data: Mapping[str, Any],
) -> tuple[datetime, datetime, int, bytes, list[Leaf]]:
    """``(window start, window end, revision, root, leaves)`` of a ``BatchLeaves`` record."""
    leaves = [
        Leaf(
            leaf["usage_key"],
            leaf["leaf_hash"],
            Decimal(leaf["amount"]),
            leaf["currency"],
            leaf["agreement_version"],
            leaf.get("start_ms"),
            leaf.get("quantity"),
            leaf.get("unit"),
            leaf.get("rate_id"),
            leaf.get("product_id"),
            leaf.get("direction"),
        )
        for leaf in data["leaves"]
    ]
    return (
        from_ms(data["window_start_ms"]),
        from_ms(data["window_end_ms"]),
        data["revision"],
        data["root"],
        leaves,
    )
