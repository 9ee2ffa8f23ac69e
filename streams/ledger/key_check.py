"""The key checks of a ledger chain: the keys a genesis publishes, the genesis and every
signature held against the trusted keys, and key rotations handing over the current key. Pure.

:func:`streams.ledger.check.check_ledger` walks the chain and calls these; which key is current at
each point, and why, is said there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.agreement.signing import book_hash_of, signature_problems
from streams.agreement.trust import TrustedKeys
from streams.core.canonical import is_hex
from streams.core.clock import to_ms
from streams.core.keys import KeyFileError, PublicKey, key_id_of
from streams.ledger.entries import LedgerEntry, LedgerError
from streams.ledger.findings import Finding
from streams.ledger.payloads import ROTATION_DOMAIN, rotation_proof_ok

__all__ = ["genesis_keys", "genesis_trust", "rotated_key", "signature_ok"]


def genesis_keys(entry: LedgerEntry) -> tuple[dict[str, tuple[str, PublicKey]], list[str]]:
    """Keys published by a genesis entry (key id → (party, key)), and its payload's problems.
    A payload that does not match its hash publishes nothing (``bad-payload`` says why)."""
    if hashlib.sha256(entry.payload).digest() != entry.payload_hash:
        return {}, []
    try:
        payload = entry.payload_json()
    except LedgerError as exc:
        return {}, [str(exc)]
    problems = []
    parties = payload.get("parties")
    keys: dict[str, tuple[str, PublicKey]] = {}
    if not isinstance(parties, dict):
        return {}, [f"parties: got {parties!r}, want an object"]
    for party, info in parties.items():
        public = info.get("public_key") if isinstance(info, dict) else None
        if not is_hex(public):
            problems.append(f"parties.{party}: public_key: got {public!r}, want 64 lowercase hex")
            continue
        try:
            key = PublicKey.from_json(info)
        except KeyFileError as exc:
            problems.append(f"parties.{party}: {exc}")
            continue
        keys[key.key_id] = (party, key)
    if entry.party not in parties:
        problems.append(f"parties: got {sorted(parties)}, want the chain's party {entry.party}")
    if payload.get("agreement_id") != entry.agreement_id:
        problems.append(
            f"agreement_id: got {payload.get('agreement_id')!r}, want {entry.agreement_id!r}"
        )
    versions = payload.get("versions")
    try:
        expected = book_hash_of(entry.agreement_id, versions).hex()
    except (TypeError, ValueError):
        problems.append(f"versions: got {versions!r}, want a list of version objects")
        expected = None
    if expected is not None and payload.get("book_hash") != expected:
        problems.append(f"book_hash: got {payload.get('book_hash')!r}, want {expected} (versions)")
    signatures = payload.get("signatures")
    signed: set[str] = set()
    for index, doc in enumerate(signatures if isinstance(signatures, list) else []):
        found = signature_problems(doc, entry.agreement_id, expected or "", parties)
        published = keys.get(doc.get("key_id", "")) if not found else None
        if not found and (published is None or published[0] != doc["party"]):
            found = [f"key {doc['key_id']}: not the key parties.{doc['party']} publishes"]
        problems += [f"signatures[{index}]: {p}" for p in found]
        if not found:
            signed.add(doc["party"])
    for party in parties:
        if party not in signed:
            problems.append(f"signatures: missing a valid agreement signature by {party}")
    return keys, problems


def _trust_finding(
    trusted: TrustedKeys,
    party: str,
    key_id: str,
    at: datetime,
    sequence: int,
    what: str,
    public_key: str,
) -> Finding | None:
    """``unknown-key`` or ``key-not-valid`` when the key ``public_key`` (id ``key_id``) may not
    sign for ``party`` at ``at``; None when it may."""
    problem = trusted.key_problem(party, key_id, at, public_key)
    if problem is None:
        return None
    found = trusted.owner_of(key_id)
    listed = found is not None and found[0] == party and found[1].public_key == public_key
    return Finding("key-not-valid" if listed else "unknown-key", sequence, f"{what}: {problem}")


def genesis_trust(genesis: LedgerEntry, trusted: TrustedKeys) -> list[Finding]:
    """The genesis held against ``trusted``: the agreement it names, and the key of every
    agreement signature it carries (trusted for that party, valid at the genesis's time)."""
    try:
        payload = genesis.payload_json()
    except LedgerError:
        return []  # bad-payload says why
    findings = []
    carried = payload.get("book_hash")
    if trusted.book_hash is not None and carried != trusted.book_hash:
        findings.append(
            Finding(
                "wrong-agreement",
                0,
                f"book_hash: got {carried!r}, want {trusted.book_hash} ({trusted.source}): "
                "the chain is for another agreement or another set of versions",
            )
        )
    signatures = payload.get("signatures")
    for index, doc in enumerate(signatures if isinstance(signatures, list) else []):
        if not (isinstance(doc, dict) and isinstance(doc.get("party"), str)):
            continue  # bad-payload says why
        public = doc.get("public_key")
        if not is_hex(public):
            continue
        found = _trust_finding(
            trusted,
            doc["party"],
            key_id_of(bytes.fromhex(public)),
            genesis.time,
            0,
            f"signatures[{index}] (the agreement signed by {doc['party']})",
            public,
        )
        if found is not None:
            findings.append(found)
    return findings


def signature_ok(
    entry: LedgerEntry,
    current: PublicKey,
    since: int,
    trusted: TrustedKeys,
    owner: str,
    findings: list[Finding],
) -> bool:
    """Whether ``entry`` is signed by ``current``, a key ``trusted`` lists for ``owner`` and
    valid at the entry's time, with a good signature; adds the finding if not. While the
    chain's current key is not trusted (a genesis naming a stranger's key), no entry is."""
    found = trusted.owner_of(current.key_id)
    if found is None or found[0] != owner or found[1].public_key != current.raw.hex():
        findings.append(
            Finding(
                "unknown-key",
                entry.sequence,
                f"{entry.kind} signed by {entry.key_id} in a chain whose current key "
                f"{current.key_id} ({'named by the genesis' if since == 0 else 'rotated to'}) "
                f"is not trusted for {owner} by {trusted.source}; trusted for {owner}: "
                f"{trusted.listed(owner)}",
            )
        )
        return False
    if entry.key_id != current.key_id:
        found = trusted.owner_of(entry.key_id)
        takeover = "the genesis" if since == 0 else f"a key rotation at sequence {since - 1}"
        if found is not None and found[0] == owner:
            findings.append(
                Finding(
                    "key-not-current",
                    entry.sequence,
                    f"key_id: got {entry.key_id}, a trusted key of {owner} but not the current "
                    f"one: {current.key_id} signs from sequence {since} on ({takeover})",
                )
            )
        else:
            whose = (
                f"{found[0]}'s key, not {owner}'s"
                if found
                else f"not trusted for {owner} by {trusted.source}"
            )
            findings.append(
                Finding(
                    "unknown-key",
                    entry.sequence,
                    f"key_id: got {entry.key_id} ({whose}), want {owner}'s current key "
                    f"{current.key_id}; trusted for {owner}: {trusted.listed(owner)}",
                )
            )
        return False
    if not found[1].valid_at(entry.time):
        findings.append(
            Finding(
                "key-not-valid",
                entry.sequence,
                f"{entry.kind} signed: key {current.key_id} of {owner} is {found[1].window()}, "
                f"not at {entry.time.isoformat()}",
            )
        )
        return False
    if not found[1].public.verify(entry.signed_bytes(), entry.signature):
        findings.append(
            Finding(
                "bad-signature",
                entry.sequence,
                f"{entry.kind} signature does not verify with {entry.key_id}",
            )
        )
        return False
    return True


def rotated_key(
    entry: LedgerEntry,
    payload: Mapping[str, Any],
    current: PublicKey,
    trusted: TrustedKeys,
    owner: str,
    findings: list[Finding],
) -> PublicKey | None:
    """The key a validly signed, well-formed ``key-rotation`` entry hands over to, if the
    trusted keys allow it; else None and the finding."""
    new_id = payload["new_key_id"]
    found = trusted.owner_of(new_id)
    if found is None or found[0] != owner or found[1].public_key != payload["public_key"]:
        problem = trusted.key_problem(owner, new_id) or f"key {new_id} is not the one listed"
        findings.append(Finding("unknown-key", entry.sequence, f"key rotation: {problem}"))
        return None
    listing = found[1]
    if new_id == current.key_id:
        findings.append(
            Finding("bad-payload", entry.sequence, f"key rotation to the current key {new_id}")
        )
        return None
    if payload["valid_from_ms"] != to_ms(listing.valid_from):
        findings.append(
            Finding(
                "bad-payload",
                entry.sequence,
                f"key rotation: valid_from_ms: got {payload['valid_from_ms']}, want "
                f"{to_ms(listing.valid_from)} ({new_id} {listing.window()}, {trusted.source})",
            )
        )
        return None
    if not listing.valid_at(entry.time):
        findings.append(
            Finding(
                "key-not-valid",
                entry.sequence,
                f"key rotation at {entry.time.isoformat()} to {new_id}, {listing.window()}",
            )
        )
        return None
    if not rotation_proof_ok(payload, entry.agreement_id, owner, current.key_id):
        findings.append(
            Finding(
                "bad-payload",
                entry.sequence,
                f"key rotation: new_key_signature does not verify with the new key {new_id} "
                f"over {ROTATION_DOMAIN} of ({entry.agreement_id}, {owner}, {current.key_id} → "
                f"{new_id}, {payload['valid_from_ms']}): no proof the party holds the new key",
            )
        )
        return None
    return listing.public
