"""The schema store: every version of every Avro schema in ``schemas/``, parsed once.

Layout: ``<root>/<subject>/v<N>.avsc``, one top-level record per file, versions numbered 1..N
without gaps; ``schemas/README.md`` is the contract for what goes in them. A :class:`Schema` is
identified on the wire by its 8-byte CRC-64-AVRO fingerprint of the Parsing Canonical Form, so
the store can map any fingerprint back to its subject and version.

``Schema.parsed`` is the *physical* schema: ``logicalType`` annotations are removed before
fastavro parses it, so times stay plain ``int`` epoch milliseconds in Python in both directions
(fastavro would otherwise read them as ``datetime``). That changes nothing on the wire or in the
fingerprint: the canonical form never includes ``logicalType``.

:func:`check_backward_compatible` is the gate between consecutive versions: data written with
the old version must be readable with the new one.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.schema

from streams.core.errors import SchemaError, UnknownSchemaError

__all__ = [
    "Schema",
    "SchemaStore",
    "check_backward_compatible",
    "compatibility_problems",
    "default_schema_dir",
    "sample_records",
]

_SUBJECT = re.compile(r"[a-z][a-z0-9_]*")
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
# Avro schema resolution: the writer type on the left can be read as each reader type on the right.
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def default_schema_dir() -> Path:
    """``<repo>/schemas``, next to the ``streams`` package this module belongs to."""
    import streams

    return Path(streams.__file__).resolve().parents[1] / "schemas"


@dataclass(frozen=True, slots=True)
class Schema:
    """One version of one subject, parsed and fingerprinted. Compared by identity on the wire."""

    subject: str
    """Folder name under ``schemas/``, e.g. ``usage_record``."""
    version: int
    """``N`` of ``v<N>.avsc``, from 1."""
    parsed: dict[str, Any] = field(compare=False, repr=False)
    """fastavro-parsed physical schema (no logical types): what the codecs read and write with."""
    canonical_form: str
    """Avro Parsing Canonical Form: the only input of the fingerprint."""
    fingerprint: bytes
    """CRC-64-AVRO of ``canonical_form``, 8 bytes little-endian, as single-object encoding sends."""
    raw: dict[str, Any] = field(compare=False, repr=False)
    """The schema JSON exactly as in the file, with docs and logical types (for registries)."""

    @property
    def full_name(self) -> str:
        """Namespace-qualified record name, e.g. ``bilat.UsageRecord``."""
        return str(self.parsed["name"])

    @classmethod
    def from_json(cls, subject: str, version: int, raw: Any) -> Schema:
        """Parse and fingerprint a schema given as decoded JSON; ``SchemaError`` if it is invalid.

        The top level must be a record: codecs read and write records as mappings of fields.
        """
        where = f"{subject} v{version}"
        if not isinstance(raw, dict) or raw.get("type") != "record":
            got = raw.get("type") if isinstance(raw, dict) else raw
            raise SchemaError(f"{where}: got top-level type {got!r}, want a record")
        try:
            # fastavro types the result as any schema; a record always parses to a dict.
            parsed = cast("dict[str, Any]", fastavro.parse_schema(_physical(raw)))
            canonical = fastavro.schema.to_parsing_canonical_form(raw)
            fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        except Exception as exc:  # fastavro raises many unrelated types for a bad schema
            raise SchemaError(f"{where}: not a valid Avro schema: {exc}") from exc
        return cls(subject, version, parsed, canonical, fingerprint, raw)


class SchemaStore:
    """Every ``<root>/<subject>/v<N>.avsc``, loaded, parsed and fingerprinted at construction.

    Raises ``SchemaError`` for a missing or empty root, a misnamed subject folder or file, a
    version gap, an unparsable schema, or one fingerprint shared by two subjects. A fingerprint
    shared by two versions of one subject (a doc-only change) resolves to the later version.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._versions: dict[str, list[Schema]] = {}
        self._by_fingerprint: dict[bytes, Schema] = {}
        if not root.is_dir():
            raise SchemaError(f"schema directory {root} does not exist")
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith((".", "__")):
                continue
            if not _SUBJECT.fullmatch(folder.name):
                raise SchemaError(f"{folder}: got subject {folder.name!r}, want snake_case")
            self._versions[folder.name] = schemas = _load_subject(folder)
            for schema in schemas:
                other = self._by_fingerprint.get(schema.fingerprint)
                if other is not None and other.subject != schema.subject:
                    raise SchemaError(
                        f"{schema.subject} v{schema.version} and {other.subject} v{other.version}"
                        f" have the same canonical form (fingerprint {schema.fingerprint.hex()})"
                    )
                self._by_fingerprint[schema.fingerprint] = schema
        if not self._versions:
            raise SchemaError(f"schema directory {root} holds no <subject>/v<N>.avsc")

    @classmethod
    @functools.cache
    def default(cls) -> SchemaStore:
        """The store of this checkout's ``schemas/``, loaded once per process."""
        return cls(default_schema_dir())

    def subjects(self) -> list[str]:
        """Subject names, sorted."""
        return list(self._versions)

    def versions(self, subject: str) -> list[int]:
        """Version numbers of ``subject``, ascending (always 1..N)."""
        return [s.version for s in self._subject(subject)]

    def latest(self, subject: str) -> Schema:
        """The highest version of ``subject``: what encoders write and decoders read into."""
        return self._subject(subject)[-1]

    def get(self, subject: str, version: int) -> Schema:
        """One version of ``subject``; ``SchemaError`` if the store has no such version."""
        schemas = self._subject(subject)
        if not 1 <= version <= len(schemas):
            raise SchemaError(f"{subject}: got version {version}, want 1..{len(schemas)}")
        return schemas[version - 1]

    def by_fingerprint(self, fingerprint: bytes) -> Schema:
        """The schema with this CRC-64-AVRO fingerprint; ``UnknownSchemaError`` if none has it."""
        schema = self._by_fingerprint.get(fingerprint)
        if schema is None:
            raise UnknownSchemaError(
                f"no schema with fingerprint {fingerprint.hex()} in {self.root}; "
                f"known: {self.describe()}"
            )
        return schema

    def describe(self) -> str:
        """``subject v1..vN`` for every subject, for error messages."""
        return ", ".join(f"{name} v1..v{len(s)}" for name, s in self._versions.items())

    def _subject(self, subject: str) -> list[Schema]:
        schemas = self._versions.get(subject)
        if schemas is None:
            raise SchemaError(
                f"no schema subject {subject!r} in {self.root}; known: {self.describe()}"
            )
        return schemas


