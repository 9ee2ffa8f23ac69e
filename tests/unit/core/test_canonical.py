"""The canonical encoding: RFC 8785 rules, refusals with paths, decimal text, the leaf layout
with its pinned worked example, and properties against the standard library's JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract.records import RatedUsage
from streams.core.canonical import (
    LEAF_DOMAIN,
    MAX_SAFE_INT,
    canonical_json,
    decimal_text,
    leaf_data,
    leaf_fields,
    leaf_hash,
    tagged,
)

# The worked example of the module docstring: change both together, never one.
PINNED_LEAF_DATA = (
    b"bilat.leaf.v1\x00"
    b'{"agreement_id":"hgc-dcc-2026","agreement_version":"1","amount":"0.0315",'
    b'"currency":"EUR","key":"hgc-msc-01/cdr-000042","quantity":"125",'
    b'"start_ms":1772442900250,"unit":"second"}'
)
PINNED_LEAF_HASH = "53fbee67ec383c3cf7a03cd908e1740827f3983a8a45768973d5d15f9de95845"

RECORD = RatedUsage(
    source="hgc-msc-01",
    record_id="cdr-000042",
    agreement_id="hgc-dcc-2026",
    agreement_version="1",
    rate_id="voice-de-mobile@peak",
    product="voice",
    start=datetime(2026, 3, 2, 9, 15, 0, 250_000, tzinfo=UTC),
    quantity=Decimal("125"),
    unit="second",
    billed_quantity=Decimal("126"),
    billed_unit="second",
    amount=Decimal("0.03150"),
    currency="EUR",
    direction="outbound",
    window_start=datetime(2026, 3, 2, 9, tzinfo=UTC),
    window_end=datetime(2026, 3, 2, 10, tzinfo=UTC),
    rated_at=datetime(2026, 3, 2, 9, 20, tzinfo=UTC),
)


# --- canonical_json ------------------------------------------------------------------------


def test_keys_are_sorted_and_there_is_no_whitespace() -> None:
    value = {"b": [1, {"z": None, "a": True}], "a": "x", "c": False}
    assert canonical_json(value) == b'{"a":"x","b":[1,{"a":true,"z":null}],"c":false}'


def test_key_order_does_not_depend_on_insertion_order() -> None:
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_keys_sort_by_utf16_code_units_as_rfc_8785_says() -> None:
    # Code point order would put U+FFFF before U+1F600; UTF-16 puts the surrogate 0xD83D first.
    value = {"\uffff": 1, "\U0001f600": 2, "a": 3, "é": 4}
    assert canonical_json(value) == '{"a":3,"é":4,"\U0001f600":2,"\uffff":1}'.encode()


def test_unicode_is_written_as_utf8_and_only_controls_quote_and_backslash_escaped() -> None:
    text = 'Zürich "€" \\ / \x7f \u2028 \n\t\b\f\r \x01 \U0001f600'
    expected = ('"Zürich \\"€\\" \\\\ / \x7f \u2028 \\n\\t\\b\\f\\r \\u0001 \U0001f600"').encode()
    assert canonical_json(text) == expected


def test_integers_at_the_safe_limit_are_plain_decimal() -> None:
    assert canonical_json([MAX_SAFE_INT, -MAX_SAFE_INT, 0, -7]) == (
        b"[9007199254740991,-9007199254740991,0,-7]"
    )


@pytest.mark.parametrize(
    ("value", "path", "error"),
    [
        ({"totals": {"EUR": 1.5}}, "$.totals.EUR", TypeError),
        ({"totals": {"EUR": Decimal("1.5")}}, "$.totals.EUR", TypeError),
        ({"root": b"\x00" * 32}, "$.root", TypeError),
        ({"at": datetime(2026, 1, 1, tzinfo=UTC)}, "$.at", TypeError),
        ({"day": date(2026, 1, 1)}, "$.day", TypeError),
        ({"items": [1, 2, {"n": 2**53}]}, "$.items[2].n", ValueError),
        ({"n": -(2**53)}, "$.n", ValueError),
        ({"odd key": [float("nan")]}, '$["odd key"][0]', TypeError),
        ({"text": "a\ud800"}, "$.text", ValueError),
        ({1: "x"}, "$", TypeError),
        ({"set": {1}}, "$.set", TypeError),
    ],
)
def test_values_without_one_encoding_are_refused_with_their_path(
    value: Any, path: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        canonical_json(value)
    assert str(caught.value).startswith(f"{path}: got ")


def test_refusals_say_how_to_convert() -> None:
    with pytest.raises(TypeError, match="decimal_text"):
        canonical_json({"amount": Decimal("1")})
    with pytest.raises(TypeError, match="hex"):
        canonical_json({"root": b"\x01"})
    with pytest.raises(TypeError, match="epoch milliseconds"):
        canonical_json({"at": datetime(2026, 1, 1, tzinfo=UTC)})


def test_bool_is_not_an_integer_and_tuples_are_arrays() -> None:
    assert canonical_json([True, False, 1, 0]) == b"[true,false,1,0]"
    assert canonical_json((1, "a")) == canonical_json([1, "a"])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_round_trip_through_json_parsing(value: Any) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded  # idempotent
    assert canonical_json(value) == encoded  # deterministic


@given(json_values)
def test_matches_the_standard_library_for_bmp_keys(value: Any) -> None:
    # A naive reference: json.dumps sorts by code point, which equals UTF-16 order within the BMP.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if all(ord(c) <= 0xFFFF for c in text):
        assert canonical_json(value) == text.encode("utf-8")


@given(st.dictionaries(st.text(), st.integers(0, 9), max_size=8))
def test_member_order_follows_utf16_code_units(value: dict[str, int]) -> None:
    parsed_keys = list(json.loads(canonical_json(value)))
    assert parsed_keys == sorted(value, key=lambda k: k.encode("utf-16-be"))


# --- decimal_text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.0230", "0.023"),
        ("120", "120"),
        ("1E+2", "100"),
        ("1.20E+3", "1200"),
        ("0", "0"),
        ("0.000", "0"),
        ("-0", "0"),
        ("-0.00", "0"),
        ("-1.50", "-1.5"),
        ("1E-8", "0.00000001"),
        ("5.", "5"),
        ("123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"),
    ],
)
def test_decimal_text_is_plain_and_normalised(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text


def test_decimal_text_is_exact_whatever_the_context() -> None:
    many_digits = Decimal("1." + "0" * 40 + "1")  # beyond the default 28-digit precision
    assert decimal_text(many_digits) == "1." + "0" * 40 + "1"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_decimal_text_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError, match="want a finite Decimal"):
        decimal_text(value)


def test_decimal_text_refuses_floats() -> None:
    with pytest.raises(TypeError, match="want Decimal"):
        decimal_text(0.1)  # type: ignore[arg-type]


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_text_keeps_the_value_and_one_spelling(value: Decimal) -> None:
    text = decimal_text(value)
    assert Decimal(text) == value
    assert "E" not in text and "e" not in text
    assert decimal_text(Decimal(text)) == text
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    padded = Decimal((sign, (*digits, 0, 0), exponent - 2))  # the same value, spelled longer
    assert decimal_text(padded) == text


# --- tagged --------------------------------------------------------------------------------


def test_tagged_separates_domains() -> None:
    assert tagged("leaf.v1", b"{}") == b"bilat.leaf.v1\x00{}"
    assert tagged("leaf.v1", b"x") != tagged("leaf.v2", b"x")


@pytest.mark.parametrize("domain", ["", "Leaf", "leaf\x00", "léaf", "leaf v1"])
def test_tagged_refuses_ambiguous_domains(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        tagged(domain, b"")


# --- leaves --------------------------------------------------------------------------------


def test_pinned_leaf_example_of_the_module_docstring() -> None:
    assert leaf_data(RECORD) == PINNED_LEAF_DATA
    assert len(PINNED_LEAF_DATA) == 192
    assert leaf_hash(RECORD).hex() == PINNED_LEAF_HASH
    # Straight from RFC 9162: the leaf hash is SHA-256 over 0x00 and the leaf data.
    assert hashlib.sha256(b"\x00" + PINNED_LEAF_DATA).hexdigest() == PINNED_LEAF_HASH
    assert PINNED_LEAF_DATA.startswith(tagged(LEAF_DOMAIN, b""))


@pytest.mark.parametrize(
    "change",
    [
        {"rated_at": datetime(2027, 1, 1, tzinfo=UTC)},
        {"rate_id": "renamed-tariff"},
        {"run_id": "rerate-7", "supersedes": "live"},
        {"direction": "inbound"},
        {"window_start": datetime(2026, 3, 2, 8, tzinfo=UTC)},
        {"billed_quantity": Decimal("180"), "billed_unit": "second"},
        {"product_id": "prod-9"},
        {"leaf_hash": b"\x01" * 32},
        {"amount": Decimal("0.0315")},  # the same amount, spelled differently
        {"start": RECORD.start + timedelta(microseconds=999)},  # below the millisecond
    ],
)
def test_one_sided_fields_do_not_change_the_leaf(change: dict[str, Any]) -> None:
    assert leaf_hash(dataclasses.replace(RECORD, **change)) == leaf_hash(RECORD)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("0.0316")},
        {"quantity": Decimal("126")},
        {"start": RECORD.start + timedelta(milliseconds=1)},
        {"currency": "USD"},
        {"agreement_version": "2"},
        {"agreement_id": "hgc-xyz-2026"},
        {"record_id": "cdr-000043"},
        {"source": "hgc-msc-02"},
        {"unit": "message"},
    ],
)
def test_agreed_fields_change_the_leaf(change: dict[str, Any]) -> None:
    assert leaf_hash(dataclasses.replace(RECORD, **change)) != leaf_hash(RECORD)


def test_quantities_are_compared_in_the_base_unit() -> None:
    data = dataclasses.replace(RECORD, product="data", unit="megabyte", quantity=Decimal("2.5"))
    same = dataclasses.replace(data, unit="byte", quantity=Decimal("2500000"))
    assert leaf_fields(data)["quantity"] == "2500000"
    assert leaf_fields(data)["unit"] == "byte"
    assert leaf_hash(data) == leaf_hash(same)
    # Exact even beyond the default decimal precision: the exponent moves, nothing rounds.
    long = dataclasses.replace(
        data, unit="gigabyte", quantity=Decimal("1.0000000000000000000000000000001")
    )
    assert leaf_fields(long)["quantity"] == "1000000000.0000000000000000000001"


def test_leaf_fields_are_exactly_the_documented_ones() -> None:
    assert leaf_fields(RECORD) == {
        "key": "hgc-msc-01/cdr-000042",
        "start_ms": 1772442900250,
        "quantity": "125",
        "unit": "second",
        "amount": "0.0315",
        "currency": "EUR",
        "agreement_id": "hgc-dcc-2026",
        "agreement_version": "1",
    }


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="field 'unit': got 'furlong'"):
        leaf_fields(dataclasses.replace(RECORD, unit="furlong"))
