"""Ledger entries and rules: a clean chain, one test per tampering with the finding it must
produce, the agreement signatures behind genesis, anchors, the chain tip, the Avro round trip,
a pinned entry, and the ``bilat agreement sign|verify-signatures`` commands."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from streams.agreement.loader import loads_book
from streams.agreement.model import AgreementBook, PartyKey
from streams.agreement.signing import book_hash, sign_agreement, verify_agreement_signature
from streams.agreement.trust import TrustedKeys
from streams.cli.keys import sign_agreement_command, verify_agreement_command
from streams.core.canonical import canonical_json, tagged
from streams.core.errors import AgreementError, AgreementSigningError
from streams.core.keys import KeyPair, PublicKey, demo_keypair, key_id_of
from streams.ledger.chain import ChainTip
from streams.ledger.check import Finding, check_ledger, genesis_keys
from streams.ledger.entries import ZERO_HASH, LedgerEntry, LedgerError, make_entry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import anchor_payload, rotation_payload, rotation_problems
from streams.runtime.registry import make_codec
from tests.fakes.agreements import EXAMPLE as EXAMPLE_FILE
from tests.fakes.agreements import forged_genesis, forged_signature, key, trusted, with_keys

HGC = KeyPair.from_seed(bytes([1]) * 32)
DCC = KeyPair.from_seed(bytes([2]) * 32)
MALLORY = KeyPair.from_seed(bytes([3]) * 32)
AGREEMENT = with_keys(hgc=[key(HGC)], dcc=[key(DCC)])
"""The example agreement, listing these tests' own keys for hgc and dcc."""
BOOK = loads_book(AGREEMENT)
TRUST = trusted(BOOK)
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
HOUR = 3_600_000
W0 = 1_772_442_000_000  # 2026-03-02T09:00Z


def signatures(book: AgreementBook = BOOK) -> list[dict[str, Any]]:
    return [sign_agreement(book, HGC, "hgc"), sign_agreement(book, DCC, "dcc")]


GENESIS = genesis_payload(BOOK, signatures())


def anchor(
    window: int, root: bytes | None = None, revision: int = 0, **extra: Any
) -> dict[str, Any]:
    return anchor_payload(
        agreement_id=BOOK.id,
        window_start_ms=W0 + window * HOUR,
        window_end_ms=W0 + (window + 1) * HOUR,
        revision=revision,
        leaf_count=120,
        totals={"EUR": Decimal("12.3400")},
        root=root or hashlib.sha256(f"root {window} {revision}".encode()).digest(),
        digest_depth=8,
        digest_hash=hashlib.sha256(f"digest {window}".encode()).digest(),
        agreement_versions=["1"],
        supersedes=extra.get("supersedes"),
    )


def chain(anchors: int = 4) -> list[LedgerEntry]:
    """hgc's chain: genesis, then one anchor per hour."""
    tip = ChainTip("hgc", BOOK.id)
    entries = [tip.append("genesis", GENESIS, HGC, T0)]
    for window in range(anchors):
        entries.append(tip.append("anchor", anchor(window), HGC, T0 + timedelta(hours=window)))
    return entries


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def kinds(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return [(f.kind, f.sequence) for f in findings]


# --- a clean chain -------------------------------------------------------------------------


def test_a_chain_built_with_make_entry_is_clean() -> None:
    entries = chain()
    assert [e.sequence for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0].prev_hash == ZERO_HASH
    assert all(b.prev_hash == a.entry_hash() for a, b in itertools.pairwise(entries))
    assert check_ledger(entries, trusted=TRUST) == []
    assert check_ledger(entries, party="hgc", trusted=TRUST) == []


def test_order_and_identical_duplicates_do_not_matter() -> None:
    entries = chain()
    stored = entries + entries[1:3]  # Kafka at-least-once: some entries twice
    random.Random(7).shuffle(stored)
    assert check_ledger(stored, trusted=TRUST) == []


def test_an_empty_ledger_has_no_genesis() -> None:
    assert kinds(check_ledger([], trusted=TRUST)) == [("no-genesis", None)]


# --- one test per tampering ----------------------------------------------------------------


def test_one_byte_changed_in_a_payload() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], payload=flip(entries[2].payload, 30))
    # The signature covers payload_hash, which still matches the chain: only the payload is bad.
    assert kinds(check_ledger(entries, trusted=TRUST)) == [("bad-payload", 2)]


def test_one_byte_changed_in_a_signature() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], signature=flip(entries[2].signature, 5))
    # The entry hash covers the signature, so the next link breaks too.
    assert kinds(check_ledger(entries, trusted=TRUST)) == [("bad-signature", 2), ("chain-break", 3)]


def test_one_byte_changed_in_prev_hash() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], prev_hash=flip(entries[2].prev_hash, 0))
    assert kinds(check_ledger(entries, trusted=TRUST)) == [
        ("bad-signature", 2),
        ("chain-break", 2),
        ("chain-break", 3),
    ]


def test_an_entry_removed_is_a_gap() -> None:
    entries = chain()
    del entries[2]
    findings = check_ledger(entries, trusted=TRUST)
    assert kinds(findings) == [("gap", 2)]
    assert "sequence 2 missing" in findings[0].detail


def test_a_run_of_removed_entries_is_one_gap() -> None:
    entries = chain(6)
    del entries[2:5]
    findings = check_ledger(entries, trusted=TRUST)
    assert kinds(findings) == [("gap", 2)]
    assert "sequences 2..4 missing" in findings[0].detail


def test_two_different_entries_with_one_sequence_are_equivocation() -> None:
    entries = chain(2)
    fork = make_entry(
        entries[1],
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload=anchor(7),
        signer=HGC,
        time=T0,
    )
    assert fork.sequence == entries[2].sequence == 2
    assert kinds(check_ledger([*entries, fork], trusted=TRUST)) == [("equivocation", 2)]


def test_a_corrupted_copy_is_not_equivocation() -> None:
    entries = chain(2)
    corrupted = dataclasses.replace(entries[2], signature=flip(entries[2].signature, 9))
    assert kinds(check_ledger([*entries, corrupted], trusted=TRUST)) == [("bad-signature", 2)]


