"""Backward compatibility between consecutive versions of a schema: the gate every new version
passes, so that data written with the old version stays readable with the new one.

:func:`compatibility_problems` walks the writer (old) and reader (new) schemas by the structural
rules of Avro schema resolution, then has fastavro itself resolve :func:`sample_records` of the
old version into the new, so a rule the walk lacks still fails loudly.
:func:`check_backward_compatible` raises with every problem. Schemas come from
:mod:`streams.contract.schemas`; ``schemas/README.md`` is the contract.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import fastavro

from streams.contract.schemas import Schema
from streams.core.errors import SchemaError

__all__ = ["check_backward_compatible", "compatibility_problems", "sample_records"]

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
# Avro schema resolution: the writer type on the left can be read as each reader type on the right.
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def check_backward_compatible(old: Schema, new: Schema) -> None:
    """Raise ``SchemaError`` listing every reason why ``new`` cannot read data ``old`` wrote.

    See :func:`compatibility_problems` for the rules.
    """
    problems = compatibility_problems(old, new)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise SchemaError(
            f"{new.subject} v{new.version} cannot read data written with v{old.version}"
            f" ({len(problems)} problems):\n{lines}"
        )


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """Every reason why ``new`` (reader) cannot read what ``old`` (writer) wrote; [] if none.

    Structural rules of Avro schema resolution: a field the reader adds needs a default; a
    field the reader drops is fine; a kept field's type may only change as Avro promotes
    (int→long→float→double, string↔bytes); each writer union branch must match a reader type;
    records match by unqualified name or reader alias; enums keep every writer symbol unless
    the reader has a default; fixed sizes stay. Each problem names the field path. When the
    rules find nothing, :func:`sample_records` of ``old`` are written and resolved into ``new``
    by fastavro itself, so a rule this checker lacks still fails loudly. Recursive schemas are
    not supported (Bilat has none).
    """
    ctx = _Resolution(old.parsed.get("__named_schemas", {}), new.parsed.get("__named_schemas", {}))
    problems = ctx.compare(old.parsed, new.parsed, "")
    if problems:
        return problems
    for sample in sample_records(old):
        try:
            _round_trip(sample, old.parsed, new.parsed)
        except Exception as exc:  # any fastavro failure here is the finding itself
            problems.append(f"a v{old.version} sample does not resolve into v{new.version}: {exc}")
    return problems


class _Resolution:
    """Walks a writer and a reader schema side by side, collecting resolution problems."""

    def __init__(self, writer_names: Mapping[str, Any], reader_names: Mapping[str, Any]) -> None:
        self.writer_names = writer_names
        self.reader_names = reader_names

    def compare(self, writer: Any, reader: Any, path: str) -> list[str]:
        writer = _named(writer, self.writer_names)
        reader = _named(reader, self.reader_names)
        if isinstance(writer, list) and not isinstance(reader, list):
            lost = [branch for branch in writer if not self._readable(branch, reader)]
            kept = [b for b in writer if b not in lost]
            problems = [p for branch in kept for p in self.compare(branch, reader, path)]
            if lost:
                branches = " and ".join(_describe(branch) for branch in lost)
                problems.insert(
                    0,
                    f"{_at(path)}: writer union branch {branches} cannot be read as"
                    f" reader type {_describe(reader)}",
                )
            return problems
        if isinstance(writer, list):
            return [p for branch in writer for p in self.compare(branch, reader, path)]
        if isinstance(reader, list):
            if any(not self.compare(writer, branch, path) for branch in reader):
                return []
            return [
                f"{_at(path)}: writer type {_describe(writer)} matches no branch of"
                f" reader union {_describe(reader)}"
            ]
        if not self._readable(writer, reader):
            return [
                f"{_at(path)}: type changed from {_describe(writer)} to {_describe(reader)},"
                " which Avro cannot promote"
            ]
        w_kind = _kind(writer)
        if w_kind == "record":
            return self._records(writer, reader, path)
        if w_kind == "array":
            return self.compare(writer["items"], reader["items"], f"{path}[]")
        if w_kind == "map":
            return self.compare(writer["values"], reader["values"], f"{path}{{}}")
        if w_kind == "enum":
            lost = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if lost and "default" not in reader:
                return [f"{_at(path)}: enum symbols {lost} removed without a reader default"]
        if w_kind == "fixed" and writer["size"] != reader["size"]:
            return [f"{_at(path)}: fixed size changed from {writer['size']} to {reader['size']}"]
        return []

    def _readable(self, writer: Any, reader: Any) -> bool:
        """Whether the top-level kinds resolve (equal, or an Avro promotion); not recursive."""
        w_kind = _kind(_named(writer, self.writer_names))
        r_kind = _kind(_named(reader, self.reader_names))
        return w_kind == r_kind or r_kind in _PROMOTIONS.get(w_kind, frozenset())

    def _records(self, writer: dict[str, Any], reader: dict[str, Any], path: str) -> list[str]:
        w_name, r_name = writer["name"], reader["name"]
        aliases = {a.rsplit(".", 1)[-1] for a in reader.get("aliases", [])}
        if w_name.rsplit(".", 1)[-1] not in {r_name.rsplit(".", 1)[-1], *aliases}:
            return [f"{_at(path)}: record {w_name} renamed to {r_name} without an alias"]
        written = {f["name"]: f for f in writer["fields"]}
        problems = []
        for reader_field in reader["fields"]:
            name = reader_field["name"]
            sub = f"{path}.{name}" if path else name
            match = next(
                (written[n] for n in (name, *reader_field.get("aliases", [])) if n in written),
                None,
            )
            if match is None:
                if "default" not in reader_field:
                    problems.append(f"{_at(sub)}: added without a default")
                continue
            problems.extend(self.compare(match["type"], reader_field["type"], sub))
        return problems


def _round_trip(record: dict[str, Any], writer: Any, reader: Any) -> None:
    """Write ``record`` with ``writer`` and read it back with ``reader``; fastavro raises."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, writer, record)
    buffer.seek(0)
    fastavro.schemaless_reader(buffer, writer, reader)


