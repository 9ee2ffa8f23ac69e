"""The drill-down exchange: digests checked against anchors, bucket requests and their answers.
Pure.

When two anchors of a window differ, the reconciler compares the two digests (each checked
against the anchor that commits to it: :func:`digest_problems`), asks the partner for the
leaves of only the differing buckets (:func:`make_request`, on its ``recon.requests`` topic,
mirrored), the partner answers from its leaf store (:func:`make_answer`, on ``recon.answers``,
mirrored back), and the requester accepts an answer only when every leaf re-hashes to its
stated fields and every bucket re-hashes to the partner's signed digest (:func:`open_answer`).
Nothing in an answer is taken on trust: a leaf the partner invents or alters fails its bucket.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from streams.core.canonical import canonical_json, decimal_text, leaf_hash_of_fields, tagged
from streams.ledger.anchoring import digest_hash_of
from streams.ledger.batching import Leaf
from streams.merkle.buckets import batch_root, bucket_of, bucket_root
from streams.merkle.rfc9162 import ProofError

__all__ = [
    "MAX_PART_BYTES",
    "Digest",
    "bucket_members",
    "digest_problems",
    "join_parts",
    "make_answer",
    "make_request",
    "open_answer",
    "request_id",
    "split_answer",
]


@dataclass(frozen=True, slots=True)
class Digest:
    """A ``batch_digest`` record: one window revision's bucket hashes."""

    party: str
    agreement_id: str
    window_start_ms: int
    window_end_ms: int
    revision: int
    depth: int
    bucket_hashes: tuple[bytes, ...]
    leaf_count: int
    root: bytes

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Digest:
        return cls(
            data["party"],
            data["agreement_id"],
            data["window_start_ms"],
            data["window_end_ms"],
            data["revision"],
            data["depth"],
            tuple(bytes(h) for h in data["bucket_hashes"]),
            data["leaf_count"],
            bytes(data["root"]),
        )

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.window_start_ms, self.window_end_ms, self.revision)


def digest_problems(digest: Digest, anchor: Mapping[str, Any]) -> list[str]:
    """What stops ``digest`` from standing for the anchor payload ``anchor`` of the same party:
    its hash must be the anchor's ``digest.hash``, its depth the anchor's, its bucket hashes
    must hash to the anchored root and its leaf count match. [] when it does."""
    problems = []
    try:
        committed = digest_hash_of(
            digest.party,
            digest.agreement_id,
            digest.window_start_ms,
            digest.window_end_ms,
            digest.revision,
            digest.depth,
            digest.bucket_hashes,
            digest.leaf_count,
            digest.root,
        ).hex()
    except (TypeError, ValueError) as exc:
        return [f"digest: unreadable ({exc})"]
    named: Mapping[str, Any] = anchor["digest"] if isinstance(anchor.get("digest"), dict) else {}
    if committed != named.get("hash"):
        problems.append(f"digest hash: got {committed[:16]}…, the anchor commits to another")
    if digest.depth != named.get("depth"):
        problems.append(f"depth: got {digest.depth}, the anchor says {named.get('depth')}")
    if digest.root.hex() != anchor.get("root"):
        problems.append("root: differs from the anchor's")
    if digest.leaf_count != anchor.get("leaf_count"):
        problems.append(f"leaf_count: got {digest.leaf_count}, anchor {anchor.get('leaf_count')}")
    try:
        if batch_root(digest.bucket_hashes) != digest.root:
            problems.append("bucket hashes: do not hash to the root")
    except ProofError as exc:
        problems.append(f"bucket hashes: {exc}")
    return problems


def bucket_members(leaves: Iterable[Leaf], depth: int, salt: bytes) -> dict[int, list[Leaf]]:
    """The leaves of each non-empty bucket (by usage key), each bucket in leaf-hash order."""
    buckets: dict[int, list[Leaf]] = {}
    for leaf in leaves:
        buckets.setdefault(bucket_of(leaf.usage_key, depth, salt), []).append(leaf)
    for members in buckets.values():
        members.sort(key=lambda leaf: (leaf.leaf_hash, leaf.usage_key))
    return buckets


