"""Agreements that list keys of a test's choosing: ``examples/agreement.yaml`` (both versions)
with each party's demo key replaced, and the trusted keys of a book."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.agreement.loader import loads_book
from streams.agreement.model import AgreementBook
from streams.agreement.signing import book_hash, book_versions
from streams.agreement.trust import TrustedKeys
from streams.core.canonical import canonical_json, tagged
from streams.core.keys import KeyPair, PublicKey, demo_keypair
from tests.paths import REPO

EXAMPLE = REPO / "examples" / "agreement.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")
SINCE = "2026-01-01T00:00:00Z"


def key(pair: KeyPair | PublicKey, valid_from: str = SINCE, valid_until: str | None = None) -> str:
    """One entry of a party's ``keys`` list, as the example writes it."""
    public = pair.public if isinstance(pair, KeyPair) else pair
    lines = f'      - public_key: {public.raw.hex()}\n        valid_from: "{valid_from}"\n'
    if valid_until is not None:
        lines += f'        valid_until: "{valid_until}"\n'
    return lines


def with_keys(text: str = TEXT, **parties: Sequence[str]) -> str:
    """``text`` with the keys of each party named (``hgc=[key(A), key(B, ...)]``) replaced in
    every version; parties not named keep their demo key."""
    for party, entries in parties.items():
        demo = key(demo_keypair(party))
        assert demo in text, f"no demo key of {party} in the text"
        text = text.replace(demo, "".join(entries))
    return text


def book_with_keys(**parties: Sequence[str]) -> AgreementBook:
    return loads_book(with_keys(**parties))


def trusted(book: AgreementBook) -> TrustedKeys:
    return TrustedKeys.of_book(book, f"agreement {book.id}")


def forged_signature(book: AgreementBook, pair: KeyPair, party: str) -> dict[str, str]:
    """A signature document as :func:`~streams.agreement.signing.sign_agreement` makes it, but
    by any key (which ``sign_agreement`` refuses): built from the documented bytes, Ed25519
    over ``tagged("agreement-signature.v1", canonical_json({agreement_id, book_hash, party,
    key_id}))``."""
    book_hex = book_hash(book).hex()
    fields = {"agreement_id": book.id, "book_hash": book_hex, "party": party, "key_id": pair.key_id}
    signature = pair.sign(tagged("agreement-signature.v1", canonical_json(fields)))
    return {**fields, "public_key": pair.public.raw.hex(), "signature": signature.hex()}


def forged_genesis(book: AgreementBook, keys: Mapping[str, KeyPair]) -> dict[str, Any]:
    """The genesis payload of ``book`` as :func:`~streams.ledger.genesis.genesis_payload`
    would build it were ``keys`` (party → key) the parties' keys, which it refuses unless the
    agreement lists them: what a forger re-signing a chain from genesis on writes."""
    roles = {book.latest.seller.id: "seller", book.latest.buyer.id: "buyer"}
    return {
        "agreement_id": book.id,
        "book_hash": book_hash(book).hex(),
        "versions": book_versions(book),
        "parties": {
            party: {
                "role": role,
                "key_id": keys[party].key_id,
                "public_key": keys[party].public.raw.hex(),
            }
            for party, role in roles.items()
        },
        "signatures": [forged_signature(book, keys[party], party) for party in roles],
    }
