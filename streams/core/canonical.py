r"""The one canonical encoding of Bilat: the only input to hashing and signing.

Everything Bilat hashes or signs (Merkle leaves, ledger entries, agreement signatures, payloads)
is first turned into bytes here, so that two parties, or an auditor in another language, get
the same bytes from the same values. The order is always *canonical bytes, then hash, then
sign*, and every byte string that is signed, or whose hash is signed or chained, starts with a
domain tag (:func:`tagged`) so bytes made for one purpose can never be replayed as another.
Two hashes take their input untagged, and say so where they are defined: a ledger entry's
``payload_hash`` is ``SHA-256(payload)`` of the payload's canonical JSON (the tag is on the
signed bytes that hold the hash, :mod:`streams.ledger.entries`), and RFC 9162 leaf and node hashes
carry the RFC's own ``0x00``/``0x01`` prefixes over data that is itself tagged (``leaf.v1``).

Canonical JSON (:func:`canonical_json`)
=======================================

RFC 8785 (JSON Canonicalization Scheme) restricted to values that have exactly one encoding:

* allowed values: objects with string keys, arrays, strings, integers with
  ``|i| <= 2**53 - 1``, ``true``, ``false``, ``null``. Floats, decimals, byte strings and
  times are refused (``TypeError`` naming the path, e.g. ``$.totals.EUR``): callers convert
  them explicitly, decimals with :func:`decimal_text`, bytes as lowercase hex, times as epoch
  milliseconds. Integers out of range and strings that are not valid Unicode (lone
  surrogates) are refused with ``ValueError``.
* no whitespace anywhere; ``,`` between members and elements, ``:`` between key and value;
* object members sorted by key, comparing the keys as sequences of UTF-16 code units (RFC 8785
  §3.2.3; for keys without characters above U+FFFF this is plain code point order); keys are
  unique by construction;
* integers in decimal, ``-`` for negatives, no leading zeros, no ``+``, no exponent;
* strings in double quotes, characters written as themselves (UTF-8), except: ``"`` → ``\"``,
  ``\`` → ``\\``, U+0008 → ``\b``, U+0009 → ``\t``, U+000A → ``\n``, U+000C → ``\f``,
  U+000D → ``\r``, other U+0000..U+001F → ``\u00xx`` (lowercase hex). Nothing else is escaped
  (not ``/``, not U+007F, not U+2028);
* the whole text encoded as UTF-8, no BOM.

Decimals (:func:`decimal_text`) are plain notation with no exponent, trailing fractional zeros
and a trailing point removed, and zero (also ``-0``) written ``0``: ``0.0230`` → ``"0.023"``,
``1E+2`` → ``"100"``, ``-1.50`` → ``"-1.5"``. So ``0.015`` and ``0.0150`` are one amount.

Domain separation (:func:`tagged`): ``b"bilat." + domain + b"\x00" + body``, where the domain is
ASCII and names the purpose and its version (``leaf.v1``, ``ledger-entry.v1``...).

Merkle leaves
=============

A leaf is one rated record as both parties must see it. :func:`leaf_fields` picks the fields;
the leaf data is ``tagged("leaf.v1", canonical_json(leaf_fields(record)))`` and the leaf hash is
the RFC 9162 leaf hash ``SHA-256(0x00 || leaf data)``. The object has exactly these members:

=====================  ========================================================================
``key``                the usage key ``source/record_id`` both parties' mediation report, or,
                       where the agreement correlates by numbers, the correlation key
                       ``<A>><B>|<start_ms>`` (``streams.reconcile.correlation``)
``start_ms``           event start, integer epoch milliseconds UTC (sub-millisecond truncated)
``quantity``           the usage quantity converted to the product's base unit, as
                       :func:`decimal_text` (``2.5`` megabyte → ``"2500000"``)
``unit``               that base unit: ``second``, ``message`` or ``byte``
``amount``             the rated amount, :func:`decimal_text`
``currency``           ISO 4217 code of ``amount``
``agreement_id``       the agreement the record was rated under
``agreement_version``  the agreement version the record was rated under
=====================  ========================================================================

Conversion to the base unit is exact (the decimal exponent is shifted, nothing is rounded):
``second``, ``message``, ``byte`` times 1; ``kilobyte`` times 10^3; ``megabyte`` times 10^6;
``gigabyte`` times 10^9 (SI units, as the agreement prices data). The units and their factors
are :data:`streams.core.units.REPORTED_UNITS`, the table rating bills with too.

Worked example (pinned in ``tests/unit/test_canonical.py``): the record ``hgc-msc-01/cdr-000042``
starting 2026-03-02T09:15:00.250Z, 125 seconds, amount ``Decimal("0.03150")`` EUR, agreement
``hgc-dcc-2026`` version ``1`` (whatever its rate id, direction, window or rating time) has
these 192 bytes of leaf data, shown as one Python bytes literal split for reading (``\x00`` is
one zero byte; there is no space or newline in the data)::

    b'bilat.leaf.v1\x00'
    b'{"agreement_id":"hgc-dcc-2026","agreement_version":"1","amount":"0.0315",'
    b'"currency":"EUR","key":"hgc-msc-01/cdr-000042","quantity":"125",'
    b'"start_ms":1772442900250,"unit":"second"}'

and the leaf hash ``SHA-256(b"\x00" + leaf data)`` is::

    53fbee67ec383c3cf7a03cd908e1740827f3983a8a45768973d5d15f9de95845
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring  # the C escaper of json, ensure_ascii=False flavour
from typing import Any, TypeGuard

from streams.contract.records import RatedUsage
from streams.core.clock import to_ms
from streams.core.units import REPORTED_UNITS

__all__ = [
    "LEAF_DOMAIN",
    "MAX_SAFE_INT",
    "canonical_json",
    "decimal_text",
    "is_hex",
    "leaf_data",
    "leaf_fields",
    "leaf_hash",
    "leaf_hash_of_fields",
    "tagged",
]

MAX_SAFE_INT = 2**53 - 1
"""Largest integer magnitude :func:`canonical_json` accepts (exact in an IEEE double, RFC 8785)."""

LEAF_DOMAIN = "leaf.v1"
"""Domain tag of Merkle leaf data; a new leaf layout gets a new version."""

_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module docstring for the exact rules).

    Deterministic: equal values give equal bytes, and ``json.loads`` of the result equals
    ``value`` for every accepted value built from dicts and lists. Tuples are accepted as
    arrays and any :class:`~collections.abc.Mapping` with string keys as an object.

    Raises ``TypeError`` for a value of another type (float, Decimal, bytes, datetime...) or a
    non-string key, and ``ValueError`` for an integer beyond :data:`MAX_SAFE_INT` or a string
    with a lone surrogate; the message names the path, e.g. ``$.totals.EUR``.
    """
    parts: list[str] = []
    try:
        _write(value, parts)
    except _Refusal as refusal:
        path = "$" + "".join(reversed(refusal.path))
        raise refusal.error(f"{path}: {refusal.message}") from None
    return "".join(parts).encode("utf-8")


