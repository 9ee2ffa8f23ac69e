"""Checking what a party stored beside its anchors: digests and leaf batches. Pure.

An anchor signs a batch root, a leaf count, totals per currency and the hash of its digest.
:func:`check_batches` holds the ``BatchDigest`` records (``ledger.digests``, mirrored to the
partner) and, for one's own ledger, the ``BatchLeaves`` records (``ledger.batches``) against
the anchors they name, and reports, as :class:`~streams.ledger.check.Finding` data:

* ``missing-digest`` / ``missing-batch``: an anchor with no digest (no leaf batch) of its own;
* ``bad-digest``: a digest whose bucket hashes do not hash to the anchored root, whose depth,
  leaf count or window differ from the anchor's, or whose hash is not the one the anchor signs;
* ``bad-batch``: a leaf batch whose leaves do not rebuild the anchored root or count;
* ``total-mismatch``: stored leaf amounts that do not add up to the anchored totals;
* ``orphan``: a digest or leaf batch naming no anchor of the chain.

A digest or leaf batch that passes proves, with the anchor's signature, that exactly those
records, with those amounts, are what the party signed for that window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from streams.contract.records import totals_by_currency
from streams.ledger.anchoring import digest_hash_of
from streams.ledger.entries import LedgerEntry, LedgerError
from streams.ledger.findings import Finding
from streams.merkle.batchtree import BatchTree, batch_root
from streams.merkle.rfc9162 import MerkleError

__all__ = ["BATCH_FINDING_KINDS", "check_batches"]

BATCH_FINDING_KINDS = (
    "missing-digest",
    "missing-batch",
    "bad-digest",
    "bad-batch",
    "total-mismatch",
    "orphan",
)


def check_batches(
    entries: Iterable[LedgerEntry],
    digests: Iterable[Mapping[str, Any]],
    batches: Iterable[Mapping[str, Any]] | None,
    salt: bytes,
) -> list[Finding]:
    """Findings about the digests (and leaf batches, unless ``batches`` is None) of the anchors
    among ``entries``, all of one party's chain; ``[]`` when every one matches its anchor.

    ``digests`` and ``batches`` are decoded ``BatchDigest`` / ``BatchLeaves`` records of that
    party (others are ignored); ``salt`` is the bucketing key (the agreement's book hash, as the
    genesis entry states it). Findings are ordered by anchor sequence.
    """
    anchors = {e.sequence: e for e in entries if e.kind == "anchor"}
    party = next(iter(anchors.values())).party if anchors else None
    findings: list[Finding] = []
    by_anchor = _by_anchor(digests, party, "digest", anchors, findings)
    leaf_sets = None if batches is None else _by_anchor(batches, party, "batch", anchors, findings)
    for sequence in sorted(anchors):
        try:
            payload = anchors[sequence].payload_json()
        except LedgerError:
            continue  # check_ledger reports the payload itself
        found = by_anchor.get(sequence, [])
        if not found:
            findings.append(Finding("missing-digest", sequence, "no digest names this anchor"))
        findings += [
            Finding("bad-digest", sequence, problem)
            for digest in found
            for problem in _digest_problems(digest, payload)
        ]
        if leaf_sets is None:
            continue
        stored = leaf_sets.get(sequence, [])
        if not stored:
            findings.append(Finding("missing-batch", sequence, "no leaf batch names this anchor"))
        for batch in stored:
            findings += _batch_findings(sequence, batch, payload, salt)
    return sorted(findings, key=lambda f: (-1 if f.sequence is None else f.sequence, f.kind))


def _by_anchor(
    records: Iterable[Mapping[str, Any]],
    party: str | None,
    what: str,
    anchors: Mapping[int, LedgerEntry],
    findings: list[Finding],
) -> dict[int, list[Mapping[str, Any]]]:
    grouped: dict[int, list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("party") != party:
            continue
        sequence = record.get("anchor_sequence")
        if not isinstance(sequence, int) or sequence not in anchors:
            findings.append(
                Finding("orphan", None, f"a {what} names anchor {sequence!r}, not in the chain")
            )
            continue
        grouped.setdefault(sequence, []).append(record)
    return grouped


def _window_problems(record: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    return [
        f"{name}: got {record.get(name)!r}, anchor has {payload.get(name)!r}"
        for name in ("agreement_id", "window_start_ms", "window_end_ms", "revision")
        if record.get(name) != payload.get(name)
    ]


def _digest_problems(digest: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    problems = _window_problems(digest, payload)
    anchored_root = payload.get("root")
    signed = payload.get("digest") or {}
    if digest.get("depth") != signed.get("depth"):
        problems.append(f"depth: got {digest.get('depth')!r}, anchor has {signed.get('depth')!r}")
    if digest.get("leaf_count") != payload.get("leaf_count"):
        problems.append(
            f"leaf_count: got {digest.get('leaf_count')!r}, anchor has {payload.get('leaf_count')}"
        )
    try:
        root = batch_root(digest["bucket_hashes"]).hex()
    except (KeyError, TypeError, MerkleError) as exc:
        return [*problems, f"bucket hashes: {exc}"]
    if root != anchored_root:
        problems.append(f"bucket hashes hash to {root[:16]}…, anchor has {anchored_root}")
    try:
        recomputed = digest_hash_of(
            digest["party"],
            digest["agreement_id"],
            digest["window_start_ms"],
            digest["window_end_ms"],
            digest["revision"],
            digest["depth"],
            digest["bucket_hashes"],
            digest["leaf_count"],
            digest["root"],
        ).hex()
    except (KeyError, TypeError, ValueError) as exc:
        return [*problems, f"digest fields: {exc}"]
    if recomputed != signed.get("hash"):
        problems.append(f"digest hash: got {recomputed[:16]}…, anchor signs {signed.get('hash')}")
    return problems


def _batch_findings(
    sequence: int, batch: Mapping[str, Any], payload: Mapping[str, Any], salt: bytes
) -> list[Finding]:
    problems = _window_problems(batch, payload)
    leaves: Sequence[Mapping[str, Any]] = batch.get("leaves") or []
    if len(leaves) != payload.get("leaf_count"):
        problems.append(f"leaf count: got {len(leaves)}, anchor has {payload.get('leaf_count')}")
    try:
        tree = BatchTree.from_columns(
            [leaf["usage_key"] for leaf in leaves],
            [leaf["leaf_hash"] for leaf in leaves],
            batch["depth"],
            salt,
        )
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"leaves: {exc}")
    else:
        if tree.root.hex() != payload.get("root"):
            problems.append(
                f"{len(leaves)} leaves rebuild root {tree.root.hex()[:16]}…, "
                f"anchor has {payload.get('root')}"
            )
    findings = [Finding("bad-batch", sequence, problem) for problem in problems]
    try:
        totals = totals_by_currency((leaf["currency"], Decimal(leaf["amount"])) for leaf in leaves)
        signed = {c: Decimal(t) for c, t in (payload.get("totals") or {}).items()}
    except (KeyError, TypeError, InvalidOperation) as exc:
        return [*findings, Finding("total-mismatch", sequence, f"amounts: {exc}")]
    for currency in sorted(set(totals) | set(signed)):
        got, want = totals.get(currency, Decimal(0)), signed.get(currency, Decimal(0))
        if got != want:
            findings.append(
                Finding(
                    "total-mismatch",
                    sequence,
                    f"{currency}: stored leaves add up to {got}, anchor signs {want}",
                )
            )
    return findings
