"""Flat records: on any bytes the reader gives the record fastavro reads, or nothing (then
fastavro decides), never a record where fastavro refuses the body; the writer gives fastavro's
bytes for values of the exact types, nothing for any other. The C module and the Python code
give the same answers on every input here."""

from __future__ import annotations

import io
import os
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.contract import flat
from streams.contract.codec import SingleObjectCodec
from streams.contract.flat import Layout, flat_layout
from streams.contract.schemas import SchemaStore
from streams.core.errors import CorruptMessageError
from tests.unit.contract.test_codec import EXAMPLES

STORE = SchemaStore.default()
FLAT = ["usage_record", "rated_usage"]
LONG_RANGE = (-(2**63), 2**63 - 1)


def schema(subject: str) -> dict[str, Any]:
    return STORE.latest(subject).parsed


def fastavro_read(subject: str, body: bytes) -> dict[str, Any] | None:
    """What the codec's fastavro path reads from ``body``: the record, or None if it refuses."""
    buffer = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(buffer, schema(subject), None)
    except Exception:
        return None
    return record if buffer.tell() == len(body) else None  # type: ignore[return-value]


def read_flat(layout: Layout, body: bytes, offset: int) -> dict[str, Any] | None:
    """The Python reader's answer, after checking the C reader gives the same."""
    read = flat._read_flat(layout, body, offset)
    if flat._native is not None:
        assert flat._native.read(layout, body, offset) == read
    return read


def write_flat(layout: Layout, values: tuple[Any, ...]) -> bytes | None:
    """The Python writer's answer, after checking the C writer gives the same."""
    written = flat._write_flat(layout, values)
    if flat._native is not None:
        assert flat._native.write(layout, values) == written
    return written


def body_of(subject: str, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema(subject), record)
    return out.getvalue()


def value_of(kind: Any) -> st.SearchStrategy[Any]:
    if isinstance(kind, list):
        return st.none() | value_of(kind[1])
    kind = kind["type"] if isinstance(kind, dict) else kind
    if kind == "string":
        return st.text(max_size=8) | st.text(min_size=20, max_size=90)
    if kind == "bytes":
        return st.binary(max_size=8) | st.binary(min_size=60, max_size=70)
    return st.integers(*LONG_RANGE) | st.integers(-(2**45), 2**45)


def records(subject: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {f["name"]: value_of(f["type"]) for f in schema(subject)["fields"]}
    )


def is_common(value: Any) -> bool:
    """A value read_flat reads itself: short text and bytes, longs of at most nine bytes."""
    if isinstance(value, int):
        return -(2**62) <= value < 2**62
    return value is None or len(value.encode() if isinstance(value, str) else value) < 64


def test_the_worker_subjects_are_flat_and_the_others_are_left_to_fastavro() -> None:
    assert all(flat_layout(schema(subject)) is not None for subject in FLAT)
    assert flat_layout(schema("dead_letter")) is None  # an array of errors
    assert flat_layout(schema("ledger_entry")) is not None  # strings, bytes and longs only
    assert flat_layout(schema("batch_digest")) is None  # ints and an array


@pytest.mark.parametrize("subject", FLAT)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_valid_body_reads_as_fastavro_reads_it(subject: str, data: st.DataObject) -> None:
    record = data.draw(records(subject))
    body = body_of(subject, record)
    read = read_flat(flat_layout(schema(subject)) or (), body, 0)
    assert read is None or read == fastavro_read(subject, body) == record
    if all(is_common(v) for v in record.values()):  # not a contract: the fast path is taken
        assert read == record


def mutated(body: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["cut", "append", "flip", "insert", "delete"]))
    at = data.draw(st.integers(0, max(len(body) - 1, 0)))
    if how == "cut":
        return body[:at]
    if how == "append":
        return body + data.draw(st.binary(min_size=1, max_size=4))
    if how == "flip":
        return body[:at] + bytes([data.draw(st.integers(0, 255))]) + body[at + 1 :]
    if how == "insert":
        return body[:at] + data.draw(st.binary(min_size=1, max_size=3)) + body[at:]
    return body[:at] + body[at + 1 :]


@pytest.mark.parametrize("subject", FLAT)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_body_reads_as_fastavro_reads_it_or_not_at_all(
    subject: str, data: st.DataObject
) -> None:
    body = body_of(subject, data.draw(st.sampled_from([EXAMPLES[subject]]) | records(subject)))
    for _ in range(data.draw(st.integers(1, 3))):
        body = mutated(body, data)
    read = read_flat(flat_layout(schema(subject)) or (), body, 0)
    assert read is None or read == fastavro_read(subject, body)


