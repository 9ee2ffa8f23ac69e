"""Checking a party's chain as stored: every problem, as findings (errors as data). Pure.

:func:`check_ledger` walks one party's mirrored chain and reports every bad signature, broken
link, gap, equivocation, duplicate window and malformed payload; a clean chain gives ``[]``.

Signatures are checked against :class:`~streams.agreement.trust.TrustedKeys` the checker brings (the
agreement, or a trusted-keys file), never against keys the chain publishes about itself. Which
key is *current* at each point of the chain: the key the owner's agreement signature in the
genesis names, until a validly signed ``key-rotation`` entry names the next
(:func:`streams.ledger.entries.rotation_payload`, which carries the new key's signature: proof that
the party holds it); every entry, genesis included, must be signed by the current key, trusted for
the owner (those very key bytes, not just the key id) and valid at the entry's time.
``docs/spec/ledger.md`` specifies every finding.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.agreement.signing import book_hash_of, signature_problems
from streams.agreement.trust import TrustedKeys
from streams.core.canonical import canonical_json, is_hex
from streams.core.clock import to_ms
from streams.core.keys import KeyFileError, PublicKey, key_id_of
from streams.ledger.entries import (
    ROTATION_DOMAIN,
    ZERO_HASH,
    LedgerEntry,
    LedgerError,
    WindowKey,
    anchor_problems,
    rotation_problems,
    rotation_proof_ok,
    window_key,
)

__all__ = ["FINDING_KINDS", "Finding", "check_ledger", "genesis_keys"]

FINDING_KINDS = (
    "bad-signature",
    "chain-break",
    "gap",
    "equivocation",
    "duplicate-window",
    "bad-payload",
    "unknown-key",
    "key-not-current",
    "key-not-valid",
    "wrong-agreement",
    "no-genesis",
    "wrong-party",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of a ledger chain, as data (it becomes a ``ReconAlert``)."""

    kind: str
    """One of :data:`FINDING_KINDS`."""
    sequence: int | None
    """The entry concerned; None when it concerns the chain as a whole."""
    detail: str

    def __str__(self) -> str:
        where = "ledger" if self.sequence is None else f"sequence {self.sequence}"
        return f"{self.kind} at {where}: {self.detail}"


def _owner(entries: Sequence[LedgerEntry], party: str | None) -> tuple[str, str]:
    """The chain's (party, agreement): ``party`` or the most common party; the agreement of its
    genesis entry, else its most common agreement. Ties break by name, never by input order."""

    def most_common(counts: Counter[str]) -> str:
        return min(counts.items(), key=lambda item: (-item[1], item[0]))[0] if counts else ""

    owner = party if party is not None else most_common(Counter(e.party for e in entries))
    mine = [e for e in entries if e.party == owner]
    geneses = [e for e in mine if e.sequence == 0 and e.kind == "genesis"]
    if geneses:
        return owner, min(geneses, key=lambda e: e.entry_hash()).agreement_id
    return owner, most_common(Counter(e.agreement_id for e in mine))


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


