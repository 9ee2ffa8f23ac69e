"""One exception root, each exception documented with when it is raised (STYLE, point 5)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from streams.core import errors
from streams.core.errors import AgreementError, AgreementSigningError, BilatError

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted((ROOT / "streams").rglob("*.py")) + sorted((ROOT / "connectors").rglob("*.py"))


def _exception_classes() -> list[tuple[str, ast.ClassDef]]:
    """Every class in streams/ and connectors/ whose name says it is an exception."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "InvalidRecord")):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node))
    return found


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_of_the_core_descends_from_the_root_and_says_when_it_is_raised(
    name: str,
) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, BilatError)
    own = cls.__dict__.get("__doc__")
    assert own and len(inspect.cleandoc(own)) > 40, f"{name}: no docstring of its own"


def test_every_exception_class_of_the_project_has_a_docstring() -> None:
    classes = _exception_classes()
    assert len(classes) > len(errors.__all__)  # the walk found the errors beside their code
    missing = [where for where, node in classes if not ast.get_docstring(node)]
    assert missing == []


def test_a_refused_signature_is_an_agreement_error_naming_the_agreement() -> None:
    error = AgreementSigningError("hgc-dcc-2026", "party: got 'xyz', want one of hgc, dcc")
    assert isinstance(error, AgreementError)
    assert (error.source, error.problems) == (
        "hgc-dcc-2026",
        ("party: got 'xyz', want one of hgc, dcc",),
    )
    assert str(error) == "agreement hgc-dcc-2026: party: got 'xyz', want one of hgc, dcc"
