"""The unit vocabulary: one table, and every view of it (validation, rating, the Merkle leaf,
the agreement's ``per`` units, the contract's docs, the independent verifier) agrees with it
and covers it, so a unit cannot be known to one party's table and not the other's."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from streams.agreement.loader import load_book, loads_book
from streams.contract.records import UsageRecord
from streams.contract.schemas import SchemaStore
from streams.core.canonical import leaf_fields
from streams.core.errors import AgreementError, InvalidRecord
from streams.core.units import (
    BASE_UNITS,
    DIRECTIONS,
    PRODUCT_UNITS,
    PRODUCTS,
    REPORTED_UNITS,
    TARIFF_UNITS,
    UNITS,
)
from streams.rating.rater import Rater
from streams.rating.validation import MAX_QUANTITY, parse_usage
from tests.independent import verifier

EXAMPLE_PATH = Path(__file__).resolve().parents[3] / "examples" / "agreement.yaml"
EXAMPLE = EXAMPLE_PATH.read_text(encoding="utf-8")
V1 = EXAMPLE.split("\n---\n")[0]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START_MS = 1795600000000  # 2026-11-25T08:26:40Z: a Wednesday, peak, in force: version 1


def usage_fields(unit: str, direction: str = "outbound") -> dict[str, object]:
    product = UNITS[unit].product
    return {
        "source": "ix-fra-01",
        "record_id": f"r-{unit}",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": product,
        "b_number": "4930123456" if product == "voice" else "4917012345",
        "start_ms": START_MS,
        "quantity": "2.5" if product != "sms" else "3",
        "unit": unit,
        "direction": direction,
    }


# --- the table itself ----------------------------------------------------------------------


def test_every_unit_measures_a_known_product_in_whole_base_units() -> None:
    assert set(UNITS) == set(REPORTED_UNITS) | set(TARIFF_UNITS)
    for name, unit in UNITS.items():
        assert unit.name == name
        assert unit.product in PRODUCTS
        assert isinstance(unit.size, int) and unit.size >= 1, name
        assert unit.reported or unit.priced, f"{name} is neither reported nor priced"


def test_each_product_has_exactly_one_base_unit_and_usage_may_be_reported_in_it() -> None:
    assert tuple(BASE_UNITS) == PRODUCTS
    for product in PRODUCTS:
        size_one = [u.name for u in UNITS.values() if u.product == product and u.size == 1]
        assert size_one == [BASE_UNITS[product]]
        assert REPORTED_UNITS[BASE_UNITS[product]].reported
    assert all(unit.base == BASE_UNITS[unit.product] for unit in UNITS.values())


def test_every_reported_unit_converts_to_its_base_unit_by_a_decimal_shift() -> None:
    for name, unit in REPORTED_UNITS.items():
        assert unit.shift is not None, f"{name}: size {unit.size} is not a power of ten"
        assert 10**unit.shift == unit.size
    assert UNITS["minute"].shift is None  # a tariff unit only: 60 seconds


def test_product_units_partition_the_reported_units() -> None:
    assert tuple(PRODUCT_UNITS) == PRODUCTS
    names = [name for units in PRODUCT_UNITS.values() for name in units]
    assert sorted(names) == sorted(REPORTED_UNITS)
    for product, units in PRODUCT_UNITS.items():
        assert all(REPORTED_UNITS[name].product == product for name in units)


def test_every_product_can_be_priced() -> None:
    assert {unit.product for unit in TARIFF_UNITS.values()} == set(PRODUCTS)


# --- the views: validation, rating, the leaf ------------------------------------------------


@pytest.mark.parametrize("unit", sorted(REPORTED_UNITS))
def test_validation_accepts_every_reported_unit_of_its_product_and_limits_it(unit: str) -> None:
    record = parse_usage(usage_fields(unit), now=NOW)
    assert (record.product, record.unit) == (UNITS[unit].product, unit)
    assert unit in MAX_QUANTITY
    wrong = next(p for p in PRODUCTS if p != UNITS[unit].product)
    with pytest.raises(InvalidRecord, match=f"field 'unit': got '{unit}'"):
        parse_usage({**usage_fields(unit), "product": wrong}, now=NOW)


def test_validation_limits_no_unit_usage_cannot_be_reported_in() -> None:
    assert set(MAX_QUANTITY) == set(REPORTED_UNITS)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_validation_accepts_every_direction_and_nothing_else(direction: str) -> None:
    assert parse_usage(usage_fields("second", direction), now=NOW).direction == direction
    with pytest.raises(InvalidRecord, match="field 'direction': got 'sideways'"):
        parse_usage(usage_fields("second", "sideways"), now=NOW)


@pytest.mark.parametrize("unit", sorted(REPORTED_UNITS))
def test_rating_and_the_leaf_count_in_the_same_base_unit(unit: str) -> None:
    """The leaf's quantity is the usage in the unit rating bills in, converted exactly."""
    usage: UsageRecord = parse_usage(usage_fields(unit), now=NOW)
    rated = Rater(load_book(EXAMPLE_PATH)).rate(usage, NOW)
    leaf = leaf_fields(rated)
    assert leaf["unit"] == rated.billed_unit == BASE_UNITS[usage.product]
    assert Decimal(leaf["quantity"]) == usage.quantity * REPORTED_UNITS[unit].size


