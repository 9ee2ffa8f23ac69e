"""The schema store: every version of every Avro schema in ``schemas/``, parsed once.

Layout: ``<root>/<subject>/v<N>.avsc``, one top-level record per file, versions numbered 1..N
without gaps; ``schemas/README.md`` is the contract for what goes in them. A :class:`Schema` is
identified on the wire by its 8-byte CRC-64-AVRO fingerprint of the Parsing Canonical Form, so
the store can map any fingerprint back to its subject and version.

``Schema.parsed`` is the *physical* schema: ``logicalType`` annotations are removed before
fastavro parses it, so times stay plain ``int`` epoch milliseconds in Python in both directions
(fastavro would otherwise read them as ``datetime``). That changes nothing on the wire or in the
fingerprint: the canonical form never includes ``logicalType``.

:func:`streams.contract.compat.check_backward_compatible` is the gate between consecutive
versions: data written with the old version must be readable with the new one.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.schema

from streams.core import resources
from streams.core.errors import SchemaError, UnknownSchemaError

__all__ = [
    "Schema",
    "SchemaStore",
    "default_schema_dir",
]

_SUBJECT = re.compile(r"[a-z][a-z0-9_]*")
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


def default_schema_dir() -> Path:
    """The packaged schemas (``schemas/`` in the checkout): :func:`resources.schema_dir`."""
    return resources.schema_dir()


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
        """The store of the packaged schemas (``schemas/``), loaded once per process."""
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
