"""The rated-usage body writer: every RatedUsage that constructs encodes to exactly the bytes of
the validating path (``encode("rated_usage", record.to_avro())``), or fails exactly as it does."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.contract.bodies import RATED_USAGE_FINGERPRINT, rated_usage_body
from streams.contract.codec import Codec, ConfluentCodec, SingleObjectCodec
from streams.contract.flat import flat_layout
from streams.contract.records import RatedUsage
from streams.contract.schemas import SchemaStore
from streams.core.errors import EncodeError
from tests.fakes.rated import rated_call
from tests.unit.contract.test_codec import FakeRegistry

STORE = SchemaStore.default()
SINGLE = SingleObjectCodec(STORE)
CONFLUENT = ConfluentCodec(STORE, FakeRegistry(), "https://registry.example")
WINDOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
LAYOUT = flat_layout(STORE.latest("rated_usage").parsed) or ()


def fastavro_body(record: RatedUsage) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, STORE.latest("rated_usage").parsed, record.to_avro())
    return out.getvalue()


def outcome(encode: Any) -> tuple[str, bytes | str]:
    """What an encode call gave: its bytes, or its exception's type and message."""
    try:
        return ("bytes", encode())
    except Exception as exc:
        return (type(exc).__name__, str(exc))


text = st.one_of(
    st.text(max_size=8),
    st.text(min_size=60, max_size=200),  # lengths past one varint byte, in UTF-8 bytes too
    st.sampled_from(["", "é", "\u20ac", "\U0001f4de", "\udcff", "a\x00b", "x" * 63, "x" * 64]),
)
FIRST, LAST = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001 (hypothesis wants naive)
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
times = st.datetimes(FIRST, LAST, timezones=st.sampled_from(ZONES))
decimals = st.decimals(allow_nan=False, allow_infinity=False)
amounts = st.decimals(min_value=0, allow_nan=False, allow_infinity=False)
records = st.builds(
    RatedUsage,
    source=text,
    record_id=text,
    agreement_id=text,
    agreement_version=text,
    rate_id=text,
    product=text,
    start=times,
    quantity=decimals,
    unit=text,
    billed_quantity=decimals,
    billed_unit=text,
    amount=amounts,
    currency=text,
    direction=text,
    window_start=times,
    window_end=times,
    rated_at=times,
    product_id=st.none() | text,
    leaf_hash=st.none() | st.binary(max_size=80),
    supersedes=st.none() | text,
    run_id=st.none() | text,
    correlation_key=st.none() | text,
)


def test_the_writer_knows_the_latest_rated_usage_layout() -> None:
    # A new rated_usage version makes the codec fall back on the validating path (correct, but
    # slower): update rated_usage_body to the new fields and this fingerprint with it.
    assert STORE.latest("rated_usage").fingerprint == RATED_USAGE_FINGERPRINT


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_any_rated_usage_that_constructs_encodes_as_the_validating_path_does(
    record: RatedUsage,
) -> None:
    body = rated_usage_body(record, LAYOUT)
    if body is not None:
        assert body == fastavro_body(record)
    codec: Codec
    for codec in (SINGLE, CONFLUENT):
        assert outcome(lambda: codec.encode_rated(record)) == outcome(  # noqa: B023
            lambda: codec.encode("rated_usage", record.to_avro())  # noqa: B023
        )


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"source": 17}, "field 'source': got 17 (int), want string"),
        ({"supersedes": 5}, "field 'supersedes'"),
        ({"unit": type("Unit", (str,), {})("second")}, None),  # a str subclass: fits, same bytes
        ({"currency": None}, "field 'currency': got None (NoneType), want string"),
        ({"product_id": b"IPVPN"}, "field 'product_id'"),
        ({"leaf_hash": "ab" * 32}, "field 'leaf_hash'"),
        ({"rate_id": "voice-\udcff"}, "rated_usage:"),  # a lone surrogate: fastavro refuses it
    ],
)
def test_a_record_with_a_misfit_fails_as_the_validating_path_fails(
    changes: dict[str, Any], needle: str | None
) -> None:
    # RatedUsage does not check types at construction: a bug elsewhere could build such a record.
    record = dataclasses.replace(rated_call("r1", WINDOW, 30, "0.0150"), **changes)
    expected = outcome(lambda: SINGLE.encode("rated_usage", record.to_avro()))
    assert outcome(lambda: SINGLE.encode_rated(record)) == expected
    if needle is None:
        assert expected[0] == "bytes"
    else:
        assert expected[0] == EncodeError.__name__ and needle in str(expected[1])


def test_a_record_that_cannot_be_turned_into_avro_raises_what_to_avro_raises() -> None:
    aware_time_of_day = time(10, tzinfo=UTC)  # has a tzinfo, so it constructs; no epoch ms
    record = dataclasses.replace(
        rated_call("r1", WINDOW, 30, "0.0150"), window_end=aware_time_of_day
    )  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        record.to_avro()
    assert outcome(lambda: SINGLE.encode_rated(record)) == outcome(record.to_avro)


def test_equal_times_in_other_zones_are_one_instant() -> None:
    record = rated_call("r1", WINDOW, 30, "0.0150")
    shifted = dataclasses.replace(
        record, window_start=WINDOW.astimezone(timezone(timedelta(hours=-3)))
    )
    assert SINGLE.encode_rated(record) == SINGLE.encode_rated(shifted)
    assert SINGLE.encode_rated(shifted) == SINGLE.encode("rated_usage", shifted.to_avro())


def test_sub_millisecond_times_are_floored_before_the_epoch_too() -> None:
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)
    record = dataclasses.replace(
        rated_call("r1", WINDOW, 30, "0.0150"), start=before_epoch, quantity=Decimal("1E+3")
    )
    assert record.to_avro()["start_ms"] == -1
    assert SINGLE.encode_rated(record) == SINGLE.encode("rated_usage", record.to_avro())


def test_remembered_times_stay_exact_past_the_memo_bound() -> None:
    records = [
        rated_call(f"r{i}", WINDOW + timedelta(hours=i), i % 3600, "0.0150") for i in range(5_000)
    ]
    assert [SINGLE.encode_rated(r) for r in records] == [
        SINGLE.encode("rated_usage", r.to_avro()) for r in records
    ]
