"""Audit bundles: one rated record, its proof, the anchor and the chain, checkable offline.

A bundle is a self-contained JSON document an auditor (or the partner) can verify with no
access to Kafka or to the parties' systems, and with nothing but this module's rules, which
the docstrings of :mod:`streams.canonical`, :mod:`streams.merkle`, :mod:`streams.batchtree`
and :mod:`streams.ledger` spell out:

1. ``leaf``: the record's canonical leaf fields hash to the leaf hash in the proof;
2. ``inclusion``: the proof leads from the leaf, through its bucket and the top tree, to the
   batch root (the bucket is the keyed hash of the usage key, the key being the agreement's
   book hash);
3. ``chain``: every entry from genesis on is signed by the party's current key, a key the
   checker trusts for that party (:class:`~streams.trust.TrustedKeys`: the agreement's keys or
   a trusted-keys file, never keys the bundle brings) valid at the entry's time, each links to
   the one before, genesis carries both parties' signatures of the agreement by trusted keys,
   and its book hash is the trusted agreement's (:func:`streams.ledger_check.check_ledger`);
4. ``anchor``: the entry at the batch's ``anchor_sequence`` is an anchor of this batch
   (window, revision, leaf count) and commits to exactly this root;
5. ``record``: the record agrees with what that anchor signs: its start lies in the window,
   its agreement version is one the anchor lists, the anchor totals its currency, and the
   batch has leaves;
6. ``revision``: which revision of the window the record is proven in, and whether a later
   anchor in the exported chain (genesis to the tip at export) supersedes it. A bundle proves
   the record was in *that* revision; a superseded revision is reported, not failed;
7. ``salt``: the bucketing key is the genesis book hash.

Decimal text in a bundle must be canonical (:func:`streams.canonical.decimal_text`): the leaf
hash is computed over the text as written, so ``"0.0230"`` where the encoding makes
``"0.023"`` is refused by name rather than reported as a mere hash mismatch.

Bundle versions: 2 (this) carries the chain from genesis to the tip at export and names the
anchor by ``batch.anchor_sequence``; 1 (older exports) ends the chain at the anchor, which
is then its last entry, and says nothing about later revisions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streams.batchtree import RecordProof, verify_record
from streams.canonical import LEAF_DOMAIN, canonical_json, decimal_text, leaf_fields, tagged
from streams.clock import from_ms, to_ms
from streams.errors import BilatError
from streams.ledger import LedgerEntry
from streams.ledger_check import check_ledger
from streams.records import RatedUsage
from streams.trust import TrustedKeys

__all__ = [
    "BUNDLE_VERSION",
    "Check",
    "build_bundle",
    "entry_from_json",
    "entry_to_json",
    "revision_status",
    "verify_bundle",
]

_DECIMAL = re.compile(r"[-+]?[0-9]{1,40}(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,2})?")

BUNDLE_VERSION = 2
"""Written by :func:`build_bundle`; :func:`verify_bundle` reads 1 and 2 (module docstring)."""
BUNDLE_VERSIONS = (1, 2)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def entry_to_json(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as JSON: bytes as hex, the payload as its canonical JSON text."""
    return {
        "party": entry.party,
        "agreement_id": entry.agreement_id,
        "sequence": entry.sequence,
        "kind": entry.kind,
        "prev_hash": entry.prev_hash.hex(),
        "payload": entry.payload.decode("utf-8"),
        "payload_hash": entry.payload_hash.hex(),
        "key_id": entry.key_id,
        "signature": entry.signature.hex(),
        "time_ms": to_ms(entry.time),
    }


def entry_from_json(data: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        party=data["party"],
        agreement_id=data["agreement_id"],
        sequence=data["sequence"],
        kind=data["kind"],
        prev_hash=bytes.fromhex(data["prev_hash"]),
        payload=data["payload"].encode("utf-8"),
        payload_hash=bytes.fromhex(data["payload_hash"]),
        key_id=data["key_id"],
        signature=bytes.fromhex(data["signature"]),
        time=from_ms(data["time_ms"]),
    )


def build_bundle(
    record: RatedUsage,
    proof: RecordProof,
    batch: Mapping[str, Any],
    chain: Sequence[LedgerEntry],
) -> dict[str, Any]:
    """The bundle of ``record``. ``batch`` holds ``window_start_ms``, ``window_end_ms``,
    ``revision``, ``depth``, ``root`` (bytes), ``leaf_count`` and ``anchor_sequence``;
    ``chain`` runs from genesis to the party's chain tip, in sequence order (so a verifier
    sees the revisions anchored after this one)."""
    return {
        "bilat_bundle": BUNDLE_VERSION,
        "record": leaf_fields(record),
        "proof": proof.to_json(),
        "batch": {
            "agreement_id": record.agreement_id,
            "window_start_ms": batch["window_start_ms"],
            "window_end_ms": batch["window_end_ms"],
            "revision": batch["revision"],
            "depth": batch["depth"],
            "root": batch["root"].hex(),
            "leaf_count": batch["leaf_count"],
            "anchor_sequence": batch["anchor_sequence"],
        },
        "chain": [entry_to_json(e) for e in chain],
        "status": revision_status(batch["anchor_sequence"], chain),
    }


