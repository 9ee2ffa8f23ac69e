"""The Avro body of a :class:`~streams.contract.records.RatedUsage`, written from the record itself.

:meth:`Codec.encode <streams.contract.codec.Codec.encode>` takes any mapping, so it must
validate every record before fastavro writes it (fastavro alone truncates ``1.7`` to a long and
writes a ``str`` as an array of characters). A rated record is Bilat's own, built by the rater
and frozen; for it the rating worker's hot path writes the body here, field by field from the
record's attributes, checking each value's type as it goes: cheaper than ``to_avro()``,
fastavro's validation and fastavro's generic writer together.

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

from streams.contract.records import RatedUsage
from streams.core.clock import to_ms

__all__ = ["RATED_USAGE_FINGERPRINT", "rated_usage_body"]

RATED_USAGE_FINGERPRINT = bytes.fromhex("6ba30746851145eb")
"""CRC-64-AVRO fingerprint of ``schemas/rated_usage/v3.avsc``, the layout written here."""

_SMALL = tuple(bytes(((n << 1),)) for n in range(64))
"""The one-byte Avro encoding (zig-zag varint) of each length 0..63: most fields are short."""
_NULL = b"\x00"
"""Union branch 0 (``null``) of ``["null", T]``."""
_SOME = b"\x02"
"""Union branch 1 (the ``T``) of ``["null", T]``."""
_LONG_RANGE = range(-(2**63), 2**63)
_MEMO_SIZE = 4096
_TEXTS: dict[str, bytes] = {}
"""Encodings of recent strings: most fields repeat (agreement, tariff, unit, currency, amounts)."""
_TIMES: dict[datetime, bytes] = {}
"""Encodings of recent times: windows and the rating time repeat from record to record."""


class _Misfit(Exception):
    """A value this writer does not write: the validating path decides and explains."""


def _long(value: int) -> bytes:
    """Avro ``long``: zig-zag, then base-128 little-endian varint."""
    if type(value) is not int or value not in _LONG_RANGE:
        raise _Misfit
    n = (value << 1) ^ (value >> 63)
    out = []
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _text(value: Any) -> bytes:
    """Avro ``string``: length, then UTF-8 (``UnicodeEncodeError`` for lone surrogates)."""
    if type(value) is not str:  # before the memo: only a str can stand for its own bytes
        raise _Misfit
    encoded = _TEXTS.get(value)
    if encoded is None:
        encoded = _unique_text(value)
        _remember(_TEXTS, value, encoded)
    return encoded


def _unique_text(value: Any) -> bytes:
    """:func:`_text` of a value that seldom repeats (a record id): not memoised."""
    if type(value) is not str:
        raise _Misfit
    data = value.encode()
    size = len(data)
    return (_SMALL[size] if size < 64 else _long(size)) + data


def _optional_text(value: Any) -> bytes:
    """``["null", "string"]``."""
    return _NULL if value is None else _SOME + _text(value)


def _optional_bytes(value: Any) -> bytes:
    """``["null", "bytes"]``."""
    if value is None:
        return _NULL
    if type(value) is not bytes:
        raise _Misfit
    return _SOME + _long(len(value)) + value


def _time(value: datetime) -> bytes:
    """A time as Avro ``long`` epoch milliseconds, as ``to_avro`` writes it (``to_ms``)."""
    if type(value) is not datetime:
        raise _Misfit
    encoded = _TIMES.get(value)
    if encoded is None:  # equal datetimes are one instant: one to_ms, one encoding
        encoded = _long(to_ms(value))
        _remember(_TIMES, value, encoded)
    return encoded


def _remember(memo: dict[Any, bytes], value: Any, encoded: bytes) -> None:
    if len(memo) >= _MEMO_SIZE:  # bounded, whatever the values; refilled by the next records
        memo.clear()
    memo[value] = encoded


def rated_usage_body(record: RatedUsage) -> bytes | None:
    """``record``'s Avro body under rated_usage v3, or ``None`` if a value does not fit.

    Fields in schema order; each line is the ``to_avro`` entry of the same name.
    """
    try:
        return b"".join(
            (
                _text(record.source),
                _unique_text(record.record_id),
                _text(record.agreement_id),
                _text(record.agreement_version),
                _text(record.rate_id),
                _text(record.product),
                _optional_text(record.product_id),
                _long(to_ms(record.start)),
                _text(str(record.quantity)),
                _text(record.unit),
                _text(str(record.billed_quantity)),
                _text(record.billed_unit),
                _text(str(record.amount)),
                _text(record.currency),
                _text(record.direction),
                _time(record.window_start),
                _time(record.window_end),
                _time(record.rated_at),
                _optional_bytes(record.leaf_hash),
                _optional_text(record.supersedes),
                _optional_text(record.run_id),
                _optional_text(record.correlation_key),
            )
        )
    except Exception:  # _Misfit, UnicodeEncodeError, or whatever to_avro() would raise too
        return None
