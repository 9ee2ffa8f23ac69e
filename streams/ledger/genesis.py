"""The genesis entry's payload: the agreement both parties signed, opening each party's chain.

Pure. The genesis entry (sequence 0, kind ``genesis``) of *each* party's chain carries both
parties' signature documents over the agreement's book hash
(:func:`streams.agreement.signing.sign_agreement`), so its payload is byte-identical on the two
chains, and names the key each party signed with: the key that signs that party's chain until
a ``key-rotation`` entry names the next. The ledger builds on the agreement, never the reverse:
this module checks the documents with :func:`streams.agreement.signing.signature_problems`
and refuses a genesis that could not open both chains with :class:`LedgerError`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from streams.agreement.model import AgreementBook
from streams.agreement.signing import (
    SIGNATURE_FIELDS,
    book_hash,
    book_versions,
    describe_keys,
    party_roles,
    signature_problems,
)
from streams.core.canonical import canonical_json, is_hex
from streams.core.keys import key_id_of
from streams.ledger.entries import LedgerEntry, LedgerError

__all__ = ["genesis_payload", "genesis_salt"]


def genesis_payload(
    book: AgreementBook,
    signatures: Sequence[Mapping[str, Any]],
    at: datetime | None = None,
) -> dict[str, Any]:
    """The genesis payload of ``book``, signed by both parties.

    ``{"agreement_id", "book_hash", "versions": book_versions(book), "parties": {id: {"role",
    "key_id", "public_key"}}, "signatures": [seller's doc, buyer's doc]}``; every party builds the
    same bytes from the same two documents. ``parties`` names the key each party signed the
    agreement with: the key that signs that party's chain from genesis on.

    Raises :class:`LedgerError` listing every problem: an invalid document, a party with no
    valid signature or with two different keys, both parties using one key, a key the
    agreement does not list for that party, or (with ``at``, the genesis entry's time) one not
    valid at ``at``.
    """
    roles = party_roles(book)
    book_hex = book_hash(book).hex()
    problems = []
    valid: dict[str, dict[str, Any]] = {}
    for index, doc in enumerate(signatures):
        who = doc.get("party") if isinstance(doc, Mapping) else None
        found = signature_problems(doc, book.id, book_hex, roles)
        problems += [f"signatures[{index}] (party {who!r}): {p}" for p in found]
        if found:
            continue
        clean = {f: doc[f] for f in SIGNATURE_FIELDS}
        party = clean["party"]
        if party in valid and valid[party]["public_key"] != clean["public_key"]:
            problems.append(
                f"party {party}: signed with two keys, {valid[party]['key_id']} and "
                f"{clean['key_id']}; want one"
            )
        valid.setdefault(party, clean)
    for party, role in roles.items():
        if party not in valid:
            problems.append(f"missing a valid signature by the {role} {party}")
        else:
            listed = {k.public_key: k for k in book.party_keys(party)}
            key = listed.get(valid[party]["public_key"])
            if key is None:
                problems.append(
                    f"party {party}: signed by key {valid[party]['key_id']}, want a key the "
                    f"agreement lists for {party}: {describe_keys(list(listed.values()))}"
                )
            elif at is not None and not key.valid_at(at):
                problems.append(
                    f"party {party}: signed by key {key.key_id}, {key.window()}: not valid at "
                    f"{at.isoformat()}"
                )
    key_owners = Counter(doc["public_key"] for doc in valid.values())
    for public, count in key_owners.items():
        if count > 1:
            owners = sorted(p for p, d in valid.items() if d["public_key"] == public)
            problems.append(
                f"parties {' and '.join(owners)} signed with the same key "
                f"{key_id_of(bytes.fromhex(public))}: want one key per party"
            )
    if problems:
        raise LedgerError(f"agreement {book.id}: cannot build the genesis payload", problems)
    return {
        "agreement_id": book.id,
        "book_hash": book_hex,
        "versions": book_versions(book),
        "parties": {
            party: {
                "role": role,
                "key_id": valid[party]["key_id"],
                "public_key": valid[party]["public_key"],
            }
            for party, role in roles.items()
        },
        "signatures": [valid[party] for party in roles],
    }


def genesis_salt(entry: LedgerEntry) -> bytes | None:
    """The key that buckets a chain's batches: the book hash its genesis entry carries.

    ``None`` unless ``entry`` is a genesis entry whose payload is the canonical JSON of an
    object with a ``book_hash`` of 64 lowercase hex digits (the ledger check reports why not).
    """
    if entry.kind != "genesis":
        return None
    try:
        payload = json.loads(entry.payload)
        canonical = isinstance(payload, dict) and canonical_json(payload) == entry.payload
    except (TypeError, ValueError):
        return None
    book = payload.get("book_hash") if canonical else None
    return bytes.fromhex(book) if is_hex(book) else None
