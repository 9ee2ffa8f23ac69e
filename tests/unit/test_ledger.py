"""Ledger entries and rules: a clean chain, one test per tampering with the finding it must
produce, the agreement signatures behind genesis, anchors, the chain tip, the Avro round trip,
a pinned entry, and the ``bilat agreement sign|verify-signatures`` commands."""

from __future__ import annotations

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

from streams.agreement import AgreementBook
from streams.agreement_loader import load_book
from streams.agreement_signing import (
    book_hash,
    genesis_payload,
    sign_agreement,
    verify_agreement_signature,
)
from streams.canonical import canonical_json
from streams.chain import ChainTip
from streams.codec import make_codec
from streams.config import REPO
from streams.keys import KeyPair, PublicKey
from streams.ledger import ZERO_HASH, LedgerEntry, LedgerError, anchor_payload, make_entry
from streams.ledger_check import Finding, check_ledger
from streams.ops.keys_cli import sign_agreement_command, verify_agreement_command

EXAMPLE = REPO / "examples" / "agreement.yaml"
BOOK = load_book(EXAMPLE)
HGC = KeyPair.from_seed(bytes([1]) * 32)
DCC = KeyPair.from_seed(bytes([2]) * 32)
MALLORY = KeyPair.from_seed(bytes([3]) * 32)
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
    assert check_ledger(entries) == []
    assert check_ledger(entries, party="hgc") == []


def test_order_and_identical_duplicates_do_not_matter() -> None:
    entries = chain()
    stored = entries + entries[1:3]  # Kafka at-least-once: some entries twice
    random.Random(7).shuffle(stored)
    assert check_ledger(stored) == []


def test_an_empty_ledger_has_no_genesis() -> None:
    assert kinds(check_ledger([])) == [("no-genesis", None)]


# --- one test per tampering ----------------------------------------------------------------


def test_one_byte_changed_in_a_payload() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], payload=flip(entries[2].payload, 30))
    # The signature covers payload_hash, which still matches the chain: only the payload is bad.
    assert kinds(check_ledger(entries)) == [("bad-payload", 2)]


def test_one_byte_changed_in_a_signature() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], signature=flip(entries[2].signature, 5))
    # The entry hash covers the signature, so the next link breaks too.
    assert kinds(check_ledger(entries)) == [("bad-signature", 2), ("chain-break", 3)]


def test_one_byte_changed_in_prev_hash() -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], prev_hash=flip(entries[2].prev_hash, 0))
    assert kinds(check_ledger(entries)) == [
        ("bad-signature", 2),
        ("chain-break", 2),
        ("chain-break", 3),
    ]


def test_an_entry_removed_is_a_gap() -> None:
    entries = chain()
    del entries[2]
    findings = check_ledger(entries)
    assert kinds(findings) == [("gap", 2)]
    assert "sequence 2 missing" in findings[0].detail


def test_a_run_of_removed_entries_is_one_gap() -> None:
    entries = chain(6)
    del entries[2:5]
    findings = check_ledger(entries)
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
    assert kinds(check_ledger([*entries, fork])) == [("equivocation", 2)]


def test_a_corrupted_copy_is_not_equivocation() -> None:
    entries = chain(2)
    corrupted = dataclasses.replace(entries[2], signature=flip(entries[2].signature, 9))
    assert kinds(check_ledger([*entries, corrupted])) == [("bad-signature", 2)]


def test_a_window_anchored_twice_with_different_roots() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries)
    again = make_entry(
        tip.last,
        party="hgc",
        agreement_id=BOOK.id,
        kind="anchor",
        payload=anchor(0, root=b"\x07" * 32),
        signer=HGC,
        time=T0,
    )
    findings = check_ledger([*entries, again])
    assert kinds(findings) == [("duplicate-window", 3)]
    assert "sequence 1 anchored root" in findings[0].detail


def test_a_new_revision_of_a_window_is_not_a_duplicate() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries)
    first_root = json.loads(entries[1].payload)["root"]
    revision = anchor(0, revision=1, supersedes=(0, bytes.fromhex(first_root)))
    entries.append(tip.append("anchor", revision, HGC, T0))
    assert check_ledger(entries) == []


def test_a_revision_superseding_a_root_never_anchored() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries)
    entries.append(
        tip.append("anchor", anchor(0, revision=1, supersedes=(0, b"\x09" * 32)), HGC, T0)
    )
    assert kinds(check_ledger(entries)) == [("bad-payload", 3)]


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
    findings = check_ledger([*entries, forged])
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
    findings = check_ledger([*entries, forged])
    assert kinds(findings) == [("unknown-key", 3)]
    assert "dcc's key, not hgc's" in findings[0].detail


def test_a_missing_genesis() -> None:
    entries = chain()[1:]
    findings = check_ledger(entries)
    assert kinds(findings) == [("no-genesis", None)]
    assert "signatures not checked" in findings[0].detail


def test_entries_of_another_party_or_agreement() -> None:
    theirs = ChainTip("dcc", BOOK.id)
    other = theirs.append("genesis", GENESIS, DCC, T0)
    entries = chain(1)
    assert kinds(check_ledger([*entries, other])) == [("wrong-party", 0)]
    assert kinds(check_ledger([*entries, other], party="dcc")) == [
        ("wrong-party", 0),
        ("wrong-party", 1),
    ]
    elsewhere = dataclasses.replace(entries[1], agreement_id="hgc-xyz-2026")
    assert kinds(check_ledger([*entries, elsewhere])) == [("wrong-party", 1)]


