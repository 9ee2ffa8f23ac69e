"""The evidence of a dispute: the records and reconciliation alerts the Buyer cites, each record
with its proof against a signed anchor, hashed so the dispute entry can sign it. Pure.

The document (``docs/spec/ledger.md``, "Dispute evidence") is a JSON object::

    {"bilat_evidence": 1, "agreement_id", "bill_id", "dispute_id", "statement_hash": hex,
     "items": [item ids, sorted, distinct],
     "records": [{"fields": <the record's leaf fields, streams.core.canonical.leaf_fields>,
                  "anchor": {"party", "sequence", "entry_hash": hex, "window_start_ms",
                             "window_end_ms", "revision", "root": hex, "depth"},
                  "proof": <its record proof, streams.merkle.recordproof.RecordProof.to_json>}
                 ..., sorted by (fields.key, anchor.party, anchor.sequence)],
     "alerts": [<recon_alert fields but detected_ms>, ..., sorted by distinct alert_id]}

and its hash, which the ``dispute`` entry carries as ``evidence_hash``, is
``SHA-256(tag("dispute-evidence.v1", canonical_json(document)))`` (:func:`evidence_hash`).

A record proof is the batch's own (bucket path, then top path, RFC 9162 inclusion proofs:
:mod:`streams.merkle.recordproof`); the anchor names the entry (party, sequence, entry hash)
that signs the root. Records of either party may be cited: one's own and, from a drill-down,
the partner's. Alerts carry no signature of their own: the Buyer's signature of the dispute
entry covers them through the hash, and they say what the Buyer's reconciler found.

Contract of :func:`check_evidence`: the anchor entries it is given come from chains whose
signatures and links the caller checked against pinned keys (:func:`streams.ledger.check.
check_ledger` with the agreement's trusted keys) and the salt is the agreement's book hash.
Then a document that passes proves that each record, with exactly these fields, is in the
batch its party signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from streams.core.canonical import MAX_SAFE_INT, canonical_json, is_hex, leaf_hash_of_fields, tagged
from streams.core.errors import BilatError
from streams.ledger.entries import LedgerEntry
from streams.ledger.settlement import is_decimal_text
from streams.merkle.recordproof import RecordProof, verify_record
from streams.merkle.rfc9162 import MerkleError
from streams.reconcile.alerts import Alert

__all__ = [
    "EVIDENCE_CHECKS",
    "EVIDENCE_DOMAIN",
    "EVIDENCE_VERSION",
    "EvidenceError",
    "EvidenceRecord",
    "anchors_by_party_sequence",
    "build_evidence",
    "check_evidence",
    "evidence_hash",
    "record_of_alert_proof",
]

EVIDENCE_DOMAIN = "dispute-evidence.v1"
EVIDENCE_VERSION = 1
EVIDENCE_CHECKS = ("layout", "leaf", "anchor", "record", "inclusion", "dispute")
"""The checks of :func:`check_evidence`; each problem starts with one of them and ``:``."""
_DOC_FIELDS = (
    "bilat_evidence",
    "agreement_id",
    "bill_id",
    "dispute_id",
    "statement_hash",
    "items",
    "records",
    "alerts",
)
_LEAF_FIELDS = (
    "key",
    "start_ms",
    "quantity",
    "unit",
    "amount",
    "currency",
    "agreement_id",
    "agreement_version",
)
_ANCHOR_FIELDS = (
    "party",
    "sequence",
    "entry_hash",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "root",
    "depth",
)


class EvidenceError(BilatError):
    """An evidence document cannot be built from what was given (an anchor entry that is not a
    well-formed anchor, a proof of another record, an alert with no canonical JSON).
    ``problems`` lists every problem."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message + "".join(f"\n  - {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One cited record: its leaf fields, the anchor entry whose root covers it, its proof."""

    fields: Mapping[str, Any]
    """:func:`streams.core.canonical.leaf_fields` of the record (or ``Leaf.fields``)."""
    anchor: LedgerEntry
    """The ``anchor`` entry of the batch that holds the record (either party's chain)."""
    proof: RecordProof
    """Its proof in that batch (``BatchTree.proof``, or
    :func:`streams.reconcile.proofs.bucket_proof` from a digest and a bucket's leaves)."""


def evidence_hash(document: Mapping[str, Any]) -> bytes:
    """``SHA-256(tagged("dispute-evidence.v1", canonical_json(document)))``; ``TypeError`` or
    ``ValueError`` for a document with no canonical JSON."""
    return hashlib.sha256(tagged(EVIDENCE_DOMAIN, canonical_json(document))).digest()


def _alert_json(alert: Alert | Mapping[str, Any]) -> dict[str, Any]:
    """An alert's fields as ``recon_alert`` has them, without ``detected_ms`` (when a reconciler
    noticed it again is not part of what it found, and would change the hash)."""
    fields = alert.to_avro(0) if isinstance(alert, Alert) else dict(alert)
    fields.pop("detected_ms", None)
    return fields


def _anchor_json(entry: LedgerEntry) -> dict[str, Any]:
    payload = entry.payload_json()
    digest = payload.get("digest")
    return {
        "party": entry.party,
        "sequence": entry.sequence,
        "entry_hash": entry.entry_hash().hex(),
        "window_start_ms": payload.get("window_start_ms"),
        "window_end_ms": payload.get("window_end_ms"),
        "revision": payload.get("revision"),
        "root": payload.get("root"),
        "depth": digest.get("depth") if isinstance(digest, dict) else None,
    }


def build_evidence(
    *,
    agreement_id: str,
    bill_id: str,
    dispute_id: str,
    statement_hash: bytes,
    items: Iterable[str],
    records: Iterable[EvidenceRecord],
    alerts: Iterable[Alert | Mapping[str, Any]],
) -> dict[str, Any]:
    """The evidence document of a dispute (see the module docstring); lists sorted, so the same
    evidence always has the same hash. The dispute entry then names ``sorted({r.fields["key"]})``
    as its records and the alerts' ids as its alerts.

    Raises :class:`EvidenceError` listing every problem of the inputs: an anchor that is not an
    anchor entry, a proof whose key or leaf hash is not the record's, fields or alerts with no
    canonical JSON, two alerts with one id.
    """
    problems: list[str] = []
    cited = []
    for record in records:
        key = record.fields.get("key")
        if record.anchor.kind != "anchor":
            problems.append(f"record {key}: anchor is a {record.anchor.kind} entry")
            continue
        if record.proof.usage_key != key:
            problems.append(f"record {key}: the proof is of {record.proof.usage_key!r}")
        cited.append(
            {
                "fields": dict(record.fields),
                "anchor": _anchor_json(record.anchor),
                "proof": record.proof.to_json(),
            }
        )
    by_id: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        fields = _alert_json(alert)
        if fields.get("alert_id") in by_id and by_id[fields["alert_id"]] != fields:
            problems.append(f"alert {fields['alert_id']}: two different alerts with this id")
        by_id[str(fields.get("alert_id"))] = fields
    cited.sort(
        key=lambda r: (str(r["fields"].get("key")), r["anchor"]["party"], r["anchor"]["sequence"])
    )
    document = {
        "bilat_evidence": EVIDENCE_VERSION,
        "agreement_id": agreement_id,
        "bill_id": bill_id,
        "dispute_id": dispute_id,
        "statement_hash": statement_hash.hex(),
        "items": sorted(set(items)),
        "records": cited,
        "alerts": [by_id[k] for k in sorted(by_id)],
    }
    shape = _shape(document)
    problems += shape
    for i, cited_record in enumerate(cited if not shape else []):
        problems += _leaf_problems(f"records[{i}]", cited_record)
    if problems:
        raise EvidenceError(f"evidence of dispute {dispute_id}", problems)
    return document


def anchors_by_party_sequence(entries: Iterable[LedgerEntry]) -> dict[tuple[str, int], LedgerEntry]:
    """The anchor entries among ``entries`` (both parties' checked chains), by (party,
    sequence): what :func:`check_evidence` looks each record's anchor up in."""
    return {(e.party, e.sequence): e for e in entries if e.kind == "anchor"}


def record_of_alert_proof(
    fields: Mapping[str, Any],
    party: str,
    proof_json: str,
    anchors: Mapping[tuple[str, int], LedgerEntry],
) -> EvidenceRecord:
    """The evidence record of one side of an alert: ``proof_json`` is the alert's
    ``here_proof`` (``party`` = the alert's party) or ``partner_proof`` (its partner), as
    :func:`streams.reconcile.proofs.proof_json` wrote it; ``fields`` the record's leaf fields.
    Raises :class:`EvidenceError` when the proof cannot be read or its anchor is unknown."""
    try:
        data = json.loads(proof_json)
        proof = RecordProof.from_json(data["proof"])
        anchor = anchors[(party, data["anchor_sequence"])]
    except (ValueError, KeyError, TypeError, MerkleError) as exc:
        raise EvidenceError(f"proof of {fields.get('key')!r} by {party}: {exc}") from None
    return EvidenceRecord(fields, anchor, proof)


# --- checking ------------------------------------------------------------------------------


def _is_int(value: Any, minimum: int = 0) -> bool:
    return type(value) is int and minimum <= value <= MAX_SAFE_INT


def _ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) and v for v in value)
        and all(a < b for a, b in pairwise(value))
    )


