"""The Avro body of a :class:`~streams.contract.records.RatedUsage`, written from the record itself.

:meth:`Codec.encode <streams.contract.codec.Codec.encode>` takes any mapping, so it must
validate every record before fastavro writes it (fastavro alone truncates ``1.7`` to a long and
writes a ``str`` as an array of characters). A rated record is Bilat's own, built by the rater
and frozen; for it the rating worker's hot path takes the values ``to_avro()`` would give, in
schema order, and writes them with :func:`streams.contract.flat.write_flat`, which checks each
value's exact type as it writes: cheaper than ``to_avro()``, fastavro's validation and
fastavro's generic writer together.

Contract of :func:`rated_usage_body`: for every ``RatedUsage`` it returns either exactly the
bytes of ``fastavro.schemaless_writer(rated_usage v3, record.to_avro())`` or ``None``, and
``None`` whenever a value is not of the type the schema wants (a ``str`` field holding anything
but ``str``, text that is not valid Unicode, a time outside Avro's long range, ``leaf_hash``
not ``bytes``) or anything else goes wrong. On ``None`` the codec takes the validating path,
``encode("rated_usage", record.to_avro())``, which decides exactly as before: ``EncodeError``
naming the field, or whatever ``to_avro`` raises. ``tests/unit/contract/test_bodies.py`` pins
both halves on generated records. :data:`RATED_USAGE_FINGERPRINT` names the one schema
version written here: when ``rated_usage`` gets a new version, the codec stops using this
writer (and a test fails) until it is updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.contract.flat import Layout, write_flat
from streams.contract.records import RatedUsage
from streams.core.clock import to_ms

__all__ = ["RATED_USAGE_FINGERPRINT", "rated_usage_body", "rated_usage_values"]

RATED_USAGE_FINGERPRINT = bytes.fromhex("6ba30746851145eb")
"""CRC-64-AVRO fingerprint of ``schemas/rated_usage/v3.avsc``, the layout written here."""


def rated_usage_values(record: RatedUsage) -> tuple[Any, ...]:
    """``record.to_avro()``'s values in rated_usage v3's field order (each line is the entry of
    the same name). Raises whatever ``to_avro`` raises for a record it cannot convert."""
    return (
        record.source,
        record.record_id,
        record.agreement_id,
        record.agreement_version,
        record.rate_id,
        record.product,
        record.product_id,
        to_ms(record.start),
        str(record.quantity),
        record.unit,
        str(record.billed_quantity),
        record.billed_unit,
        str(record.amount),
        record.currency,
        record.direction,
        _shared_ms(record.window_start),
        _shared_ms(record.window_end),
        _shared_ms(record.rated_at),
        record.leaf_hash,
        record.supersedes,
        record.run_id,
        record.correlation_key,
    )


_SHARED_MS: dict[datetime, int] = {}
"""Epoch ms of recent times that many records share (their window, the rating time)."""


def _shared_ms(moment: datetime) -> int:
    """``to_ms(moment)``, remembered: equal datetimes are one instant (bounded memo)."""
    ms = _SHARED_MS.get(moment)
    if ms is None:
        ms = to_ms(moment)
        if len(_SHARED_MS) >= 4096:
            _SHARED_MS.clear()
        _SHARED_MS[moment] = ms
    return ms


def rated_usage_body(record: RatedUsage, layout: Layout) -> bytes | None:
    """``record``'s Avro body under rated_usage v3 (whose :data:`Layout` the codec passes), or
    ``None`` if a value does not fit."""
    try:
        values = rated_usage_values(record)
    except Exception:  # what to_avro() raises too: the validating path raises it
        return None
    return write_flat(layout, values)