def test_a_genesis_whose_agreement_signature_was_swapped() -> None:
    forged = dict(GENESIS)
    forged["signatures"] = [GENESIS["signatures"][0], sign_agreement(BOOK, MALLORY, "dcc")]
    tip = ChainTip("hgc", BOOK.id)
    entries = [tip.append("genesis", forged, HGC, T0), tip.append("anchor", anchor(0), HGC, T0)]
    findings = check_ledger(entries)
    assert kinds(findings) == [("bad-payload", 0), ("bad-payload", 0)]
    assert {f.detail for f in findings} == {
        f"signatures[1]: key {MALLORY.key_id}: not the key parties.dcc publishes",
        "signatures: missing a valid agreement signature by dcc",
    }


def test_a_genesis_publishing_a_key_other_than_the_trusted_one() -> None:
    entries = chain(1)
    assert check_ledger(entries, trusted={"hgc": HGC.public}) == []
    findings = check_ledger(entries, trusted={"hgc": MALLORY.public})
    assert ("unknown-key", 0) in kinds(findings)
    assert all(f.kind == "unknown-key" for f in findings)


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
    findings = check_ledger([entries[0], signed])
    assert kinds(findings) == [("bad-payload", 1)]
    assert "non-canonical" in findings[0].detail


def test_every_problem_is_reported_at_once() -> None:
    entries = chain(6)
    entries[1] = dataclasses.replace(entries[1], payload=flip(entries[1].payload, 3))
    del entries[3]
    entries[-1] = dataclasses.replace(entries[-1], signature=flip(entries[-1].signature, 0))
    assert kinds(check_ledger(entries)) == [("bad-payload", 1), ("gap", 3), ("bad-signature", 6)]


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
    assert check_ledger(entries) != []


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
    assert check_ledger(entries) != []


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
    assert check_ledger(decoded) == []


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
    assert as_buyer == [f"signature: does not verify with key {HGC.key_id}"]
    other_key = verify_agreement_signature(BOOK, {**doc, "public_key": DCC.public.raw.hex()})
    assert any(p.startswith("key_id: got") for p in other_key)
    assert any(p.startswith("signature: does not verify") for p in other_key)
    broken = verify_agreement_signature(BOOK, {**doc, "signature": "zz", "book_hash": 5})
    assert broken == ["field 'book_hash': got 5, want a string"]
    assert verify_agreement_signature(BOOK, {**doc, "signature": "zz"}) == [
        "signature: got 'zz', want 128 lowercase hex digits"
    ]


def test_sign_agreement_refuses_a_stranger() -> None:
    with pytest.raises(LedgerError, match="party: got 'xyz', want one of hgc, dcc"):
        sign_agreement(BOOK, MALLORY, "xyz")


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
    with pytest.raises(LedgerError, match="parties dcc and hgc signed with the same key"):
        genesis_payload(BOOK, [sign_agreement(BOOK, HGC, "hgc"), sign_agreement(BOOK, HGC, "dcc")])
    # With dcc's key known out of band, a stranger's key is refused too.
    with pytest.raises(LedgerError, match=f"party dcc: signed by key {MALLORY.key_id}"):
        genesis_payload(
            BOOK,
            [sign_agreement(BOOK, HGC, "hgc"), sign_agreement(BOOK, MALLORY, "dcc")],
            keys={"dcc": DCC.public},
        )


def test_genesis_refuses_two_keys_for_one_party() -> None:
    docs = [*signatures(), sign_agreement(BOOK, MALLORY, "dcc")]
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
    tip = ChainTip.from_entries(stored)
    assert tip.last == entries[-1]
    assert tip.anchor_for(W0, W0 + HOUR, 0) == entries[1]
    entries.append(tip.append("anchor", anchor(3), HGC, T0))
    assert check_ledger(entries) == []


def test_chain_tip_recognises_a_replayed_anchor() -> None:
    entries = chain(2)
    tip = ChainTip.from_entries(entries)
    assert tip.append("anchor", anchor(1), HGC, T0 + timedelta(days=1)) == entries[2]
    assert tip.last == entries[2]
    with pytest.raises(LedgerError, match="already anchored at sequence 2"):
        tip.append("anchor", anchor(1, root=b"\x05" * 32), HGC, T0)


def test_chain_tip_refuses_a_chain_with_findings() -> None:
    entries = chain(3)
    del entries[2]
    with pytest.raises(LedgerError, match="gap at sequence 2"):
        ChainTip.from_entries(entries)
    with pytest.raises(LedgerError, match="no entries"):
        ChainTip.from_entries([], party="hgc")


def test_chain_tip_refuses_a_misshapen_anchor() -> None:
    tip = ChainTip.from_entries(chain(0))
    with pytest.raises(LedgerError, match="root: got None"):
        tip.append("anchor", {**anchor(0), "root": None}, HGC, T0)


# --- bilat agreement sign / verify-signatures ----------------------------------------------


def test_sign_and_verify_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    HGC.save(tmp_path / "hgc.key")
    DCC.save(tmp_path / "dcc.key")
    book_file = tmp_path / "agreement.yaml"
    book_file.write_text(EXAMPLE.read_text())
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
            str(EXAMPLE),
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
    tip = ChainTip.from_entries(entries)
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
