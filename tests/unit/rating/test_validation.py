from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.errors import InvalidRecord
from streams.rating.validation import _accept, _judge, parse_usage
from tests.fakes.usage import USAGE_FIELDS
from tests.unit.rating.test_pipeline import hostile_value

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def good(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": "ix-fra-01",
        "record_id": "r1",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "voice",
        "product_id": None,
        "a_number": "4969123",
        "b_number": "4930123456",
        "start_ms": 1795600000000,
        "quantity": "61.5",
        "unit": "second",
        "direction": "outbound",
        "raw_ref": "f.csv:2",
    }
    fields.update(changes)
    return fields


def problems(**changes: Any) -> tuple[str, ...]:
    with pytest.raises(InvalidRecord) as info:
        parse_usage(good(**changes), now=NOW)
    assert info.value.code == "invalid-usage"
    return info.value.problems


def test_good_record_is_typed() -> None:
    usage = parse_usage(good(), now=NOW)
    assert usage.quantity == Decimal("61.5")
    assert usage.start == datetime(2026, 11, 25, 9, 46, 40, tzinfo=UTC)
    assert usage.key == "ix-fra-01/r1"
    assert usage.raw_ref == "f.csv:2"


def test_start_accepts_datetime_and_iso_with_offset() -> None:
    aware = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_usage(good(start_ms=aware), now=NOW).start == aware
    iso = parse_usage(good(start_ms=None, start="2026-11-25T11:00:00+01:00"), now=NOW)
    assert iso.start == aware
    assert iso.start.tzinfo == UTC


def test_every_problem_is_reported_at_once() -> None:
    found = problems(quantity="-3", unit="byte", b_number="49-30", direction="sideways")
    assert len(found) == 4
    assert "field 'quantity': got '-3', want >= 0" in found
    assert any("field 'unit': got 'byte'" in p for p in found)
    assert any("field 'b_number': got '49-30'" in p for p in found)
    assert any("field 'direction': got 'sideways'" in p for p in found)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"source": ""}, "field 'source'"),
        ({"record_id": None}, "field 'record_id'"),
        ({"product": "fax"}, "field 'product': got 'fax'"),
        ({"quantity": "abc"}, "field 'quantity': got 'abc', want a decimal"),
        ({"quantity": "NaN"}, "field 'quantity'"),
        ({"quantity": "Infinity"}, "field 'quantity'"),
        ({"start_ms": "tomorrow"}, "field 'start'"),
        ({"start_ms": None, "start": "2026-11-25T10:00:00"}, "without offset"),
        ({"start_ms": 1795700000000}, "mediation clock ahead"),
        ({"start_ms": 0}, "want >= 2000-01-01"),
        ({"b_number": None}, "want the called number for voice"),
        ({"product": "sms", "unit": "message", "quantity": "1.5"}, "whole number of messages"),
        ({"a_number": "12345678901234567"}, "field 'a_number'"),
    ],
)
def test_each_rule(changes: dict[str, Any], needle: str) -> None:
    assert any(needle in p for p in problems(**changes)), problems(**changes)


def test_data_needs_no_b_number() -> None:
    usage = parse_usage(
        good(product="data", unit="megabyte", b_number=None, quantity="12.5"), now=NOW
    )
    assert usage.b_number is None


def test_usage_just_inside_future_tolerance_is_accepted() -> None:
    four_minutes_ahead = 1795608240000  # NOW + 4 min
    assert parse_usage(good(start_ms=four_minutes_ahead), now=NOW).start > NOW


# --- the two passes: _accept (the worker's straight line) never differs from _judge ----------

StrSubclass = type("StrSubclass", (str,), {})
odd_value = st.one_of(
    hostile_value,
    st.sampled_from(
        [" 61", "61 ", "0061", "61.000000", "61.0000001", "1" * 17, "", "\t", "x" * 513, "\x7f"]
    ),
    st.builds(StrSubclass, st.sampled_from(["ix", "voice", "second", "61", "4930123"])),
    st.just(datetime(2026, 11, 25, 10, tzinfo=UTC)),
    st.integers(min_value=1795514400000 - 10**13, max_value=1795608300000 + 10**6),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from([*USAGE_FIELDS, "start"]), odd_value, max_size=4),
    st.sampled_from(["voice", "sms", "data"]),
)
def test_the_straight_line_accepts_nothing_the_full_pass_refuses(
    changes: dict[str, Any], product: str
) -> None:
    assert_one_verdict({**USAGE_FIELDS, **PRODUCTS[product], **changes})


