"""Codecs: round trips of every subject in both framings, schema evolution on read, and every
way a message or a record can be wrong."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.codec import (
    CONFLUENT_MAGIC,
    SINGLE_OBJECT_MAGIC,
    Codec,
    ConfluentCodec,
    SingleObjectCodec,
)
from streams.contract.compat import check_backward_compatible
from streams.contract.schemas import SchemaStore, default_schema_dir
from streams.core.errors import (
    CodecError,
    CorruptMessageError,
    EncodeError,
    SchemaError,
    UnknownSchemaError,
)

STORE = SchemaStore.default()
PAYLOAD = b'{"agreement_id":"hgc-dcc-2026","version":"3"}'

EXAMPLES: dict[str, dict[str, Any]] = {
    "usage_record": {
        "source": "hgc-msc-01",
        "record_id": "r-000017",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "voice",
        "product_id": None,
        "a_number": "85291234567",
        "b_number": "4930123456",
        "start_ms": 1_764_028_800_123,
        "quantity": "63",
        "unit": "second",
        "direction": "outbound",
        "raw_ref": "cdr-2026-11-25.csv:17",
    },
    "sonata_order_event": {
        "event_id": "evt-8812",
        "event_type": "productOrderItemStateChangeEvent",
        "event_time_ms": 1_764_028_800_000,
        "order_id": "PO-2026-0042",
        "order_item_id": "1",
        "state": "completed",
        "action": "add",
        "product_id": "IPVPN-HK-DE-0007",
        "product_offering_id": None,
        "completion_date_ms": 1_764_028_790_000,
        "buyer_id": "hgc",
        "seller_id": "dcc",
        "charge_items": [
            {
                "charge_id": "CH-77",
                "charge_item_id": "1",
                "state": "acceptedByBuyer",
                "price_type": "recurring",
                "recurring_charge_period": "month",
                "price_category": None,
                "amount": "1250.0000",
                "currency": "USD",
            },
            {
                "charge_id": "CH-77",
                "charge_item_id": "2",
                "state": "acceptedByBuyer",
                "price_type": "nonRecurring",
                "recurring_charge_period": None,
                "price_category": "connection",
                "amount": "300.00",
                "currency": "USD",
            },
        ],
    },
    "rated_usage": {
        "source": "hgc-msc-01",
        "record_id": "r-000017",
        "agreement_id": "hgc-dcc-2026",
        "agreement_version": "3",
        "rate_id": "voice-out-de-fixed",
        "product": "voice",
        "product_id": None,
        "start_ms": 1_764_028_800_123,
        "quantity": "63",
        "unit": "second",
        "billed_quantity": "120",
        "billed_unit": "second",
        "amount": "0.0240",
        "currency": "USD",
        "direction": "outbound",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "rated_at_ms": 1_764_032_460_512,
        "leaf_hash": hashlib.sha256(b"leaf").digest(),
        "supersedes": "live",
        "run_id": "rr-0123456789abcdef",
        "correlation_key": None,
    },
    "ledger_entry": {
        "party": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "sequence": 0,
        "kind": "genesis",
        "prev_hash": bytes(32),
        "payload": PAYLOAD,
        "payload_hash": hashlib.sha256(PAYLOAD).digest(),
        "key_id": "hgc-2026-01",
        "signature": bytes(range(64)),
        "time_ms": 1_764_028_800_000,
    },
    "batch_digest": {
        "party": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 1,
        "depth": 2,
        "bucket_hashes": [hashlib.sha256(bytes([i])).digest() for i in range(4)],
        "leaf_count": 18_442,
        "root": hashlib.sha256(b"root").digest(),
        "anchor_sequence": 7,
    },
    "batch_leaves": {
        "party": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 0,
        "depth": 8,
        "root": hashlib.sha256(b"root").digest(),
        "anchor_sequence": 3,
        "part": 0,
        "parts": 1,
        "leaves": [
            {
                "usage_key": "hgc-msc-01/r-000017",
                "leaf_hash": hashlib.sha256(b"leaf").digest(),
                "amount": "0.0240",
                "currency": "USD",
                "agreement_version": "3",
                "start_ms": 1_764_029_000_000,
                "quantity": "125",
                "unit": "second",
                "rate_id": "voice-peak",
                "product_id": "PRD-VOICE-0001",
                "direction": "inbound",
            }
        ],
    },
    "ledger_request": {
        "request_id": "dispute:hgc-dcc-2026-2026-03-EUR/d1",
        "party": "dcc",
        "agreement_id": "hgc-dcc-2026",
        "kind": "dispute",
        "payload": '{"bill_id":"hgc-dcc-2026-2026-03-EUR"}',
        "requested_ms": 1_764_032_520_000,
    },
    "settle_document": {
        "document_id": "hgc-dcc-2026-2026-03-EUR",
        "kind": "statement",
        "party": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "hash": hashlib.sha256(b"statement").digest(),
        "body": '{"id":"hgc-dcc-2026-2026-03-EUR"}',
        "published_ms": 1_764_032_520_000,
    },
    "cosign_request": {
        "party": "dcc",
        "partner": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 0,
        "root": hashlib.sha256(b"root").digest(),
        "partner_sequence": 4,
        "partner_entry_hash": hashlib.sha256(b"entry").digest(),
        "anchor_sequence": 5,
        "requested_ms": 1_764_032_520_000,
    },
    "recon_request": {
        "request_id": "ab" * 32,
        "party": "dcc",
        "partner": "hgc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 0,
        "root": hashlib.sha256(b"root").digest(),
        "buckets": [3, 17],
        "requested_ms": 1_764_032_520_000,
    },
    "recon_answer": {
        "request_id": "ab" * 32,
        "party": "hgc",
        "partner": "dcc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 0,
        "root": hashlib.sha256(b"root").digest(),
        "part": 0,
        "parts": 1,
        "status": "ok",
        "buckets": [
            {
                "bucket": 3,
                "leaves": [
                    {
                        "usage_key": "hgc-msc-01/r-000017",
                        "start_ms": 1_764_029_000_000,
                        "quantity": "125",
                        "unit": "second",
                        "amount": "0.0240",
                        "currency": "USD",
                        "agreement_version": "3",
                        "rate_id": "voice-peak",
                    }
                ],
            }
        ],
        "answered_ms": 1_764_032_530_000,
    },
    "recon_alert": {
        "alert_id": "hgc-dcc-2026/1764028800000/1/amount-mismatch/hgc-msc-01/r-000017",
        "party": "hgc",
        "partner": "dcc",
        "agreement_id": "hgc-dcc-2026",
        "window_start_ms": 1_764_028_800_000,
        "window_end_ms": 1_764_032_400_000,
        "revision": 1,
        "kind": "amount-mismatch",
        "severity": "warning",
        "record_keys": ["hgc-msc-01/r-000017"],
        "here_value": "0.0240",
        "partner_value": "0.0252",
        "delta": "-0.0012",
        "detail": "amount got 0.0240 here, 0.0252 at dcc",
        "currency": "USD",
        "at_stake": "0.0012",
        "facts": {"here_rate_id": "voice-peak", "partner_rate_id": "voice-offpeak"},
        "here_proof": None,
        "partner_proof": None,
        "detected_ms": 1_764_032_520_000,
    },
    "dead_letter": {
        "original": b"\xc3\x01garbage",
        "original_size": 9,
        "original_sha256": bytes(range(32)),
        "key": None,
        "source_topic": "hgc.usage.cdr",
        "source_partition": 3,
        "source_offset": 1_204_557,
        "stage": "validate",
        "error_code": "invalid-usage",
        "error_message": "invalid-usage: 2 problems",
        "errors": [
            "field 'quantity': got '-3', want a decimal >= 0",
            "field 'unit': got 'minute', want one of second, message, byte",
        ],
        "failed_ms": 1_764_028_801_000,
    },
}
# One UsageRecord message, byte for byte: what a partner must produce for EXAMPLES["usage_record"].
USAGE_WIRE = (
    "c301ae607d961e9022b3146867632d6d73632d303110722d303030303137186867632d6463632d32303236"
    "066463630a766f6963650002163835323931323334353637021434393330313233343536f6f1fa84d76604"
    "36330c7365636f6e64106f7574626f756e64022a6364722d323032362d31312d32352e6373763a3137"
)


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec(STORE)


def test_examples_cover_every_subject() -> None:
    assert sorted(EXAMPLES) == STORE.subjects()


@pytest.mark.parametrize("subject", sorted(EXAMPLES))
def test_single_object_round_trip(codec: SingleObjectCodec, subject: str) -> None:
    data = codec.encode(subject, EXAMPLES[subject])
    assert data[:2] == SINGLE_OBJECT_MAGIC
    assert data[2:10] == STORE.latest(subject).fingerprint
    assert codec.decode(subject, data) == EXAMPLES[subject]


def test_usage_record_wire_bytes_are_pinned(codec: SingleObjectCodec) -> None:
    assert codec.encode("usage_record", EXAMPLES["usage_record"]).hex() == USAGE_WIRE
    assert codec.decode("usage_record", bytes.fromhex(USAGE_WIRE)) == EXAMPLES["usage_record"]


def test_omitted_optionals_decode_as_null(codec: SingleObjectCodec) -> None:
    sparse = {k: v for k, v in EXAMPLES["usage_record"].items() if v is not None}
    del sparse["raw_ref"], sparse["a_number"]
    decoded = codec.decode("usage_record", codec.encode("usage_record", sparse))
    assert decoded == {**EXAMPLES["usage_record"], "raw_ref": None, "a_number": None}


def test_decode_accepts_bytearray_and_memoryview(codec: SingleObjectCodec) -> None:
    data = codec.encode("usage_record", EXAMPLES["usage_record"])
    assert codec.decode("usage_record", bytearray(data)) == EXAMPLES["usage_record"]  # type: ignore[arg-type]
    assert codec.decode("usage_record", memoryview(data)) == EXAMPLES["usage_record"]  # type: ignore[arg-type]


# --- corrupt messages -----------------------------------------------------------------------


def usage_message() -> bytes:
    return SingleObjectCodec(STORE).encode("usage_record", EXAMPLES["usage_record"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"got header \(empty\), want c301 \(Avro single-object encoding\)"),
        (b'{"source": "x"}', r"got header 7b22, want c301 \(Avro single-object encoding\)"),
        (b"\x00\x00\x00\x00\x01" + b"\x02", r"got header 0000, want c301"),
        (b"\xc3\x01\xae\x60", r"got a 4-byte message, want at least the 10-byte Avro single"),
        (usage_message()[:30], r"body does not decode as usage_record v1: EOFError"),
        (usage_message() + b"\x00\x01", r"2 trailing bytes after the usage_record v1 body"),
        (
            usage_message().replace(b"hgc-msc-01", b"hgc-msc-\xff\xfe"),
            r"body does not decode as usage_record v1: UnicodeDecodeError",
        ),
        (
            usage_message().replace(b"\x02\x16" + b"85291234567", b"\x08\x16" + b"85291234567"),
            r"body does not decode as usage_record v1",  # union branch 4 of 2
        ),
    ],
    ids=["empty", "json", "confluent", "short", "truncated", "trailing", "utf8", "union"],
)
def test_corrupt_messages(codec: SingleObjectCodec, data: bytes, message: str) -> None:
    with pytest.raises(CorruptMessageError, match=message):
        codec.decode("usage_record", data)


def test_a_missing_value_is_corrupt_not_a_crash(codec: SingleObjectCodec) -> None:
    with pytest.raises(CorruptMessageError, match="got a NoneType message value, want bytes"):
        codec.decode("usage_record", None)  # type: ignore[arg-type]  # a Kafka tombstone


def test_unknown_fingerprint(codec: SingleObjectCodec) -> None:
    data = SINGLE_OBJECT_MAGIC + bytes.fromhex("0123456789abcdef") + b"\x00"
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode("usage_record", data)
    assert "0123456789abcdef" in str(info.value)
    assert "usage_record v1" in str(info.value) and "ledger_entry v1" in str(info.value)


def test_a_message_of_another_subject_is_refused(codec: SingleObjectCodec) -> None:
    data = codec.encode("ledger_entry", EXAMPLES["ledger_entry"])
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode("usage_record", data)
    assert "written with ledger_entry v1" in str(info.value)
    assert "usage_record" in str(info.value) and "different subject" in str(info.value)


def test_unknown_subject_is_a_caller_bug(codec: SingleObjectCodec) -> None:
    with pytest.raises(SchemaError, match="no schema subject 'usage'"):
        codec.encode("usage", EXAMPLES["usage_record"])
    with pytest.raises(SchemaError, match="no schema subject 'usage'"):
        codec.decode("usage", usage_message())


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=120), cut=st.integers(min_value=0, max_value=200))
def test_any_bytes_decode_or_raise_a_codec_error(body: bytes, cut: int) -> None:
    codec = SingleObjectCodec(STORE)
    good = usage_message()
    for data in (good[:10] + body, good[:cut] + body, body):
        try:
            record = codec.decode("usage_record", data)
        except CodecError:
            continue  # anything else escaping fails the test
        assert set(record) == set(EXAMPLES["usage_record"])


# --- records that do not fit ----------------------------------------------------------------


def broken(subject: str, **changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLES[subject])
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("subject", "record", "problems"),
    [
        (
            "usage_record",
            broken("usage_record", start_ms="abc", quantity=1.5),
            [
                "field 'start_ms': got 'abc' (str), want long",
                "field 'quantity': got 1.5 (float), want string",
            ],
        ),
        (  # fastavro's writer alone would silently write 1 and 2 here
            "usage_record",
            broken("usage_record", start_ms=1.7, quantity="63", product_id=True),
            [
                "field 'start_ms': got 1.7 (float), want long",
                "field 'product_id': got True (bool), want string",
            ],
        ),
        (
            "ledger_entry",
            broken("ledger_entry", sequence=2**63, signature="not bytes"),
            [
                "field 'sequence': got 9223372036854775808 (int), want long in -2^63..2^63-1",
                "field 'signature': got 'not bytes' (str), want bytes",
            ],
        ),
        (  # a string would otherwise be written as an array of its characters
            "recon_alert",
            broken("recon_alert", record_keys="hgc-msc-01/r-1", revision=None),
            [
                "field 'revision': got None (NoneType), want int",
                "field 'record_keys': got 'hgc-msc-01/r-1' (str), want a list (array of string)",
            ],
        ),
        (
            "sonata_order_event",
            broken("sonata_order_event", extra="x"),
            ["field 'extra': not in bilat.SonataOrderEvent, want no such field"],
        ),
        (
            "usage_record",
            {k: v for k, v in EXAMPLES["usage_record"].items() if k not in ("source", "unit")},
            ["field 'source': missing, want string", "field 'unit': missing, want string"],
        ),
        ("dead_letter", ["not", "a", "mapping"], ["record: got ['not', 'a', 'mapping'] (list)"]),
    ],
    ids=[
        "two-types",
        "silent-truncation",
        "range-and-bytes",
        "array-and-null",
        "extra",
        "missing",
        "list",
    ],
)
def test_encode_names_every_offending_field(
    codec: SingleObjectCodec, subject: str, record: Any, problems: list[str]
) -> None:
    with pytest.raises(EncodeError) as info:
        codec.encode(subject, record)
    message = str(info.value)
    assert message.startswith(f"{subject}: ")
    for problem in problems:
        assert problem in message


def test_encode_names_nested_fields_with_their_index(codec: SingleObjectCodec) -> None:
    record = copy.deepcopy(EXAMPLES["sonata_order_event"])
    record["charge_items"][1]["amount"] = 300.0
    del record["charge_items"][0]["currency"]
    with pytest.raises(EncodeError) as info:
        codec.encode("sonata_order_event", record)
    assert str(info.value) == (
        "sonata_order_event: field 'charge_items[0].currency': missing, want string; "
        "field 'charge_items[1].amount': got 300.0 (float), want string"
    )


def test_datetimes_are_refused_times_are_epoch_ms(codec: SingleObjectCodec) -> None:
    from datetime import UTC, datetime

    record = broken("usage_record", start_ms=datetime(2026, 11, 25, tzinfo=UTC))
    with pytest.raises(
        EncodeError, match=r"field 'start_ms': got datetime.datetime\(2026.*want long"
    ):
        codec.encode("usage_record", record)


# --- the Confluent wire format, with a registry in a dictionary -----------------------------
# (the HTTP client behind it, and the mock:// registry, are tests/unit/runtime/test_registry.py)


class FakeRegistry:
    """A :class:`~streams.contract.codec.RegistryClient` in memory: ids from 1, by schema text."""

    def __init__(self, refuse: str | None = None) -> None:
        self.schemas: dict[int, str] = {}
        self.registered: list[str] = []
        self.refuse = refuse

    def register(self, subject: str, schema_str: str) -> int:
        if self.refuse is not None:
            raise SchemaError(self.refuse)
        self.registered.append(subject)
        for schema_id, known in self.schemas.items():
            if known == schema_str:
                return schema_id
        self.schemas[len(self.schemas) + 1] = schema_str
        return len(self.schemas)

    def lookup(self, schema_id: int) -> str | None:
        return self.schemas.get(schema_id)


@pytest.fixture()
def confluent() -> ConfluentCodec:
    return ConfluentCodec(STORE, FakeRegistry(), "https://registry.example")


@pytest.mark.parametrize("subject", sorted(EXAMPLES))
def test_confluent_round_trip(confluent: ConfluentCodec, subject: str) -> None:
    data = confluent.encode(subject, EXAMPLES[subject])
    assert data[:1] == CONFLUENT_MAGIC
    schema_id = int.from_bytes(data[1:5], "big")
    registered = confluent.client.lookup(schema_id)
    assert registered is not None and json.loads(registered) == STORE.latest(subject).raw
    assert confluent.decode(subject, data) == EXAMPLES[subject]
    # A second codec on the same registry knows nothing locally: it must ask the registry.
    reader = ConfluentCodec(STORE, confluent.client, confluent.url)
    assert reader.decode(subject, data) == EXAMPLES[subject]


def test_confluent_registers_each_subject_once(confluent: ConfluentCodec) -> None:
    first = confluent.encode("usage_record", EXAMPLES["usage_record"])
    again = confluent.encode("usage_record", EXAMPLES["usage_record"])
    other = confluent.encode("rated_usage", EXAMPLES["rated_usage"])
    assert first[:5] == again[:5] != other[:5]
    assert isinstance(confluent.client, FakeRegistry)
    assert confluent.client.registered == ["bilat.usage_record", "bilat.rated_usage"]


def test_confluent_says_which_registry_refused_which_schema() -> None:
    codec = ConfluentCodec(STORE, FakeRegistry(refuse="incompatible (HTTP 409)"), "mock://x")
    with pytest.raises(
        SchemaError,
        match=r"registry mock://x refused bilat.usage_record \(usage_record v1\): incompatible",
    ):
        codec.encode("usage_record", EXAMPLES["usage_record"])


def test_confluent_unknown_schema_id(confluent: ConfluentCodec) -> None:
    data = CONFLUENT_MAGIC + (4242).to_bytes(4, "big") + b"\x00"
    with pytest.raises(
        UnknownSchemaError,
        match=r"schema id 4242 of registry https://registry\.example is not registered there",
    ):
        confluent.decode("usage_record", data)


def test_confluent_id_of_a_schema_this_side_does_not_have(confluent: ConfluentCodec) -> None:
    foreign = {"type": "record", "name": "Foreign", "fields": [{"name": "x", "type": "long"}]}
    schema_id = confluent.client.register("other", json.dumps(foreign))
    data = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + b"\x02"
    with pytest.raises(UnknownSchemaError) as info:
        confluent.decode("usage_record", data)
    assert f"schema id {schema_id}" in str(info.value) and "known: " in str(info.value)


def test_confluent_wrong_subject_and_corrupt_messages(confluent: ConfluentCodec) -> None:
    ledger = confluent.encode("ledger_entry", EXAMPLES["ledger_entry"])
    with pytest.raises(UnknownSchemaError, match="written with ledger_entry v1"):
        confluent.decode("usage_record", ledger)
    with pytest.raises(CorruptMessageError, match=r"got header 7b22, want 00 \(Confluent wire"):
        confluent.decode("usage_record", b'{"a": 1}')
    with pytest.raises(CorruptMessageError, match="got a 3-byte message, want at least the 5-byte"):
        confluent.decode("usage_record", b"\x00\x00\x01")
    usage = confluent.encode("usage_record", EXAMPLES["usage_record"])
    with pytest.raises(CorruptMessageError, match="1 trailing bytes"):
        confluent.decode("usage_record", usage + b"\x00")


def test_confluent_also_reads_single_object_messages(confluent: ConfluentCodec) -> None:
    """Topics mirrored from a partner carry single-object messages: no shared registry ids."""
    assert confluent.decode("usage_record", usage_message()) == EXAMPLES["usage_record"]


# --- a newer reader reads what an older writer wrote ----------------------------------------


def evolved_store(root: Path) -> SchemaStore:
    """This checkout's schemas plus a usage_record v2 that adds two fields with defaults."""
    shutil.copytree(default_schema_dir(), root, ignore=shutil.ignore_patterns("*.md"))
    v2 = copy.deepcopy(STORE.get("usage_record", 1).raw)
    v2["fields"] += [
        {"name": "cell_id", "type": ["null", "string"], "default": None, "doc": "Serving cell."},
        {"name": "tax_class", "type": "string", "default": "standard", "doc": "Tax class."},
    ]
    (root / "usage_record" / "v2.avsc").write_text(json.dumps(v2), encoding="utf-8")
    return SchemaStore(root)


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_v1_messages_decode_with_a_v2_reader(tmp_path: Path, framing: str) -> None:
    store = evolved_store(tmp_path / "schemas")
    check_backward_compatible(store.get("usage_record", 1), store.get("usage_record", 2))
    writer: Codec
    reader: Codec
    if framing == "single-object":
        writer, reader = SingleObjectCodec(STORE), SingleObjectCodec(store)
    else:
        client = FakeRegistry()
        writer, reader = ConfluentCodec(STORE, client), ConfluentCodec(store, client)
    data = writer.encode("usage_record", EXAMPLES["usage_record"])
    decoded = reader.decode("usage_record", data)
    assert decoded == {**EXAMPLES["usage_record"], "cell_id": None, "tax_class": "standard"}
    # and the v2 writer's own messages carry the v2 schema
    newer = reader.encode("usage_record", {**EXAMPLES["usage_record"], "cell_id": "4G-7781"})
    assert reader.decode("usage_record", newer)["cell_id"] == "4G-7781"
    if framing == "single-object":
        assert newer[2:10] == store.get("usage_record", 2).fingerprint
    with pytest.raises(UnknownSchemaError):  # a reader without v2 in its store cannot read it
        writer.decode("usage_record", newer)


def test_rated_usage_written_as_v1_reads_as_latest_with_no_run_id(
    codec: SingleObjectCodec,
) -> None:
    """A partner still on v1 writes rated usage; this side reads it with the later defaults."""
    v1 = STORE.get("rated_usage", 1)
    later = ("run_id", "correlation_key")
    record = {k: v for k, v in EXAMPLES["rated_usage"].items() if k not in later}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1.parsed, record)
    decoded = codec.decode("rated_usage", SINGLE_OBJECT_MAGIC + v1.fingerprint + body.getvalue())
    assert decoded == {**record, "run_id": None, "correlation_key": None}
