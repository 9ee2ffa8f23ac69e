"""The schemas in ``schemas/`` follow the contract of ``schemas/README.md``, and the store and
the compatibility checker behave as documented."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastavro.validation import validate

from streams.contract.compat import (
    check_backward_compatible,
    compatibility_problems,
    sample_records,
)
from streams.contract.schemas import Schema, SchemaStore, default_schema_dir
from streams.core.errors import SchemaError, UnknownSchemaError

STORE = SchemaStore.default()
SUBJECTS = [
    "batch_digest",
    "batch_leaves",
    "cosign_request",
    "dead_letter",
    "ledger_entry",
    "ledger_request",
    "rated_usage",
    "recon_alert",
    "recon_answer",
    "recon_request",
    "settle_document",
    "sonata_order_event",
    "usage_record",
]
# Computed with the Java reference implementation (org.apache.avro 1.12.0,
# SchemaNormalization.parsingFingerprint64, written little-endian). A published version must
# never change: partners identify it by exactly these bytes.
# Subjects added later (batch_leaves, cosign_request, recon_answer, recon_request) carry
# fastavro's values, which matched Java for all the others.
V1_FINGERPRINTS = {
    "batch_leaves": "96d1edae4fdbb91c",
    "cosign_request": "8f2b27d435a78186",
    "ledger_request": "7a88f48eb6efb4d7",
    "settle_document": "90e0ab1b50d0ee0c",
    "recon_answer": "aafae9aaadd24c64",
    "recon_request": "1c96d8e277f32b74",
    "batch_digest": "b06f105ce47660be",
    "dead_letter": "7d38aecd8f3d8688",
    "ledger_entry": "1538b092df945425",
    "rated_usage": "a14c5b7b5ef8ca94",
    "recon_alert": "1c6c66188ad5e75a",
    "sonata_order_event": "e2a6a33800c1391a",
    "usage_record": "ae607d961e9022b3",
}
LATER_FINGERPRINTS = {
    ("rated_usage", 2): "ecb7c360ef2adfb4",
    ("dead_letter", 2): "94fe17f54596a141",
    ("batch_leaves", 2): "eedfd8f0a1de82cd",
    ("batch_leaves", 3): "710ccdbb79e6957b",
    ("batch_leaves", 4): "7d25f8ceabafe54f",
    ("recon_alert", 2): "cd85bbe4c2bca156",
    ("rated_usage", 3): "6ba30746851145eb",
}
"""Every version after v1, pinned as they are published (fastavro's values)."""
MONEY_AND_QUANTITIES = {
    "amount",
    "quantity",
    "billed_quantity",
    "here_value",
    "partner_value",
    "delta",
}


def all_schemas() -> list[Schema]:
    return [STORE.get(s, v) for s in STORE.subjects() for v in STORE.versions(s)]


def walk_fields(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field of every record in the raw JSON ``schema``, with its dotted path."""
    if isinstance(schema, list):
        for branch in schema:
            yield from walk_fields(branch, path)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                sub = f"{path}.{field['name']}" if path else field["name"]
                yield sub, field
                yield from walk_fields(field["type"], sub)
        elif schema.get("type") == "array":
            yield from walk_fields(schema["items"], f"{path}[]")
        elif schema.get("type") == "map":
            yield from walk_fields(schema["values"], f"{path}{{}}")


def walk_types(schema: Any) -> Iterator[Any]:
    """Every type node (including named-type references) in the raw JSON ``schema``."""
    yield schema
    if isinstance(schema, list):
        for branch in schema:
            yield from walk_types(branch)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                yield from walk_types(field["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from walk_types(schema[key])
        if isinstance(schema.get("type"), (dict, list)):
            yield from walk_types(schema["type"])


def is_timestamp(node: Any) -> bool:
    return isinstance(node, dict) and node.get("logicalType") == "timestamp-millis"


# --- the store ------------------------------------------------------------------------------


def test_default_store_holds_every_subject_at_v1() -> None:
    assert STORE.subjects() == SUBJECTS
    assert STORE.root == default_schema_dir()
    for subject in SUBJECTS:
        assert STORE.versions(subject)[0] == 1
        assert STORE.latest(subject) == STORE.get(subject, STORE.versions(subject)[-1])


def test_default_store_is_loaded_once() -> None:
    assert SchemaStore.default() is SchemaStore.default()


@pytest.mark.parametrize("subject", SUBJECTS)
def test_v1_fingerprint_is_pinned(subject: str) -> None:
    schema = STORE.get(subject, 1)
    assert schema.fingerprint.hex() == V1_FINGERPRINTS[subject]
    assert STORE.by_fingerprint(schema.fingerprint) is schema


def test_every_later_version_is_pinned() -> None:
    later = {(s, v) for s in STORE.subjects() for v in STORE.versions(s) if v > 1}
    assert later == set(LATER_FINGERPRINTS), "pin a new version's fingerprint here"
    for (subject, version), fingerprint in LATER_FINGERPRINTS.items():
        assert STORE.get(subject, version).fingerprint.hex() == fingerprint


def test_canonical_form_drops_docs_and_logical_types() -> None:
    schema = STORE.get("usage_record", 1)
    assert '"doc"' not in schema.canonical_form
    assert "logicalType" not in schema.canonical_form
    assert schema.canonical_form.startswith('{"name":"bilat.UsageRecord","type":"record"')
    assert '{"name":"start_ms","type":"long"}' in schema.canonical_form


def test_parsed_schema_is_physical_so_times_stay_ints() -> None:
    for schema in all_schemas():
        assert "logicalType" not in json.dumps(schema.parsed)
        assert "logicalType" in json.dumps(schema.raw)


def test_unknown_fingerprint_names_it_and_the_known_subjects() -> None:
    with pytest.raises(UnknownSchemaError) as info:
        STORE.by_fingerprint(bytes.fromhex("0011223344556677"))
    assert "0011223344556677" in str(info.value)
    assert "usage_record v1" in str(info.value)
    assert "dead_letter" in str(info.value)


def test_unknown_subject_or_version_is_a_schema_error() -> None:
    with pytest.raises(
        SchemaError, match=r"no schema subject 'usage_recrd'.*known: .*usage_record"
    ):
        STORE.latest("usage_recrd")
    with pytest.raises(SchemaError, match=r"got version 9, want 1\.\.1"):
        STORE.get("usage_record", 9)


def write(root: Path, subject: str, version: int, schema: Any) -> None:
    folder = root / subject
    folder.mkdir(parents=True, exist_ok=True)
    text = schema if isinstance(schema, str) else json.dumps(schema)
    (folder / f"v{version}.avsc").write_text(text, encoding="utf-8")


def record(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "bilat", "fields": list(fields)}


A = record("A", {"name": "a", "type": "long"})


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "holds no <subject>/v<N>.avsc"),
        ({("a", "v1.avsc"): "{not json"}, r"v1.avsc: cannot read schema JSON"),
        ({("a", "v1.avsc"): A, ("a", "v3.avsc"): A}, r"got versions \[1, 3\], want 1..N"),
        ({("a", "v1.avsc"): A, ("a", "notes.txt"): "x"}, r"got file 'notes.txt', want v<N>.avsc"),
        ({("Bad-Name", "v1.avsc"): A}, "got subject 'Bad-Name', want snake_case"),
        ({("a", "v1.avsc"): '"long"'}, "a v1: got top-level type 'long', want a record"),
        ({("a", "v1.avsc"): record("A", {"name": "a", "type": "lng"})}, "a v1: not a valid Avro"),
        ({("a", "v1.avsc"): A, ("b", "v1.avsc"): A}, "b v1 and a v1 have the same canonical form"),
    ],
)
def test_broken_schema_directories_are_refused(
    tmp_path: Path, layout: dict[tuple[str, str], Any], message: str
) -> None:
    for (subject, name), content in layout.items():
        (tmp_path / subject).mkdir(exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        (tmp_path / subject / name).write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError, match=message):
        SchemaStore(tmp_path)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="does not exist"):
        SchemaStore(tmp_path / "nope")


def test_doc_only_change_shares_a_fingerprint_and_resolves_to_the_later_version(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a", 1, A)
    write(tmp_path, "a", 2, {**A, "doc": "now documented"})
    store = SchemaStore(tmp_path)
    assert store.get("a", 1).fingerprint == store.get("a", 2).fingerprint
    assert store.by_fingerprint(store.get("a", 1).fingerprint).version == 2


# --- every schema follows the contract ------------------------------------------------------


@pytest.mark.parametrize("schema", all_schemas(), ids=lambda s: f"{s.subject}-v{s.version}")
def test_names_and_docs(schema: Schema) -> None:
    camel = "".join(part.capitalize() for part in schema.subject.split("_"))
    assert schema.raw["namespace"] == "bilat"
    assert schema.full_name == f"bilat.{camel}"
    assert schema.raw.get("doc", "").strip(), "the record needs a doc"
    for path, field in walk_fields(schema.raw):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", field["name"]), path
        assert field.get("doc", "").strip(), f"field '{path}' needs a doc"
    for node in walk_types(schema.raw):
        if isinstance(node, dict) and node.get("type") == "record":
            assert node.get("doc", "").strip(), f"record {node['name']} needs a doc"


@pytest.mark.parametrize("schema", all_schemas(), ids=lambda s: f"{s.subject}-v{s.version}")
def test_no_floats_enums_or_foreign_logical_types(schema: Schema) -> None:
    for node in walk_types(schema.raw):
        kind = node.get("type") if isinstance(node, dict) else node
        assert kind not in ("float", "double"), "money and quantities are decimal strings"
        assert kind != "enum", "enums cannot evolve safely between partners: use a string"
        if isinstance(node, dict) and "logicalType" in node:
            assert node == {"type": "long", "logicalType": "timestamp-millis"}


@pytest.mark.parametrize("schema", all_schemas(), ids=lambda s: f"{s.subject}-v{s.version}")
def test_times_money_and_optionals(schema: Schema) -> None:
    for path, field in walk_fields(schema.raw):
        name, kind = field["name"], field["type"]
        if isinstance(kind, list):  # optional: ["null", T] with default null
            assert len(kind) == 2 and kind[0] == "null", f"field '{path}'"
            assert "default" in field and field["default"] is None, f"field '{path}'"
            kind = kind[1]
        if name.endswith("_ms"):
            assert is_timestamp(kind), f"field '{path}' must be long timestamp-millis"
        else:
            assert not is_timestamp(kind), f"timestamp field '{path}' must end in _ms"
        if name in MONEY_AND_QUANTITIES:
            assert kind == "string", f"field '{path}' must be a decimal string"


# --- compatibility --------------------------------------------------------------------------


def test_every_consecutive_version_pair_is_backward_compatible() -> None:
    for subject in STORE.subjects():
        versions = STORE.versions(subject)
        for old, new in itertools.pairwise(versions):
            check_backward_compatible(STORE.get(subject, old), STORE.get(subject, new))


@pytest.mark.parametrize("schema", all_schemas(), ids=lambda s: f"{s.subject}-v{s.version}")
def test_samples_are_valid_and_every_schema_reads_itself(schema: Schema) -> None:
    samples = sample_records(schema)
    assert len(samples) == 2
    for sample in samples:
        assert validate(sample, schema.parsed, raise_errors=True)
    assert compatibility_problems(schema, schema) == []


def evolve(base: dict[str, Any], change: Any) -> tuple[Schema, Schema]:
    new = copy.deepcopy(base)
    change(new)
    return Schema.from_json("t", 1, base), Schema.from_json("t", 2, new)


USAGE_V1 = STORE.get("usage_record", 1).raw
SONATA_V1 = STORE.get("sonata_order_event", 1).raw


def field_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def add(field: dict[str, Any]) -> Any:
    return lambda s: s["fields"].append({"doc": "new", **field})


COMPATIBLE = {
    "optional field added": add({"name": "cell_id", "type": ["null", "string"], "default": None}),
    "field with a default added": add({"name": "tax", "type": "string", "default": "standard"}),
    "field removed": lambda s: s["fields"].remove(field_of(s, "raw_ref")),
    "required made optional": lambda s: field_of(s, "partner").update(type=["null", "string"]),
    "doc changed": lambda s: field_of(s, "source").update(doc="changed"),
}


@pytest.mark.parametrize("change", list(COMPATIBLE))
def test_compatible_changes_pass(change: str) -> None:
    old, new = evolve(USAGE_V1, COMPATIBLE[change])
    assert compatibility_problems(old, new) == []
    check_backward_compatible(old, new)


def test_promotion_passes_and_demotion_fails() -> None:
    narrow = record("P", {"name": "n", "type": "int"})
    wide = record("P", {"name": "n", "type": "long"})
    assert (
        compatibility_problems(Schema.from_json("p", 1, narrow), Schema.from_json("p", 2, wide))
        == []
    )
    problems = compatibility_problems(
        Schema.from_json("p", 1, wide), Schema.from_json("p", 2, narrow)
    )
    assert problems == ["field 'n': type changed from long to int, which Avro cannot promote"]


INCOMPATIBLE = {
    "field added without a default": (
        add({"name": "cell_id", "type": "string"}),
        ["field 'cell_id': added without a default"],
    ),
    "type changed": (
        lambda s: field_of(s, "quantity").update(type="long"),
        ["field 'quantity': type changed from string to long, which Avro cannot promote"],
    ),
    "optional made required": (
        lambda s: field_of(s, "b_number").update(type="string", default="0"),
        ["field 'b_number': writer union branch null cannot be read as reader type string"],
    ),
    "two problems at once": (
        lambda s: (
            field_of(s, "start_ms").update(type="string"),
            s["fields"].append({"name": "cell", "type": "string", "doc": "x"}),
        ),
        [
            "field 'start_ms': type changed from long to string, which Avro cannot promote",
            "field 'cell': added without a default",
        ],
    ),
    "record renamed without an alias": (
        lambda s: s.update(name="Usage"),
        ["top level: record bilat.UsageRecord renamed to bilat.Usage without an alias"],
    ),
}


@pytest.mark.parametrize("change", list(INCOMPATIBLE))
def test_incompatible_changes_are_reported_with_the_field(change: str) -> None:
    mutate, expected = INCOMPATIBLE[change]
    old, new = evolve(USAGE_V1, mutate)
    assert compatibility_problems(old, new) == expected
    with pytest.raises(SchemaError, match="t v2 cannot read data written with v1") as info:
        check_backward_compatible(old, new)
    for problem in expected:
        assert problem in str(info.value)


def test_nested_field_added_without_a_default_is_reported_with_its_path() -> None:
    def mutate(schema: dict[str, Any]) -> None:
        item = field_of(schema, "charge_items")["type"]["items"]
        item["fields"].append({"name": "unit_of_measure", "type": "string", "doc": "x"})

    old, new = evolve(SONATA_V1, mutate)
    assert compatibility_problems(old, new) == [
        "field 'charge_items[].unit_of_measure': added without a default"
    ]


def test_renamed_record_with_an_alias_and_renamed_field_with_an_alias_pass() -> None:
    def mutate(schema: dict[str, Any]) -> None:
        schema.update(name="Usage", aliases=["bilat.UsageRecord"])
        field_of(schema, "raw_ref").update(name="raw_reference", aliases=["raw_ref"])

    old, new = evolve(USAGE_V1, mutate)
    assert compatibility_problems(old, new) == []


def test_samples_catch_what_the_structural_rules_would_miss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.contract.compat

    monkeypatch.setattr(streams.contract.compat._Resolution, "compare", lambda *args: [])
    old, new = evolve(USAGE_V1, INCOMPATIBLE["field added without a default"][0])
    problems = compatibility_problems(old, new)
    assert len(problems) == 2  # both samples fail
    for problem in problems:
        assert problem.startswith("a v1 sample does not resolve into v2: ")
        assert "cell_id" in problem