def verify_bundle(bundle: Mapping[str, Any], trusted: TrustedKeys) -> list[Check]:
    """Every check of the module docstring, in order; a bundle is valid iff all are ok.

    ``trusted`` is the checker's own knowledge of which keys may sign (the agreement both
    parties signed, or a trusted-keys file): a chain signed by other keys fails ``chain``,
    naming them and the trusted ones. Never raises for a bad bundle: a malformed one is one
    failed ``format`` check.
    """
    try:
        version = bundle.get("bilat_bundle")
        if version not in BUNDLE_VERSIONS:
            raise ValueError(f"bilat_bundle: got {version!r}, want one of {BUNDLE_VERSIONS}")
        proof = RecordProof.from_json(bundle["proof"])
        batch = bundle["batch"]
        root = bytes.fromhex(batch["root"])
        chain = [entry_from_json(e) for e in bundle["chain"]]
        if not chain:
            raise ValueError("chain: empty, want genesis to anchor")
        at = batch["anchor_sequence"] if version >= 2 else chain[-1].sequence
        anchors = [e for e in chain if e.sequence == at]
        if not isinstance(at, int) or len(anchors) != 1:
            raise ValueError(f"batch.anchor_sequence: got {at!r}, want one entry of the chain")
    except (BilatError, KeyError, TypeError, ValueError) as exc:
        return [Check("format", False, f"not a readable bundle: {exc}")]
    checks = [_leaf(bundle["record"], proof)]
    genesis, anchor = chain[0], anchors[0]
    salt_hex = genesis.payload_json().get("book_hash", "") if genesis.kind == "genesis" else ""
    try:
        verify_record(proof, root, batch["depth"], bytes.fromhex(salt_hex))
        checks.append(
            Check(
                "inclusion",
                True,
                f"bucket {proof.bucket}, index {proof.index} of "
                f"{proof.bucket_size}, root {root.hex()[:16]}…",
            )
        )
    except (BilatError, ValueError) as exc:
        checks.append(Check("inclusion", False, str(exc)))
    findings = check_ledger(chain, trusted=trusted)
    contiguous = [e.sequence for e in chain] == list(range(len(chain)))
    checks.append(
        Check(
            "chain",
            not findings and contiguous,
            f"{len(chain)} entries from genesis, signed by {anchor.key_id} (trusted: "
            f"{trusted.source}), linked"
            if not findings and contiguous
            else "; ".join(str(f) for f in findings) or "entries are not genesis..anchor in order",
        )
    )
    checks.append(_anchor(anchor, batch, root))
    checks.append(_record(bundle["record"], anchor, batch))
    checks.append(_revision(bundle, anchor, chain))
    checks.append(
        Check(
            "salt",
            bool(salt_hex),
            f"bucket key = genesis book hash {salt_hex[:16]}…"
            if salt_hex
            else "first entry is not a genesis entry",
        )
    )
    return checks


def _leaf(fields: Mapping[str, Any], proof: RecordProof) -> Check:
    for name in ("quantity", "amount"):
        text = fields.get(name)
        canonical = _canonical_decimal(text)
        if canonical != text:
            want = f"the canonical text {canonical!r}" if canonical else "a decimal string"
            return Check("leaf", False, f"field {name!r}: got {text!r}, want {want}")
    try:
        data = tagged(LEAF_DOMAIN, canonical_json(dict(fields)))
    except (TypeError, ValueError) as exc:
        return Check("leaf", False, f"record fields are not canonical: {exc}")
    got = hashlib.sha256(b"\x00" + data).digest()
    if got != proof.leaf_hash:
        return Check(
            "leaf", False, f"record hashes to {got.hex()}, proof names {proof.leaf_hash.hex()}"
        )
    if fields.get("key") != proof.usage_key:
        return Check(
            "leaf", False, f"record key {fields.get('key')!r}, proof key {proof.usage_key!r}"
        )
    return Check("leaf", True, f"{proof.usage_key} hashes to {got.hex()[:16]}…")