def request_id(
    party: str,
    partner: str,
    agreement_id: str,
    window: tuple[int, int],
    revision: int,
    root: bytes,
    buckets: Sequence[int],
) -> str:
    """Hex SHA-256 of the canonical JSON of the question: the same question, the same id."""
    body = canonical_json(
        {
            "party": party,
            "partner": partner,
            "agreement_id": agreement_id,
            "window": list(window),
            "revision": revision,
            "root": root.hex(),
            "buckets": sorted(set(buckets)),
        }
    )
    return hashlib.sha256(tagged("recon-request.v1", body)).hexdigest()


def make_request(
    *,
    party: str,
    partner: str,
    agreement_id: str,
    window: tuple[int, int],
    revision: int,
    root: bytes,
    buckets: Sequence[int],
    now_ms: int,
) -> dict[str, Any]:
    """The ``recon_request`` asking ``partner`` to open ``buckets`` of its batch (window,
    revision, root)."""
    ordered = sorted(set(buckets))
    return {
        "request_id": request_id(party, partner, agreement_id, window, revision, root, ordered),
        "party": party,
        "partner": partner,
        "agreement_id": agreement_id,
        "window_start_ms": window[0],
        "window_end_ms": window[1],
        "revision": revision,
        "root": root,
        "buckets": ordered,
        "requested_ms": now_ms,
    }


def _opened(leaf: Leaf) -> dict[str, Any]:
    return {
        "usage_key": leaf.usage_key,
        "start_ms": leaf.start_ms,
        "quantity": leaf.quantity,
        "unit": leaf.unit,
        "amount": decimal_text(leaf.amount),
        "currency": leaf.currency,
        "agreement_version": leaf.agreement_version,
        "rate_id": leaf.rate_id,
    }


def make_answer(
    request: Mapping[str, Any],
    members: Mapping[int, Sequence[Leaf]] | None,
    *,
    party: str,
    depth: int,
    now_ms: int,
) -> dict[str, Any]:
    """The ``recon_answer`` to ``request`` from this party's leaf store: ``members`` are the
    leaves of each non-empty bucket of the batch the request names (:func:`bucket_members`,
    built once per batch), None when this party anchored no such batch: status
    ``unknown-batch``. Leaves stored without their fields (v1) cannot be opened: the answer is
    ``unknown-batch`` then too. Costs the size of the requested buckets, not of the batch."""
    answer: dict[str, Any] = {
        "request_id": request["request_id"],
        "party": party,
        "partner": request["party"],
        "agreement_id": request["agreement_id"],
        "window_start_ms": request["window_start_ms"],
        "window_end_ms": request["window_end_ms"],
        "revision": request["revision"],
        "root": request["root"],
        "part": 0,
        "parts": 1,
        "status": "unknown-batch",
        "buckets": [],
        "answered_ms": now_ms,
    }
    if members is None:
        return answer
    wanted = sorted({b for b in request["buckets"] if 0 <= b < 1 << depth})
    opened = [(b, members.get(b, ())) for b in wanted]
    if not all(leaf.detailed for _, leaves in opened for leaf in leaves):
        return answer
    answer["status"] = "ok"
    answer["buckets"] = [
        {"bucket": b, "leaves": [_opened(leaf) for leaf in leaves]} for b, leaves in opened
    ]
    return answer


MAX_PART_BYTES = 512 * 1024
"""Most leaf bytes (estimated) one answer part carries: well inside Kafka's (and MirrorMaker
2's) default 1 MB message, whatever the depth and the window's size."""


def _leaf_size(leaf: Mapping[str, Any]) -> int:
    """An upper estimate of one opened leaf's Avro size."""
    return 16 + sum(len(str(value)) for value in leaf.values())


