"""The agreement both parties sign: its book hash and the parties' signature documents. Pure.

The **book hash** covers every version's canonical hash; each party signs it
(:func:`sign_agreement`), and the genesis entry of *each* party's chain carries both
signature documents (built by :func:`streams.ledger.genesis.genesis_payload`, which checks
them with :func:`signature_problems`): its payload is byte-identical on the two chains. This
module knows nothing of ledgers; the ledger builds on the agreement, not the reverse.

Which keys may sign is the agreement's to say: each version lists every party's Ed25519 keys
with their validity (:class:`~streams.agreement.model.PartyKey`), inside the canonical content both
parties sign. So a party signs only with a key the agreement lists for it, and the genesis
names, for each party, the key its agreement signature was made with: the key that signs that
party's chain until a ``key-rotation`` entry names the next (:mod:`streams.ledger.check`
checks both against :class:`~streams.agreement.trust.TrustedKeys`, never against the genesis alone).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from streams.agreement.model import AgreementBook, PartyKey
from streams.core.canonical import canonical_json, is_hex, tagged
from streams.core.clock import to_ms
from streams.core.errors import AgreementSigningError
from streams.core.keys import SMALL_ORDER_PROBLEM, PublicKey, Signer, is_small_order

__all__ = [
    "SIGNATURE_FIELDS",
    "book_hash",
    "book_hash_of",
    "book_versions",
    "describe_keys",
    "party_roles",
    "sign_agreement",
    "signature_problems",
    "verify_agreement_signature",
]

BOOK_DOMAIN = "agreement-book.v1"
AGREEMENT_SIGNATURE_DOMAIN = "agreement-signature.v1"

SIGNATURE_FIELDS = ("agreement_id", "book_hash", "party", "key_id", "public_key", "signature")
"""The fields of a signature document, every one a string."""


# --- the agreement: both parties sign its book hash ----------------------------------------


def book_versions(book: AgreementBook) -> list[dict[str, Any]]:
    """Each version as ``{"version", "effective_from_ms", "hash": hex}``, in force order."""
    return [
        {
            "version": v.version,
            "effective_from_ms": to_ms(v.effective_from),
            "hash": v.canonical_hash().hex(),
        }
        for v in book.versions
    ]


def book_hash_of(agreement_id: str, versions: Any) -> bytes:
    body = canonical_json({"agreement_id": agreement_id, "versions": versions})
    return hashlib.sha256(tagged(BOOK_DOMAIN, body)).digest()


def book_hash(book: AgreementBook) -> bytes:
    """``SHA-256(tagged("agreement-book.v1", canonical_json({"agreement_id", "versions":
    book_versions(book)})))``: what both parties sign, covering every version."""
    return book_hash_of(book.id, book_versions(book))


def party_roles(book: AgreementBook) -> dict[str, str]:
    """Party id → ``"seller"`` or ``"buyer"``, the seller first, as the latest version says."""
    return {book.latest.seller.id: "seller", book.latest.buyer.id: "buyer"}


def _agreement_message(agreement_id: str, book_hash_hex: str, party: str, key_id: str) -> bytes:
    fields = {
        "agreement_id": agreement_id,
        "book_hash": book_hash_hex,
        "party": party,
        "key_id": key_id,
    }
    return tagged(AGREEMENT_SIGNATURE_DOMAIN, canonical_json(fields))


def sign_agreement(book: AgreementBook, keypair: Signer, party: str) -> dict[str, Any]:
    """``party``'s signature document over ``book``: ``{agreement_id, book_hash, party, key_id,
    public_key, signature}`` (hex strings), JSON-ready.

    The signature is Ed25519 over ``tagged("agreement-signature.v1", canonical_json(
    {agreement_id, book_hash, party, key_id}))``, so it names the party it speaks for. Raises
    :class:`~streams.core.errors.AgreementSigningError` if ``party`` is neither the seller nor
    the buyer, or ``keypair`` is not a key some version lists for ``party``. Its validity is not
    checked here (a document carries no time, and parties sign before a key's ``valid_from``):
    the genesis entry is checked at its time (:func:`streams.ledger.genesis.genesis_payload`,
    :func:`streams.ledger.check.check_ledger`).
    """
    roles = party_roles(book)
    if party not in roles:
        raise AgreementSigningError(
            book.id, f"party: got {party!r}, want one of {', '.join(roles)}"
        )
    key_id = keypair.key_id
    listed = book.party_keys(party)
    if keypair.public.raw.hex() not in {k.public_key for k in listed}:
        raise AgreementSigningError(
            book.id,
            f"key: got {key_id}, want a key the agreement lists for {party}: "
            f"{describe_keys(listed)}",
        )
    book_hex = book_hash(book).hex()
    message = _agreement_message(book.id, book_hex, party, key_id)
    return {
        "agreement_id": book.id,
        "book_hash": book_hex,
        "party": party,
        "key_id": key_id,
        "public_key": keypair.public.raw.hex(),
        "signature": keypair.sign(message).hex(),
    }


def signature_problems(
    doc: Any, agreement_id: str, book_hash_hex: str, parties: Iterable[str]
) -> list[str]:
    """Every problem of a signature document against an agreement id, book hash and parties."""
    if not isinstance(doc, Mapping):
        return [f"got {type(doc).__name__}, want a JSON object"]
    problems = []
    missing = [f for f in SIGNATURE_FIELDS if not isinstance(doc.get(f), str)]
    if missing:
        return [f"field {f!r}: got {doc.get(f)!r}, want a string" for f in missing]
    if doc["agreement_id"] != agreement_id:
        problems.append(f"agreement_id: got {doc['agreement_id']!r}, want {agreement_id!r}")
    if doc["book_hash"] != book_hash_hex:
        problems.append(
            f"book_hash: got {doc['book_hash']}, want {book_hash_hex} (signed another "
            "agreement or another set of versions)"
        )
    allowed = list(parties)
    if doc["party"] not in allowed:
        problems.append(f"party: got {doc['party']!r}, want one of {', '.join(allowed)}")
    for name, digits in (("public_key", 64), ("signature", 128)):
        if not is_hex(doc[name], digits):
            problems.append(f"{name}: got {doc[name]!r}, want {digits} lowercase hex digits")
    if not problems and is_small_order(bytes.fromhex(doc["public_key"])):
        problems.append(f"public_key: {SMALL_ORDER_PROBLEM}")
    if problems:
        return problems
    key = PublicKey.from_hex(doc["public_key"])
    signature = bytes.fromhex(doc["signature"])
    if doc["key_id"] != key.key_id:
        problems.append(f"key_id: got {doc['key_id']!r}, want {key.key_id!r} (the key's id)")
    message = _agreement_message(doc["agreement_id"], doc["book_hash"], doc["party"], key.key_id)
    if not key.verify(message, signature):
        problems.append(f"signature: does not verify with key {key.key_id}")
    return problems


def verify_agreement_signature(book: AgreementBook, doc: Mapping[str, Any]) -> list[str]:
    """Every problem of signature document ``doc`` as a signature over ``book``; [] if valid.

    Checks the agreement id, that the book hash is this book's (all versions), that the party
    is the seller or the buyer, that ``key_id`` is the public key's, and the signature.
    Also checks that the key is one the agreement lists for that party (at any time: whether
    it is valid when used is :func:`streams.ledger.genesis.genesis_payload`'s and
    :func:`streams.ledger.check.check_ledger`'s question).
    """
    problems = signature_problems(doc, book.id, book_hash(book).hex(), party_roles(book))
    party = doc.get("party") if isinstance(doc, Mapping) else None
    public = doc.get("public_key") if isinstance(doc, Mapping) else None
    if party in party_roles(book) and isinstance(public, str):
        listed = book.party_keys(party)
        if public not in {k.public_key for k in listed}:
            problems.append(
                f"key: got {doc.get('key_id')}, want a key the agreement lists for {party}: "
                f"{describe_keys(listed)}"
            )
    return problems


def describe_keys(keys: Sequence[PartyKey]) -> str:
    """``keys`` for a message: ``key id (validity), ...``, or ``none``."""
    return ", ".join(f"{k.key_id} ({k.window()})" for k in keys) or "none"