def _shape(doc: Any) -> list[str]:
    """Problems of the document's layout (members, types, order); [] when well formed."""
    if not isinstance(doc, Mapping):
        return [f"document: got {type(doc).__name__}, want an object"]
    if set(doc) != set(_DOC_FIELDS):
        return [f"members: got {sorted(map(str, doc))}, want {sorted(_DOC_FIELDS)}"]
    problems = []
    if doc["bilat_evidence"] != EVIDENCE_VERSION or type(doc["bilat_evidence"]) is not int:
        problems.append(f"bilat_evidence: got {doc['bilat_evidence']!r}, want 1")
    for name in ("agreement_id", "bill_id", "dispute_id"):
        if not isinstance(doc[name], str) or not doc[name]:
            problems.append(f"{name}: got {doc[name]!r}, want a non-empty string")
    if not is_hex(doc["statement_hash"]):
        problems.append("statement_hash: want 64 lowercase hex digits")
    if not _ids(doc["items"]) or not doc["items"]:
        problems.append("items: want a non-empty list of item ids, sorted, distinct")
    records = doc["records"]
    if not isinstance(records, list) or not all(
        isinstance(r, Mapping)
        and set(r) == {"fields", "anchor", "proof"}
        and isinstance(r["fields"], Mapping)
        and set(r["fields"]) == set(_LEAF_FIELDS)
        and isinstance(r["anchor"], Mapping)
        and set(r["anchor"]) == set(_ANCHOR_FIELDS)
        for r in records
    ):
        problems.append("records: want objects of exactly fields, anchor, proof (see the spec)")
    else:
        order = [
            (r["fields"]["key"], r["anchor"]["party"], r["anchor"]["sequence"]) for r in records
        ]
        if not all(isinstance(k, str) and isinstance(p, str) and _is_int(s) for k, p, s in order):
            problems.append("records: key and party strings, sequence an integer")
        elif any(a >= b for a, b in pairwise(order)):
            problems.append("records: want sorted by (key, party, sequence), each once")
    alerts = doc["alerts"]
    if not isinstance(alerts, list) or not all(
        isinstance(a, Mapping) and isinstance(a.get("alert_id"), str) for a in alerts
    ):
        problems.append("alerts: want objects with a string alert_id")
    elif not _ids([a["alert_id"] for a in alerts]):
        problems.append("alerts: want sorted by alert_id, each once")
    try:
        canonical_json(doc)
    except (TypeError, ValueError) as exc:
        problems.append(f"no canonical JSON: {exc}")
    return problems


