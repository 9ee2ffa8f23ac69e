"""The parties' keys in the agreement (strict YAML, canonical content), the trusted keys drawn
from it or from a trusted-keys file, and ``bilat keys trusted``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.agreement.loader import load_book, loads_book
from streams.agreement.model import PartyKey
from streams.agreement.signing import book_hash
from streams.agreement.trust import MAX_TRUSTED_KEYS_BYTES, TrustedKeys, TrustError
from streams.cli.keys import keys_group
from streams.core.errors import AgreementError
from streams.core.keys import KeyPair, demo_keypair
from tests.fakes.agreements import EXAMPLE, TEXT, book_with_keys, key, with_keys

HGC, DCC = demo_keypair("hgc"), demo_keypair("dcc")
NEXT = KeyPair.from_seed(bytes([7]) * 32)
V1 = TEXT.split("\n---\n")[0]


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(AgreementError) as info:
        loads_book(text)
    return info.value.problems


# --- keys in the agreement -----------------------------------------------------------------


def test_the_example_lists_the_documented_demo_keys() -> None:
    book = load_book(EXAMPLE)
    for version in book.versions:
        assert [k.public_key for k in version.seller.keys] == [HGC.public.raw.hex()]
        assert [k.public_key for k in version.buyer.keys] == [DCC.public.raw.hex()]
    (listed,) = book.party_keys("hgc")
    assert listed == PartyKey(HGC.public.raw.hex(), datetime(2026, 1, 1, tzinfo=UTC), None)
    assert listed.key_id == HGC.key_id == "ed25519:1931b1da90ae8f40"
    assert book.party_keys("zzz") == ()


def test_keys_are_part_of_the_signed_content() -> None:
    original = loads_book(V1).latest
    assert original.canonical()["seller"]["keys"] == [
        {
            "public_key": HGC.public.raw.hex(),
            "valid_from": "2026-01-01T00:00:00+00:00",
            "valid_until": None,
        }
    ]
    other_key = loads_book(with_keys(V1, hgc=[key(NEXT)])).latest
    later = loads_book(with_keys(V1, hgc=[key(HGC, "2026-01-02T00:00:00Z")])).latest
    ending = loads_book(with_keys(V1, hgc=[key(HGC, valid_until="2027-01-01T00:00:00Z")])).latest
    hashes = {v.canonical_hash() for v in (original, other_key, later, ending)}
    assert len(hashes) == 4  # every key and validity is signed
    both = [key(HGC), key(NEXT, "2026-06-01T00:00:00Z")]
    reordered = [key(NEXT, "2026-06-01T00:00:00Z"), key(HGC)]
    assert (
        loads_book(with_keys(V1, hgc=both)).latest.canonical_hash()
        == loads_book(with_keys(V1, hgc=reordered)).latest.canonical_hash()
    )  # the order written means nothing


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("", "parties.seller.keys: got None, want a non-empty list"),
        ("    keys: []\n", "parties.seller.keys: got [], want a non-empty list"),
        (
            '    keys:\n      - {public_key: "ABCD", valid_from: "2026-01-01T00:00:00Z"}\n',
            "parties.seller.keys[0].public_key: got 'ABCD', want an Ed25519 public key as 64 "
            "lowercase hex digits",
        ),
        (
            f'    keys:\n      - {{public_key: "{HGC.public.raw.hex().upper()}", '
            'valid_from: "2026-01-01T00:00:00Z"}\n',
            "parties.seller.keys[0].public_key: got 'C01FB33F",
        ),
        (
            f"    keys:\n      - {{public_key: {HGC.public.raw.hex()}}}\n",
            "parties.seller.keys[0].valid_from: got None, want an ISO-8601 time with offset",
        ),
        (
            f"    keys:\n      - {{public_key: {HGC.public.raw.hex()}, valid_from: 2026-01-01}}\n",
            "parties.seller.keys[0].valid_from: got '2026-01-01', want an ISO-8601 time",
        ),
        (
            f'    keys:\n      - {{public_key: {HGC.public.raw.hex()}, valid_from: "2026-02-01'
            'T00:00:00Z", valid_until: "2026-02-01T00:00:00+00:00"}\n',
            "parties.seller.keys[0].valid_until: got '2026-02-01T00:00:00+00:00', want a time "
            "after valid_from",
        ),
        (
            f'    keys:\n      - {{public_key: {HGC.public.raw.hex()}, valid_from: "2026-01-01'
            'T00:00:00Z", key_id: x}\n',
            "parties.seller.keys[0].key_id: got an unknown key, want one of ['public_key', "
            "'valid_from', 'valid_until']",
        ),
        (
            "    keys:\n" + key(HGC) + key(HGC, "2026-05-01T00:00:00Z"),
            f"parties.seller.keys[1].public_key: got '{HGC.public.raw.hex()[:50]}",
        ),
        (
            "    keys:\n" + key(DCC),
            f"parties.buyer.keys: got '{DCC.public.raw.hex()[:50]}",
        ),
        (
            f'    keys:\n      - {{public_key: "{"00" * 32}", '
            'valid_from: "2026-01-01T00:00:00Z"}\n',
            "parties.seller.keys[0].public_key: got a small-order key, want a real Ed25519 public "
            "key",
        ),
        (
            '    keys:\n      - {public_key: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64e'
            'c7fd7792ac03fa", valid_from: "2026-01-01T00:00:00Z"}\n',
            "parties.seller.keys[0].public_key: got a small-order key",
        ),
    ],
)
def test_keys_are_read_strictly_with_their_path(keys: str, problem: str) -> None:
    listing = "    keys:\n" + key(HGC)
    assert listing in V1
    problems = problems_of(V1.replace(listing, keys, 1))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_key_is_one_partys_with_one_validity_in_every_version() -> None:
    first, second = TEXT.split("\n---\n")
    moved = with_keys(second, hgc=[key(HGC, "2026-02-01T00:00:00Z")])
    problems = problems_of(first + "\n---\n" + moved)
    assert problems == (
        f"version 2: parties.seller: key {HGC.key_id} got valid from 2026-02-01T00:00:00+00:00, "
        "but version 1 lists it valid from 2026-01-01T00:00:00+00:00: want one validity per key "
        "in every version",
    )
    swapped = with_keys(second, hgc=[key(NEXT)], dcc=[key(HGC)])
    problems = problems_of(first + "\n---\n" + swapped)
    assert problems == (
        f"version 2: parties.buyer: key {HGC.key_id} got as dcc's, but version 1 lists it as "
        "hgc's: want one party per key",
    )


def test_a_later_version_may_add_a_key() -> None:
    first, second = TEXT.split("\n---\n")
    book = loads_book(
        first + "\n---\n" + with_keys(second, hgc=[key(HGC), key(NEXT, "2026-12-01T00:00:00Z")])
    )
    assert [k.key_id for k in book.party_keys("hgc")] == [HGC.key_id, NEXT.key_id]


# --- trusted keys --------------------------------------------------------------------------


def test_trusted_keys_of_a_book_name_its_keys_and_book_hash() -> None:
    book = book_with_keys(hgc=[key(HGC, valid_until="2026-07-01T00:00:00Z"), key(NEXT)])
    trusted = TrustedKeys.of_book(book, "agreement a.yaml")
    assert trusted.agreement_id == book.id and trusted.book_hash == book_hash(book).hex()
    assert [k.key_id for k in trusted.of("hgc")] == [HGC.key_id, NEXT.key_id]
    assert trusted.owner_of(DCC.key_id) == ("dcc", book.party_keys("dcc")[0])
    assert trusted.owner_of(demo_keypair("x").key_id) is None
    june, july = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    assert trusted.key_problem("hgc", HGC.key_id, june) is None
    assert trusted.key_problem("hgc", HGC.key_id, july) == (
        f"key {HGC.key_id} of hgc is valid from 2026-01-01T00:00:00+00:00 until "
        "2026-07-01T00:00:00+00:00, not at 2026-07-01T00:00:00+00:00"
    )
    assert trusted.key_problem("hgc", DCC.key_id) == (
        f"key {DCC.key_id} is dcc's, not hgc's; trusted for hgc: {trusted.listed('hgc')}"
    )
    stranger = demo_keypair("mallory").key_id
    assert trusted.key_problem("dcc", stranger) == (
        f"key {stranger} is not trusted for dcc (agreement a.yaml); trusted for dcc: "
        f"{DCC.key_id} (valid from 2026-01-01T00:00:00+00:00)"
    )


def test_the_trusted_keys_document_round_trips() -> None:
    book = book_with_keys(hgc=[key(HGC, valid_until="2026-07-01T00:00:00Z"), key(NEXT)])
    trusted = TrustedKeys.of_book(book)
    document = trusted.to_json()
    assert document == {
        "bilat_trusted_keys": 1,
        "agreement_id": book.id,
        "book_hash": book_hash(book).hex(),
        "parties": {
            "dcc": [
                {
                    "public_key": DCC.public.raw.hex(),
                    "key_id": DCC.key_id,
                    "valid_from": "2026-01-01T00:00:00Z",
                    "valid_until": None,
                }
            ],
            "hgc": [
                {
                    "public_key": HGC.public.raw.hex(),
                    "key_id": HGC.key_id,
                    "valid_from": "2026-01-01T00:00:00Z",
                    "valid_until": "2026-07-01T00:00:00Z",
                },
                {
                    "public_key": NEXT.public.raw.hex(),
                    "key_id": NEXT.key_id,
                    "valid_from": "2026-01-01T00:00:00Z",
                    "valid_until": None,
                },
            ],
        },
    }
    again = TrustedKeys.from_json(json.loads(json.dumps(document)), "t.json")
    assert (again.parties, again.agreement_id, again.book_hash) == (
        trusted.parties,
        trusted.agreement_id,
        trusted.book_hash,
    )
    listing = {"public_key": HGC.public.raw.hex(), "valid_from": "2026-01-01T01:00:00+01:00"}
    minimal = {"bilat_trusted_keys": 1, "parties": {"hgc": [listing]}}
    only_keys = TrustedKeys.from_json(minimal)
    assert (only_keys.agreement_id, only_keys.book_hash) == (None, None)
    assert only_keys.of("hgc")[0].valid_from == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_malformed_trusted_keys_document_lists_every_problem() -> None:
    bad = {
        "bilat_trusted_keys": 2,
        "book_hash": "XY",
        "extra": 1,
        "parties": {
            "hgc": [
                {"public_key": HGC.public.raw.hex(), "key_id": DCC.key_id, "valid_from": "soon"},
                {"public_key": "zz", "valid_from": "2026-01-01T00:00:00Z", "note": "x"},
            ],
            "dcc": [],
            "xyz": [{"public_key": HGC.public.raw.hex(), "valid_from": "2026-01-01T00:00:00Z"}],
        },
    }
    with pytest.raises(TrustError) as caught:
        TrustedKeys.from_json(bad, "t.json")
    assert caught.value.problems == (
        "extra: got an unknown field, want one of ['agreement_id', 'bilat_trusted_keys', "
        "'book_hash', 'parties']",
        "bilat_trusted_keys: got 2, want 1",
        "book_hash: got 'XY', want 64 lowercase hex digits or null",
        f"parties.hgc[0].key_id: got '{DCC.key_id}', want '{HGC.key_id}' (the key's)",
        "parties.hgc[0].valid_from: got 'soon', want an ISO-8601 time with offset, e.g. "
        "2026-01-01T00:00:00Z",
        "parties.hgc[1].note: got an unknown field, want one of ['key_id', 'public_key', "
        "'valid_from', 'valid_until']",
        "parties.hgc[1].public_key: got 'zz', want 64 lowercase hex digits",
        "parties.dcc: got [], want a non-empty list of keys",
    )
    with pytest.raises(TrustError, match="got JSON list, want an object"):
        TrustedKeys.from_json([])
    shared = {
        "bilat_trusted_keys": 1,
        "parties": {
            p: [{"public_key": HGC.public.raw.hex(), "valid_from": "2026-01-01T00:00:00Z"}]
            for p in ("hgc", "dcc")
        },
    }
    with pytest.raises(TrustError, match=f"parties.dcc: key {HGC.key_id} is also hgc's"):
        TrustedKeys.from_json(shared)
    weak = {
        "bilat_trusted_keys": 1,
        "parties": {"hgc": [{"public_key": "01" + "00" * 31, "valid_from": "2026-01-01T00:00Z"}]},
    }
    with pytest.raises(TrustError) as caught:
        TrustedKeys.from_json(weak)
    assert caught.value.problems == (
        "parties.hgc[0].public_key: got a small-order key, want a real Ed25519 public key",
        "parties.hgc[0].valid_from: got '2026-01-01T00:00Z', want an ISO-8601 time with offset, "
        "e.g. 2026-01-01T00:00:00Z",
    )
    with pytest.raises(TrustError, match="bilat_trusted_keys: got True, want 1"):
        TrustedKeys.from_json({**shared, "bilat_trusted_keys": True, "parties": weak["parties"]})


def test_loading_a_trusted_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps(TrustedKeys.of_book(load_book(EXAMPLE)).to_json()))
    loaded = TrustedKeys.load(path)
    assert loaded.source == f"trusted keys {path}"
    assert loaded.parties == TrustedKeys.of_book(load_book(EXAMPLE)).parties
    path.write_text("{not json")
    with pytest.raises(TrustError, match="got unreadable JSON"):
        TrustedKeys.load(path)
    hidden = json.dumps(TrustedKeys.of_book(load_book(EXAMPLE)).to_json()).replace(
        '"public_key": ', f'"public_key": "{NEXT.public.raw.hex()}", "public_key": ', 1
    )
    path.write_text(hidden)
    with pytest.raises(TrustError, match="member 'public_key' given twice in one object"):
        TrustedKeys.load(path)
    path.write_text(" " * (MAX_TRUSTED_KEYS_BYTES + 1))
    with pytest.raises(TrustError, match="got more than 1,048,576 bytes"):
        TrustedKeys.load(path)
    with pytest.raises(TrustError, match="cannot read"):
        TrustedKeys.load(tmp_path / "missing.json")


def test_bilat_keys_trusted_prints_or_writes_the_agreements_trusted_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(keys_group, ["trusted", "--agreement", str(EXAMPLE)])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == TrustedKeys.of_book(load_book(EXAMPLE)).to_json()
    out = tmp_path / "t.json"
    written = runner.invoke(keys_group, ["trusted", "--agreement", str(EXAMPLE), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert TrustedKeys.load(out).to_json() == json.loads(printed.output)
    bad = tmp_path / "bad.yaml"
    bad.write_text(V1.replace("    keys:\n" + key(HGC), ""))
    refused = runner.invoke(keys_group, ["trusted", "--agreement", str(bad)])
    assert refused.exit_code == 2 and "parties.seller.keys: got None" in refused.output


def test_a_key_is_trusted_by_its_bytes_not_only_by_its_id() -> None:
    """A key id is a 64-bit name: a key whose id matches a trusted one is not trusted unless its
    bytes are the trusted key's (a second preimage of 64 bits is within a large budget)."""
    trust = TrustedKeys.of_book(book_with_keys(hgc=[key(HGC)]))
    assert trust.key_problem("hgc", HGC.key_id, public_key=HGC.public.raw.hex()) is None
    problem = trust.key_problem("hgc", HGC.key_id, public_key=NEXT.public.raw.hex())
    assert problem is not None and problem.startswith(f"key {HGC.key_id} is not trusted for hgc")
