"""The statement vector (tests/vectors/settle/statement.json), checked as an auditor would: the
hash from the canonical JSON bytes with hashlib alone, the document read back, the MEF JSON
valid against the spec."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from streams.settle.mef_schema import problems
from streams.settle.statement import Statement
from tests.paths import REPO
from tests.vectors.statement import worked_example

VECTOR = json.loads((REPO / "tests/vectors/settle/statement.json").read_text(encoding="utf-8"))


def test_the_hash_is_recomputable_from_the_canonical_bytes_alone() -> None:
    body = VECTOR["canonical_json"].encode("utf-8")
    assert hashlib.sha256(b"bilat.statement.v1\x00" + body).hexdigest() == VECTOR["statement_hash"]
    # canonical JSON: sorted keys, no whitespace, the parsed document re-encodes to the same bytes
    document = json.loads(body)
    again = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert again.encode("utf-8") == body


def test_the_document_reads_back_and_sums_to_its_amount_due() -> None:
    statement = Statement.from_canonical(VECTOR["statement"])
    assert statement.canonical_hash().hex() == VECTOR["statement_hash"]
    assert statement == worked_example()
    # 1200.0000 + 0.1500 - 0.0300
    assert statement.amount_due == Decimal("1200.1200")


def test_the_mef_json_is_valid_and_exact() -> None:
    bill = json.loads(VECTOR["customer_bill_json"], parse_float=Decimal)
    assert problems("CustomerBill", bill) == []
    assert bill["amountDue"] == {"unit": "EUR", "value": Decimal("1200.1200")}
    for item in json.loads(VECTOR["customer_bill_items_json"], parse_float=Decimal):
        assert problems("CustomerBillItem", item) == []
