"""``bilat settle``: the parts of the CLI that need no broker (parsing, help, comparisons)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta
from decimal import Decimal
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from streams.cli.main import main
from streams.cli.settle import _outcome, parse_period
from streams.core.clock import ManualClock, to_ms
from streams.core.errors import StackError
from streams.core.keys import demo_keypair
from streams.ledger.entries import make_entry
from streams.reconcile.status import WindowStatus
from streams.runtime.config import Settings
from streams.runtime.settler import Bill, Settler, differing_items, explain_difference
from streams.settle.disputes import bill_status
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


class _Evidence(Exception):
    """Raised where a dispute in time goes on to collect its evidence."""


def _buyer(monkeypatch: pytest.MonkeyPatch, after_bill_date: timedelta) -> Settler:
    """The Buyer with one stated bill (no settlement entry yet), ``after_bill_date`` late."""
    signer, at = demo_keypair("hgc"), STATEMENT.bill_date
    genesis = make_entry(
        None,
        party="hgc",
        agreement_id=BOOK.id,
        kind="genesis",
        payload={"x": 1},
        signer=signer,
        time=at,
    )
    entry = make_entry(
        genesis,
        party="hgc",
        agreement_id=BOOK.id,
        kind="statement",
        payload={"bill_id": STATEMENT.id, "statement_hash": STATEMENT.canonical_hash().hex()},
        signer=signer,
        time=at,
    )
    days = BOOK.latest.tolerances.dispute_days
    bill = Bill(entry, STATEMENT, bill_status(STATEMENT, [], dispute_days=days))
    buyer = Settler(
        Settings(party="dcc", kafka="127.0.0.1:1", agreement=EXAMPLE),
        clock=ManualClock(STATEMENT.bill_date + after_bill_date),
        redis_url="",
    )
    monkeypatch.setattr(buyer, "bills", lambda _snap: [bill])

    def evidence(*_args: object) -> None:
        raise _Evidence

    monkeypatch.setattr(buyer, "_evidence", evidence)
    return buyer


def test_a_dispute_after_the_window_is_refused_before_anything_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    days = BOOK.latest.tolerances.dispute_days
    item = STATEMENT.items[0].id
    late = _buyer(monkeypatch, timedelta(days=days, seconds=1))
    with pytest.raises(StackError, match="the dispute window closed on"):
        late.dispute(STATEMENT.id, [item], [], "late", snap=object())  # type: ignore[arg-type]
    in_time = _buyer(monkeypatch, timedelta(days=days))
    with pytest.raises(_Evidence):  # in time: it goes on to collect the evidence
        in_time.dispute(STATEMENT.id, [item], [], "in time", snap=object())  # type: ignore[arg-type]
    with pytest.raises(StackError, match="no such item"):
        in_time.dispute(STATEMENT.id, ["nope"], [], "x", snap=object())  # type: ignore[arg-type]


def test_the_buyer_reviews_no_bill_while_its_reconciliation_of_the_period_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer = _buyer(monkeypatch, timedelta(days=1))
    inside = to_ms(STATEMENT.period_start) + 3_600_000
    window = (inside, inside + 3_600_000)
    checked: list[str] = []
    monkeypatch.setattr(buyer, "check", lambda *_a: checked.append("check") or ([], "matches"))
    for state, waits in (("drilling", True), ("waiting", True), ("diverged", False)):
        status = WindowStatus(window, state, 0, 0)
        snap = SimpleNamespace(outcome=SimpleNamespace(windows=[status]))
        said = buyer.review(snap, dry_run=True)  # type: ignore[arg-type]
        assert ("waiting (reconciliation of 1 window(s)" in said[0]) is waits, said
    assert checked == ["check"]  # only the diverged (settled) period was checked
