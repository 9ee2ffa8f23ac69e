"""Avro codecs: a record (a mapping of fields) to message bytes and back, for one subject.

Two framings of the same Avro binary body (see ``schemas/README.md``):

- :class:`SingleObjectCodec`, the default and the format between partners: ``C3 01`` + the
  8-byte little-endian CRC-64-AVRO fingerprint of the writer schema + body. No registry needed:
  both sides hold the same ``schemas/`` folder, and the fingerprint names the writer version.
- :class:`ConfluentCodec` when a schema registry is configured: ``00`` + 4-byte big-endian
  registry schema id + body, subject ``bilat.<subject>`` in the registry. It also reads
  single-object messages, so topics mirrored from a partner (whose registry ids mean nothing
  here) stay readable. The registry is a :class:`RegistryClient`, the seam to the HTTP client
  (:mod:`streams.runtime.registry`, which also picks the codec of a deployment: ``make_codec``);
  this module does no I/O.

Contract of every codec: ``encode`` writes with the latest version of the subject and raises
``EncodeError`` naming every field that does not fit; ``decode`` reads any known writer version
of the subject into its latest version (Avro schema resolution) and, for any bytes at all,
either returns the record or raises a ``CodecError`` (``CorruptMessageError``,
``UnknownSchemaError``). A subject missing from the store is a caller bug: ``SchemaError``.
Times are ``int`` epoch milliseconds in both directions (see :mod:`streams.contract.schemas`).

Flat records (only strings, bytes, longs and optional ones: :mod:`streams.contract.flat`) are
read without fastavro when the message was written with the latest schema, to the same record;
any body that reader does not take is read by fastavro, which decides as it always has.

``encode_rated`` is ``encode("rated_usage", record.to_avro())`` for a
:class:`~streams.contract.records.RatedUsage`, byte for byte, without the per-record
validation a mapping needs: the record's values are written by the flat writer, which checks
each value's type as it writes (:mod:`streams.contract.bodies`), and anything it does not
write goes the validating way.
"""

from __future__ import annotations

import abc
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import fastavro
import fastavro.schema
from fastavro.validation import validate

from streams.contract.bodies import RATED_USAGE_FINGERPRINT, rated_usage_body
from streams.contract.flat import Layout, flat_layout, read_flat
from streams.contract.records import RatedUsage
from streams.contract.schemas import Schema, SchemaStore
from streams.core.errors import CorruptMessageError, EncodeError, SchemaError, UnknownSchemaError
from streams.core.redact import redact_text, redact_url

__all__ = [
    "CONFLUENT_MAGIC",
    "SINGLE_OBJECT_MAGIC",
    "Codec",
    "ConfluentCodec",
    "RegistryClient",
    "SingleObjectCodec",
]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
"""Avro single-object encoding marker, followed by the 8-byte fingerprint."""
CONFLUENT_MAGIC = b"\x00"
"""Confluent wire-format marker, followed by the 4-byte big-endian schema id."""
_SINGLE_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
_CONFLUENT_HEADER = len(CONFLUENT_MAGIC) + 4


class Codec(Protocol):
    """Records of a subject to message bytes and back; see the module docstring for the contract."""

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        """``record`` written with the latest version of ``subject``."""
        ...

    def decode(self, subject: str, data: bytes) -> dict[str, Any]:
        """``data`` (any known version of ``subject``) read into the latest version."""
        ...

    def encode_rated(self, record: RatedUsage) -> bytes:
        """``encode("rated_usage", record.to_avro())``, the same bytes or the same error."""
        ...


class RegistryClient(Protocol):
    """A schema registry as the Confluent framing needs it: an id for each schema, the schema of
    each id. Production passes :class:`streams.runtime.registry.ConfluentRegistry` (the HTTP
    client, or its in-memory ``mock://``); tests may pass a dictionary-backed fake."""

    def register(self, subject: str, schema_str: str) -> int:
        """The id of the Avro schema ``schema_str`` under ``subject``, registered if it is new.

        Raises :class:`~streams.core.errors.SchemaError` saying why if the registry refuses
        it; transport failures propagate unchanged."""
        ...

    def lookup(self, schema_id: int) -> str | None:
        """The schema text registered as ``schema_id``, ``None`` if the registry has no such
        id; transport failures propagate unchanged."""
        ...