def _leaf_problems(where: str, record: Mapping[str, Any]) -> list[str]:
    """The record's fields against its proof: canonical, hashing to the proof's leaf hash, the
    proof's key. Returns the leaf data check's problems."""
    fields = record["fields"]
    try:
        proof = RecordProof.from_json(record["proof"])
    except MerkleError as exc:
        return [f"inclusion: {where}.proof: {exc}"]
    problems = []
    for name in ("quantity", "amount"):
        if not isinstance(fields[name], str) or not is_decimal_text(fields[name]):
            problems.append(
                f"leaf: {where}.fields.{name}: got {fields[name]!r}, want canonical decimal text"
            )
    if not _is_int(fields["start_ms"]):
        problems.append(f"leaf: {where}.fields.start_ms: got {fields['start_ms']!r}, want an int")
    if fields["key"] != proof.usage_key:
        problems.append(
            f"leaf: {where}: fields.key {fields['key']!r}, proof.usage_key {proof.usage_key!r}"
        )
    try:
        leaf = leaf_hash_of_fields(fields)
    except (TypeError, ValueError) as exc:
        return [*problems, f"leaf: {where}.fields: no canonical JSON ({exc})"]
    if leaf != proof.leaf_hash:
        problems.append(
            f"leaf: {where}: fields hash to {leaf.hex()}, "
            f"proof.leaf_hash is {proof.leaf_hash.hex()}"
        )
    return problems