def _anchor(entry: LedgerEntry, batch: Mapping[str, Any], root: bytes) -> Check:
    if entry.kind != "anchor":
        return Check("anchor", False, f"last entry is a {entry.kind!r}, want an anchor")
    try:
        payload = json.loads(entry.payload)
    except ValueError as exc:
        return Check("anchor", False, f"anchor payload is not JSON: {exc}")
    wanted = {
        "root": root.hex(),
        "window_start_ms": batch["window_start_ms"],
        "window_end_ms": batch["window_end_ms"],
        "revision": batch["revision"],
        "leaf_count": batch["leaf_count"],
    }
    wrong = [
        f"{k}: got {payload.get(k)!r}, want {v!r}" for k, v in wanted.items() if payload.get(k) != v
    ]
    if wrong:
        return Check("anchor", False, "; ".join(wrong))
    return Check(
        "anchor",
        True,
        f"entry {entry.sequence} anchors window "
        f"{from_ms(batch['window_start_ms']).isoformat()} rev {batch['revision']}",
    )


def _canonical_decimal(text: Any) -> str | None:
    """``decimal_text`` of ``text`` if it reads as a decimal number (exponents included, to
    name the canonical text in the error), else ``None``."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        return None
    return decimal_text(Decimal(text))


def _anchor_payload(entry: LedgerEntry) -> dict[str, Any]:
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _record(fields: Mapping[str, Any], entry: LedgerEntry, batch: Mapping[str, Any]) -> Check:
    """The record against what its anchor signs (a valid proof alone does not show this)."""
    payload = _anchor_payload(entry)
    problems = []
    start, begin, end = fields.get("start_ms"), batch["window_start_ms"], batch["window_end_ms"]
    if not (isinstance(start, int) and begin <= start < end):
        problems.append(f"start_ms: got {start!r}, want in the anchored window [{begin}, {end})")
    versions = payload.get("agreement_versions")
    if not isinstance(versions, list) or fields.get("agreement_version") not in versions:
        problems.append(
            f"agreement_version: got {fields.get('agreement_version')!r}, want one the anchor "
            f"lists: {versions!r}"
        )
    if fields.get("agreement_id") != entry.agreement_id:
        problems.append(
            f"agreement_id: got {fields.get('agreement_id')!r}, want {entry.agreement_id!r}"
        )
    totals = payload.get("totals")
    if not isinstance(totals, dict) or fields.get("currency") not in totals:
        problems.append(
            f"currency: got {fields.get('currency')!r}, want one the anchor totals: "
            f"{sorted(totals) if isinstance(totals, dict) else totals!r}"
        )
    if not (isinstance(batch["leaf_count"], int) and batch["leaf_count"] > 0):
        problems.append(f"leaf_count: got {batch['leaf_count']!r}, want > 0 for a batch with it")
    if problems:
        return Check("record", False, "; ".join(problems))
    return Check(
        "record",
        True,
        f"in window {from_ms(begin).isoformat()}, version {fields['agreement_version']}, "
        f"{fields['currency']} totalled",
    )


def revision_status(anchor_sequence: int, chain: Sequence[LedgerEntry]) -> dict[str, Any]:
    """What ``chain`` (genesis to its tip) says of the anchor at ``anchor_sequence``:
    ``{"revision", "tip_sequence", "superseded_by": null | {"revision", "sequence"}}``, the
    last later anchor of the same window superseding it. Written into a bundle at export as
    ``status``, and recomputed by :func:`verify_bundle` from the chain it carries."""
    by_sequence = {e.sequence: e for e in chain}
    mine = _anchor_payload(by_sequence[anchor_sequence])
    window = (mine.get("window_start_ms"), mine.get("window_end_ms"))
    later = [
        (entry.sequence, payload.get("revision"))
        for entry in chain
        if entry.kind == "anchor"
        and entry.sequence > anchor_sequence
        and (payload := _anchor_payload(entry))
        and (payload.get("window_start_ms"), payload.get("window_end_ms")) == window
    ]
    return {
        "revision": mine.get("revision"),
        "tip_sequence": max(by_sequence),
        "superseded_by": None
        if not later
        else {"revision": later[-1][1], "sequence": later[-1][0]},
    }


def _revision(
    bundle: Mapping[str, Any], anchor: LedgerEntry, chain: Sequence[LedgerEntry]
) -> Check:
    status = revision_status(anchor.sequence, chain)
    stated = bundle.get("status")
    if stated is not None and stated != status:
        return Check("revision", False, f"status: got {stated!r}, the chain says {status!r}")
    later, tip = status["superseded_by"], status["tip_sequence"]
    if later is None:
        return Check("revision", True, f"revision {status['revision']}, current as of entry {tip}")
    return Check(
        "revision",
        True,
        f"revision {status['revision']}, superseded by revision {later['revision']} "
        f"(entry {later['sequence']}) as of entry {tip}",
    )
