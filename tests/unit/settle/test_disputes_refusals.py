"""Entries the bill's rules refuse: a finding each, and no change of state."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from decimal import Decimal

from streams.ledger.entries import LedgerEntry, make_entry
from streams.settle.disputes import BillStatus, bill_status
from tests.fakes.settlement import AGREEMENT, DISPUTE_DAYS, I1, I2, I3, KEYS, Bill


def refused(before: BillStatus, after: BillStatus, kind: str) -> None:
    """``after`` is ``before`` plus one finding of ``kind``, the state otherwise unchanged."""
    new = [f for f in after.findings if f not in before.findings]
    assert [f.kind for f in new] == [kind], new
    same = ("state", "item_states", "amount_due", "paid", "remaining", "disputes", "credited")
    assert all(getattr(after, n) == getattr(before, n) for n in same), (before, after)


def disputed() -> tuple[Bill, LedgerEntry]:
    bill = Bill()
    bill.issue()
    return bill, bill.dispute([I2])


def test_dispute_after_the_window() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    deadline = bill.summary.bill_date + timedelta(days=DISPUTE_DAYS)
    bill.dispute([I1], at=deadline)  # on the deadline: in time
    assert bill.status().item_states[I1] == "disputeBeingInvestigated"
    late = Bill()
    late.issue()
    before = late.status()
    late.dispute([I1], at=deadline + timedelta(milliseconds=1))
    refused(before, late.status(), "late-dispute")


def test_dispute_of_unknown_or_closed_items() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    bill.dispute(["no-such-item"], dispute_id="d0")
    refused(before, bill.status(), "unknown-item")
    bill.dispute([I2])
    before = bill.status()
    bill.dispute([I1], dispute_id="d2")  # I1 was accepted by the first dispute
    refused(before, bill.status(), "item-not-open")
    before = bill.status()
    bill.dispute([I3], dispute_id="d1")  # the same dispute id again
    refused(before, bill.status(), "duplicate")


def test_entries_naming_another_statement() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    bill.dispute([I1], statement_hash=b"\x07" * 32)
    refused(before, bill.status(), "wrong-statement")
    before = bill.status()
    wrong_entry = (bill.statement_entry().sequence, bytes(32))
    bill.dispute([I1], dispute_id="d2", statement_entry=wrong_entry)
    refused(before, bill.status(), "wrong-statement")


def test_a_statement_that_is_not_the_bill() -> None:
    bill = Bill()
    before = bill.status()
    bill.issue(amount_due=Decimal("131"))
    refused(before, bill.status(), "wrong-statement")
    before = bill.status()
    bill.dispute([I1])  # names a statement entry the fold refused
    refused(before, bill.status(), "no-statement")


def test_a_second_statement() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    bill.issue(period_start=bill.summary.bill_date - timedelta(days=40))  # another payload
    refused(before, bill.status(), "duplicate")


def test_resolutions_refused() -> None:
    bill, dispute = disputed()
    attempts = [
        ({I2: ("credit", Decimal("50.01"))}, {}, "bad-credit"),  # I2 is 50.00
        ({I1: ("credit", Decimal("1"))}, {}, "item-not-disputed"),
        ({I2: ("credit", Decimal("1"))}, {"dispute_id": "d9"}, "unknown-dispute"),
        ({I2: ("credit", Decimal("1"))}, {"dispute_entry": (dispute.sequence, bytes(32))},
         "unknown-dispute"),
    ]  # fmt: skip
    for outcomes, changes, kind in attempts:
        before = bill.status()
        bill.resolve(dispute, outcomes, **changes)
        refused(before, bill.status(), kind)
    bill.resolve(dispute, {I2: ("credit", Decimal("50"))})  # the whole amount: allowed
    after = bill.status()
    assert after.item_states[I2] == "credit" and after.amount_due == Decimal("80")
    bill.resolve(dispute, {I2: ("withDrawn", Decimal(0))})
    refused(after, bill.status(), "item-not-disputed")  # resolved already


def test_negative_items_cannot_be_credited() -> None:
    bill = Bill()
    bill.issue()
    dispute = bill.dispute([I3])  # -20.00: traffic the Buyer terminated
    before = bill.status()
    bill.resolve(dispute, {I3: ("credit", Decimal("0.01"))})
    refused(before, bill.status(), "bad-credit")


def test_acceptance_of_an_unknown_resolution() -> None:
    bill, dispute = disputed()
    before = bill.status()
    bill.accept(dispute)  # a dispute entry, not a resolution
    refused(before, bill.status(), "unknown-resolution")


def test_payments_refused() -> None:
    bill, dispute = disputed()
    before = bill.status()
    bill.pay("10", "early")
    refused(before, bill.status(), "not-due")
    bill.resolve(dispute, {I2: ("paymentDue", Decimal(0))})
    before = bill.status()
    assert before.state == "paymentDue"
    bill.pay("130", "usd", currency="USD")
    refused(before, bill.status(), "wrong-currency")
    bill.pay("100", "p1")
    before = bill.status()
    bill.pay("1", "p1")
    refused(before, bill.status(), "duplicate")
    bill.pay("30", "p2")
    before = bill.status()
    assert before.state == "settled"
    bill.pay("1", "p3")
    refused(before, bill.status(), "not-due")


def test_entries_on_the_wrong_chain() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    # the Seller writes an acceptance on its own chain: not the Buyer's to write
    forged = dataclasses.replace(bill, buyer=bill.seller)
    forged.accept()
    refused(before, bill.status(), "wrong-signer")


def test_a_third_party_and_a_misshapen_payload() -> None:
    bill = Bill()
    bill.issue()
    before = bill.status()
    misshapen = make_entry(
        bill.buyer.entries[-1], party="dcc", agreement_id=AGREEMENT, kind="payment",
        payload={"bill_id": bill.statement.id, "amount": "1.0"}, signer=KEYS["dcc"],
        time=bill.now,
    )  # fmt: skip
    status = bill_status_with(bill, [misshapen])
    assert [f.kind for f in status.findings] == ["bad-payload"]
    eve = dataclasses.replace(bill.seller.entries[-1], party="eve")  # a statement by eve
    status = bill_status_with(bill, [eve])
    assert [(f.kind, f.party) for f in status.findings] == [("wrong-signer", "eve")]
    assert status.item_states == before.item_states


def test_a_decision_written_twice() -> None:
    bill = Bill()
    bill.issue()
    bill.accept()
    before = bill.status()
    bill.accept()  # the same payload at the next sequence
    refused(before, bill.status(), "duplicate")


def bill_status_with(bill: Bill, extra: list[LedgerEntry]) -> BillStatus:
    return bill_status(bill.summary, [*bill.seller.entries, *bill.buyer.entries, *extra])


def test_a_payload_that_is_not_json() -> None:
    bill = Bill()
    bill.issue()
    entry = bill.buyer.entries[-1]
    broken = dataclasses.replace(
        entry, kind="dispute", sequence=entry.sequence + 1, payload=b"[1, 2",
        payload_hash=hashlib.sha256(b"[1, 2").digest(),
    )  # fmt: skip
    status = bill_status_with(bill, [broken])
    assert [f.kind for f in status.findings] == ["bad-payload"]
