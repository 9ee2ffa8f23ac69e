"""The bucketing key comes from the genesis entry, and only from a sound one."""

from __future__ import annotations

import dataclasses
import hashlib

from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_salt
from tests.unit.ledger.test_audit_record import chain_start


def demo_chain_start() -> LedgerEntry:
    return chain_start()[1]


def test_the_salt_is_the_genesis_book_hash() -> None:
    genesis = demo_chain_start()
    assert genesis_salt(genesis) == bytes.fromhex(genesis.payload_json()["book_hash"])


def with_payload(entry: LedgerEntry, payload: bytes) -> LedgerEntry:
    return dataclasses.replace(
        entry, payload=payload, payload_hash=hashlib.sha256(payload).digest()
    )


def test_no_salt_from_anything_but_a_canonical_genesis() -> None:
    genesis = demo_chain_start()
    assert genesis_salt(dataclasses.replace(genesis, kind="anchor")) is None
    spaced = genesis.payload.replace(b'{"', b'{ "', 1)
    assert genesis_salt(with_payload(genesis, spaced)) is None
    assert genesis_salt(with_payload(genesis, b'{"book_hash":"ABCD"}')) is None
    assert genesis_salt(with_payload(genesis, b"[]")) is None