def test_a_window_anchored_twice_with_different_roots() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries, trusted=TRUST)
    again = make_entry(
        tip.last,
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload=anchor(0, root=b"\x07" * 32),
        signer=HGC,
        time=T0,
    )
    findings = check_ledger([*entries, again], trusted=TRUST)
    assert kinds(findings) == [("duplicate-window", 3)]
    assert "sequence 1 anchored root" in findings[0].detail


def test_a_new_revision_of_a_window_is_not_a_duplicate() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries, trusted=TRUST)
    first_root = json.loads(entries[1].payload)["root"]
    revision = anchor(0, revision=1, supersedes=(0, bytes.fromhex(first_root)))
    entries.append(tip.append("anchor", revision, HGC, T0))
    assert check_ledger(entries, trusted=TRUST) == []


def test_a_revision_superseding_a_root_never_anchored() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries, trusted=TRUST)
    entries.append(
        tip.append("anchor", anchor(0, revision=1, supersedes=(0, b"\x09" * 32)), HGC, T0)
    )
    assert kinds(check_ledger(entries, trusted=TRUST)) == [("bad-payload", 3)]


def test_an_entry_signed_by_an_unknown_key() -> None:
    entries = chain(2)
    forged = make_entry(
        entries[-1],
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload=anchor(5),
        signer=MALLORY,
        time=T0,
    )
    findings = check_ledger([*entries, forged], trusted=TRUST)
    assert kinds(findings) == [("unknown-key", 3)]
    assert MALLORY.key_id in findings[0].detail and HGC.key_id in findings[0].detail


def test_an_entry_signed_by_the_partners_key() -> None:
    entries = chain(2)
    forged = make_entry(
        entries[-1],
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload=anchor(5),
        signer=DCC,
        time=T0,
    )
    findings = check_ledger([*entries, forged], trusted=TRUST)
    assert kinds(findings) == [("unknown-key", 3)]
    assert "dcc's key, not hgc's" in findings[0].detail


def test_a_missing_genesis() -> None:
    entries = chain()[1:]
    findings = check_ledger(entries, trusted=TRUST)
    assert kinds(findings) == [("no-genesis", None)]
    assert "signatures not checked" in findings[0].detail


def test_entries_of_another_party_or_agreement() -> None:
    theirs = ChainTip("dcc", BOOK.id)
    other = theirs.append("genesis", GENESIS, DCC, T0)
    entries = chain(1)
    assert kinds(check_ledger([*entries, other], trusted=TRUST)) == [("wrong-party", 0)]
    assert kinds(check_ledger([*entries, other], party="dcc", trusted=TRUST)) == [
        ("wrong-party", 0),
        ("wrong-party", 1),
    ]
    elsewhere = dataclasses.replace(entries[1], agreement_id="hgc-xyz-2026")
    assert kinds(check_ledger([*entries, elsewhere], trusted=TRUST)) == [("wrong-party", 1)]


def test_a_genesis_whose_agreement_signature_was_swapped() -> None:
    forged = dict(GENESIS)
    forged["signatures"] = [GENESIS["signatures"][0], forged_signature(BOOK, MALLORY, "dcc")]
    tip = ChainTip("hgc", BOOK.id)
    entries = [tip.append("genesis", forged, HGC, T0), tip.append("anchor", anchor(0), HGC, T0)]
    findings = check_ledger(entries, trusted=TRUST)
    assert kinds(findings) == [("bad-payload", 0), ("bad-payload", 0), ("unknown-key", 0)]
    assert {f.detail for f in findings} == {
        f"signatures[1]: key {MALLORY.key_id}: not the key parties.dcc publishes",
        "signatures: missing a valid agreement signature by dcc",
        f"signatures[1] (the agreement signed by dcc): key {MALLORY.key_id} is not trusted for "
        f"dcc (agreement {BOOK.id}); trusted for dcc: {DCC.key_id} (valid from "
        "2026-01-01T00:00:00+00:00)",
    }


def test_a_chain_checked_against_other_trusted_keys() -> None:
    entries = chain(1)
    since = T0 - timedelta(days=90)
    others = TrustedKeys(
        {
            "hgc": (PartyKey(MALLORY.public.raw.hex(), since),),
            "dcc": (PartyKey(DCC.public.raw.hex(), since),),
        },
        None,
        None,
        "trusted keys t.json",
    )
    findings = check_ledger(entries, trusted=others)
    # the genesis entry, hgc's agreement signature in it, and the anchor: each named
    assert kinds(findings) == [("unknown-key", 0), ("unknown-key", 0), ("unknown-key", 1)]
    assert all(MALLORY.key_id in f.detail and HGC.key_id in f.detail for f in findings)


def test_a_non_canonical_payload_is_bad() -> None:
    entries = chain(1)
    loose = json.dumps(json.loads(entries[1].payload), indent=1).encode()
    bad = make_entry(
        entries[0],
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload={},
        signer=HGC,
        time=T0,
    )
    # Rebuild by hand with a loose payload, correctly hashed and signed.
    unsigned = dataclasses.replace(bad, payload=loose, payload_hash=hashlib.sha256(loose).digest())
    signed = dataclasses.replace(unsigned, signature=HGC.sign(unsigned.signed_bytes()))
    findings = check_ledger([entries[0], signed], trusted=TRUST)
    assert kinds(findings) == [("bad-payload", 1)]
    assert "non-canonical" in findings[0].detail


def test_every_problem_is_reported_at_once() -> None:
    entries = chain(6)
    entries[1] = dataclasses.replace(entries[1], payload=flip(entries[1].payload, 3))
    del entries[3]
    entries[-1] = dataclasses.replace(entries[-1], signature=flip(entries[-1].signature, 0))
    assert kinds(check_ledger(entries, trusted=TRUST)) == [
        ("bad-payload", 1),
        ("gap", 3),
        ("bad-signature", 6),
    ]


CHAIN = chain(3)


@given(
    st.integers(0, len(CHAIN) - 1),
    st.sampled_from(["payload", "payload_hash", "prev_hash", "signature"]),
    st.integers(0, 10_000),
    st.integers(0, 7),
)
def test_any_flipped_bit_is_found(index: int, field: str, offset: int, bit: int) -> None:
    entries = list(CHAIN)
    value: bytes = getattr(entries[index], field)
    position = offset % len(value)
    changed = value[:position] + bytes([value[position] ^ (1 << bit)]) + value[position + 1 :]
    entries[index] = dataclasses.replace(entries[index], **{field: changed})
    assert check_ledger(entries, trusted=TRUST) != []