class _Refusal(Exception):
    """Internal: a value the encoding refuses; containers add their path segment on the way out
    (so the hot path never builds path strings)."""

    def __init__(self, error: type[Exception], message: str) -> None:
        self.error = error
        self.message = message
        self.path: list[str] = []


def _write(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _check_text(value)
        out.append(encode_basestring(value))
    elif kind is int:
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise _Refusal(ValueError, f"got integer {value}, want |i| <= 2**53-1 (use a string)")
        out.append(str(value))
    elif kind is dict:
        _write_object(value, out)
    elif value is None:
        out.append("null")
    elif value is True:  # before int: bool is an int subclass
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):  # subclasses (StrEnum...) as their string value
        _write(str.__str__(value), out)
    elif isinstance(value, int):  # subclasses (IntEnum...) as their integer value
        _write(int(value), out)
    elif isinstance(value, Mapping):
        _write_object(value, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            try:
                _write(item, out)
            except _Refusal as refusal:
                refusal.path.append(f"[{index}]")
                raise
        out.append("]")
    else:
        name = type(value).__name__
        raise _Refusal(TypeError, f"got {name} {value!r}, want {_HINTS.get(name, _WANT)}")


_WANT = "dict, list, str, int, bool or None"
_HINTS = {
    "float": "an int, or a decimal string via decimal_text (floats have no canonical form)",
    "Decimal": "a string: convert with decimal_text()",
    "bytes": "a string: convert bytes to lowercase hex",
    "bytearray": "a string: convert bytes to lowercase hex",
    "datetime": "an int: convert times to epoch milliseconds (streams.core.clock.to_ms)",
    "date": "a string: ISO 8601 date",
}


def _write_object(value: Mapping[Any, Any], out: list[str]) -> None:
    ascii_keys = True
    for key in value:
        if type(key) is not str and not isinstance(key, str):
            raise _Refusal(TypeError, f"got key {key!r} ({type(key).__name__}), want str keys")
        if not key.isascii():
            try:
                _check_text(key)
            except _Refusal as refusal:
                refusal.path.append(f" key {key!r}")
                raise
            ascii_keys = False
    # RFC 8785 sorts by UTF-16 code units; for ASCII keys that is plain string order.
    keys = sorted(value) if ascii_keys else sorted(value, key=_utf16)
    out.append("{")
    first = True
    for key in keys:
        if first:
            first = False
        else:
            out.append(",")
        out.append(encode_basestring(key))
        out.append(":")
        try:
            _write(value[key], out)
        except _Refusal as refusal:
            refusal.path.append(_member_path(key))
            raise
    out.append("}")


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be")


def _member_path(key: str) -> str:
    return f".{key}" if _IDENT.match(key) else f"[{encode_basestring(key)}]"


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Refusal(
            ValueError,
            f"got a lone surrogate {text[exc.start]!r} at index {exc.start}, "
            "want valid Unicode text",
        ) from None


def decimal_text(value: Decimal) -> str:
    """``value`` in plain normalised notation: ``0.0230`` → ``0.023``, ``1E+2`` → ``100``.

    Exact (no rounding, whatever the decimal context); zero and negative zero give ``"0"``.
    Raises ``TypeError`` for a non-Decimal and ``ValueError`` for NaN or infinity.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"got {type(value).__name__} {value!r}, want Decimal")
    if not value.is_finite():
        raise ValueError(f"got {value}, want a finite Decimal")
    if value.is_zero():
        return "0"
    text = format(value, "f")  # exact: without a precision, 'f' never rounds
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def is_hex(value: Any, digits: int = 64) -> TypeGuard[str]:
    """``value`` is exactly ``digits`` lowercase hex digits (the one spelling of bytes)."""
    return (
        isinstance(value, str)
        and len(value) == digits
        and all(c in "0123456789abcdef" for c in value)
    )


def tagged(domain: str, body: bytes) -> bytes:
    """``b"bilat." + domain + b"\\x00" + body``: the domain-separated input of a hash or signature.

    ``domain`` is lowercase ASCII (letters, digits, ``.``, ``-``) naming purpose and version,
    e.g. ``leaf.v1``; it cannot contain the zero byte, so the tag is unambiguous.
    """
    if not _DOMAIN.match(domain):
        raise ValueError(f"domain: got {domain!r}, want lowercase ASCII like 'leaf.v1'")
    return b"bilat." + domain.encode("ascii") + b"\x00" + body


def leaf_fields(record: RatedUsage) -> dict[str, Any]:
    """The fields of ``record`` both parties know and must agree on, ready for canonical JSON.

    Included (see the module docstring for their encoding):

    * ``key`` — the usage key is how the two sides pair records at all;
    * ``start_ms`` — event time decides the window and the time band, so it is part of the price;
    * ``quantity`` + ``unit`` in the product's base unit — what was used; converted so that a
      side whose mediation reports megabytes and one reporting bytes still build the same leaf;
    * ``amount`` + ``currency`` — what is owed, the point of the settlement;
    * ``agreement_id`` + ``agreement_version`` — which signed terms priced it.

    Left out, on purpose:

    * ``rated_at``, ``run_id``, ``supersedes`` — when and by which run *this* side rated it: local
      history, never equal on both sides;
    * ``direction`` — each side sees the mirror image (one's outbound is the other's inbound);
    * ``rate_id``, ``billed_quantity``, ``billed_unit`` — derived from the fields above and the
      agreement, and covered by ``amount``; a renamed tariff id must not break agreement;
    * ``window_start`` / ``window_end`` — derived from ``start`` and the agreement; the batch
      (the tree) already stands for the window;
    * ``product``, ``product_id`` — ``unit`` distinguishes the products that are priced
      differently and ``product_id`` may be known to one side only (Sonata inventory);
    * ``leaf_hash`` — the output, not an input.

    Raises ``ValueError`` for a unit with no base unit.
    """
    unit = REPORTED_UNITS.get(record.unit)
    if unit is None:
        raise ValueError(f"field 'unit': got {record.unit!r}, want one of {sorted(REPORTED_UNITS)}")
    quantity = record.quantity
    if unit.size != 1:  # exact shift of the exponent: no decimal context, so no rounding
        sign, digits, exponent = quantity.as_tuple()
        assert isinstance(exponent, int)  # finite: RatedUsage refuses NaN and infinity
        assert unit.shift is not None  # every reported unit is a power of ten (streams.core.units)
        quantity = Decimal((sign, digits, exponent + unit.shift))
    return {
        "key": record.ledger_key,
        "start_ms": to_ms(record.start),
        "quantity": decimal_text(quantity),
        "unit": unit.base,
        "amount": decimal_text(record.amount),
        "currency": record.currency,
        "agreement_id": record.agreement_id,
        "agreement_version": record.agreement_version,
    }


def leaf_data(record: RatedUsage) -> bytes:
    """``tagged(LEAF_DOMAIN, canonical_json(leaf_fields(record)))``: what the Merkle leaf covers."""
    return tagged(LEAF_DOMAIN, canonical_json(leaf_fields(record)))


def leaf_hash_of_fields(fields: Mapping[str, Any]) -> bytes:
    """The RFC 9162 leaf hash of leaf fields (as :func:`leaf_fields` gives them, or as a
    partner sent them): ``SHA-256(0x00 || tagged(LEAF_DOMAIN, canonical_json(fields)))``.
    ``TypeError``/``ValueError`` for fields with no canonical form."""
    return hashlib.sha256(b"\x00" + tagged(LEAF_DOMAIN, canonical_json(fields))).digest()


def leaf_hash(record: RatedUsage) -> bytes:
    """The RFC 9162 leaf hash of ``record``: ``SHA-256(0x00 || leaf_data(record))``, 32 bytes."""
    return leaf_hash_of_fields(leaf_fields(record))