def check_ledger(
    entries: Iterable[LedgerEntry],
    party: str | None = None,
    *,
    trusted: TrustedKeys,
) -> list[Finding]:
    """Every problem of one party's chain as stored (any order, duplicates allowed).

    The chain's owner is ``party`` (default: the party of the genesis entry), its agreement
    that of the genesis entry. ``trusted`` says which keys may sign for which party and when,
    and (when it knows them) the agreement id and book hash the genesis must carry. Reported,
    all at once, sorted by sequence:

    * ``wrong-party`` — an entry of another party or agreement (then ignored);
    * ``no-genesis`` — no genesis entry at sequence 0 (signatures cannot be checked then);
    * ``wrong-agreement`` — the genesis names another agreement id or book hash than
      ``trusted`` (the chain is for another agreement, or another set of versions);
    * ``bad-payload`` — payload not matching ``payload_hash``, not canonical JSON, or not the
      kind's shape (genesis: keys, book hash, both agreement signatures; anchor: window,
      revision, root; key-rotation: key (not of small order), id, valid_from matching the
      trusted listing, and a proof of possession that verifies with the new key; a revision
      superseding a root its window was not anchored with);
    * ``unknown-key`` — signed by a key ``trusted`` does not list for the owner (a stranger's,
      or the partner's), an agreement signature in the genesis by a key not trusted for its
      party, or a key rotation to such a key; the detail names the key and the trusted ones;
    * ``key-not-current`` — signed by a trusted key of the owner that is not the current one
      at that point (the old key after a rotation, a new key before it);
    * ``key-not-valid`` — signed (or rotated to) a key outside its validity at the entry's time;
    * ``bad-signature`` — the signature does not verify;
    * ``chain-break`` — ``prev_hash`` is not the hash of the entry before (or not zero for
      genesis);
    * ``gap`` — missing sequences below the highest one;
    * ``equivocation`` — two entries with one sequence, both validly signed, signing different
      content (identical copies are fine: Kafka delivers at least once; a corrupted copy is a
      ``bad-signature`` or ``bad-payload``, never the party's equivocation);
    * ``duplicate-window`` — a (window, revision) anchored again with a different root.

    A clean chain gives ``[]``; an empty one a ``no-genesis`` finding.
    """
    items = list(entries)
    findings: list[Finding] = []
    owner, agreement = _owner(items, party)
    by_sequence: dict[int, list[LedgerEntry]] = {}
    for entry in items:
        if (entry.party, entry.agreement_id) != (owner, agreement):
            findings.append(
                Finding(
                    "wrong-party",
                    entry.sequence,
                    f"entry of {entry.party}/{entry.agreement_id}, want {owner}/{agreement}",
                )
            )
            continue
        variants = by_sequence.setdefault(entry.sequence, [])
        if entry not in variants:
            variants.append(entry)

    current: PublicKey | None = None  # the owner's key the genesis names, then rotations'
    geneses = [e for e in by_sequence.get(0, []) if e.kind == "genesis"]
    if not geneses:
        at_zero = by_sequence.get(0)
        detail = (
            f"sequence 0 is a {at_zero[0].kind} entry, want genesis"
            if at_zero
            else "no entry at sequence 0: keys unknown, signatures not checked"
        )
        findings.append(Finding("no-genesis", 0 if at_zero else None, detail))
    if trusted.agreement_id is not None and items and agreement != trusted.agreement_id:
        findings.append(
            Finding(
                "wrong-agreement",
                0 if geneses else None,
                f"agreement: got {agreement}, want {trusted.agreement_id} ({trusted.source})",
            )
        )
    genesis_problems: dict[int, list[str]] = {}
    for genesis in sorted(geneses, key=lambda e: e.entry_hash()):
        published, problems = genesis_keys(genesis)
        genesis_problems[id(genesis)] = problems
        owned = [key for p, key in published.values() if p == owner]
        if current is None and owned:
            current = owned[0]
            findings += _genesis_trust(genesis, trusted)
    if geneses and current is None:
        findings.append(
            Finding(
                "no-genesis",
                0,
                f"no genesis entry publishes a usable key of {owner}: signatures not checked",
            )
        )

    hashes: dict[int, set[bytes]] = {}
    signed_ok: dict[int, list[LedgerEntry]] = {}
    anchors: list[tuple[int, dict[str, Any]]] = []
    since = 0  # the sequence from which ``current`` signs
    for sequence in sorted(by_sequence):
        rotated: PublicKey | None = None
        # In entry-hash order, so that of two rotations at one sequence (an equivocation) the
        # same one is taken whatever the order the entries were read in.
        for entry in sorted(by_sequence[sequence], key=lambda e: e.entry_hash()):
            hashes.setdefault(sequence, set()).add(entry.entry_hash())
            payload, problems = _payload_problems(entry, agreement)
            problems += genesis_problems.get(id(entry), [])
            findings += [Finding("bad-payload", sequence, p) for p in problems]
            # Without a genesis nothing can be checked (no-genesis says so): taken as signed.
            if current is not None and not _signature_ok(
                entry, current, since, trusted, owner, findings
            ):
                continue
            signed_ok.setdefault(sequence, []).append(entry)
            if payload is None or problems:
                continue
            if entry.kind == "anchor":
                anchors.append((sequence, payload))
            elif entry.kind == "key-rotation" and current is not None and rotated is None:
                rotated = _rotation(entry, payload, current, trusted, owner, findings)
        if rotated is not None:
            current, since = rotated, sequence + 1

    for sequence in sorted(by_sequence):
        for entry in by_sequence[sequence]:
            link = _link_finding(entry, hashes)
            if link is not None:
                findings.append(link)
        variants = signed_ok.get(sequence, [])
        if len({e.signed_bytes() for e in variants}) > 1:
            detail = ", ".join(f"{e.kind} payload {e.payload_hash.hex()[:16]}…" for e in variants)
            findings.append(
                Finding(
                    "equivocation",
                    sequence,
                    f"{len(variants)} different validly signed entries: {detail}",
                )
            )
    findings += _gaps(by_sequence)
    findings += _window_findings(anchors)
    return sorted(
        findings, key=lambda f: (-1 if f.sequence is None else f.sequence, f.kind, f.detail)
    )


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