@given(
    st.integers(0, len(CHAIN) - 1),
    st.sampled_from(["kind", "time", "key_id", "party_and_agreement"]),
)
def test_any_changed_signed_field_is_found(index: int, field: str) -> None:
    entries = list(CHAIN)
    entry = entries[index]
    changes: dict[str, Any] = {
        "kind": {"kind": "statement" if entry.kind != "statement" else "dispute"},
        "time": {"time": entry.time + timedelta(milliseconds=1)},
        "key_id": {"key_id": DCC.key_id},
        "party_and_agreement": {"agreement_id": "hgc-dcc-2027"},
    }[field]
    entries[index] = dataclasses.replace(entry, **changes)
    assert check_ledger(entries, trusted=TRUST) != []


# --- building entries ----------------------------------------------------------------------


def test_make_entry_refuses_what_breaks_the_chain() -> None:
    entries = chain(1)
    common: dict[str, Any] = {"agreement_id": BOOK.id, "signer": HGC, "time": T0}
    with pytest.raises(LedgerError, match="sequence 0: got kind 'anchor', want 'genesis'"):
        make_entry(None, party="hgc", kind="anchor", payload=anchor(0), **common)
    with pytest.raises(LedgerError, match="kind 'genesis': got sequence 2, want only 0"):
        make_entry(entries[1], party="hgc", kind="genesis", payload=GENESIS, **common)
    with pytest.raises(LedgerError, match="prev: got an entry of hgc/hgc-dcc-2026"):
        make_entry(entries[1], party="dcc", kind="anchor", payload=anchor(1), **common)
    with pytest.raises(LedgerError, match="kind: got 'gossip'"):
        make_entry(entries[1], party="hgc", kind="gossip", payload={}, **common)
    with pytest.raises(TypeError, match=r"\$\.amount: got Decimal"):
        make_entry(
            entries[1], party="hgc", kind="statement", payload={"amount": Decimal(1)}, **common
        )


def test_entry_time_is_kept_at_millisecond_precision() -> None:
    entry = make_entry(
        None,
        party="hgc",
        agreement_id=BOOK.id,
        kind="genesis",
        payload=GENESIS,
        signer=HGC,
        time=T0 + timedelta(microseconds=1_234_567),
    )
    assert entry.time == T0 + timedelta(milliseconds=1_234)


def test_misshapen_entries_cannot_be_constructed() -> None:
    entry = chain(0)[0]
    with pytest.raises(LedgerError) as caught:
        dataclasses.replace(entry, prev_hash=b"\x00" * 31, kind="nope", sequence=-1)
    assert len(caught.value.problems) == 3
    # a sequence with no canonical JSON could never be signed: not an entry either
    with pytest.raises(LedgerError, match="sequence: got 9007199254740992, want an int from 0"):
        dataclasses.replace(entry, sequence=2**53)


def test_avro_round_trip_through_the_codec() -> None:
    codec = make_codec()
    entries = chain()
    decoded = [
        LedgerEntry.from_avro(
            codec.decode("ledger_entry", codec.encode("ledger_entry", e.to_avro()))
        )
        for e in entries
    ]
    assert decoded == entries
    assert [d.entry_hash() for d in decoded] == [e.entry_hash() for e in entries]
    assert check_ledger(decoded, trusted=TRUST) == []


def test_pinned_entry_bytes() -> None:
    # An auditor's golden vector: a fixed key (seed 32 x 0x01), fields and payload give exactly
    # these signed bytes, signature and entry hash (Ed25519 is deterministic).
    payload = canonical_json({"agreement_id": "hgc-dcc-2026", "root": "00" * 32})
    assert hashlib.sha256(payload).hexdigest() == (
        "44feab2d3621f798fe08d10d2796cec8916be5cc3ee6bc2c653829553d6a57d1"
    )
    unsigned = LedgerEntry(
        party="hgc",
        agreement_id="hgc-dcc-2026",
        sequence=1,
        kind="anchor",
        prev_hash=bytes(range(32)),
        payload=payload,
        payload_hash=hashlib.sha256(payload).digest(),
        key_id=HGC.key_id,
        signature=b"",
        time=datetime(2026, 3, 2, 10, 0, 0, 123_000, tzinfo=UTC),
    )
    assert HGC.key_id == "ed25519:34750f98bd59fcfc"
    assert unsigned.signed_bytes() == (
        b"bilat.ledger-entry.v1\x00"
        b'{"agreement_id":"hgc-dcc-2026","key_id":"ed25519:34750f98bd59fcfc","kind":"anchor",'
        b'"party":"hgc",'
        b'"payload_hash":"44feab2d3621f798fe08d10d2796cec8916be5cc3ee6bc2c653829553d6a57d1",'
        b'"prev_hash":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",'
        b'"sequence":1,"time_ms":1772445600123}'
    )
    entry = dataclasses.replace(unsigned, signature=HGC.sign(unsigned.signed_bytes()))
    assert entry.signature.hex() == (
        "41511a252fd1146509e0fc39379d03dfd6b8b0482e9f18c1e7f4c171b3fc8e21"
        "26b374b6d157c57c6143e94010691a85a8bd49c32cfe92d56c41f5ef51282902"
    )
    assert entry.entry_hash().hex() == (
        "92a666b8a33b7574a996e90dbda5ada5bba11be01137b45bcb28f6e5152cc0f1"
    )
    assert (
        entry.entry_hash()
        == hashlib.sha256(
            b"bilat.ledger-hash.v1\x00" + entry.signed_bytes() + entry.signature
        ).digest()
    )


# --- the agreement and genesis -------------------------------------------------------------


def test_both_parties_build_the_same_genesis_payload() -> None:
    assert genesis_payload(BOOK, list(reversed(signatures()))) == GENESIS
    assert GENESIS["book_hash"] == book_hash(BOOK).hex()
    assert GENESIS["parties"] == {
        "hgc": {"role": "seller", "key_id": HGC.key_id, "public_key": HGC.public.raw.hex()},
        "dcc": {"role": "buyer", "key_id": DCC.key_id, "public_key": DCC.public.raw.hex()},
    }
    assert [v["version"] for v in GENESIS["versions"]] == ["1", "2"]


