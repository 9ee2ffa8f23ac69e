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

__all__ = ["Layout", "flat_layout", "read_flat"]

Layout = tuple[tuple[str, str, bool], ...]
"""``(field name, "string" | "bytes" | "long", optional)`` per field, in schema order."""

_KINDS = {"string": "string", "bytes": "bytes", "long": "long"}
"""The field types a flat record may have (the values are the interned names compared with
``is`` in :func:`read_flat`)."""
_STRING, _LONG = _KINDS["string"], _KINDS["long"]


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
    """The record of ``layout`` whose body is ``data[offset:]``, or ``None`` (see the module
    docstring: ``None`` for every body fastavro refuses, and for the rare ones not read here)."""
    record: dict[str, Any] = {}
    pos, end = offset, len(data)
    try:
        for name, kind, optional in layout:
            if optional:
                branch = data[pos]
                pos += 1
                if branch == 0:  # zig-zag 0: the "null" branch
                    record[name] = None
                    continue
                if branch != 2:  # zig-zag 1, the value's branch; anything else: fastavro's way
                    return None
            if kind is _LONG:  # zig-zag, base-128 little-endian varint
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
            size = data[pos]
            if size > 0x7F or size & 1:  # a longer length, or a negative one: fastavro's way
                return None
            pos += 1
            stop = pos + (size >> 1)  # past the end if truncated: refused below
            value = data[pos:stop]
            record[name] = value.decode() if kind is _STRING else value
            pos = stop
    except (IndexError, UnicodeDecodeError):  # truncated, or not UTF-8
        return None
    return record if pos == end else None
