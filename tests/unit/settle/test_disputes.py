"""The bill's state machine: full round trips through both chains, the state right at each step;
order independence and idempotence."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from streams.ledger.entries import LedgerEntry
from streams.settle.disputes import BillStatus, BillSummary, bill_status, normalise_item_state
from tests.fakes.settlement import DISPUTE_DAYS, I1, I2, I3, KEYS, Bill, FakeStatement


def states(status: BillStatus) -> tuple[str, str, str, str]:
    return (status.state, status.item_states[I1], status.item_states[I2], status.item_states[I3])


def test_round_trip_ending_in_credit() -> None:
    bill = Bill()
    assert states(bill.status()) == ("generated", "generated", "generated", "generated")
    assert bill.status().statement_entry is None

    statement = bill.issue()
    status = bill.status()
    assert states(status) == ("generated", "generated", "generated", "generated")
    assert status.statement_entry == (statement.sequence, statement.entry_hash())
    assert status.amount_due == Decimal("130") and status.remaining == Decimal("130")

    dispute = bill.dispute([I2])
    status = bill.status()
    # the items not disputed are accepted: only I2 is under investigation
    assert states(status) == ("generated", "paymentDue", "disputeBeingInvestigated", "paymentDue")
    (d,) = status.disputes
    assert (d.dispute_id, d.state, d.items, d.outcomes) == ("d1", "open", (I2,), ())
    assert d.entry == (dispute.sequence, dispute.entry_hash())

    resolution = bill.resolve(dispute, {I2: ("credit", Decimal("30"))})
    status = bill.status()
    assert states(status) == ("paymentDue", "paymentDue", "credit", "paymentDue")
    assert status.credited == {I2: Decimal("30")} and status.credits == Decimal("30")
    assert status.amount_due == Decimal("100") and status.remaining == Decimal("100")
    assert status.disputes[0].state == "resolved"
    assert status.disputes[0].resolutions == ((resolution.sequence, resolution.entry_hash()),)

    bill.accept(resolution)
    status = bill.status()
    assert states(status) == ("paymentDue", "paymentDue", "credit", "paymentDue")
    assert status.disputes[0].accepted and not status.accepted

    bill.pay("60", "p1")
    status = bill.status()
    assert states(status) == ("paymentDue", "paymentDue", "credit", "paymentDue")
    assert (status.paid, status.remaining) == (Decimal("60"), Decimal("40"))

    payment = bill.pay("40", "p2")
    status = bill.status()
    assert states(status) == ("settled", "settled", "credit", "settled")
    assert (status.paid, status.remaining, status.payments) == (
        Decimal("100"),
        Decimal("0"),
        ("p1", "p2"),
    )
    assert status.findings == ()
    assert status.last_update == payment.time


def test_round_trip_ending_in_withdrawn() -> None:
    bill = Bill()
    bill.issue()
    dispute = bill.dispute([I1, I2])
    assert states(bill.status()) == (
        "generated",
        "disputeBeingInvestigated",
        "disputeBeingInvestigated",
        "paymentDue",
    )
    # one resolution may settle part of a dispute: it stays open until every item has one
    first = bill.resolve(dispute, {I2: ("withdrawn", Decimal(0))})  # the prose spelling
    status = bill.status()
    assert states(status) == ("generated", "disputeBeingInvestigated", "withDrawn", "paymentDue")
    assert status.disputes[0].state == "open"
    assert status.amount_due == Decimal("80")  # 100 + (-20): I2 is not billed at all

    second = bill.resolve(dispute, {I1: ("paymentDue", Decimal(0))})  # rejected for I1
    status = bill.status()
    assert states(status) == ("paymentDue", "paymentDue", "withDrawn", "paymentDue")
    assert status.disputes[0].state == "resolved"
    assert [o.state for o in status.disputes[0].outcomes] == ["paymentDue", "withDrawn"]
    assert len(status.disputes[0].resolutions) == 2 and first != second

    bill.accept(second)
    bill.pay("80")
    status = bill.status()
    assert states(status) == ("settled", "settled", "withDrawn", "settled")
    assert status.to_json()["item_states"][I2] == "withDrawn"
    assert status.findings == ()


def test_accepted_without_dispute() -> None:
    bill = Bill()
    bill.issue()
    bill.accept()
    status = bill.status()
    assert states(status) == ("paymentDue", "paymentDue", "paymentDue", "paymentDue")
    assert status.accepted
    bill.pay("130")
    assert states(bill.status()) == ("settled", "settled", "settled", "settled")


def test_nothing_due_settles_without_payment() -> None:
    """A bill whose amount due is 0 or less settles once no item is open."""
    bill = Bill()
    bill.issue()
    dispute = bill.dispute([I1, I2])
    bill.resolve(dispute, {I1: ("withDrawn", Decimal(0)), I2: ("credit", Decimal("50"))})
    status = bill.status()
    assert status.amount_due == Decimal("-20")
    assert states(status) == ("settled", "withDrawn", "credit", "settled")


def test_the_order_the_entries_are_read_in_does_not_matter() -> None:
    bill = Bill()
    bill.issue()
    dispute = bill.dispute([I2])
    resolution = bill.resolve(dispute, {I2: ("credit", Decimal("12.5"))})
    bill.accept(resolution)
    bill.pay("117.5")
    entries = [*bill.seller.entries, *bill.buyer.entries]
    want = bill_status(bill.summary, entries)
    assert want.state == "settled"
    rng = random.Random(13)
    for _ in range(20):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        assert bill_status(bill.summary, shuffled) == want


def test_the_merge_waits_for_what_an_entry_names() -> None:
    """The Seller's chain is read first, but its payment waits for the Buyer's acceptance and
    its resolution for the dispute: the merge follows the references, not the input."""
    bill = Bill()
    bill.issue()
    bill.accept()
    bill.pay("130")
    status = bill_status(bill.summary, [*bill.seller.entries, *bill.buyer.entries])
    assert status.state == "settled" and status.findings == ()


def test_the_same_entry_twice_is_one_entry() -> None:
    bill = Bill()
    bill.issue()
    dispute = bill.dispute([I2])
    bill.resolve(dispute, {I2: ("credit", Decimal("1"))})
    bill.accept()
    bill.pay("129")
    entries = [*bill.seller.entries, *bill.buyer.entries]
    once = bill_status(bill.summary, entries)
    assert bill_status(bill.summary, entries * 3) == once
    assert once.findings == () and once.state == "settled"


def test_entries_of_other_kinds_and_bills_are_ignored() -> None:
    bill, other = Bill(), Bill(statement=FakeStatement(id="agr-2026-2026-04-EUR"))
    bill.issue()
    other.seller = bill.seller
    other.issue()  # another bill's statement on the same chain
    status = bill.status()
    assert status.findings == () and status.statement_entry is not None
    assert bill.seller.entries[0].kind == "genesis"  # passed in, ignored


def test_summary_of_a_statement_and_bill_status_of_one() -> None:
    statement = FakeStatement()
    summary = BillSummary.of(statement, DISPUTE_DAYS)
    assert summary.amount == Decimal("130")
    assert summary.dispute_deadline == statement.bill_date + timedelta(days=DISPUTE_DAYS)
    assert (summary.seller, summary.buyer, summary.currency) == ("hgc", "dcc", "EUR")
    assert bill_status(statement, [], dispute_days=DISPUTE_DAYS) == bill_status(summary, [])
    with pytest.raises(ValueError, match="dispute_days"):
        bill_status(statement, [])


def test_roles_inferred_when_the_summary_does_not_name_them() -> None:
    bill = Bill()
    bill.issue()
    bill.accept()
    anonymous = BillSummary(
        bill_id=bill.summary.bill_id,
        statement_hash=bill.summary.statement_hash,
        items=bill.summary.items,
        bill_date=bill.summary.bill_date,
        dispute_days=DISPUTE_DAYS,
    )
    entries: list[LedgerEntry] = [*bill.buyer.entries, *bill.seller.entries]
    assert bill_status(anonymous, entries).state == "paymentDue"


def test_item_state_spelling() -> None:
    assert normalise_item_state("withdrawn") == "withDrawn"
    assert normalise_item_state("withDrawn") == "withDrawn"
    assert normalise_item_state("credit") == "credit"


def test_a_statement_of_the_period_close() -> None:
    """H1's Statement is read as it is: its hash, items and bill date make the summary, and the
    statement entry its fields give is applied without a finding."""
    from streams.ledger.entries import make_entry
    from streams.ledger.settlement import statement_payload
    from streams.settle.period_close import build_statements
    from tests.fakes.period import AT, BOOK, SELLER, inventory, windows

    (statement, *_) = build_statements(BOOK, SELLER, AT, windows(SELLER), inventory())
    payload = statement_payload(
        agreement_id=statement.agreement_id,
        bill_id=statement.id,
        currency=statement.currency,
        period_start=statement.period_start,
        period_end=statement.period_end,
        bill_date=statement.bill_date,
        statement_hash=statement.canonical_hash(),
        amount_due=statement.amount_due,
        item_count=len(statement.items),
    )
    genesis = make_entry(
        None,
        party=statement.seller,
        agreement_id=statement.agreement_id,
        kind="genesis",
        payload={},
        signer=KEYS[SELLER],
        time=statement.bill_date,
    )
    entry = make_entry(genesis, party=statement.seller, agreement_id=statement.agreement_id,
                       kind="statement", payload=payload, signer=KEYS[SELLER],
                       time=statement.bill_date)  # fmt: skip
    status = bill_status(statement, [genesis, entry], dispute_days=DISPUTE_DAYS)
    assert status.findings == () and status.statement_entry is not None
    assert status.amount_due == statement.amount_due
    assert set(status.item_states) == {item.id for item in statement.items}
