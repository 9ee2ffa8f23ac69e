"""Audit bundles: one rated record, its proof, the anchor and the chain, checkable offline.

A bundle is a self-contained JSON document an auditor (or the partner) can verify with no
access to Kafka or to the parties' systems, and with nothing but this module's rules, which
the docstrings of :mod:`streams.core.canonical`, :mod:`streams.merkle.rfc9162`,
:mod:`streams.merkle.batchtree` and :mod:`streams.ledger.entries` spell out:

1. ``leaf``: the record's canonical leaf fields hash to the leaf hash in the proof;
2. ``inclusion``: the proof leads from the leaf, through its bucket and the top tree, to the
   batch root (the bucket is the keyed hash of the usage key, the key being the agreement's
   book hash);
3. ``chain``: every entry from genesis on is signed by the party's current key, a key the
   checker trusts for that party (:class:`~streams.agreement.trust.TrustedKeys`: the agreement's
   keys or a trusted-keys file, never keys the bundle brings) valid at the entry's time, each links
   to the one before, genesis carries both parties' signatures of the agreement by trusted keys,
   and its book hash is the trusted agreement's (:func:`streams.ledger.check.check_ledger`);
4. ``anchor``: the entry at the batch's ``anchor_sequence`` is an anchor of this batch: it
   signs every member of ``batch`` (agreement id, window, revision, depth as
   ``digest.depth``, root, leaf count), so that no member of a bundle goes unchecked;
5. ``record``: the record agrees with what that anchor signs: its start lies in the window,
   its agreement version is one the anchor lists, the anchor totals its currency, and the
   batch has leaves;
6. ``revision``: which revision of the window the record is proven in, and whether a later
   anchor in the exported chain (genesis to the tip at export) supersedes it with a higher
   revision; the bundle's ``status`` must say exactly that. A bundle proves the record was in
   *that* revision; a superseded revision is reported, not failed;
7. ``salt``: the bucketing key is the genesis book hash.

Before them, ``format``: a bundle has exactly the members of its version, each of its type,
bytes in lowercase hex, and an entry at the anchor's sequence; if not, that one failed check
is all :func:`verify_bundle` reports. ``docs/spec/ledger.md`` (*Audit bundles*) specifies the
layout and every check.

Decimal text in a bundle must be canonical (:func:`streams.core.canonical.decimal_text`): the leaf
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

from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core.canonical import (
    LEAF_DOMAIN,
    canonical_json,
    decimal_text,
    leaf_fields,
    tagged,
)
from streams.core.clock import from_ms
from streams.core.errors import BilatError
from streams.ledger.bundle_format import (
    BATCH_FIELDS,
    BUNDLE_VERSION,
    entry_from_json,
    entry_to_json,
    is_int,
    layout_problems,
)
from streams.ledger.check import check_ledger
from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_salt
from streams.merkle.batchtree import RecordProof, verify_record

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


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


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
    naming them and the trusted ones. Never raises for a bad bundle: one that is not laid out
    as its version says (a missing or unknown member, a value of the wrong type, hex not in
    lowercase, no entry at the anchor's sequence) is one failed ``format`` check.
    """
    try:
        if not isinstance(bundle, Mapping):
            raise ValueError(f"got {type(bundle).__name__}, want an object")
        problems = layout_problems(bundle)
        if problems:
            raise ValueError("; ".join(problems[:8]) + ("; …" if len(problems) > 8 else ""))
        version = bundle["bilat_bundle"]
        proof = RecordProof.from_json(bundle["proof"])
        batch = bundle["batch"]
        root = bytes.fromhex(batch["root"])
        chain = [entry_from_json(e) for e in bundle["chain"]]
        at = batch["anchor_sequence"] if version >= 2 else chain[-1].sequence
        anchors = [e for e in chain if e.sequence == at]
        if len(anchors) != 1:
            raise ValueError(
                f"batch.anchor_sequence: got {at!r}, want the sequence of one entry of the chain"
            )
    except (BilatError, KeyError, TypeError, ValueError) as exc:
        return [Check("format", False, f"not a readable bundle: {exc}")]
    record: Mapping[str, Any] = bundle["record"]
    anchor = anchors[0]
    salt = genesis_salt(chain[0])
    checks = [_leaf(record, proof)]
    if salt is None:
        checks.append(Check("inclusion", False, "no salt: the first entry is not a genesis entry"))
    else:
        try:
            verify_record(proof, root, batch["depth"], salt)
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
            else "; ".join(str(f) for f in findings) or "entries are not genesis..tip in order",
        )
    )
    checks.append(_anchor(anchor, batch, root))
    checks.append(_record(record, anchor, batch))
    checks.append(_revision(bundle, anchor, chain))
    checks.append(
        Check(
            "salt",
            salt is not None,
            f"bucket key = genesis book hash {salt.hex()[:16]}…"
            if salt is not None
            else "first entry is not a genesis entry carrying a book hash",
        )
    )
    return checks


