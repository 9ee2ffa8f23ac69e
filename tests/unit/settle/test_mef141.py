"""Statements as MEF 141 CustomerBill / CustomerBillItem JSON (streams.settle.mef141), valid
against the vendored billingManagement.api.yaml, money exact."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.settle.disputes import bill_status
from streams.settle.mef141 import bill_items, customer_bill, dumps, money
from streams.settle.mef_schema import problems
from streams.settle.statement import Statement, build_statements
from tests.fakes.period import AT, BOOK, SELLER, inventory, windows

D = Decimal
ZERO = D(0)
BASE = "https://hgc.example/mefApi/sonata/customerBillManagement/v1"


def statements() -> dict[str, Statement]:
    found = build_statements(BOOK, SELLER, AT, windows(SELLER), inventory())
    return {s.currency: s for s in found}


@dataclasses.dataclass(frozen=True)
class Status:
    """What mef141 reads of H2's BillStatus."""

    item_states: dict[str, str]
    credited: dict[str, Decimal]
    state: str = "paymentDue"
    paid: Decimal = ZERO
    last_update: datetime = datetime(2026, 12, 10, 9, 30, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize("currency", ["EUR", "USD"])
def test_bills_and_items_validate_against_the_mef_spec(currency: str) -> None:
    statement = statements()[currency]
    bill = customer_bill(statement, href_base=BASE)
    assert problems("CustomerBill", bill) == []
    for item in bill_items(statement, href_base=BASE):
        assert problems("CustomerBillItem", item) == []
    # and as the JSON text a client reads
    text = dumps(bill)
    assert problems("CustomerBill", json.loads(text)) == []


def test_the_bill_states_the_hand_computed_totals() -> None:
    eur, usd = statements()["EUR"], statements()["USD"]
    bill = customer_bill(eur, href_base=BASE)
    assert bill["amountDue"] == {"unit": "EUR", "value": D("1061.7527")}
    assert bill["remainingAmount"] == bill["taxIncludedAmount"] == bill["amountDue"]
    assert bill["discounts"] == {"unit": "EUR", "value": D("75.0000")}  # the data tiers
    assert bill["credits"] == bill["fees"] == {"unit": "EUR", "value": D("0.0000")}
    assert bill["billingPeriod"] == {
        "startDateTime": "2026-10-31T23:00:00Z",
        "endDateTime": "2026-11-30T23:00:00Z",
    }
    assert (bill["billDate"], bill["paymentDueDate"], bill["billCycle"]) == (
        "2026-12-01T23:00:00Z",
        "2026-12-31T23:00:00Z",
        "2026-11",
    )
    assert (bill["billingAccount"], bill["financialAccount"]) == ({"id": "dcc"}, {"id": "hgc"})
    assert bill["href"] == bill["billDocument"]["url"] == f"{BASE}/customerBill/{eur.id}"
    assert [c["id"] for c in bill["customerBillItem"]] == [i.id for i in eur.items]
    assert [c["emailAddress"] for c in bill["relatedContactInformation"]] == [
        "settlement@hgc.example",
        "billing@dcc.example",
    ]
    assert customer_bill(usd)["amountDue"] == {"unit": "USD", "value": D("272.5694")}


def test_items_carry_products_orders_and_exact_money() -> None:
    eur = statements()["EUR"]
    items = {i["id"][-4:]: i for i in bill_items(eur)}
    voice = items["0006"]
    assert voice["product"] == {"id": "PRD-VOICE-1"}
    assert voice["productOrderItem"] == {"productOrderId": "PO-1", "productOrderItemId": "1"}
    assert voice["customerBillItemType"] == "usageBased" and voice["state"] == "generated"
    assert voice["taxExcludedAmount"] == {"unit": "EUR", "value": D("0.0960")}
    assert voice["unitRate"] == {"unit": "EUR", "value": D("0.0090")}
    assert (voice["unit"], voice["unitQuantity"]) == ("minute", D("8.016667"))
    assert items["0007"]["taxExcludedAmount"]["value"] == D("-0.0140")
    assert '"value":-0.0140' in dumps(items["0007"])
    assert '"unitQuantity":8.016667' in dumps(voice)
    assert items["0003"]["customerBillItemType"] == "recurring"
    assert items["0003"]["productOrderItem"]["productOrderId"] == "PO-7001"


def test_a_status_sets_states_credits_and_payments() -> None:
    eur = statements()["EUR"]
    first, second, third = (i.id for i in eur.items[:3])
    status = Status(
        item_states={first: "credit", second: "withdrawn", third: "paymentDue"},
        credited={first: D("100")},
        paid=D("500"),
    )
    bill = customer_bill(eur, status)
    assert problems("CustomerBill", bill) == []
    # due: 1061.7527 - (-75.0000, withdrawn) - 100 credit = 1036.7527; remaining - 500 paid
    assert bill["amountDue"]["value"] == D("1036.7527")
    assert bill["credits"]["value"] == D("100.0000")
    assert bill["remainingAmount"]["value"] == D("536.7527")
    assert bill["appliedPayment"] == [{"appliedAmount": {"unit": "EUR", "value": D("500.0000")}}]
    assert (bill["state"], bill["lastUpdate"]) == ("paymentDue", "2026-12-10T09:30:00.250Z")
    states = [i["state"] for i in bill_items(eur, status)]
    assert states[:4] == ["credit", "withDrawn", "paymentDue", "generated"]
    for item in bill_items(eur, status):
        assert problems("CustomerBillItem", item) == []


def test_money_refuses_what_a_double_would_change() -> None:
    assert money(D("12345678901.2345"), "EUR", 4)["value"] == D("12345678901.2345")
    assert money(D("100000000000000"), "EUR", 4)["value"] == D("100000000000000.0000")
    with pytest.raises(ValueError, match="16 significant digits"):
        money(D("123456789012.3456"), "EUR", 4)
    with pytest.raises(ValueError, match="finite"):
        money(D("NaN"), "EUR")
    assert dumps({"v": D("0E-4"), "w": [D("1E+2"), None, "é"]}) == '{"v":0.0000,"w":[100,null,"é"]}'


def test_the_bill_state_fold_of_a_fresh_statement_changes_nothing() -> None:
    eur = statements()["EUR"]
    status = bill_status(eur, [], dispute_days=30)
    bill = customer_bill(eur, status, href_base=BASE)
    assert bill == customer_bill(eur, href_base=BASE)
    assert bill_items(eur, status) == bill_items(eur)