def split_answer(
    answer: Mapping[str, Any], max_bytes: int = MAX_PART_BYTES
) -> list[dict[str, Any]]:
    """``answer`` as parts of at most about ``max_bytes`` of leaves each (``part``, ``parts``
    set), in order; a bucket too large for one part continues in the next. One part when it
    fits."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = 0
    for item in answer["buckets"]:
        current = {"bucket": item["bucket"], "leaves": []}
        parts[-1].append(current)
        for leaf in item["leaves"]:
            cost = _leaf_size(leaf)
            if size + cost > max_bytes and size > 0:
                current = {"bucket": item["bucket"], "leaves": []}
                parts.append([current])
                size = 0
            current["leaves"].append(leaf)
            size += cost
    return [
        {**answer, "buckets": buckets, "part": index, "parts": len(parts)}
        for index, buckets in enumerate(parts)
    ]


def join_parts(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The whole answer from its parts (any order, repeats ignored); None while some part is
    missing or the parts disagree on how many there are."""
    by_index = {part.get("part", 0): part for part in parts}
    counts = {part.get("parts", 1) for part in parts}
    if len(counts) != 1:
        return None
    total = counts.pop()
    if sorted(by_index) != list(range(total)):
        return None
    buckets: list[dict[str, Any]] = []
    for index in range(total):
        for item in by_index[index]["buckets"]:
            if buckets and buckets[-1]["bucket"] == item["bucket"]:
                buckets[-1]["leaves"].extend(item["leaves"])
            else:
                buckets.append({"bucket": item["bucket"], "leaves": list(item["leaves"])})
    return {**by_index[0], "buckets": buckets, "part": 0, "parts": 1}


_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
"""An answer's amount: ASCII decimal notation, an exponent allowed (its canonical text is
what the leaf hashes); no spaces, ``_`` or other digits, which ``Decimal`` would take."""


def _leaf_of(data: Mapping[str, Any]) -> Leaf:
    """A leaf from an answer's opened leaf; its hash is computed by the caller's check.
    ``ValueError`` for an amount that is not a decimal in ASCII notation."""
    amount = data["amount"]
    if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount):
        raise ValueError(f"amount {amount!r}: want a decimal in ASCII notation")
    return Leaf(
        usage_key=data["usage_key"],
        leaf_hash=b"",
        amount=Decimal(data["amount"]),
        currency=data["currency"],
        agreement_version=data["agreement_version"],
        start_ms=data["start_ms"],
        quantity=data["quantity"],
        unit=data["unit"],
        rate_id=data.get("rate_id"),
    )


def open_answer(
    answer: Mapping[str, Any], digest: Digest, salt: bytes
) -> tuple[dict[int, list[Leaf]], list[str]]:
    """The partner's leaves per bucket from ``answer``, checked against its ``digest`` (itself
    checked against the partner's signed anchor with :func:`digest_problems`).

    Each leaf's hash is recomputed from its fields; each bucket's leaves must hash to the
    digest's bucket hash and belong in that bucket. Returns ``(buckets, problems)``; a bucket
    with a problem is left out, so nothing unchecked is ever compared.
    """
    problems: list[str] = []
    opened: dict[int, list[Leaf]] = {}
    if answer.get("status") != "ok":
        return {}, [f"answer status {answer.get('status')!r}: the partner has no such batch"]
    for item in answer.get("buckets", []):
        bucket = item["bucket"]
        if not 0 <= bucket < len(digest.bucket_hashes):
            problems.append(f"bucket {bucket}: out of range")
            continue
        leaves: list[Leaf] = []
        bad: list[str] = []
        for data in item["leaves"]:
            try:
                leaf = _leaf_of(data)
                fields = leaf.fields(digest.agreement_id)
            except (KeyError, ValueError, InvalidOperation) as exc:
                bad.append(f"leaf {data.get('usage_key')!r}: unreadable ({exc})")
                continue
            try:
                hashed = leaf_hash_of_fields(fields)
            except (TypeError, ValueError) as exc:
                bad.append(f"leaf {leaf.usage_key!r}: fields have no canonical form ({exc})")
                continue
            if bucket_of(leaf.usage_key, digest.depth, salt) != bucket:
                bad.append(f"leaf {leaf.usage_key!r}: belongs in another bucket")
            leaves.append(dataclasses.replace(leaf, leaf_hash=hashed))
        if (
            not bad
            and bucket_root(leaf.leaf_hash for leaf in leaves) != digest.bucket_hashes[bucket]
        ):
            bad.append("its leaves do not hash to the partner's signed digest")
        if bad:
            problems.extend(f"bucket {bucket}: {p}" for p in bad)
            continue
        opened[bucket] = leaves
    return opened, problems