def test_a_signature_verifies_against_its_book_only() -> None:
    doc = sign_agreement(BOOK, HGC, "hgc")
    assert verify_agreement_signature(BOOK, doc) == []
    first_only = AgreementBook(BOOK.versions[:1])
    problems = verify_agreement_signature(first_only, doc)
    assert len(problems) == 1 and problems[0].startswith("book_hash: got")


def test_tampered_signature_documents_are_invalid() -> None:
    doc = sign_agreement(BOOK, HGC, "hgc")
    as_buyer = verify_agreement_signature(BOOK, {**doc, "party": "dcc"})
    assert as_buyer == [
        f"signature: does not verify with key {HGC.key_id}",
        f"key: got {HGC.key_id}, want a key the agreement lists for dcc: {DCC.key_id} (valid "
        "from 2026-01-01T00:00:00+00:00)",
    ]
    other_key = verify_agreement_signature(BOOK, {**doc, "public_key": DCC.public.raw.hex()})
    assert any(p.startswith("key_id: got") for p in other_key)
    assert any(p.startswith("signature: does not verify") for p in other_key)
    broken = verify_agreement_signature(BOOK, {**doc, "signature": "zz", "book_hash": 5})
    assert broken == ["field 'book_hash': got 5, want a string"]
    assert verify_agreement_signature(BOOK, {**doc, "signature": "zz"}) == [
        "signature: got 'zz', want 128 lowercase hex digits"
    ]


def test_sign_agreement_refuses_a_stranger() -> None:
    with pytest.raises(AgreementSigningError, match="party: got 'xyz', want one of hgc, dcc"):
        sign_agreement(BOOK, MALLORY, "xyz")


def test_sign_agreement_refuses_a_key_the_agreement_does_not_list_for_the_party() -> None:
    with pytest.raises(AgreementSigningError) as caught:
        sign_agreement(BOOK, MALLORY, "dcc")
    assert isinstance(caught.value, AgreementError)  # the one root of agreement errors
    assert str(caught.value) == (
        f"agreement {BOOK.id}: key: got {MALLORY.key_id}, want a key the agreement lists for "
        f"dcc: {DCC.key_id} (valid from 2026-01-01T00:00:00+00:00)"
    )
    with pytest.raises(
        AgreementSigningError, match=f"got {HGC.key_id}, want a key the agreement lists"
    ):
        sign_agreement(BOOK, HGC, "dcc")  # the partner's key: listed, but not for dcc


def test_genesis_refuses_a_single_signature() -> None:
    with pytest.raises(LedgerError) as caught:
        genesis_payload(BOOK, [sign_agreement(BOOK, HGC, "hgc")])
    assert caught.value.problems == ("missing a valid signature by the buyer dcc",)


def test_genesis_refuses_a_signature_over_another_book() -> None:
    first_only = AgreementBook(BOOK.versions[:1])
    with pytest.raises(LedgerError) as caught:
        genesis_payload(
            BOOK, [sign_agreement(BOOK, HGC, "hgc"), sign_agreement(first_only, DCC, "dcc")]
        )
    assert caught.value.problems[0].startswith("signatures[1] (party 'dcc'): book_hash: got")
    assert caught.value.problems[1] == "missing a valid signature by the buyer dcc"


def test_genesis_refuses_a_signature_by_the_wrong_partys_key() -> None:
    # hgc signs for both: each document is valid on its own, together they are not.
    with pytest.raises(LedgerError) as caught:
        genesis_payload(
            BOOK, [sign_agreement(BOOK, HGC, "hgc"), forged_signature(BOOK, HGC, "dcc")]
        )
    assert any("parties dcc and hgc signed with the same key" in p for p in caught.value.problems)
    assert any(f"party dcc: signed by key {HGC.key_id}, want a key the agreement lists for dcc"
               in p for p in caught.value.problems)  # fmt: skip
    # A stranger's key is refused: the agreement pins each party's keys.
    with pytest.raises(LedgerError) as caught:
        genesis_payload(
            BOOK, [sign_agreement(BOOK, HGC, "hgc"), forged_signature(BOOK, MALLORY, "dcc")]
        )
    assert caught.value.problems == (
        f"party dcc: signed by key {MALLORY.key_id}, want a key the agreement lists for dcc: "
        f"{DCC.key_id} (valid from 2026-01-01T00:00:00+00:00)",
    )


