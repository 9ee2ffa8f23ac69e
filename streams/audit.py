"""Audit bundles: one rated record, its proof, the anchor and the chain, checkable offline.

A bundle is a self-contained JSON document an auditor (or the partner) can verify with no
access to Kafka or to the parties' systems, and with nothing but this module's rules, which
the docstrings of :mod:`streams.canonical`, :mod:`streams.merkle`, :mod:`streams.batchtree`
and :mod:`streams.ledger` spell out:

1. ``leaf``: the record's canonical leaf fields hash to the leaf hash in the proof;
2. ``inclusion``: the proof leads from the leaf, through its bucket and the top tree, to the
   batch root (the bucket is the keyed hash of the usage key, the key being the agreement's
   book hash);
3. ``chain``: every entry from genesis to the anchor is signed by the party's key published in
   genesis, each links to the one before, and genesis carries both parties' signatures of
   the agreement;
4. ``anchor``: the last entry is an anchor of this batch (window, revision, leaf count) and
   commits to exactly this root;
5. ``salt``: the bucketing key is the genesis book hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.batchtree import RecordProof, verify_record
from streams.canonical import LEAF_DOMAIN, canonical_json, leaf_fields, tagged
from streams.clock import from_ms, to_ms
from streams.errors import BilatError
from streams.ledger import LedgerEntry
from streams.ledger_check import check_ledger
from streams.records import RatedUsage

__all__ = [
    "BUNDLE_VERSION",
    "Check",
    "build_bundle",
    "entry_from_json",
    "entry_to_json",
    "verify_bundle",
]

BUNDLE_VERSION = 1


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
    ``revision``, ``depth``, ``root`` (bytes), ``leaf_count``; ``chain`` runs from genesis to
    the batch's anchor entry, in sequence order."""
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
        },
        "chain": [entry_to_json(e) for e in chain],
    }


def verify_bundle(bundle: Mapping[str, Any]) -> list[Check]:
    """Every check of the module docstring, in order; a bundle is valid iff all are ok.

    Never raises for a bad bundle: a malformed one is one failed ``format`` check.
    """
    try:
        if bundle.get("bilat_bundle") != BUNDLE_VERSION:
            raise ValueError(f"bilat_bundle: got {bundle.get('bilat_bundle')!r}, want 1")
        proof = RecordProof.from_json(bundle["proof"])
        batch = bundle["batch"]
        root = bytes.fromhex(batch["root"])
        chain = [entry_from_json(e) for e in bundle["chain"]]
        if not chain:
            raise ValueError("chain: empty, want genesis to anchor")
    except (BilatError, KeyError, TypeError, ValueError) as exc:
        return [Check("format", False, f"not a readable bundle: {exc}")]
    checks = [_leaf(bundle["record"], proof)]
    genesis, anchor = chain[0], chain[-1]
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
    findings = check_ledger(chain)
    contiguous = [e.sequence for e in chain] == list(range(len(chain)))
    checks.append(
        Check(
            "chain",
            not findings and contiguous,
            f"{len(chain)} entries from genesis, signed by {anchor.key_id}, linked"
            if not findings and contiguous
            else "; ".join(str(f) for f in findings) or "entries are not genesis..anchor in order",
        )
    )
    checks.append(_anchor(anchor, batch, root))
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