_CANONICAL_DECIMAL = re.compile(r"0|-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def _leaf(fields: Mapping[str, Any], proof: RecordProof) -> Check:
    for name in ("quantity", "amount"):
        text = fields[name]
        if not _CANONICAL_DECIMAL.fullmatch(text) or text == "-0":
            canonical = _canonical_decimal(text)
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
    if fields["key"] != proof.usage_key:
        return Check("leaf", False, f"record key {fields['key']!r}, proof key {proof.usage_key!r}")
    return Check("leaf", True, f"{proof.usage_key} hashes to {got.hex()[:16]}…")


def _same(got: Any, want: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, nor ``1`` ``1.0``."""
    return type(got) is type(want) and got == want


def _anchor(entry: LedgerEntry, batch: Mapping[str, Any], root: bytes) -> Check:
    """The entry at the batch's anchor sequence signs exactly this batch: every member of
    ``batch`` (but ``anchor_sequence``, which names the entry) is the anchor's."""
    if entry.kind != "anchor":
        return Check(
            "anchor", False, f"entry {entry.sequence} is a {entry.kind!r} entry, want an anchor"
        )
    payload = _payload_object(entry)
    if payload is None:
        return Check("anchor", False, "anchor payload is not canonical JSON of an object")
    digest = payload.get("digest")
    signed = {
        "agreement_id": payload.get("agreement_id"),
        "window_start_ms": payload.get("window_start_ms"),
        "window_end_ms": payload.get("window_end_ms"),
        "revision": payload.get("revision"),
        "depth": digest.get("depth") if isinstance(digest, dict) else None,
        "root": payload.get("root"),
        "leaf_count": payload.get("leaf_count"),
    }
    wrong = [
        f"batch.{name}: got {batch[name]!r}, the anchor signs {signed[name]!r}"
        + (" (digest.depth)" if name == "depth" else "")
        for name in BATCH_FIELDS
        if not _same(batch[name], signed[name])
    ]
    if wrong:
        return Check("anchor", False, "; ".join(wrong))
    return Check(
        "anchor",
        True,
        f"entry {entry.sequence} anchors window {_when(batch['window_start_ms'])} "
        f"rev {batch['revision']}",
    )


def _when(ms: int) -> str:
    """Epoch milliseconds for a message: ISO-8601 when a datetime can hold it, else the
    number (a signed anchor may carry any integer)."""
    try:
        return from_ms(ms).isoformat()
    except (OverflowError, ValueError):
        return f"{ms} ms"


def _canonical_decimal(text: Any) -> str | None:
    """``decimal_text`` of ``text`` if it reads as a decimal number (exponents included, to
    name the canonical text in the error), else ``None``."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        return None
    return decimal_text(Decimal(text))


def _payload_object(entry: LedgerEntry) -> dict[str, Any] | None:
    """The payload, if it is the canonical JSON of an object (as every payload must be)."""
    try:
        payload = json.loads(entry.payload)
        canonical = isinstance(payload, dict) and canonical_json(payload) == entry.payload
    except (TypeError, ValueError):
        return None
    return payload if canonical else None


def _anchor_payload(entry: LedgerEntry) -> dict[str, Any]:
    return _payload_object(entry) or {}


def _record(fields: Mapping[str, Any], entry: LedgerEntry, batch: Mapping[str, Any]) -> Check:
    """The record against what its anchor signs (a valid proof alone does not show this)."""
    payload = _anchor_payload(entry)
    problems = []
    start, begin, end = fields["start_ms"], batch["window_start_ms"], batch["window_end_ms"]
    if not begin <= start < end:
        problems.append(f"start_ms: got {start!r}, want in the anchored window [{begin}, {end})")
    versions = payload.get("agreement_versions")
    if not isinstance(versions, list) or fields["agreement_version"] not in versions:
        problems.append(
            f"agreement_version: got {fields['agreement_version']!r}, want one the anchor "
            f"lists: {versions!r}"
        )
    if fields["agreement_id"] != entry.agreement_id:
        problems.append(
            f"agreement_id: got {fields['agreement_id']!r}, want {entry.agreement_id!r}"
        )
    totals = payload.get("totals")
    if not isinstance(totals, dict) or fields["currency"] not in totals:
        problems.append(
            f"currency: got {fields['currency']!r}, want one the anchor totals: "
            f"{sorted(totals) if isinstance(totals, dict) else totals!r}"
        )
    if not batch["leaf_count"] > 0:
        problems.append(f"leaf_count: got {batch['leaf_count']!r}, want > 0 for a batch with it")
    if problems:
        return Check("record", False, "; ".join(problems))
    return Check(
        "record",
        True,
        f"in window {_when(begin)}, version {fields['agreement_version']}, "
        f"{fields['currency']} totalled",
    )


def revision_status(anchor_sequence: int, chain: Sequence[LedgerEntry]) -> dict[str, Any]:
    """What ``chain`` (genesis to its tip) says of the anchor at ``anchor_sequence``:
    ``{"revision", "tip_sequence", "superseded_by": null | {"revision", "sequence"}}``.

    ``revision`` is the anchor's; ``tip_sequence`` the highest sequence of the chain;
    ``superseded_by`` the anchor of highest sequence among the later anchors (sequence above
    ``anchor_sequence``) of the same window (``window_start_ms`` and ``window_end_ms``) with a
    higher revision, or null. Only anchors whose payload is canonical JSON of an object count.
    Written into a bundle at export as ``status``, and recomputed by :func:`verify_bundle` from
    the chain it carries."""
    mine = _anchor_payload(next(e for e in chain if e.sequence == anchor_sequence))
    window = (mine.get("window_start_ms"), mine.get("window_end_ms"))
    revision = mine.get("revision")
    later = [
        (entry.sequence, payload["revision"])
        for entry in chain
        if entry.kind == "anchor"
        and entry.sequence > anchor_sequence
        and (payload := _anchor_payload(entry))
        and (payload.get("window_start_ms"), payload.get("window_end_ms")) == window
        and is_int(payload.get("revision"))
        and is_int(revision)
        and payload["revision"] > revision
    ]
    last = max(later, default=None)
    return {
        "revision": revision,
        "tip_sequence": max(e.sequence for e in chain),
        "superseded_by": None if last is None else {"revision": last[1], "sequence": last[0]},
    }


def _revision(
    bundle: Mapping[str, Any], anchor: LedgerEntry, chain: Sequence[LedgerEntry]
) -> Check:
    """The bundle's ``status`` (version 2) is exactly what its chain says; a revision
    superseded by a later one is reported, not failed (the record was in it)."""
    status = revision_status(anchor.sequence, chain)
    if "status" in bundle:
        try:
            same = canonical_json(bundle["status"]) == canonical_json(status)
        except (TypeError, ValueError):  # no canonical form: never the chain's value
            same = False
        if not same:
            return Check(
                "revision", False, f"status: got {bundle['status']!r}, the chain says {status!r}"
            )
    later, tip = status["superseded_by"], status["tip_sequence"]
    if later is None:
        return Check("revision", True, f"revision {status['revision']}, current as of entry {tip}")
    return Check(
        "revision",
        True,
        f"revision {status['revision']}, superseded by revision {later['revision']} "
        f"(entry {later['sequence']}) as of entry {tip}",
    )