def assert_one_verdict(fields: dict[str, Any]) -> None:
    """``_accept`` gives ``_judge``'s record or nothing, and nothing when ``_judge`` refuses."""
    accepted = _accept(fields, NOW)
    try:
        judged = _judge(fields, NOW)
    except InvalidRecord:
        assert accepted is None
        return
    assert accepted is None or (accepted == judged and accepted.start.tzinfo is UTC)


PRODUCTS: dict[str, dict[str, Any]] = {
    "voice": {},
    "sms": {"product": "sms", "unit": "message", "quantity": "3"},
    "data": {"product": "data", "unit": "megabyte", "quantity": "12.5", "b_number": None},
}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"product": "sms", "unit": "message", "quantity": "3", "raw_ref": ""},
        {"product": "data", "unit": "kilobyte", "quantity": "2048.125", "b_number": ""},
        {"product_id": "IPVPN-HK-DE-0007", "a_number": "", "raw_ref": "cdr.csv:17"},
        {"quantity": "604800", "start_ms": 1795608240000},  # a week; 4 min ahead of NOW
    ],
)
def test_what_the_worker_reads_takes_the_straight_line(changes: dict[str, Any]) -> None:
    # Not a contract, a performance guard: good decoded records must not need the full pass.
    fields = {**USAGE_FIELDS, **changes}
    assert _accept(fields, NOW) == _judge(fields, NOW) == parse_usage(fields, now=NOW)


NOW_MS = 1795608000000
"""NOW in epoch ms."""


@pytest.mark.parametrize(
    "changes",
    [
        *(
            {"product": product, "unit": unit, "quantity": quantity, "b_number": "4930"}
            for product, unit, limit in [
                ("voice", "second", "604800"),
                ("sms", "message", "100000"),
                ("data", "byte", "1000000000000000"),
                ("data", "kilobyte", "1000000000000"),
                ("data", "megabyte", "1000000000"),
                ("data", "gigabyte", "1000000"),
            ]
            for quantity in (limit, f"{limit}.000001", str(int(limit) + 1))
        ),
        {"product": "sms", "unit": "message", "quantity": "1.5"},
        {"product": "sms", "unit": "message", "quantity": "2.000000"},
        {"start_ms": 946684800000 - 1},
        {"start_ms": 946684800000},
        {"start_ms": NOW_MS + 300_000},
        {"start_ms": NOW_MS + 300_001},
        {"start": None},
        {"start": "2026-11-25T10:00:00Z"},
        {"raw_ref": "x" * 512},
        {"raw_ref": "x" * 513},
        {"raw_ref": "tab\there"},
        {"b_number": ""},
        {"a_number": "1234567890123456"},
        {"product_id": ""},
        {"product_id": "-leading-dash"},
        {"unit": "message"},
        {"direction": "Outbound"},
    ],
)
def test_the_straight_line_and_the_full_pass_agree_at_every_boundary(
    changes: dict[str, Any],
) -> None:
    assert_one_verdict({**USAGE_FIELDS, **changes})


def test_remembered_identifiers_and_quantities_are_only_ones_that_passed() -> None:
    # _accept remembers sources, agreements, partners and quantity texts it has seen pass;
    # past its bound it forgets and checks again. A bad one is never remembered.
    for i in range(5_000):
        fields = {**USAGE_FIELDS, "source": f"ix-{i}", "quantity": f"{i % 600}.5"}
        assert _accept(fields, NOW) == _judge(fields, NOW)
    for bad in ({"source": "ix 1"}, {"partner": "-dcc"}, {"quantity": "61.5 "}):
        assert_one_verdict({**USAGE_FIELDS, **bad})
        assert _accept({**USAGE_FIELDS, **bad}, NOW) is None
    again = parse_usage({**USAGE_FIELDS, "quantity": "61.50"}, now=NOW)
    assert str(again.quantity) == "61.50"  # the text as written, not an equal remembered one