# A decode plan: writer schema, reader schema (None when it is the writer), "subject vN", and
# the flat layout of the writer schema when it is also the reader's (None: fastavro reads all).
_Plan = tuple[dict[str, Any], dict[str, Any] | None, str, Layout | None]
# An encode plan: the latest schema, its top-level field names, and the message header.
_Writer = tuple[Schema, frozenset[str], bytes]


class _AvroCodec(abc.ABC):
    """The Avro body shared by both framings; subclasses supply the header and its parsing."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self._writers: dict[str, _Writer] = {}
        self._rated_layout: Layout | None = None

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        writer = self._writers.get(subject) or self._writer(subject)
        schema, names, header = writer
        # fastavro's writer silently truncates 1.7 or Decimal("2.5") to a long, writes a str
        # as an array of characters and drops unknown fields: validate before every write.
        try:
            fits = names.issuperset(record) and validate(record, schema.parsed, raise_errors=False)
        except Exception:  # a mapping that misbehaves under validation does not fit either
            fits = False
        if not fits:
            raise EncodeError(_misfit_message(schema, record))
        buffer = io.BytesIO()
        buffer.write(header)
        try:
            fastavro.schemaless_writer(buffer, schema.parsed, record)
        except Exception as exc:  # validated above, so this is fastavro disagreeing with itself
            raise EncodeError(f"{schema.subject}: {exc}") from exc
        return buffer.getvalue()

    def encode_rated(self, record: RatedUsage) -> bytes:
        schema, _, header = self._writers.get("rated_usage") or self._writer("rated_usage")
        layout = self._rated_layout
        if layout is None and schema.fingerprint == RATED_USAGE_FINGERPRINT:
            layout = self._rated_layout = flat_layout(schema.parsed)  # the one it knows
        if layout is not None:
            body = rated_usage_body(record, layout)
            if body is not None:
                return header + body
        return self.encode("rated_usage", record.to_avro())

    @abc.abstractmethod
    def _header(self, schema: Schema) -> bytes:
        """The bytes that precede every body written with ``schema``."""

    def _writer(self, subject: str) -> _Writer:
        schema = self.store.latest(subject)
        names = frozenset(f["name"] for f in schema.parsed["fields"])
        writer = (schema, names, self._header(schema))
        self._writers[subject] = writer
        return writer

    def _plan(self, subject: str, writer: Schema) -> _Plan:
        """How to read ``subject`` written by ``writer``; ``UnknownSchemaError`` if not its own."""
        reader = self.store.latest(subject)  # an unknown subject is the caller's SchemaError
        if writer.subject != subject:
            raise UnknownSchemaError(
                f"{subject}: message was written with {writer.subject} v{writer.version}"
                f" (fingerprint {writer.fingerprint.hex()}), a different subject: wrong topic?"
            )
        label = f"{subject} v{writer.version}"
        if reader.fingerprint == writer.fingerprint:
            return writer.parsed, None, label, flat_layout(writer.parsed)
        return writer.parsed, reader.parsed, label, None

    @staticmethod
    def _read(plan: _Plan, data: bytes, offset: int) -> dict[str, Any]:
        writer, reader, label, layout = plan
        if layout is not None:
            record = read_flat(layout, data, offset)
            if record is not None:
                return record
        # fastavro: a schema to resolve, a field read_flat leaves to it, or a corrupt body
        buffer = io.BytesIO(data)
        buffer.seek(offset)
        try:
            read = fastavro.schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # fastavro raises EOFError, IndexError, UnicodeDecodeError...
            raise CorruptMessageError(
                f"body does not decode as {label}: {type(exc).__name__}: {exc}"
            ) from exc
        end = buffer.tell()
        if end != len(data):
            raise CorruptMessageError(
                f"{len(data) - end} trailing bytes after the {label} body"
                f" ({len(data)}-byte message, body ends at byte {end})"
            )
        return read  # type: ignore[return-value]  # a record schema always reads as a dict


class SingleObjectCodec(_AvroCodec):
    """Avro single-object encoding: ``C3 01`` + 8-byte LE CRC-64-AVRO fingerprint + body."""

    def __init__(self, store: SchemaStore | None = None) -> None:
        super().__init__(store or SchemaStore.default())
        self._plans: dict[tuple[str, bytes], _Plan] = {}

    def decode(self, subject: str, data: bytes) -> dict[str, Any]:
        data = _as_bytes(data)
        if data[:2] != SINGLE_OBJECT_MAGIC or len(data) < _SINGLE_HEADER:
            raise CorruptMessageError(_bad_header(data, "Avro single-object encoding"))
        key = (subject, data[2:_SINGLE_HEADER])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(subject, self.store.by_fingerprint(key[1]))
        return self._read(plan, data, _SINGLE_HEADER)

    def _header(self, schema: Schema) -> bytes:
        return SINGLE_OBJECT_MAGIC + schema.fingerprint


class ConfluentCodec(_AvroCodec):
    """Confluent wire format: ``00`` + 4-byte big-endian registry schema id + body.

    Each subject's latest schema is registered as ``bilat.<subject>`` on its first encode (a
    registry that refuses it raises ``SchemaError``). A schema id read from a message is
    fetched once and must be a schema of the local store: the registry only names it.
    Messages in single-object encoding are decoded too. Registry transport failures are not
    about the message and propagate unchanged. ``url`` names the registry in messages only.
    """

    def __init__(self, store: SchemaStore, client: RegistryClient, url: str = "") -> None:
        super().__init__(store)
        self.client = client
        self.url = redact_url(url)  # only ever shown in messages: no credentials there
        self._single = SingleObjectCodec(store)
        self._by_id: dict[int, Schema] = {}
        self._plans: dict[tuple[str, int], _Plan] = {}

    def decode(self, subject: str, data: bytes) -> dict[str, Any]:
        data = _as_bytes(data)
        if data[:1] != CONFLUENT_MAGIC or len(data) < _CONFLUENT_HEADER:
            if data[:2] == SINGLE_OBJECT_MAGIC:
                return self._single.decode(subject, data)
            raise CorruptMessageError(_bad_header(data, "Confluent wire format"))
        key = (subject, int.from_bytes(data[1:_CONFLUENT_HEADER], "big"))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(subject, self._schema_of(key[1]))
        return self._read(plan, data, _CONFLUENT_HEADER)

    def _header(self, schema: Schema) -> bytes:
        name = f"bilat.{schema.subject}"
        try:
            schema_id = self.client.register(name, json.dumps(schema.raw))
        except SchemaError as exc:
            raise SchemaError(
                f"registry {self.url} refused {name} ({schema.subject} v{schema.version}): "
                f"{redact_text(str(exc))}"
            ) from exc
        self._by_id[schema_id] = schema
        return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")

    def _schema_of(self, schema_id: int) -> Schema:
        """The local schema the registry's ``schema_id`` names; ``UnknownSchemaError`` if none."""
        known = self._by_id.get(schema_id)
        if known is not None:
            return known
        where = f"schema id {schema_id} of registry {self.url}"
        registered = self.client.lookup(schema_id)
        if registered is None:
            raise UnknownSchemaError(f"{where} is not registered there")
        try:
            canonical = fastavro.schema.to_parsing_canonical_form(json.loads(registered))
            fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        except Exception as exc:  # whatever the registry holds, it is not one of our schemas
            raise UnknownSchemaError(f"{where} is not an Avro schema: {exc}") from exc
        try:
            schema = self.store.by_fingerprint(fingerprint)
        except UnknownSchemaError as exc:
            raise UnknownSchemaError(f"{where}: {exc}") from exc
        self._by_id[schema_id] = schema
        return schema


