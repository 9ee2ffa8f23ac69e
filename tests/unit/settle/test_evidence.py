"""Dispute evidence: built from a real reconciliation (both parties' chains, an amount mismatch
with its proofs), checked against the anchors; every tampering named by its check; a hostile
document never raises."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.canonical import canonical_json, tagged
from streams.ledger.entries import LedgerEntry
from streams.ledger.settlement import dispute_payload
from streams.reconcile.alerts import Alert
from streams.settle.evidence import (
    EVIDENCE_CHECKS,
    EvidenceError,
    EvidenceRecord,
    anchors_by_party_sequence,
    build_evidence,
    check_evidence,
    evidence_hash,
    record_of_alert_proof,
)
from tests.fakes.recon import BOOK, SALT, Party, call, reconcile

STATEMENT_HASH = bytes(range(32))


def world() -> tuple[Alert, dict[tuple[str, int], LedgerEntry], list[EvidenceRecord]]:
    hgc, dcc = Party("hgc"), Party("dcc")
    hgc.ingest([call("cdr-1", 1, 5), call("cdr-2", 1, 9, "0.05"), call("cdr-3", 1, 20)])
    dcc.ingest([call("cdr-1", 1, 5), call("cdr-2", 1, 9, "0.02"), call("cdr-3", 1, 20)])
    hgc.close()
    dcc.close()
    _, outcome, _ = reconcile(hgc, dcc)
    (alert,) = [a for a in outcome.alerts if a.kind == "amount-mismatch"]
    anchors = anchors_by_party_sequence([*hgc.entries, *dcc.entries])
    key = alert.record_keys[0]

    def fields(party: Party) -> dict[str, object]:
        (leaves,) = party.leaves.values()
        return next(leaf for leaf in leaves if leaf.usage_key == key).fields(BOOK.id)

    assert alert.here_proof is not None and alert.partner_proof is not None
    records = [
        record_of_alert_proof(fields(dcc), "dcc", alert.here_proof, anchors),
        record_of_alert_proof(fields(hgc), "hgc", alert.partner_proof, anchors),
    ]
    return alert, anchors, records


ALERT, ANCHORS, RECORDS = world()


def document() -> dict[str, Any]:
    return build_evidence(
        agreement_id=BOOK.id,
        bill_id="bill-1",
        dispute_id="d1",
        statement_hash=STATEMENT_HASH,
        items=["bill-1-0002"],
        records=RECORDS,
        alerts=[ALERT],
    )


def dispute_of(doc: dict[str, Any]) -> dict[str, Any]:
    return dispute_payload(
        agreement_id=BOOK.id,
        dispute_id="d1",
        bill_id="bill-1",
        statement_hash=STATEMENT_HASH,
        statement_entry=(5, bytes(32)),
        items=["bill-1-0002"],
        records=[r["fields"]["key"] for r in doc["records"]],
        alerts=[a["alert_id"] for a in doc["alerts"]],
        evidence_hash=evidence_hash(doc),
        reason="their amount is 0.05, ours 0.02",
    )


def failed(doc: Any, dispute: dict[str, Any] | None = None) -> set[str]:
    problems = check_evidence(doc, ANCHORS, salt=SALT, dispute=dispute)
    checks = {p.split(":", 1)[0] for p in problems}
    assert checks <= set(EVIDENCE_CHECKS), problems
    return checks


def test_a_document_built_from_a_reconciliation_holds() -> None:
    doc = document()
    assert [r["anchor"]["party"] for r in doc["records"]] == ["dcc", "hgc"]
    assert doc["alerts"][0]["alert_id"] == ALERT.alert_id and "detected_ms" not in doc["alerts"][0]
    assert failed(doc, dispute_of(doc)) == set()
    assert json.loads(json.dumps(doc)) == doc  # JSON through and through


def test_the_hash_is_of_the_tagged_canonical_document() -> None:
    doc = document()
    want = hashlib.sha256(tagged("dispute-evidence.v1", canonical_json(doc))).digest()
    assert evidence_hash(doc) == want
    assert document() == doc  # built again: the same bytes, the same hash
    reordered = build_evidence(
        agreement_id=BOOK.id,
        bill_id="bill-1",
        dispute_id="d1",
        statement_hash=STATEMENT_HASH,
        items=["bill-1-0002", "bill-1-0002"],
        records=list(reversed(RECORDS)),
        alerts=[ALERT, ALERT],
    )
    assert evidence_hash(reordered) == evidence_hash(doc)


def tampered(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    target[key] = value(target[key]) if callable(value) else value
    return doc


def flip(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


@pytest.mark.parametrize(
    ("path", "value", "want"),
    [
        ("records.0.fields.amount", "0.03", {"leaf"}),
        ("records.0.fields.amount", "0.020", {"leaf"}),  # not canonical
        ("records.1.fields.key", "ix-fra-01/cdr-9", {"leaf"}),  # order kept: (dcc, hgc)
        ("records.0.fields.key", "ix-fra-01/cdr-9", {"layout"}),  # order broken
        ("records.0.proof.leaf_hash", flip, {"leaf"}),
        ("records.0.proof.bucket_path", lambda p: [*p, "00" * 32], {"inclusion"}),
        ("records.0.proof.top_path.0", flip, {"inclusion"}),
        ("records.0.proof.bucket", lambda b: b ^ 1, {"inclusion"}),
        ("records.0.anchor.root", flip, {"anchor"}),
        ("records.0.anchor.depth", lambda d: d + 1, {"anchor"}),
        ("records.0.anchor.entry_hash", flip, {"anchor"}),
        ("records.0.anchor.sequence", 0, {"anchor"}),  # dcc#0 is its genesis
        ("records.1.anchor.sequence", 99, {"anchor"}),
        ("records.0.fields.currency", "USD", {"leaf", "record"}),
        ("records", lambda r: list(reversed(r)), {"layout"}),
        ("alerts.0.detected_ms", 1, set()),  # checked by the dispute's hash only
        ("bilat_evidence", True, {"layout"}),
        ("items", [], {"layout"}),
    ],
)
def test_each_tampering_is_named(path: str, value: Any, want: set[str]) -> None:
    doc = tampered(path, value)
    got = failed(doc)
    assert got == want, (path, got)


def test_the_dispute_must_name_the_document() -> None:
    doc = document()
    dispute = dispute_of(doc)
    assert failed(tampered("alerts.0.detail", "edited"), dispute) == {"dispute"}
    for name, value in [("items", ["bill-1-0001"]), ("records", []), ("alerts", []),
                        ("evidence_hash", "00" * 32), ("dispute_id", "d2")]:  # fmt: skip
        assert failed(doc, dispute | {name: value}) == {"dispute"}, name


def test_unknown_anchors_and_another_salt() -> None:
    doc = document()
    assert {p.split(":")[0] for p in check_evidence(doc, {}, salt=SALT)} == {"anchor"}
    assert {p.split(":")[0] for p in check_evidence(doc, ANCHORS, salt=bytes(32))} == {"inclusion"}


def test_build_refuses_what_cannot_be_evidence() -> None:
    record = RECORDS[0]
    not_anchor = dataclasses.replace(record.anchor, kind="statement")
    with pytest.raises(EvidenceError, match="statement entry"):
        build_evidence(
            agreement_id=BOOK.id, bill_id="b", dispute_id="d", statement_hash=bytes(32),
            items=["i"], records=[EvidenceRecord(record.fields, not_anchor, record.proof)],
            alerts=[],
        )  # fmt: skip
    wrong_key = EvidenceRecord(dict(record.fields) | {"key": "x/1"}, record.anchor, record.proof)
    with pytest.raises(EvidenceError, match="the proof is of"):
        build_evidence(
            agreement_id=BOOK.id, bill_id="b", dispute_id="d", statement_hash=bytes(32),
            items=["i"], records=[wrong_key], alerts=[],
        )  # fmt: skip
    with pytest.raises(EvidenceError, match="two different alerts"):
        build_evidence(
            agreement_id=BOOK.id, bill_id="b", dispute_id="d", statement_hash=bytes(32),
            items=["i"], records=[],
            alerts=[{"alert_id": "a", "x": "1"}, {"alert_id": "a", "x": "2"}],
        )  # fmt: skip
    with pytest.raises(EvidenceError):
        record_of_alert_proof(record.fields, "dcc", "{not json", ANCHORS)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(
    ["records.0.fields", "records.0.anchor", "records.0.proof", "records.0", "alerts.0",
     "records.0.fields.start_ms", "records.0.anchor.sequence", "records.0.anchor.party",
     "records.0.proof.top_path", "records.0.anchor.depth", "records.0.fields.currency",
     "statement_hash", "items", "records", "alerts", "agreement_id"]),
    value=JSON)  # fmt: skip
def test_hostile_documents_give_problems_never_exceptions(path: str, value: Any) -> None:
    doc = tampered(path, value)
    problems = check_evidence(doc, ANCHORS, salt=SALT, dispute=dispute_of(document()))
    assert isinstance(problems, list)


@settings(max_examples=50, deadline=None)
@given(JSON)
def test_hostile_values_as_the_document(value: Any) -> None:
    assert check_evidence(value, ANCHORS, salt=SALT) != [] or value == document()