def _genesis_trust(genesis: LedgerEntry, trusted: TrustedKeys) -> list[Finding]:
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


def _signature_ok(
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


def _rotation(
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


def _link_finding(entry: LedgerEntry, hashes: Mapping[int, set[bytes]]) -> Finding | None:
    """``chain-break`` if ``prev_hash`` is not the hash of (a copy of) the entry before; None
    also when that entry is missing (the gap is reported instead)."""
    if entry.sequence == 0:
        if entry.prev_hash == ZERO_HASH:
            return None
        want = "32 zero bytes (genesis)"
    else:
        before = hashes.get(entry.sequence - 1)
        if before is None or entry.prev_hash in before:
            return None
        want = f"{' or '.join(sorted(h.hex() for h in before))} (sequence {entry.sequence - 1})"
    return Finding(
        "chain-break", entry.sequence, f"prev_hash: got {entry.prev_hash.hex()}, want {want}"
    )


def _payload_problems(
    entry: LedgerEntry, agreement: str
) -> tuple[dict[str, Any] | None, list[str]]:
    digest = hashlib.sha256(entry.payload).digest()
    if digest != entry.payload_hash:
        return None, [
            f"payload: SHA-256 got {digest.hex()}, want payload_hash {entry.payload_hash.hex()}"
        ]
    try:
        payload = entry.payload_json()
    except LedgerError as exc:
        return None, [str(exc)]
    try:
        canonical = canonical_json(payload) == entry.payload
    except (TypeError, ValueError):  # floats, huge integers: no canonical form
        canonical = False
    if not canonical:
        return payload, ["payload: got non-canonical JSON, want canonical_json of the object"]
    if entry.kind == "genesis" and entry.sequence != 0:
        return payload, [f"kind genesis: got sequence {entry.sequence}, want only 0"]
    if entry.kind == "anchor":
        return payload, anchor_problems(payload, agreement)
    if entry.kind == "key-rotation":
        return payload, [f"key rotation: {p}" for p in rotation_problems(payload)]
    return payload, []


def _gaps(by_sequence: Mapping[int, object]) -> list[Finding]:
    """One ``gap`` finding per run of missing sequences in 1..max (0 is ``no-genesis``)."""
    findings = []
    present = sorted(by_sequence)
    previous = 0
    for sequence in present:
        if sequence > previous + 1:
            first, last = previous + 1, sequence - 1
            span = f"sequence {first}" if first == last else f"sequences {first}..{last}"
            findings.append(
                Finding("gap", first, f"{span} missing (the chain resumes at {sequence})")
            )
        previous = max(previous, sequence)
    return findings


def _window_findings(anchors: Sequence[tuple[int, Mapping[str, Any]]]) -> list[Finding]:
    """``duplicate-window`` for a (window, revision) anchored again with another root, and
    ``bad-payload`` for a revision superseding a root its window was not anchored with."""
    findings = []
    first: dict[WindowKey, tuple[int, str]] = {}
    for sequence, payload in sorted(anchors, key=lambda a: a[0]):
        key = window_key(payload)
        seen = first.setdefault(key, (sequence, payload["root"]))
        if seen[0] != sequence and seen[1] != payload["root"]:
            findings.append(
                Finding(
                    "duplicate-window",
                    sequence,
                    f"window [{key[0]}, {key[1]}) revision {key[2]}: root {payload['root']}, "
                    f"but sequence {seen[0]} anchored root {seen[1]}",
                )
            )
    for sequence, payload in anchors:
        supersedes = payload.get("supersedes")
        if supersedes is None:
            continue
        earlier = first.get(
            (payload["window_start_ms"], payload["window_end_ms"], supersedes["revision"])
        )
        if earlier is not None and earlier[1] != supersedes["root"]:
            findings.append(
                Finding(
                    "bad-payload",
                    sequence,
                    f"supersedes: got revision {supersedes['revision']} root "
                    f"{supersedes['root']}, want {earlier[1]} (anchored at sequence {earlier[0]})",
                )
            )
    return findings