def sample_records(schema: Schema) -> list[dict[str, Any]]:
    """Two records valid for ``schema``: every union on its first non-null branch and arrays and
    maps with two items; then every union on its first branch and arrays and maps empty."""
    named = schema.parsed.get("__named_schemas", {})
    return [_sample(schema.parsed, named, full=True), _sample(schema.parsed, named, full=False)]


def _sample(schema: Any, named: Mapping[str, Any], *, full: bool) -> Any:
    schema = _named(schema, named)
    if isinstance(schema, list):
        non_null = [b for b in schema if b != "null"]
        return _sample(non_null[0] if full and non_null else schema[0], named, full=full)
    kind = _kind(schema)
    if kind == "record":
        return {f["name"]: _sample(f["type"], named, full=full) for f in schema["fields"]}
    if kind == "array":
        return [_sample(schema["items"], named, full=full) for _ in range(2 if full else 0)]
    if kind == "map":
        return {
            f"k{i}": _sample(schema["values"], named, full=full) for i in range(2 if full else 0)
        }
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "fixed":
        return bytes(schema["size"])
    return _SAMPLE_PRIMITIVES[kind]


_SAMPLE_PRIMITIVES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": -7,
    "long": 1_764_028_800_123,
    "float": 1.5,
    "double": 2.25,
    "bytes": b"\x00\xff",
    "string": "s\u00e9",
}


def _named(schema: Any, named: Mapping[str, Any]) -> Any:
    """A named type's definition in place of its name; anything else unchanged."""
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return named[schema]
    return schema


def _kind(schema: Any) -> str:
    kind = schema["type"] if isinstance(schema, dict) else schema
    return _kind(kind) if isinstance(kind, dict) else str(kind)


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return "[" + ", ".join(_describe(branch) for branch in schema) + "]"
    if isinstance(schema, dict) and "name" in schema:
        return f"{schema['type']} {schema['name']}"
    return _kind(schema) if isinstance(schema, (dict, str)) else type(schema).__name__


def _at(path: str) -> str:
    return f"field '{path}'" if path else "top level"
