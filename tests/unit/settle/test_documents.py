"""Statement documents: what settle.documents carries and what a reader makes of it."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from streams.settle.documents import DocumentError, statement_document, statement_from_document
from streams.settle.statement import build_statements
from tests.fakes.period import AT, BOOK, SELLER, inventory, windows

STATEMENTS = build_statements(BOOK, SELLER, AT, windows(SELLER), inventory())


def test_a_document_reads_back_to_the_statement_its_entry_names() -> None:
    for statement in STATEMENTS:
        body, digest = statement_document(statement)
        again = statement_from_document(body, digest)
        assert again.canonical() == statement.canonical() and again.canonical_hash() == digest


def test_a_document_that_is_not_what_the_entry_signed_is_refused() -> None:
    statement = STATEMENTS[0]
    body, digest = statement_document(statement)
    other = dataclasses.replace(statement.items[0], amount=statement.items[0].amount + Decimal(1))
    forged = dataclasses.replace(statement, items=(other, *statement.items[1:]))
    forged_body, _ = statement_document(forged)
    with pytest.raises(DocumentError, match="the statement entry names"):
        statement_from_document(forged_body, digest)
    # A document whose stated hash is not its own content's is refused too.
    data = json.loads(body)
    data["statement_hash"] = "00" * 32
    with pytest.raises(DocumentError, match="states hash 0000"):
        statement_from_document(json.dumps(data))


@pytest.mark.parametrize("body", ["", "[]", "null", '{"id": 1}', "{", "\udcff"])
def test_an_unreadable_document_is_a_clear_error_never_a_crash(body: str) -> None:
    with pytest.raises(DocumentError, match="statement document unreadable"):
        statement_from_document(body)