def test_the_leaf_refuses_a_unit_with_no_base_unit() -> None:
    rated = Rater(load_book(EXAMPLE_PATH)).rate(parse_usage(usage_fields("second"), now=NOW), NOW)
    with pytest.raises(ValueError, match="field 'unit': got 'minute', want one of"):
        leaf_fields(dataclasses.replace(rated, unit="minute"))


# --- the agreement's ``per`` units ----------------------------------------------------------

_PER = {"voice": "per: minute", "sms": "per: message", "data": "per: megabyte"}
_TARIFF = {"voice": "id: voice-de-fixed", "sms": "id: sms-any", "data": "id: data-roaming"}


def _with_per(product: str, per: str) -> str:
    """Version 1 of the example with the first ``product`` tariff stated per ``per``."""
    head, tail = V1.split(_TARIFF[product], 1)
    before, after = tail.split(_PER[product], 1)
    return f"{head}{_TARIFF[product]}{before}per: {per}{after}"


@pytest.mark.parametrize("per", sorted(TARIFF_UNITS))
def test_every_tariff_unit_loads_with_its_size(per: str) -> None:
    product = TARIFF_UNITS[per].product
    tariff_id = _TARIFF[product].removeprefix("id: ")
    book = loads_book(_with_per(product, per))
    tariff = next(t for t in book.latest.tariffs if t.id == tariff_id)
    assert (tariff.per, tariff.per_size) == (per, TARIFF_UNITS[per].size)


@pytest.mark.parametrize("per", sorted(TARIFF_UNITS))
def test_a_tariff_unit_of_another_product_is_refused(per: str) -> None:
    other = next(p for p in PRODUCTS if p != TARIFF_UNITS[per].product)
    with pytest.raises(AgreementError) as info:
        loads_book(_with_per(other, per))
    assert any(
        f"a unit of {other}, not of {TARIFF_UNITS[per].product}" in p for p in info.value.problems
    )


def test_a_unit_no_tariff_may_be_per_is_refused() -> None:
    unpriced = sorted(set(UNITS) - set(TARIFF_UNITS))
    assert unpriced == ["byte"]  # per byte would make every rate a run of zeros
    with pytest.raises(AgreementError, match=r"\.per: got 'byte', want one of \['second'"):
        loads_book(_with_per("data", "byte"))


# --- outside the package: the contract's docs and the independent verifier ------------------


@pytest.mark.parametrize("subject", ["usage_record", "rated_usage"])
def test_the_contract_documents_every_unit_and_direction(subject: str) -> None:
    store = SchemaStore.default()
    latest = store.latest(subject)
    for version in range(1, latest.version + 1):
        docs = {f["name"]: f["doc"] for f in store.get(subject, version).raw["fields"]}
        assert all(json.dumps(name) in docs["unit"] for name in REPORTED_UNITS)
        assert all(json.dumps(name) in docs["direction"] for name in DIRECTIONS)


def test_the_independent_verifier_converts_every_unit_as_the_leaf_does() -> None:
    ours = {name: (unit.base, unit.shift) for name, unit in REPORTED_UNITS.items()}
    assert ours == verifier._BASE_UNITS
