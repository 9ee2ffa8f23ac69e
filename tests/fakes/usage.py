"""Encoded ``usage.cdr`` messages for tests: one good voice call, with any field changed."""

from __future__ import annotations

from typing import Any

from streams.contract.codec import Codec
from streams.runtime.registry import make_codec

__all__ = ["USAGE_FIELDS", "usage"]

USAGE_FIELDS: dict[str, Any] = {
    "source": "ix",
    "record_id": "1",
    "agreement_id": "hgc-dcc-2026",
    "partner": "dcc",
    "product": "voice",
    "product_id": None,
    "a_number": "4969",
    "b_number": "4930123",
    "start_ms": 1795514400000,
    "quantity": "61",
    "unit": "second",
    "direction": "outbound",
    "raw_ref": None,
}
"""A call the example agreement rates (61 s to a German fixed number on 2026-11-24)."""

_CODEC = make_codec()


def usage(codec: Codec = _CODEC, **changes: Any) -> bytes:
    """The single-object encoded usage record of :data:`USAGE_FIELDS` with ``changes``."""
    return codec.encode("usage_record", {**USAGE_FIELDS, **changes})