def _anchor_problems(
    where: str,
    doc: Mapping[str, Any],
    record: Mapping[str, Any],
    anchors: Mapping[tuple[str, int], LedgerEntry],
) -> tuple[LedgerEntry | None, list[str]]:
    """The named anchor entry, and what the document says of it that it does not sign."""
    named = record["anchor"]
    entry = anchors.get((named["party"], named["sequence"]))
    if entry is None:
        return None, [
            f"anchor: {where}: no checked anchor entry {named['party']}#{named['sequence']}"
        ]
    if entry.entry_hash().hex() != named["entry_hash"] or entry.kind != "anchor":
        return None, [
            f"anchor: {where}: entry {named['party']}#{named['sequence']} has hash "
            f"{entry.entry_hash().hex()} (a {entry.kind}), the document names {named['entry_hash']}"
        ]
    signed = _anchor_json(entry)
    problems = [
        f"anchor: {where}.anchor.{name}: got {named[name]!r}, the anchor signs {signed[name]!r}"
        for name in _ANCHOR_FIELDS
        if type(named[name]) is not type(signed[name]) or named[name] != signed[name]
    ]
    if entry.agreement_id != doc["agreement_id"]:
        problems.append(f"anchor: {where}: an anchor of agreement {entry.agreement_id}")
    if problems:
        return None, problems
    fields, payload = record["fields"], entry.payload_json()
    start = fields["start_ms"]
    if not (_is_int(start) and named["window_start_ms"] <= start < named["window_end_ms"]):
        problems.append(f"record: {where}.fields.start_ms: {start!r} not in the anchored window")
    if fields["agreement_id"] != doc["agreement_id"]:
        problems.append(f"record: {where}.fields.agreement_id: got {fields['agreement_id']!r}")
    versions = payload.get("agreement_versions")
    if not isinstance(versions, list) or fields["agreement_version"] not in versions:
        problems.append(f"record: {where}.fields.agreement_version: not one the anchor lists")
    totals = payload.get("totals")
    if not (isinstance(totals, dict) and isinstance(fields["currency"], str)) or (
        fields["currency"] not in totals
    ):
        problems.append(f"record: {where}.fields.currency: not one the anchor totals")
    return entry, problems


def check_evidence(
    document: Any,
    anchors: Mapping[tuple[str, int], LedgerEntry],
    *,
    salt: bytes,
    dispute: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every problem of an evidence document; ``[]`` when it holds (see the module docstring
    for the contract on ``anchors`` and ``salt``).

    Each problem starts with the check that failed, as ``docs/spec/ledger.md`` ("Dispute
    evidence") names them: ``layout``, ``leaf``, ``anchor``, ``record``, ``inclusion``,
    ``dispute``. Checks the layout, then for each record: its fields are canonical and hash
    to its proof's leaf hash under its key; the anchor it names is among ``anchors`` (by
    party and sequence) with that entry hash, and signs the window, revision, root and depth
    the document states; the record lies in that window under an agreement version and
    currency the anchor covers; and its proof leads to the anchored root
    (:func:`~streams.merkle.recordproof.verify_record`). With ``dispute`` (the dispute
    entry's payload), also that the dispute names this document: its agreement, bill,
    dispute id, statement hash and items; its records the document's record keys, its alerts
    the document's alert ids, and its
    ``evidence_hash`` the document's :func:`evidence_hash`. Never raises for a hostile
    document.
    """
    problems = [f"layout: {p}" for p in _shape(document)]
    if problems:
        return problems
    for i, record in enumerate(document["records"]):
        where = f"records[{i}]"
        leaf = _leaf_problems(where, record)
        entry, anchored = _anchor_problems(where, document, record, anchors)
        problems += leaf + anchored
        if leaf or entry is None:
            continue
        named = record["anchor"]
        try:
            verify_record(
                RecordProof.from_json(record["proof"]),
                bytes.fromhex(named["root"]),
                named["depth"],
                salt,
            )
        except (MerkleError, ValueError) as exc:
            problems.append(f"inclusion: {where}.proof: {exc}")
    if dispute is not None:
        problems += _dispute_problems(document, dispute)
    return problems


def _dispute_problems(doc: Mapping[str, Any], dispute: Mapping[str, Any]) -> list[str]:
    want = {
        "agreement_id": doc["agreement_id"],
        "bill_id": doc["bill_id"],
        "dispute_id": doc["dispute_id"],
        "statement_hash": doc["statement_hash"],
        "items": doc["items"],
        "records": sorted({r["fields"]["key"] for r in doc["records"]}),
        "alerts": [a["alert_id"] for a in doc["alerts"]],
        "evidence_hash": evidence_hash(doc).hex(),
    }
    return [
        f"dispute: {name}: got {dispute.get(name)!r}, the evidence gives {value!r}"
        for name, value in want.items()
        if dispute.get(name) != value
    ]
