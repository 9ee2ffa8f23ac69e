"""Statement documents: the bytes the Seller publishes beside its ``statement`` entry, and the
statement read back from them by the Buyer, the billing API or an auditor. Pure.

The document is :meth:`Statement.to_json` as canonical JSON: the canonical content the hash is
computed over (``docs/spec/settlement.md``), plus ``statement_hash`` and the findings, which the
hash leaves out. Reading it back (:func:`statement_from_document`) rebuilds the
:class:`~streams.settle.statement.Statement` (:meth:`Statement.from_canonical`) and recomputes
its hash: a document whose canonical content does not hash to what the Seller's entry names is
refused, so nothing presented from a document can differ from what was signed.
"""

from __future__ import annotations

import json

from streams.core.canonical import canonical_json
from streams.core.errors import BilatError
from streams.settle.statement import Statement

__all__ = ["DocumentError", "statement_document", "statement_from_document"]


class DocumentError(BilatError):
    """A statement document that cannot be read, or does not hash to what its entry names."""


def statement_document(statement: Statement) -> tuple[bytes, bytes]:
    """``(document bytes, statement hash)`` of ``statement``: what ``settle.documents`` carries
    and what the ``statement`` entry names."""
    return canonical_json(statement.to_json()), statement.canonical_hash()


def statement_from_document(body: bytes | str, expected_hash: bytes | None = None) -> Statement:
    """The statement of a document (see the module docstring).

    Raises :class:`DocumentError` when the document is not JSON, lacks a canonical member, or
    its canonical content does not hash to ``expected_hash`` (when given) or to its own
    ``statement_hash``.
    """
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"got {type(data).__name__}, want a JSON object")
        statement = Statement.from_canonical(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"statement document unreadable: {exc}") from exc
    digest = statement.canonical_hash()
    stated = data.get("statement_hash")
    if expected_hash is not None and digest != expected_hash:
        raise DocumentError(
            f"statement document {statement.id}: its canonical content hashes to {digest.hex()}, "
            f"the statement entry names {expected_hash.hex()}"
        )
    if stated is not None and stated != digest.hex():
        raise DocumentError(
            f"statement document {statement.id}: states hash {stated}, its canonical content "
            f"hashes to {digest.hex()}"
        )
    return statement