def test_genesis_refuses_a_key_not_valid_at_its_time() -> None:
    book = loads_book(with_keys(dcc=[key(DCC, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")]))
    docs = [forged_signature(book, demo_keypair("hgc"), "hgc"), sign_agreement(book, DCC, "dcc")]
    assert genesis_payload(book, docs, at=datetime(2026, 6, 15, tzinfo=UTC))
    with pytest.raises(LedgerError) as caught:
        genesis_payload(book, docs, at=datetime(2026, 7, 1, tzinfo=UTC))
    assert caught.value.problems == (
        f"party dcc: signed by key {DCC.key_id}, valid from 2026-06-01T00:00:00+00:00 until "
        "2026-07-01T00:00:00+00:00: not valid at 2026-07-01T00:00:00+00:00",
    )


def test_genesis_refuses_two_keys_for_one_party() -> None:
    docs = [*signatures(), forged_signature(BOOK, MALLORY, "dcc")]
    with pytest.raises(LedgerError, match="party dcc: signed with two keys"):
        genesis_payload(BOOK, docs)


# --- anchors and the chain tip -------------------------------------------------------------


def test_anchor_payload_shape() -> None:
    payload = anchor(0)
    assert payload["totals"] == {"EUR": "12.34"}
    assert payload["digest"]["depth"] == 8
    assert payload["supersedes"] is None
    assert canonical_json(payload)  # JSON-ready as is


def test_anchor_payload_lists_every_problem() -> None:
    with pytest.raises(LedgerError) as caught:
        anchor_payload(
            agreement_id=BOOK.id,
            window_start_ms=10,
            window_end_ms=10,
            revision=1,
            leaf_count=-1,
            totals={"eur": Decimal("NaN")},
            root=b"short",
            digest_depth=8,
            digest_hash=bytes(32),
            agreement_versions=["1"],
            supersedes=None,
        )
    assert len(caught.value.problems) == 6


def test_chain_tip_recovers_from_a_stored_chain_and_continues() -> None:
    entries = chain(3)
    stored = entries + entries[:2]
    random.Random(1).shuffle(stored)
    tip = ChainTip.from_entries(stored, trusted=TRUST)
    assert tip.last == entries[-1]
    assert tip.anchor_for(W0, W0 + HOUR, 0) == entries[1]
    entries.append(tip.append("anchor", anchor(3), HGC, T0))
    assert check_ledger(entries, trusted=TRUST) == []


def test_chain_tip_recognises_a_replayed_anchor() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries, trusted=TRUST)
    assert tip.append("anchor", anchor(1), HGC, T0 + timedelta(days=1)) == entries[2]
    assert tip.last == entries[2]
    with pytest.raises(LedgerError, match="already anchored at sequence 2"):
        tip.append("anchor", anchor(1, root=b"\x05" * 32), HGC, T0)


def test_chain_tip_refuses_a_chain_with_findings() -> None:
    entries = chain(3)
    del entries[2]
    with pytest.raises(LedgerError, match="gap at sequence 2"):
        ChainTip.from_entries(entries, trusted=TRUST)
    with pytest.raises(LedgerError, match="no entries"):
        ChainTip.from_entries([], party="hgc", trusted=TRUST)


def test_chain_tip_refuses_a_misshapen_anchor() -> None:
    tip = ChainTip.from_entries(chain(0), trusted=TRUST)
    with pytest.raises(LedgerError, match="root: got None"):
        tip.append("anchor", {**anchor(0), "root": None}, HGC, T0)


# --- bilat agreement sign / verify-signatures ----------------------------------------------


def test_sign_and_verify_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    HGC.save(tmp_path / "hgc.key")
    DCC.save(tmp_path / "dcc.key")
    book_file = tmp_path / "agreement.yaml"
    book_file.write_text(AGREEMENT)
    for party in ("hgc", "dcc"):
        key = str(tmp_path / f"{party}.key")
        result = runner.invoke(
            sign_agreement_command, [str(book_file), "--party", party, "--key", key]
        )
        assert result.exit_code == 0, result.output
        assert book_hash(BOOK).hex() in result.output
    hgc_sig = tmp_path / "agreement.yaml.sig.hgc.json"
    dcc_sig = tmp_path / "agreement.yaml.sig.dcc.json"
    assert json.loads(hgc_sig.read_text()) == sign_agreement(BOOK, HGC, "hgc")

    both = runner.invoke(
        verify_agreement_command, [str(book_file), str(hgc_sig), str(dcc_sig), "--complete"]
    )
    assert both.exit_code == 0, both.output
    assert "signed by both parties" in both.output
    one = runner.invoke(verify_agreement_command, [str(book_file), str(hgc_sig)])
    assert one.exit_code == 0 and "not signed yet by: dcc" in one.output
    assert (
        runner.invoke(
            verify_agreement_command, [str(book_file), str(hgc_sig), "--complete"]
        ).exit_code
        == 1
    )

    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**json.loads(dcc_sig.read_text()), "party": "hgc"}))
    bad = runner.invoke(verify_agreement_command, [str(book_file), str(tampered)])
    assert bad.exit_code == 1
    assert "INVALID" in bad.output and "does not verify" in bad.output


