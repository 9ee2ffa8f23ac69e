"""The countersignature and reconciliation vectors (tests/vectors/recon/, the chain vectors
``countersign*``) against Bilat's own code, read back from their JSON.

``test_vectors.py`` holds the files to what the generator writes; this holds the values in the
files to what ``streams`` computes from the files' own inputs, function by function, so a
vector cannot pass only because the generator computed it some other way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import pytest

from streams.ledger.audit import entry_from_json
from streams.ledger.entries import LedgerEntry
from streams.ledger.payloads import countersignature_problems
from streams.merkle.buckets import bucket_key, bucket_of
from streams.reconcile.correlation import CorrelationError, correlation_key, normalise_number
from streams.reconcile.exchange import Digest, open_answer, request_id
from streams.reconcile.witness import witness_findings, witnessed
from tests.vectors import generate

VECTORS = generate.HERE


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


COUNTERSIGNATURE_CHAINS = sorted(p.name for p in (VECTORS / "chain").glob("countersign*.json"))


def test_the_vectors_are_there() -> None:
    assert len(COUNTERSIGNATURE_CHAINS) >= 5
    assert sorted(p.name for p in (VECTORS / "recon").glob("*.json")) == [
        "answers.json",
        "correlation.json",
        "request-ids.json",
        "witness.json",
    ]


@pytest.mark.parametrize("name", COUNTERSIGNATURE_CHAINS)
def test_countersignature_payload_shape(name: str) -> None:
    vector = load(f"chain/{name}")
    entries = [entry_from_json(e) for e in vector["entries"]]
    (cosigned,) = [e for e in entries if e.kind == "countersignature"]
    bad = {"kind": "bad-payload", "sequence": cosigned.sequence}
    problems = countersignature_problems(cosigned.payload_json())
    assert bool(problems) == (bad in vector["want_chain_findings"]), (name, problems)


def test_request_ids() -> None:
    for case in load("recon/request-ids.json")["cases"]:
        got = request_id(
            case["party"],
            case["partner"],
            case["agreement_id"],
            (case["window"][0], case["window"][1]),
            case["revision"],
            bytes.fromhex(case["root"]),
            case["buckets"],
        )
        assert got == case["request_id"], case["desc"]


def _bytes(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer from its JSON form back to Avro shape (the root as bytes)."""
    return answer | {"root": bytes.fromhex(answer["root"])}


def test_answers() -> None:
    vector = load("recon/answers.json")
    salt = bytes.fromhex(vector["salt"])
    data = vector["digest"]
    digest = Digest.from_avro(
        data
        | {
            "bucket_hashes": [bytes.fromhex(h) for h in data["bucket_hashes"]],
            "root": bytes.fromhex(data["root"]),
        }
    )
    request = vector["request"]
    asked = request_id(
        request["party"],
        request["partner"],
        request["agreement_id"],
        (request["window_start_ms"], request["window_end_ms"]),
        request["revision"],
        bytes.fromhex(request["root"]),
        request["buckets"],
    )
    assert asked == request["request_id"]
    for case in vector["answers"]:
        opened, problems = open_answer(_bytes(case["answer"]), digest, salt)
        assert sorted(opened) == case["want_accepted"], (case["desc"], problems)
        answered = {b["bucket"] for b in case["answer"]["buckets"]}
        refused = case["answer"]["status"] != "ok" or answered != set(case["want_accepted"])
        assert bool(problems) == refused, case["desc"]


@dataclass(frozen=True)
class _Seen:
    """A partner entry as the witness check sees it: a sequence and an entry hash."""

    sequence: int
    hashed: bytes

    def entry_hash(self) -> bytes:
        return self.hashed


def test_witness_check() -> None:
    vector = load("recon/witness.json")
    own = [entry_from_json(e) for e in vector["countersignatures"]]
    seen = witnessed(own, vector["partner"])
    assert {s: h.hex() for s, (h, _) in seen.items()} == {
        w["sequence"]: w["entry_hash"] for w in vector["witnessed"]
    }
    for case in vector["cases"]:
        chain = [
            _Seen(e["sequence"], bytes.fromhex(e["entry_hash"])) for e in case["partner_chain"]
        ]
        found = witness_findings(seen, cast(list[LedgerEntry], chain))
        got = [{"kind": kind, "sequence": sequence} for kind, sequence, _ in found]
        assert got == case["want_findings"], case["desc"]


def test_correlation() -> None:
    vector = load("recon/correlation.json")
    for case in vector["numbers"]:
        if case["digits"] is None:
            with pytest.raises(CorrelationError):
                normalise_number(case["input"])
        else:
            assert normalise_number(case["input"]) == case["digits"], repr(case["input"])
    salt, depth = bytes.fromhex(vector["salt"]), vector["depth"]
    for case in vector["keys"]:
        key = correlation_key(case["a_number"], case["b_number"], case["start_ms"])
        assert key == case["key"]
        assert bucket_key(key) == case["bucket_key"]
        assert bucket_of(key, depth, salt) == case["bucket"]
