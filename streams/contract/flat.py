"""Flat Avro records read without fastavro: the usual message, in a third of the time.

A *flat* record schema has only fields of type ``string``, ``bytes``, ``long`` or
``["null", T]`` of those (``usage_record`` and ``rated_usage`` are flat). fastavro's generic
reader interprets the schema for every field of every message; :func:`read_flat` follows a
:data:`Layout` compiled once from the schema and reads the common encoding of each field: a
length below 64 (one byte), a canonical union index, a long of at most nine bytes.

Contract of :func:`read_flat`: it returns either exactly the record
``fastavro.schemaless_reader`` reads from the same bytes with the same schema (no schema
resolution), or ``None``, and ``None`` for every body fastavro would refuse: truncated, with
trailing bytes, a negative length, a union index other than 0 or 1, text that is not UTF-8.
It also returns ``None`` for valid encodings it does not read (a string of 64 bytes or more,
a longer varint); on ``None`` the codec reads the body with fastavro, which decodes it or says
exactly what is wrong. ``tests/unit/contract/test_flat.py`` holds it to fastavro on generated
records, corrupted messages and random bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:  # the same functions in C (streams/contract/_flatavro.c), where it could be compiled
    from streams.contract import _flatavro as _native
except ImportError:  # pragma: no cover - depends on the machine; the Python path is the same
    _native = None  # type: ignore[assignment]  # the optional-import idiom

__all__ = ["NATIVE", "Layout", "flat_layout", "read_flat", "write_flat"]

NATIVE = _native is not None
"""Whether :func:`read_flat` and :func:`write_flat` run in C (``streams.contract._flatavro``)."""

_STRING, _BYTES, _LONG = 0, 1, 2
_KINDS = {"string": _STRING, "bytes": _BYTES, "long": _LONG}
"""The field types a flat record may have."""

Layout = tuple[tuple[str, int, bool], ...]
"""``(field name, kind, optional)`` per field in schema order; kinds are :data:`_KINDS`."""

_LENGTHS = tuple(n >> 1 if n < 0x80 and not n & 1 else -1 for n in range(256))
"""The length a one-byte zig-zag varint stands for; -1 for a negative one or a longer varint."""


def flat_layout(schema: Mapping[str, Any]) -> Layout | None:
    """The layout of the parsed record ``schema``, or ``None`` if it is not flat."""
    layout = []
    for field in schema.get("fields", ()):
        kind, optional = field["type"], False
        if isinstance(kind, list) and len(kind) == 2 and kind[0] == "null":
            kind, optional = kind[1], True
        if isinstance(kind, dict):  # {"type": "long"}: a time whose logicalType was removed
            kind = kind.get("type")
        if not isinstance(kind, str) or kind not in _KINDS:
            return None
        layout.append((field["name"], _KINDS[kind], optional))
    return tuple(layout)


def read_flat(layout: Layout, data: bytes, offset: int) -> dict[str, Any] | None:
    """The record of ``layout`` whose body is ``data[offset:]`` (``offset >= 0``), or ``None``
    (see the module docstring: ``None`` for every body fastavro refuses, and for the rare ones
    not read here). In C where it is compiled; :func:`_read_flat` is the same in Python."""
    if _native is not None:
        return _native.read(layout, data, offset)
    return _read_flat(layout, data, offset)


def write_flat(layout: Layout, values: tuple[Any, ...]) -> bytes | None:
    """The body of ``values`` (one per field, in layout order), or ``None`` as soon as one is
    not of its field's exact type: ``str``, ``bytes``, or ``int`` within 64 bits (not
    ``bool``), or ``None`` for an optional field; ``None`` also for text that is not valid
    Unicode (a lone surrogate). What fastavro writes for the same record, which it would
    accept. In C where it is compiled; :func:`_write_flat` is the same in Python."""
    if _native is not None:
        return _native.write(layout, values)
    return _write_flat(layout, values)


def _write_flat(layout: Layout, values: tuple[Any, ...]) -> bytes | None:
    if len(values) != len(layout):
        return None
    out = bytearray()
    for (_, kind, optional), value in zip(layout, values, strict=True):
        if optional:
            if value is None:
                out.append(0)  # the "null" branch
                continue
            out.append(2)  # the value's branch
        if kind == _LONG:
            if type(value) is not int or not _LONG_MIN <= value <= _LONG_MAX:
                return None
            _varint(out, (value << 1) ^ (value >> 63))
            continue
        if kind == _STRING:
            if type(value) is not str:
                return None
            try:
                value = value.encode()
            except UnicodeEncodeError:
                return None
        elif type(value) is not bytes:
            return None
        _varint(out, len(value) << 1)
        out += value
    return bytes(out)


_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _varint(out: bytearray, n: int) -> None:
    """Append ``n`` (>= 0) as a base-128 little-endian varint."""
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)


def _read_flat(layout: Layout, data: bytes, offset: int) -> dict[str, Any] | None:
    record: dict[str, Any] = {}
    pos = offset
    try:
        for name, kind, optional in layout:
            if optional:
                branch = data[pos]
                pos += 1
                if branch != 2:  # zig-zag 1, the value's branch
                    if branch == 0:  # zig-zag 0, the "null" branch
                        record[name] = None
                        continue
                    return None  # any other index, or a longer varint: fastavro's way
            if kind == _LONG:  # zig-zag, base-128 little-endian varint
                byte = data[pos]
                pos += 1
                n, shift = byte & 0x7F, 7
                while byte & 0x80:
                    if shift == 63:  # a tenth byte: fastavro's way
                        return None
                    byte = data[pos]
                    pos += 1
                    n |= (byte & 0x7F) << shift
                    shift += 7
                record[name] = (n >> 1) ^ -(n & 1)
                continue
            size = _LENGTHS[data[pos]]
            if size < 0:  # a longer length, or a negative one: fastavro's way
                return None
            pos += 1
            stop = pos + size  # past the end if truncated: refused below
            record[name] = data[pos:stop].decode() if kind == _STRING else data[pos:stop]
            pos = stop
    except (IndexError, UnicodeDecodeError):  # truncated, or not UTF-8
        return None
    return record if pos == len(data) else None