def test_sign_command_errors_exit_2(tmp_path: Path) -> None:
    HGC.save(tmp_path / "hgc.key")
    result = CliRunner().invoke(
        sign_agreement_command,
        [
            str(EXAMPLE_FILE),
            "--party",
            "xyz",
            "--key",
            str(tmp_path / "hgc.key"),
            "--out",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 2
    assert "party: got 'xyz'" in result.output


def test_public_key_of_a_signature_document_round_trips() -> None:
    doc = sign_agreement(BOOK, DCC, "dcc")
    assert PublicKey.from_hex(doc["public_key"]) == DCC.public


def test_next_entry_leaves_the_tip_until_advance() -> None:
    entries = chain(1)
    tip = ChainTip.from_entries(entries, trusted=TRUST)
    entry = tip.next_entry("anchor", anchor(1), HGC, T0)
    assert tip.last == entries[-1]  # not published yet: the tip stays
    assert tip.next_entry("anchor", anchor(1), HGC, T0) == entry  # deterministic rebuild
    tip.advance(entry)
    assert tip.last == entry and tip.anchor_for(W0 + HOUR, W0 + 2 * HOUR, 0) == entry
    tip.advance(entries[1])  # a replayed anchor already in the chain: no move
    assert tip.last == entry
    stale = make_entry(
        entries[0],
        party="hgc",
        agreement_id=BOOK.id,
        kind="statement",
        payload={},
        signer=HGC,
        time=T0,
    )
    with pytest.raises(LedgerError, match="sequence: got 1, want 3"):
        tip.advance(stale)


# --- trusted keys: a chain re-signed from genesis ------------------------------------------

FORGER_HGC = KeyPair.from_seed(bytes([5]) * 32)
FORGER_DCC = KeyPair.from_seed(bytes([6]) * 32)


def resigned(honest: list[LedgerEntry], payload: dict[str, Any]) -> list[LedgerEntry]:
    """``honest`` rewritten from genesis on with the forger's key: same times and payloads,
    but anchor 2's totals raised by 100,000 EUR."""
    entries: list[LedgerEntry] = []
    for entry in honest:
        body = payload if entry.kind == "genesis" else entry.payload_json()
        if entry.sequence == 2:
            raised = Decimal(body["totals"]["EUR"]) + 100_000
            body = {**body, "totals": {"EUR": str(raised)}}
        entries.append(
            make_entry(
                entries[-1] if entries else None,
                party="hgc",
                agreement_id=BOOK.id,
                kind=entry.kind,
                payload=body,
                signer=FORGER_HGC,
                time=entry.time,
            )
        )
    return entries


def test_a_chain_re_signed_from_genesis_with_fresh_keys_is_caught() -> None:
    forged = resigned(chain(4), forged_genesis(BOOK, {"hgc": FORGER_HGC, "dcc": FORGER_DCC}))
    assert json.loads(forged[2].payload)["totals"] == {"EUR": "100012.34"}
    findings = check_ledger(forged, trusted=TRUST)
    assert {f.sequence for f in findings} == {0, 1, 2, 3, 4}  # every entry, none passes
    assert {f.kind for f in findings} == {"unknown-key"}
    for finding in findings:
        assert HGC.key_id in finding.detail or DCC.key_id in finding.detail  # the trusted ones
        assert FORGER_HGC.key_id in finding.detail or FORGER_DCC.key_id in finding.detail
    by_sequence = {f.sequence: f.detail for f in findings}
    assert by_sequence[3] == (
        f"anchor signed by {FORGER_HGC.key_id} in a chain whose current key {FORGER_HGC.key_id} "
        f"(named by the genesis) is not trusted for hgc by agreement {BOOK.id}; trusted for "
        f"hgc: {HGC.key_id} (valid from 2026-01-01T00:00:00+00:00)"
    )


def test_a_chain_under_a_forged_agreement_is_for_another_agreement() -> None:
    # The forger lists its own keys in an agreement of its own: the book hash gives it away.
    forged_book = loads_book(with_keys(hgc=[key(FORGER_HGC)], dcc=[key(FORGER_DCC)]))
    docs = [
        sign_agreement(forged_book, FORGER_HGC, "hgc"),
        sign_agreement(forged_book, FORGER_DCC, "dcc"),
    ]
    forged = resigned(chain(2), genesis_payload(forged_book, docs))
    assert check_ledger(forged, trusted=trusted(forged_book)) == []  # by its own lights
    findings = check_ledger(forged, trusted=TRUST)
    assert ("wrong-agreement", 0) in kinds(findings)
    wrong = next(f for f in findings if f.kind == "wrong-agreement")
    assert wrong.detail == (
        f"book_hash: got '{book_hash(forged_book).hex()}', want {book_hash(BOOK).hex()} "
        f"(agreement {BOOK.id}): the chain is for another agreement or another set of versions"
    )
    assert {f.kind for f in findings} == {"wrong-agreement", "unknown-key"}


# --- key rotation --------------------------------------------------------------------------

HGC_NEXT = KeyPair.from_seed(bytes([4]) * 32)
ROTATING = loads_book(
    with_keys(hgc=[key(HGC), key(HGC_NEXT, "2026-03-01T00:00:00Z")], dcc=[key(DCC)])
)
"""hgc may sign with HGC from 2026-01-01 and with HGC_NEXT from 2026-03-01 (T0 is March 2)."""
ROTATING_TRUST = trusted(ROTATING)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def rotation(
    new: KeyPair, valid_from: datetime = MARCH, old: KeyPair = HGC, **changes: Any
) -> dict[str, Any]:
    """The payload of hgc's rotation from ``old`` to ``new``, proof of possession by ``new``."""
    fields = {"agreement_id": BOOK.id, "party": "hgc", "old_key_id": old.key_id, **changes}
    return rotation_payload(new, valid_from, **fields)


def rotated(book: AgreementBook = ROTATING) -> tuple[ChainTip, list[LedgerEntry]]:
    """genesis, anchor (HGC), rotation HGC → HGC_NEXT (signed by HGC), anchor (HGC_NEXT)."""
    tip = ChainTip("hgc", book.id)
    hour = timedelta(hours=1)
    entries = [
        tip.append("genesis", genesis_payload(book, signatures(book)), HGC, T0),
        tip.append("anchor", anchor(0), HGC, T0 + hour),
        tip.append("key-rotation", rotation(HGC_NEXT), HGC, T0 + 2 * hour),
        tip.append("anchor", anchor(1), HGC_NEXT, T0 + 3 * hour),
    ]
    return tip, entries


def after(entries: list[LedgerEntry], kind: str, payload: dict[str, Any], signer: KeyPair,
          hours: int = 4) -> LedgerEntry:  # fmt: skip
    return make_entry(entries[-1], party="hgc", agreement_id=BOOK.id, kind=kind,
                      payload=payload, signer=signer, time=T0 + timedelta(hours=hours))  # fmt: skip


def test_a_key_rotation_hands_the_chain_to_the_next_key() -> None:
    tip, entries = rotated()
    message = tagged(
        "key-rotation.v1",
        canonical_json(
            {
                "agreement_id": BOOK.id,
                "party": "hgc",
                "old_key_id": HGC.key_id,
                "new_key_id": HGC_NEXT.key_id,
                "valid_from_ms": 1_772_323_200_000,
            }
        ),
    )
    assert json.loads(entries[2].payload) == {
        "new_key_id": HGC_NEXT.key_id,
        "public_key": HGC_NEXT.public.raw.hex(),
        "valid_from_ms": 1_772_323_200_000,
        "new_key_signature": HGC_NEXT.sign(message).hex(),  # proof of possession
    }
    assert entries[2].key_id == HGC.key_id and entries[3].key_id == HGC_NEXT.key_id
    assert check_ledger(entries, trusted=ROTATING_TRUST) == []
    assert tip.key_id == HGC_NEXT.key_id
    assert ChainTip.from_entries(entries, trusted=ROTATING_TRUST).key_id == HGC_NEXT.key_id
    # the same chain against an agreement that lists no next key: the rotation is refused
    findings = check_ledger(entries, trusted=trusted(BOOK))
    assert ("unknown-key", 2) in kinds(findings)


def test_after_a_rotation_the_old_key_may_not_sign() -> None:
    _, entries = rotated()
    stale = after(entries, "anchor", anchor(2), HGC)
    findings = check_ledger([*entries, stale], trusted=ROTATING_TRUST)
    assert kinds(findings) == [("key-not-current", 4)]
    assert findings[0].detail == (
        f"key_id: got {HGC.key_id}, a trusted key of hgc but not the current one: "
        f"{HGC_NEXT.key_id} signs from sequence 3 on (a key rotation at sequence 2)"
    )


def test_the_next_key_may_not_sign_before_its_rotation() -> None:
    entries = chain(1)  # under BOOK; checked against ROTATING's keys (its book hash aside)
    early = after(entries, "anchor", anchor(3), HGC_NEXT)
    keys_only = TrustedKeys(ROTATING_TRUST.parties, None, None, "trusted keys t.json")
    findings = check_ledger([*entries, early], trusted=keys_only)
    assert kinds(findings) == [("key-not-current", 2)]
    assert "signs from sequence 0 on (the genesis)" in findings[0].detail


def test_a_rotation_to_a_key_the_agreement_does_not_list() -> None:
    _, entries = rotated()
    entries = entries[:2]
    bad = after(entries, "key-rotation", rotation(MALLORY), HGC, 2)
    then = after([*entries, bad], "anchor", anchor(1), MALLORY, 3)
    findings = check_ledger([*entries, bad, then], trusted=ROTATING_TRUST)
    assert kinds(findings) == [("unknown-key", 2), ("unknown-key", 3)]
    assert findings[0].detail == (
        f"key rotation: key {MALLORY.key_id} is not trusted for hgc (agreement {BOOK.id}); "
        f"trusted for hgc: {ROTATING_TRUST.listed('hgc')}"
    )
    assert HGC.key_id in findings[1].detail  # still hgc's current key: the rotation failed
    # the partner's key is no better
    to_partner = after(entries, "key-rotation", rotation(DCC), HGC, 2)
    assert kinds(check_ledger([*entries, to_partner], trusted=ROTATING_TRUST)) == [
        ("unknown-key", 2)
    ]


def test_a_rotation_signed_by_a_key_that_is_not_current() -> None:
    _, entries = rotated()
    entries = entries[:2]
    grab = after(entries, "key-rotation", rotation(HGC_NEXT), HGC_NEXT, 2)
    then = after([*entries, grab], "anchor", anchor(1), HGC_NEXT, 3)
    findings = check_ledger([*entries, grab, then], trusted=ROTATING_TRUST)
    assert kinds(findings) == [("key-not-current", 2), ("key-not-current", 3)]


def test_a_rotation_must_name_the_listing_and_a_key_valid_at_its_time() -> None:
    _, entries = rotated()
    entries = entries[:2]
    wrong_from = rotation(HGC_NEXT, MARCH + timedelta(days=1))
    findings = check_ledger([*entries, after(entries, "key-rotation", wrong_from, HGC, 2)],
                            trusted=ROTATING_TRUST)  # fmt: skip
    assert kinds(findings) == [("bad-payload", 2)]
    assert "valid_from_ms: got 1772409600000, want 1772323200000" in findings[0].detail
    to_itself = rotation(HGC, datetime(2026, 1, 1, tzinfo=UTC))
    findings = check_ledger([*entries, after(entries, "key-rotation", to_itself, HGC, 2)],
                            trusted=ROTATING_TRUST)  # fmt: skip
    assert kinds(findings) == [("bad-payload", 2)]
    assert findings[0].detail == f"key rotation to the current key {HGC.key_id}"
    misshapen = {**rotation(HGC_NEXT), "new_key_id": DCC.key_id}
    findings = check_ledger([*entries, after(entries, "key-rotation", misshapen, HGC, 2)],
                            trusted=ROTATING_TRUST)  # fmt: skip
    assert kinds(findings) == [("bad-payload", 2)]
    assert findings[0].detail.startswith(f"key rotation: new_key_id: got '{DCC.key_id}'")
    # a next key valid only from April cannot take over in March
    april = loads_book(
        with_keys(hgc=[key(HGC), key(HGC_NEXT, "2026-04-01T00:00:00Z")], dcc=[key(DCC)])
    )
    tip = ChainTip("hgc", april.id)
    handover = rotation(HGC_NEXT, MARCH.replace(month=4))
    early = [
        tip.append("genesis", genesis_payload(april, signatures(april)), HGC, T0),
        tip.append("key-rotation", handover, HGC, T0),
    ]
    findings = check_ledger(early, trusted=trusted(april))
    assert kinds(findings) == [("key-not-valid", 1)]
    assert findings[0].detail == (
        f"key rotation at 2026-03-02T10:00:00+00:00 to {HGC_NEXT.key_id}, valid from "
        "2026-04-01T00:00:00+00:00"
    )


def test_an_entry_signed_after_its_key_expired() -> None:
    ending = loads_book(
        with_keys(hgc=[key(HGC, valid_until="2026-03-02T12:00:00Z")], dcc=[key(DCC)])
    )
    tip = ChainTip("hgc", ending.id)
    entries = [tip.append("genesis", genesis_payload(ending, signatures(ending)), HGC, T0)]
    for hour in range(3):
        entries.append(tip.append("anchor", anchor(hour), HGC, T0 + timedelta(hours=hour)))
    findings = check_ledger(entries, trusted=trusted(ending))
    assert kinds(findings) == [("key-not-valid", 3)]
    assert findings[0].detail == (
        f"anchor signed: key {HGC.key_id} of hgc is valid from 2026-01-01T00:00:00+00:00 until "
        "2026-03-02T12:00:00+00:00, not at 2026-03-02T12:00:00+00:00"
    )


def test_the_chain_tip_signs_only_with_the_current_key() -> None:
    tip, _ = rotated()
    with pytest.raises(LedgerError, match=f"the chain's current key is {HGC_NEXT.key_id}"):
        tip.append("anchor", anchor(5), HGC, T0 + timedelta(hours=5))
    fresh = ChainTip("hgc", BOOK.id)
    with pytest.raises(LedgerError, match=f"with key {DCC.key_id}: the chain's current key is"):
        fresh.append("genesis", GENESIS, DCC, T0)  # the genesis names HGC for hgc


def test_rotation_payload_shape() -> None:
    with pytest.raises(LedgerError, match="want an aware time"):
        rotation(HGC, datetime(2026, 3, 1))  # noqa: DTZ001
    assert rotation_problems({"public_key": "x", "extra": 1}) == [
        "fields: got ['extra'], want only new_key_id, public_key, valid_from_ms, new_key_signature",
        "public_key: got 'x', want 64 lowercase hex digits",
        "valid_from_ms: got None, want an integer",
        "new_key_signature: got None, want 128 lowercase hex digits (the new key's signature: "
        "proof of possession)",
    ]
    weak = {**rotation(HGC_NEXT), "public_key": "00" * 32, "new_key_id": key_id_of(bytes(32))}
    assert rotation_problems(weak) == [
        "public_key: got a small-order key, want a real Ed25519 public key"
    ]


# --- proof of possession -------------------------------------------------------------------


def test_a_rotation_without_a_proof_of_possession_is_refused() -> None:
    _, entries = rotated()
    entries = entries[:2]
    unproven = {k: v for k, v in rotation(HGC_NEXT).items() if k != "new_key_signature"}
    rotation_entry = after(entries, "key-rotation", unproven, HGC, 2)
    then = after([*entries, rotation_entry], "anchor", anchor(1), HGC_NEXT, 3)
    findings = check_ledger([*entries, rotation_entry, then], trusted=ROTATING_TRUST)
    assert kinds(findings) == [("bad-payload", 2), ("key-not-current", 3)]
    assert "new_key_signature: got None" in findings[0].detail


@pytest.mark.parametrize(
    ("proof", "why"),
    [
        (lambda: rotation(HGC_NEXT) | {"new_key_signature": rotation(HGC)["new_key_signature"]},
         "signed by the old key"),
        (lambda: rotation(HGC_NEXT, old=DCC), "over another old key id"),
        (lambda: rotation(HGC_NEXT, agreement_id="another"), "over another agreement"),
        (lambda: rotation(HGC_NEXT, party="dcc"), "over another party"),
    ],
)  # fmt: skip
def test_a_rotation_whose_proof_of_possession_does_not_verify(proof: Any, why: str) -> None:
    """A key no one proves to hold never takes a chain over: the rotation is refused and the
    old key stays current."""
    _, entries = rotated()
    entries = entries[:2]
    rotation_entry = after(entries, "key-rotation", proof(), HGC, 2)
    then = after([*entries, rotation_entry], "anchor", anchor(1), HGC_NEXT, 3)
    findings = check_ledger([*entries, rotation_entry, then], trusted=ROTATING_TRUST)
    assert kinds(findings) == [("bad-payload", 2), ("key-not-current", 3)], why
    assert findings[0].detail == (
        f"key rotation: new_key_signature does not verify with the new key "
        f"{HGC_NEXT.key_id} over key-rotation.v1 of ({BOOK.id}, hgc, {HGC.key_id} → "
        f"{HGC_NEXT.key_id}, 1772323200000): no proof the party holds the new key"
    )


def test_the_chain_tip_refuses_a_rotation_without_a_valid_proof() -> None:
    tip, _ = rotated()  # HGC_NEXT is current
    with pytest.raises(LedgerError, match="no proof of possession"):
        tip.append("key-rotation", rotation(HGC, old=HGC), HGC_NEXT, T0 + timedelta(hours=5))
    with pytest.raises(LedgerError, match="new_key_signature: got None"):
        unproven = {
            k: v for k, v in rotation(HGC, old=HGC_NEXT).items() if k != "new_key_signature"
        }
        tip.append("key-rotation", unproven, HGC_NEXT, T0 + timedelta(hours=5))


# --- small-order keys ----------------------------------------------------------------------

ZERO = "00" * 32
"""The all-zero public key: a point of order 4, whose all-zero signature verifies about one
message in four (OpenSSL does not refuse such keys)."""


def zero_signature_verifies(message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes(32)).verify(bytes(64), message)
    except InvalidSignature:
        return False
    return True


def test_a_genesis_publishing_a_small_order_key_publishes_nothing() -> None:
    """The forgery a small-order key allows: a genesis naming the zero key for hgc, whose
    entries carry the all-zero signature (ground until it verifies). Refused as a published
    key, whatever the trusted keys say."""
    genesis = copy.deepcopy(GENESIS)
    genesis["parties"]["hgc"] |= {"key_id": key_id_of(bytes(32)), "public_key": ZERO}
    published, problems = genesis_keys(
        make_entry(
            None,
            party="hgc",
            agreement_id=BOOK.id,
            kind="genesis",
            payload=genesis,
            signer=HGC,
            time=T0,
        )
    )
    assert "hgc" not in {party for party, _ in published.values()}
    assert any(
        p == "parties.hgc: public key: public_key: got a small-order key, want a real Ed25519 "
        "public key"
        for p in problems
    ), problems
    assert any(zero_signature_verifies(b"m%d" % n) for n in range(16))  # why it matters


def test_small_order_keys_are_refused_as_signature_documents() -> None:
    doc = sign_agreement(BOOK, HGC, "hgc") | {"public_key": ZERO, "key_id": key_id_of(bytes(32))}
    assert verify_agreement_signature(BOOK, doc)[0] == (
        "public_key: got a small-order key, want a real Ed25519 public key"
    )


def test_rotate_key_wants_the_new_private_key(tmp_path: Path) -> None:
    """Without the new private key there is no proof of possession: a public key file is
    refused before anything is read from Kafka, saying why."""
    from streams.cli.main import main

    current, following = tmp_path / "hgc.key", tmp_path / "next" / "hgc.key"
    HGC.save(current)
    HGC_NEXT.save(following)
    public = following.with_name("hgc.pub.json")
    result = CliRunner().invoke(
        main,
        ["ledger", "rotate-key", "--kafka", "127.0.0.1:1", "--key", str(current),
         "--new-key", str(public)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "got a public key file, want the new key's private key file" in result.output
    assert "proof of possession" in result.output
    assert (
        "--new-key" in result.output
        and "private key" in CliRunner().invoke(main, ["ledger", "rotate-key", "--help"]).output
    )


def test_a_genesis_key_has_one_spelling() -> None:
    genesis = copy.deepcopy(GENESIS)
    genesis["parties"]["dcc"]["public_key"] = DCC.public.raw.hex().upper()
    entry = make_entry(
        None, party="hgc", agreement_id=BOOK.id, kind="genesis", payload=genesis, signer=HGC,
        time=T0,
    )  # fmt: skip
    published, problems = genesis_keys(entry)
    assert "dcc" not in {party for party, _ in published.values()}
    assert any(p.startswith("parties.dcc: public_key: got '") for p in problems), problems