def _load_subject(folder: Path) -> list[Schema]:
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        match = _VERSION_FILE.fullmatch(path.name)
        if match is None:
            raise SchemaError(f"{path}: got file {path.name!r}, want v<N>.avsc")
        found[int(match.group(1))] = path
    if sorted(found) != list(range(1, len(found) + 1)):
        raise SchemaError(f"{folder}: got versions {sorted(found)}, want 1..N without gaps")
    schemas = []
    for version in sorted(found):
        try:
            raw = json.loads(found[version].read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaError(f"{found[version]}: cannot read schema JSON: {exc}") from exc
        schemas.append(Schema.from_json(folder.name, version, raw))
    if not schemas:
        raise SchemaError(f"{folder}: no v<N>.avsc files")
    return schemas


def _physical(schema: Any) -> Any:
    """``schema`` without ``logicalType`` annotations (defaults and docs are left untouched)."""
    if isinstance(schema, list):
        return [_physical(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value for key, value in schema.items() if key != "logicalType"}
    kind = schema.get("type")
    if kind in ("record", "error"):
        out["fields"] = [{**f, "type": _physical(f.get("type"))} for f in schema.get("fields", [])]
    elif kind == "array":
        out["items"] = _physical(schema.get("items"))
    elif kind == "map":
        out["values"] = _physical(schema.get("values"))
    elif isinstance(kind, (dict, list)):
        out["type"] = _physical(kind)
    return out


# --- compatibility -------------------------------------------------------------------------


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