@pytest.mark.parametrize("subject", FLAT)
@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=120))
def test_any_bytes_read_as_fastavro_reads_them_or_not_at_all(subject: str, body: bytes) -> None:
    read = read_flat(flat_layout(schema(subject)) or (), body, 0)
    assert read is None or read == fastavro_read(subject, body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x05ab", "a negative length"),
        (b"\x04\xff\xfe", "not UTF-8"),
        (b"\x04ed\x00", "a trailing byte"),
        (b"\x08ab", "truncated"),
    ],
)
def test_the_codec_still_says_what_is_wrong(body: bytes, why: str) -> None:
    codec = SingleObjectCodec(STORE)
    head = codec.encode("usage_record", EXAMPLES["usage_record"])[:10]
    with pytest.raises(CorruptMessageError, match="usage_record v1"):
        codec.decode("usage_record", head + body)


def quirk(name: str) -> bytes:
    """The usage_record example's body with one of fastavro's quirks in it."""
    body = body_of("usage_record", EXAMPLES["usage_record"])
    raw_ref = body.rindex(b"\x02\x2a")  # the last field: branch 1, 21 characters
    start = body.index(bytes.fromhex("f6f1fa84d766"))  # start_ms, six bytes
    return {
        "union index -1": body[:raw_ref] + b"\x01" + body[raw_ref + 1 :],
        "union index 0 in two bytes": body[:raw_ref] + b"\x80\x00",
        "negative length": body[:raw_ref] + b"\x02\x2b" + body[raw_ref + 2 :],
        "ten-byte long": body[:start] + b"\x80" * 9 + b"\x01" + body[start + 6 :],
        "eleven-byte long": body[:start] + b"\xff" * 10 + b"\x01" + body[start + 6 :],
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "union index -1",
        "union index 0 in two bytes",
        "negative length",
        "ten-byte long",
        "eleven-byte long",
    ],
)
def test_quirks_are_left_to_fastavro(name: str) -> None:
    body = quirk(name)
    assert read_flat(flat_layout(schema("usage_record")) or (), body, 0) is None
    codec = SingleObjectCodec(STORE)
    message = codec.encode("usage_record", EXAMPLES["usage_record"])[:10] + body
    expected = fastavro_read("usage_record", body)
    if expected is None:
        with pytest.raises(CorruptMessageError):
            codec.decode("usage_record", message)
    else:
        assert codec.decode("usage_record", message) == expected


misfit = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.integers(-(2**70), 2**70),
    st.text(max_size=4),
    st.sampled_from(["\udcff", "ok\ud800"]),
    st.binary(max_size=4),
    st.builds(bytearray, st.binary(max_size=4)),
    st.builds(type("Text", (str,), {}), st.text(max_size=4)),
)


@pytest.mark.parametrize("subject", FLAT)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_values_of_the_exact_types_are_written_as_fastavro_writes_them(
    subject: str, data: st.DataObject
) -> None:
    layout = flat_layout(schema(subject)) or ()
    record = data.draw(records(subject))
    written = write_flat(layout, tuple(record[name] for name, _, _ in layout))
    assert written == body_of(subject, record)


@pytest.mark.parametrize("subject", FLAT)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_other_value_is_refused(subject: str, data: st.DataObject) -> None:
    layout = flat_layout(schema(subject)) or ()
    record = data.draw(records(subject))
    values = [record[name] for name, _, _ in layout]
    at = data.draw(st.integers(0, len(values) - 1))
    values[at] = data.draw(misfit)
    written = write_flat(layout, tuple(values))
    name, kind, optional = layout[at]
    value = values[at]
    fits = (value is None and optional) or (
        type(value) is {0: str, 1: bytes, 2: int}[kind]
        and (kind != 2 or LONG_RANGE[0] <= value <= LONG_RANGE[1])
        and (kind != 0 or ("\ud800" not in value and "\udcff" not in value))
    )
    if not fits:
        assert written is None, (name, value)
    else:
        assert written == body_of(
            subject, dict(zip([f for f, _, _ in layout], values, strict=True))
        )


def test_a_wrong_number_of_values_is_refused() -> None:
    layout = flat_layout(schema("usage_record")) or ()
    values = tuple(EXAMPLES["usage_record"].values())
    assert write_flat(layout, values) == body_of("usage_record", EXAMPLES["usage_record"])
    assert write_flat(layout, values[:-1]) is None
    assert write_flat(layout, (*values, None)) is None


@pytest.mark.skipif(
    os.environ.get("BILAT_EXPECT_NATIVE") != "1", reason="only where the C build is expected"
)
def test_the_c_build_is_in_use() -> None:
    """CI sets BILAT_EXPECT_NATIVE=1: a build that silently fell back to Python fails here."""
    assert flat.NATIVE
