"""The independent verifier (written from docs/spec/ledger.md alone) over every test vector.

Valid vectors must pass and every mutation must fail with the error, or the findings, the
vector names: the verifier and Bilat's own code (tests/unit/ledger/test_vectors.py) agree on every
file, which is what shows the spec is enough to verify a ledger without Bilat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.independent import verifier as v

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def names(folder: str) -> list[str]:
    return sorted(p.name for p in (VECTORS / folder).glob("*.json"))


def test_the_vectors_are_there() -> None:
    """Guards the parametrised tests below against an empty folder (they would pass)."""
    assert len(names("chain")) >= 40 and len(names("proofs")) >= 10 and len(names("batch")) == 3
    assert len(names("bundle")) >= 15 and len(names("trust")) == 3
    assert len(names("recon")) == 4
    assert len([n for n in names("chain") if n.startswith("countersign")]) >= 5


def test_canonical_json() -> None:
    for case in load("canonical/json.json")["cases"]:
        got = v.canonical_json(v.parse_json(case["input"]))
        assert got.hex() == case["canonical_hex"], case["desc"]
        assert v.is_canonical(got)


def test_values_without_a_canonical_form_are_refused() -> None:
    for case in load("canonical/refused.json")["cases"]:
        with pytest.raises(v.NotCanonical) as refused:
            v.canonical_json(v.parse_json(case["input"]))
        assert refused.value.kind == case["want_error"], case["desc"]


def test_decimal_text() -> None:
    vector = load("canonical/decimals.json")
    for case in vector["cases"]:
        assert v.decimal_text(case["input"]) == case["text"], case["input"]
    for text in vector["refused"]:
        with pytest.raises(ValueError):
            v.decimal_text(text)


def test_leaves() -> None:
    for case in load("leaves/leaves.json")["cases"]:
        fields = v.leaf_fields(case["record"])
        assert fields == case["leaf_fields"], case["desc"]
        assert v.leaf_data(fields).hex() == case["leaf_data_hex"], case["desc"]
        assert v.leaf_hash(fields).hex() == case["leaf_hash"], case["desc"]


def test_buckets() -> None:
    vector = load("buckets/buckets.json")
    salt = bytes.fromhex(vector["salt"])
    for case in vector["cases"]:
        for depth, bucket in case["bucket_at_depth"].items():
            assert v.bucket_of(case["usage_key"], int(depth), salt) == bucket, case["usage_key"]


def test_rfc9162_trees_and_inclusion_proofs() -> None:
    vector = load("merkle/rfc9162.json")
    leaves = [bytes.fromhex(h) for h in vector["leaf_hashes"]]
    for data, leaf in zip(vector["leaf_data_hex"], leaves, strict=True):
        assert v.sha256(b"\x00" + bytes.fromhex(data)) == leaf
    for tree in vector["trees"]:
        size, root = tree["size"], bytes.fromhex(tree["root"])
        assert v.mth(leaves[:size]) == root
        for proof in tree["inclusion"]:
            path = [bytes.fromhex(h) for h in proof["path"]]
            assert v.root_from_path(leaves[proof["index"]], proof["index"], size, path) == root
            with pytest.raises(v.VerifyError, match="malformed-proof"):
                v.root_from_path(leaves[proof["index"]], proof["index"], size, [*path, root])


@pytest.mark.parametrize("name", names("batch"))
def test_batches(name: str) -> None:
    vector = load(f"batch/{name}")
    salt, depth = bytes.fromhex(vector["salt"]), vector["depth"]
    pairs = []
    for leaf in vector["leaves"]:
        key = leaf["leaf_fields"]["key"]
        assert v.leaf_hash(leaf["leaf_fields"]).hex() == leaf["leaf_hash"]
        assert v.bucket_of(key, depth, salt) == leaf["bucket"]
        pairs.append((key, bytes.fromhex(leaf["leaf_hash"])))
    buckets = v.bucket_hashes(pairs, depth, salt)
    assert [b.hex() for b in buckets] == [b["bucket_hash"] for b in vector["buckets"]]
    root = v.batch_root(buckets)
    assert root.hex() == vector["root"]
    fields = {leaf["leaf_fields"]["key"]: leaf["leaf_fields"] for leaf in vector["leaves"]}
    for proof in vector["proofs"]:
        v.verify_record(fields[proof["usage_key"]], proof, root, depth, salt)
    if "digest" in vector:
        assert v.digest_hash(vector["digest"]).hex() == vector["digest_hash"]
        assert vector["digest"]["bucket_hashes"] == [b.hex() for b in buckets]


@pytest.mark.parametrize("name", names("proofs"))
def test_record_proofs(name: str) -> None:
    vector = load(f"proofs/{name}")
    args = (
        vector["record"],
        vector["proof"],
        bytes.fromhex(vector["root"]),
        vector["depth"],
        bytes.fromhex(vector["salt"]),
    )
    if vector["want_error"] is None:
        v.verify_record(*args)
    else:
        with pytest.raises(v.VerifyError) as failed:
            v.verify_record(*args)
        assert failed.value.code == vector["want_error"], vector["desc"]


def test_keys() -> None:
    for key in load("keys.json")["keys"]:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["seed"]))
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert public.hex() == key["public_key"]
        assert v.key_id(public) == key["key_id"]


def test_agreement_book_and_signatures() -> None:
    vector = load("agreement/book.json")
    book = v.book_hash(vector["agreement_id"], vector["versions"]).hex()
    assert book == vector["book_hash"]
    parties = [s["document"]["party"] for s in vector["signatures"]]
    for signature in vector["signatures"]:
        doc = signature["document"]
        assert v.signature_doc_problems(doc, vector["agreement_id"], book, parties) == []
        message = v.agreement_message(doc["agreement_id"], book, doc["party"], doc["key_id"])
        assert message.hex() == signature["message_hex"]
    contents = vector["version_contents"]
    for version, content in zip(vector["versions"], contents, strict=True):
        assert v.version_hash(content).hex() == version["hash"]


def test_the_trusted_keys_are_the_agreements() -> None:
    """The keys the signed versions list are the trusted-keys file's: the file can be checked
    against the agreement it names."""
    book = load("agreement/book.json")
    vector = load("trust/trusted-keys.json")
    derived = v.trusted_keys_of_agreement(
        book["agreement_id"], book["book_hash"], book["version_contents"]
    )
    from_file = v.trusted_keys(vector["document"])
    assert derived == from_file
    assert (from_file.agreement_id, from_file.book_hash) == (
        vector["agreement_id"],
        vector["book_hash"],
    )


def test_trusted_keys_files() -> None:
    for case in load("trust/files.json")["cases"]:
        try:
            v.trusted_keys(case["document"])
            valid = True
        except ValueError:
            valid = False
        assert valid == case["want_valid"], case["desc"]


def test_small_order_keys() -> None:
    vector = load("trust/small-order.json")
    assert len(vector["refused"]) == 14
    for key in vector["refused"]:
        assert v.is_small_order(bytes.fromhex(key)), key
    for key in vector["accepted"]:
        assert not v.is_small_order(bytes.fromhex(key)), key


@pytest.mark.parametrize("name", names("bundle"))
def test_bundles(name: str) -> None:
    vector = load(f"bundle/{name}")
    trusted = v.trusted_keys(vector["trusted_keys"])
    results = v.verify_bundle(vector["bundle"], trusted)
    if vector["want_failed"] == ["format"]:
        assert results == [("format", False)], name
        return
    assert [check for check, _ in results] == list(v.BUNDLE_CHECKS)
    assert [check for check, ok in results if not ok] == vector["want_failed"], name


@pytest.mark.parametrize("name", names("entries"))
def test_entries(name: str) -> None:
    vector = load(f"entries/{name}")
    entry = v.Entry.from_json(vector["entry"])
    assert v.sha256(entry.payload).hex() == vector["payload_hash"] == entry.payload_hash.hex()
    assert v.is_canonical(entry.payload)
    assert entry.signed_bytes().hex() == vector["signed_bytes_hex"]
    assert v.canonical_json(vector["signed_object"]) in entry.signed_bytes()
    public = bytes.fromhex(vector["public_key"])
    assert v.key_id(public) == entry.key_id
    assert v.verify_signature(public, entry.signed_bytes(), entry.signature)
    assert entry.signature.hex() == vector["signature"]
    assert entry.entry_hash().hex() == vector["entry_hash"]


def distinct(findings: list[v.Finding]) -> list[dict[str, Any]]:
    pairs = {(f.kind, f.sequence) for f in findings}
    ordered = sorted(pairs, key=lambda p: (p[1] is not None, p[1] or 0, p[0]))
    return [{"kind": kind, "sequence": sequence} for kind, sequence in ordered]


@pytest.mark.parametrize("name", names("chain"))
def test_chains(name: str) -> None:
    vector = load(f"chain/{name}")
    owner = vector["owner"]
    entries = [v.Entry.from_json(e) for e in vector["entries"]]
    trusted = v.trusted_keys(vector["trusted_keys"])
    found = v.check_chain(entries, owner, trusted)
    assert distinct(found) == vector["want_chain_findings"], name
    if vector["digests"] is None:
        return
    mine = [e for e in entries if e.party == owner]
    genesis = next(e for e in mine if e.sequence == 0 and e.kind == "genesis")
    salt = bytes.fromhex((genesis.payload_object() or {})["book_hash"])
    found = v.check_stored(entries, owner, vector["digests"], vector["leaf_stores"], salt)
    assert distinct(found) == vector["want_stored_findings"], name


def test_countersignature_payloads() -> None:
    """A countersigned chain is intact; every misshapen countersignature is a bad-payload at
    its sequence (test_chains checks the findings; this checks the payload rule itself)."""
    for name in names("chain"):
        if not name.startswith("countersign"):
            continue
        vector = load(f"chain/{name}")
        entries = [v.Entry.from_json(e) for e in vector["entries"]]
        cosignatures = [e for e in entries if e.kind == "countersignature"]
        assert len(cosignatures) == 1, name
        payload = cosignatures[0].payload_object()
        assert payload is not None
        bad = {"kind": "bad-payload", "sequence": cosignatures[0].sequence}
        assert bool(v.countersignature_problems(payload)) == (
            bad in vector["want_chain_findings"]
        ), name


def test_request_ids() -> None:
    cases = load("recon/request-ids.json")["cases"]
    for case in cases:
        got = v.request_id(
            case["party"],
            case["partner"],
            case["agreement_id"],
            case["window"],
            case["revision"],
            case["root"],
            case["buckets"],
        )
        assert got == case["request_id"], case["desc"]
        assert v.sha256(bytes.fromhex(case["request_data_hex"])).hex() == got
        assert bytes.fromhex(case["request_data_hex"]).startswith(b"bilat.recon-request.v1\x00")
    assert len({c["request_id"] for c in cases}) == len(cases) - 1  # two ask the same


def test_answers() -> None:
    vector = load("recon/answers.json")
    salt, depth, digest = bytes.fromhex(vector["salt"]), vector["depth"], vector["digest"]
    pairs = []
    for leaf in vector["leaves"]:
        fields = leaf["leaf_fields"]
        assert v.leaf_hash(fields).hex() == leaf["leaf_hash"]
        assert v.bucket_of(fields["key"], depth, salt) == leaf["bucket"]
        pairs.append((fields["key"], bytes.fromhex(leaf["leaf_hash"])))
    buckets = v.bucket_hashes(pairs, depth, salt)
    assert [b.hex() for b in buckets] == digest["bucket_hashes"]
    assert v.batch_root(buckets).hex() == digest["root"] and digest["depth"] == depth
    request = vector["request"]
    window = [request["window_start_ms"], request["window_end_ms"]]
    assert request["root"] == digest["root"] and len(request["buckets"]) == 2
    asked = v.request_id(
        request["party"],
        request["partner"],
        request["agreement_id"],
        window,
        request["revision"],
        request["root"],
        request["buckets"],
    )
    assert asked == request["request_id"]
    for case in vector["answers"]:
        assert case["answer"]["request_id"] == request["request_id"]
        got = v.accepted_buckets(case["answer"], digest, salt)
        assert got == case["want_accepted"], case["desc"]
    assert vector["answers"][0]["want_accepted"] == sorted(request["buckets"])


def test_witness_check() -> None:
    vector = load("recon/witness.json")
    entries = [v.Entry.from_json(e) for e in vector["countersignatures"]]
    assert all(e.party == vector["owner"] for e in entries)
    seen = v.witnessed(entries, vector["partner"])
    want = {(w["sequence"], bytes.fromhex(w["entry_hash"])) for w in vector["witnessed"]}
    assert seen == want
    for case in vector["cases"]:
        chain = [(e["sequence"], bytes.fromhex(e["entry_hash"])) for e in case["partner_chain"]]
        assert distinct(v.witness_findings(seen, chain)) == case["want_findings"], case["desc"]


def test_witnessed_entries_are_the_partners() -> None:
    """What witness.json witnesses is what its intact partner chain holds."""
    vector = load("recon/witness.json")
    intact = {e["sequence"]: e["entry_hash"] for e in vector["cases"][0]["partner_chain"]}
    for witnessed in vector["witnessed"]:
        assert intact[witnessed["sequence"]] == witnessed["entry_hash"]


def test_correlation_keys() -> None:
    vector = load("recon/correlation.json")
    for case in vector["numbers"]:
        if case["digits"] is None:
            with pytest.raises(ValueError):
                v.normalise_number(case["input"])
        else:
            assert v.normalise_number(case["input"]) == case["digits"], repr(case["input"])
    salt, depth = bytes.fromhex(vector["salt"]), vector["depth"]
    for case in vector["keys"]:
        key = v.correlation_key(case["a_number"], case["b_number"], case["start_ms"])
        assert key == case["key"]
        assert key.split("|", 1)[0] == case["bucket_key"]
        assert v.bucket_of(key, depth, salt) == case["bucket"], key


def test_the_spec_examples_are_the_vectors() -> None:
    """The worked examples of docs/spec/ledger.md, recomputed: a spec that drifts from the
    vectors fails here."""
    spec = (VECTORS.parent.parent / "docs" / "spec" / "ledger.md").read_text(encoding="utf-8")
    example = v.parse_json('{ "b": 1, "a": [true, "\\u00e9\\u0001"] }')
    assert len(v.canonical_json(example)) == 29 and "encoded as the 29 bytes" in spec
    leaf = {
        "key": "hgc-msc-01/cdr-000042",
        "start_ms": 1772442900250,
        "quantity": "125",
        "unit": "second",
        "amount": "0.0315",
        "currency": "EUR",
        "agreement_id": "hgc-dcc-2026",
        "agreement_version": "1",
    }
    assert len(v.leaf_data(leaf)) == 192 and v.leaf_hash(leaf).hex() in spec
    buckets = load("buckets/buckets.json")
    first = buckets["cases"][0]
    assert buckets["salt"] == bytes(range(32)).hex()
    assert f"`x = {first['blake2b_hex']}`" in spec and first["usage_key"] in spec
    anchor = load("entries/anchor.json")
    entry = anchor["entry"]
    for value in (entry["payload_hash"], entry["prev_hash"], entry["key_id"], anchor["entry_hash"]):
        assert value in spec
    assert anchor["signature"][:64] in spec and anchor["signature"][64:] in spec
    signed_lines = spec.split("    bilat.ledger-entry.v1\\x00\n", 1)[1].split("\n\n", 1)[0]
    body = "".join(line.strip() for line in signed_lines.split("\n"))
    signed = "bilat.ledger-entry.v1\x00" + body
    assert signed.encode().hex() == anchor["signed_bytes_hex"]
    hgc = load("keys.json")["keys"][0]
    assert hgc["key_id"] in spec and hgc["public_key"][:8] in spec
    # the key rotation message of chain/rotation-valid.json, sequence 2
    rotation = load("chain/rotation-valid.json")["entries"][2]
    payload = v.parse_json(rotation["payload"])
    message = v.rotation_message(
        rotation["agreement_id"],
        rotation["party"],
        rotation["key_id"],
        payload["new_key_id"],
        payload["valid_from_ms"],
    )
    lines = spec.split("    bilat.key-rotation.v1\\x00\n", 1)[1].split("\n\n", 1)[0]
    assert (
        b"bilat.key-rotation.v1\x00" + "".join(line.strip() for line in lines.split("\n")).encode()
        == message
    )
    assert f"these {len(message)} bytes" in spec
    assert v.verify_signature(
        bytes.fromhex(payload["public_key"]), message, bytes.fromhex(payload["new_key_signature"])
    )
    # the keys of a version's content
    content = load("agreement/book.json")["version_contents"][0]
    seller = v.parse_json(content)["seller"]
    assert f'"seller":{{"id":"{seller["id"]}","keys":[{{"public_key":"{hgc["public_key"][:8]}' in (
        spec.replace("\n    ", "")
    )
    assert '"valid_from":"2026-01-01T00:00:00+00:00","valid_until":null}]' in content


SETTLEMENT_KINDS = ("statement", "acceptance", "dispute", "resolution", "payment")


@pytest.mark.parametrize("name", ["credit.json", "withdrawn.json", "refused.json"])
def test_settlement_chains(name: str) -> None:
    """Both chains of a settlement are intact, every settlement payload on them is well formed
    (the refused entries too: refusing is the bill's business, not the chain's), and the
    statement hash is the stand-in document's."""
    vector = load(f"settle/{name}")
    book = load("agreement/book.json")
    trusted = v.trusted_keys_of_agreement(
        book["agreement_id"], book["book_hash"], book["version_contents"]
    )
    kinds = set()
    for party, chain in vector["chains"].items():
        entries = [v.Entry.from_json(e) for e in chain]
        assert v.check_chain(entries, party, trusted) == [], (name, party)
        for entry in entries:
            if entry.kind in SETTLEMENT_KINDS:
                kinds.add(entry.kind)
                payload = entry.payload_object()
                assert payload is not None
                problems = v.settlement_problems(entry.kind, payload, entry.agreement_id)
                assert problems == [], (name, entry.sequence, problems)
    assert kinds == set(SETTLEMENT_KINDS)
    bill = vector["bill"]
    document = v.canonical_json(bill["statement_document"])
    assert v.sha256(v.tag("statement.v1", document)).hex() == bill["statement_hash"]
    assert vector["steps"][-1]["want"]["state"] == "settled"


