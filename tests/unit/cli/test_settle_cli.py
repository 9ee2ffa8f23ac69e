"""``bilat settle``: the parts of the CLI that need no broker (parsing, help, comparisons)."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from decimal import Decimal

import click
import pytest
from click.testing import CliRunner

from streams.cli.main import main
from streams.cli.settle import _outcome, parse_period
from streams.runtime.config import Settings
from streams.runtime.settler import Settler, differing_items, explain_difference
from streams.settle.statement import build_statements
from tests.fakes.agreements import EXAMPLE
from tests.fakes.period import AT, BOOK, SELLER, inventory, windows

STATEMENT = build_statements(BOOK, SELLER, AT, windows(SELLER), inventory())[0]


def settler(party: str = "hgc") -> Settler:
    return Settler(Settings(party=party, kafka="127.0.0.1:1", agreement=EXAMPLE), redis_url="")


def test_the_period_is_a_point_inside_it_in_the_agreements_zone() -> None:
    at = parse_period("2026-03", settler())
    assert at.tzinfo is not None and at.astimezone(UTC).isoformat() == "2026-03-01T11:00:00+00:00"
    assert parse_period("2026-11-02", settler()).day == 2
    for bad in ("2026", "26-03", "2026-13", "2026-02-30", "march"):
        with pytest.raises(click.BadParameter):
            parse_period(bad, settler())


def test_resolution_outcomes_read_as_the_mef_states() -> None:
    assert _outcome("B-0001=credit") == ("B-0001", ("credit", None))
    assert _outcome("B-0001=credit:0.0100") == ("B-0001", ("credit", Decimal("0.0100")))
    assert _outcome("B-0002=withdrawn") == ("B-0002", ("withDrawn", None))
    assert _outcome("B-0002=withDrawn") == ("B-0002", ("withDrawn", None))
    assert _outcome("B-0003=rejected") == ("B-0003", ("paymentDue", None))
    for bad in ("B-0001", "=credit", "B-0001=refund", "B-0001=credit:ten"):
        with pytest.raises(click.BadParameter):
            _outcome(bad)


def test_the_role_decides_who_may_do_what() -> None:
    assert settler("hgc").role == "seller" and settler("dcc").role == "buyer"
    with pytest.raises(Exception, match="only the Seller"):
        settler("dcc").issue(AT)
    with pytest.raises(Exception, match="only the Buyer"):
        settler("hgc").review()


def test_the_items_that_differ_are_named_with_both_amounts() -> None:
    assert differing_items(STATEMENT, STATEMENT) == [i.id for i in STATEMENT.items]  # header only
    item = STATEMENT.items[0]
    changed = dataclasses.replace(item, amount=item.amount + Decimal("0.5"))
    ours = dataclasses.replace(STATEMENT, items=(changed, *STATEMENT.items[1:]))
    assert differing_items(STATEMENT, ours) == [item.id]
    assert f"{item.amount} stated, {changed.amount} by our ledger" in explain_difference(
        STATEMENT, ours, item.id
    )
    assert differing_items(STATEMENT, None) == [i.id for i in STATEMENT.items]
    assert "is not on our statement" in explain_difference(STATEMENT, None, item.id)


def test_help_explains_every_step() -> None:
    result = CliRunner().invoke(main, ["settle", "--help"])
    assert result.exit_code == 0
    for word in ("--period", "status", "review", "dispute", "resolve", "pay", "agent"):
        assert word in result.output
    result = CliRunner().invoke(main, ["settle", "resolve", "--help"])
    assert "ITEM=credit[:AMOUNT]" in result.output and "withdrawn" in result.output
