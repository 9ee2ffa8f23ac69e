"""Checking a party's chain as stored: every problem, as findings (errors as data). Pure.

:func:`check_ledger` walks one party's mirrored chain and reports every bad signature, broken
link, gap, equivocation, duplicate window and malformed payload; a clean chain gives ``[]``.

Signatures are checked against :class:`~streams.agreement.trust.TrustedKeys` the checker brings (the
agreement, or a trusted-keys file), never against keys the chain publishes about itself. Which
key is *current* at each point of the chain: the key the owner's agreement signature in the
genesis names, until a validly signed ``key-rotation`` entry names the next
(:func:`streams.ledger.payloads.rotation_payload`, which carries the new key's signature: proof that
the party holds it); every entry, genesis included, must be signed by the current key, trusted for
the owner (those very key bytes, not just the key id) and valid at the entry's time.
``docs/spec/ledger.md`` specifies every finding.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from streams.agreement.trust import TrustedKeys
from streams.core.canonical import canonical_json
from streams.core.keys import PublicKey
from streams.ledger.entries import ZERO_HASH, LedgerEntry, LedgerError
from streams.ledger.findings import FINDING_KINDS, Finding
from streams.ledger.key_check import genesis_keys, genesis_trust, rotated_key, signature_ok
from streams.ledger.payloads import (
    SETTLEMENT_KINDS,
    WindowKey,
    anchor_problems,
    countersignature_problems,
    rotation_problems,
    settlement_problems,
    window_key,
)

__all__ = ["FINDING_KINDS", "Finding", "check_ledger", "genesis_keys"]


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
      superseding a root its window was not anchored with; a settlement entry (statement,
      acceptance, dispute, resolution, payment) whose payload is not its kind's shape,
      :func:`streams.ledger.settlement.settlement_problems`);
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
            findings += genesis_trust(genesis, trusted)
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
            if current is not None and not signature_ok(
                entry, current, since, trusted, owner, findings
            ):
                continue
            signed_ok.setdefault(sequence, []).append(entry)
            if payload is None or problems:
                continue
            if entry.kind == "anchor":
                anchors.append((sequence, payload))
            elif entry.kind == "key-rotation" and current is not None and rotated is None:
                rotated = rotated_key(entry, payload, current, trusted, owner, findings)
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
    if entry.kind == "countersignature":
        return payload, [f"countersignature: {p}" for p in countersignature_problems(payload)]
    if entry.kind in SETTLEMENT_KINDS:
        return payload, settlement_problems(entry.kind, payload, agreement)
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