def test_settlement_payload_rules() -> None:
    """The value rules of Settlement payloads, on values next to each boundary."""
    assert v.settle_amount("12.5") and v.settle_amount("-3") and v.settle_amount("0")
    for text in ("12.50", "-0", "1e3", "", "0" * 65, "+1", ".5", "1.", None, 1):
        assert not v.settle_amount(text), text
    assert v.settle_amount("0", ">=0") and not v.settle_amount("-1", ">=0")
    assert v.settle_amount("0.01", ">0") and not v.settle_amount("0", ">0")


def test_dispute_evidence() -> None:
    vector = load("settle/evidence.json")
    salt = bytes.fromhex(vector["salt"])
    entries = [v.Entry.from_json(e) for e in vector["anchors"]]
    anchors = {(e.party, e.sequence): e for e in entries}
    document = vector["document"]
    data = v.tag("dispute-evidence.v1", v.canonical_json(document))
    assert data.hex() == vector["evidence_data_hex"]
    assert v.evidence_hash(document).hex() == vector["evidence_hash"] == v.sha256(data).hex()
    assert vector["dispute"]["evidence_hash"] == vector["evidence_hash"]
    assert v.settlement_problems("dispute", vector["dispute"], document["agreement_id"]) == []
    assert v.check_evidence(document, anchors, salt, vector["dispute"]) == set()
    assert {r["anchor"]["party"] for r in document["records"]} == {"hgc", "dcc"}
    for mutation in vector["mutations"]:
        got = v.check_evidence(mutation["document"], anchors, salt, vector["dispute"])
        assert sorted(got) == mutation["want_failed"], mutation["desc"]
