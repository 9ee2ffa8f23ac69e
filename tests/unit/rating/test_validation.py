from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.core.errors import InvalidRecord
from streams.rating.validation import parse_usage

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