def _as_bytes(data: Any) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise CorruptMessageError(f"got a {type(data).__name__} message value, want bytes")


def _bad_header(data: bytes, framing: str) -> str:
    want = SINGLE_OBJECT_MAGIC.hex() if framing.startswith("Avro") else CONFLUENT_MAGIC.hex()
    size = _SINGLE_HEADER if framing.startswith("Avro") else _CONFLUENT_HEADER
    if len(data) < size and data[: len(want) // 2].hex() == want:
        return f"got a {len(data)}-byte message, want at least the {size}-byte {framing} header"
    return f"got header {data[:2].hex() or '(empty)'}, want {want} ({framing})"


# --- why a record does not fit: the slow path, only taken once validation has failed --------


def _misfit_message(schema: Schema, record: Any) -> str:
    named = schema.parsed.get("__named_schemas", {})
    problems = _misfits(record, schema.parsed, named, "")
    if not problems:  # our walker is laxer than fastavro somewhere: fall back on its words
        try:
            validate(record, schema.parsed, raise_errors=True)
            problems = ["fastavro rejects it without naming a field"]
        except Exception as exc:
            problems = [str(exc)]
    return f"{schema.subject}: " + "; ".join(problems)


def _misfits(value: Any, schema: Any, named: Mapping[str, Any], path: str) -> list[str]:
    """Every way ``value`` does not fit ``schema``, each as ``field 'p': got G, want W``."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    at = f"field '{path}'" if path else "record"
    if isinstance(schema, list):
        if value is None:
            return [] if "null" in schema else [f"{at}: got None, want {_want(schema)}"]
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:  # an optional T: say exactly what inside T is wrong
            return _misfits(value, branches[0], named, path)
        if any(not _misfits(value, b, named, path) for b in branches):
            return []
        return [f"{at}: got {_show(value)}, want {_want(schema)}"]
    kind = schema["type"] if isinstance(schema, dict) else schema
    if kind == "record":
        if not isinstance(value, Mapping):
            return [f"{at}: got {_show(value)}, want a mapping (record {schema['name']})"]
        problems = []
        for field in schema["fields"]:
            name, sub = field["name"], f"{path}.{field['name']}" if path else field["name"]
            if name in value:
                problems.extend(_misfits(value[name], field["type"], named, sub))
            elif "default" not in field:
                problems.append(f"field '{sub}': missing, want {_want(field['type'])}")
        known = {field["name"] for field in schema["fields"]}
        for extra in (key for key in value if key not in known):
            where = f"{path}.{extra}" if path else str(extra)
            problems.append(f"field '{where}': not in {schema['name']}, want no such field")
        return problems
    if kind == "array":
        if not isinstance(value, Sequence) or isinstance(value, str):
            return [f"{at}: got {_show(value)}, want a list ({_want(schema)})"]
        return [
            p
            for i, v in enumerate(value)
            for p in _misfits(v, schema["items"], named, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            return [f"{at}: got {_show(value)}, want a mapping with str keys ({_want(schema)})"]
        return [
            p
            for k, v in value.items()
            for p in _misfits(v, schema["values"], named, f"{path}[{k!r}]")
        ]
    if kind == "enum":
        ok = value in schema["symbols"] if isinstance(value, str) else False
    elif kind == "fixed":
        ok = isinstance(value, (bytes, bytearray)) and len(value) == schema["size"]
    else:
        ok = _PRIMITIVE_FITS[kind](value)
    if ok:
        return []
    want = _want(schema)
    if kind in _RANGES and isinstance(value, int) and not isinstance(value, bool):  # too big
        want = f"{want} in {_RANGES[kind]}"
    return [f"{at}: got {_show(value)}, want {want}"]


def _is_int(value: Any, bits: int) -> bool:
    limit = 1 << (bits - 1)
    return isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit


_PRIMITIVE_FITS: dict[str, Any] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: _is_int(v, 32),
    "long": lambda v: _is_int(v, 64),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bytes": lambda v: isinstance(v, (bytes, bytearray)),
    "string": lambda v: isinstance(v, str),
}
_RANGES = {"int": "-2^31..2^31-1", "long": "-2^63..2^63-1"}


def _want(schema: Any) -> str:
    if isinstance(schema, list):
        return " or ".join(_want(branch) for branch in schema)
    kind = schema["type"] if isinstance(schema, dict) else schema
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {schema['name']}" if isinstance(schema, dict) else str(kind)
    if kind in ("array", "map"):
        return f"{kind} of {_want(schema['items' if kind == 'array' else 'values'])}"
    return str(kind)


def _show(value: Any) -> str:
    text = repr(value)
    return f"{text if len(text) <= 60 else text[:57] + '...'} ({type(value).__name__})"
