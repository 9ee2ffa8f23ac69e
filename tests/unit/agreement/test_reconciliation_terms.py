"""The optional ``reconciliation:`` section: read with defaults, checked, and left out of the
agreement's hash when absent (so agreements signed before it existed keep their signatures)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from streams.agreement.loader import parse_agreement
from streams.agreement.model import DEFAULT_RECONCILIATION, Reconciliation
from streams.core.errors import AgreementError
from tests.paths import REPO


def example() -> dict[str, Any]:
    docs = list(yaml.safe_load_all((REPO / "examples" / "agreement.yaml").read_text()))
    doc: dict[str, Any] = docs[0]
    return doc


def as_text(value: Any) -> Any:
    """The agreement reader takes scalars as text (as its YAML reader gives them)."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    return value if value is None or isinstance(value, str) else str(value)


def test_absent_section_gives_the_defaults_and_leaves_the_hash_alone() -> None:
    doc = example()
    plain = parse_agreement(as_text(doc))
    assert plain.reconciliation is None
    assert plain.recon == DEFAULT_RECONCILIATION
    assert "reconciliation" not in plain.canonical()


def test_section_is_read_and_signed() -> None:
    doc = example()
    doc["reconciliation"] = {
        "correlation": "numbers",
        "start_tolerance_seconds": 3,
        "edge_seconds": 10,
        "anchor_deadline": 7200,
    }
    agreement = parse_agreement(as_text(doc))
    assert agreement.recon == Reconciliation("numbers", 3, 10, 7200)
    assert agreement.canonical()["reconciliation"]["correlation"] == "numbers"
    assert agreement.canonical_hash() != parse_agreement(as_text(example())).canonical_hash()


@pytest.mark.parametrize(
    ("term", "value", "message"),
    [
        ("correlation", "phone", "reconciliation.correlation"),
        ("edge_seconds", "-1", "reconciliation.edge_seconds"),
        ("anchor_deadline", "1e3", "reconciliation.anchor_deadline"),
        ("misspelt", "1", "unknown key"),
    ],
)
def test_bad_terms_are_refused_with_their_path(term: str, value: str, message: str) -> None:
    doc = example()
    doc["reconciliation"] = {term: value}
    with pytest.raises(AgreementError, match=message):
        parse_agreement(as_text(doc))
