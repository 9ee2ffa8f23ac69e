"""The MEF 141 schema validator (streams.settle.mef_schema) on hand-written bills."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.settle.mef_schema import components, problems

MONEY = {"unit": "EUR", "value": 12.5}
PERIOD = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00+00:00"}

BILL: dict[str, Any] = {
    "id": "hgc-dcc-2026-2026-03-EUR",
    "amountDue": MONEY,
    "appliedPayment": [],
    "billCycle": "2026-03",
    "billDate": "2026-04-02T00:00:00Z",
    "billDocument": {"url": "/customerBill/hgc-dcc-2026-2026-03-EUR"},
    "billNo": "hgc-dcc-2026-2026-03-EUR",
    "billingAccount": {"id": "dcc"},
    "billingPeriod": PERIOD,
    "category": "normal",
    "credits": {"unit": "EUR", "value": 0},
    "customerBillItem": [{"id": "hgc-dcc-2026-2026-03-EUR-0001"}],
    "discounts": {"unit": "EUR", "value": 0},
    "fees": {"unit": "EUR", "value": 0},
    "financialAccount": {"id": "hgc"},
    "lastUpdate": "2026-04-02T00:00:00Z",
    "paymentDueDate": "2026-05-02T00:00:00Z",
    "relatedContactInformation": [
        {"emailAddress": "billing@hgc.example", "name": "HGC", "number": "", "role": "seller"}
    ],
    "remainingAmount": MONEY,
    "runType": "onCycle",
    "state": "generated",
    "taxExcludedAmount": MONEY,
    "taxIncludedAmount": MONEY,
    "taxItem": [],
}


def test_a_minimal_customer_bill_is_valid() -> None:
    assert problems("CustomerBill", BILL) == []


def test_a_missing_required_field_and_a_wrong_enum_are_reported_with_their_path() -> None:
    bill = copy.deepcopy(BILL)
    del bill["billNo"]
    bill["state"] = "paid"
    bill["customerBillItem"].append({"href": "x"})
    assert problems("CustomerBill", bill) == [
        "$: 'billNo' is a required property",
        "$.customerBillItem[1]: 'id' is a required property",
        "$.state: 'paid' is not one of ['generated', 'paymentDue', 'settled']",
    ]


def test_refs_are_followed_into_nested_components() -> None:
    bill = copy.deepcopy(BILL)
    bill["amountDue"] = {"unit": "EUR", "value": "12.5"}
    bill["billDate"] = "2026-04-02 00:00"
    assert problems("CustomerBill", bill) == [
        "$.amountDue.value: '12.5' is not of type 'number'",
        "$.billDate: '2026-04-02 00:00' is not a 'date-time'",
    ]


def test_a_date_time_needs_an_offset_and_a_real_calendar_day() -> None:
    assert problems("TimePeriod", {"startDateTime": "2026-04-02T00:00:00"}) != []
    assert problems("TimePeriod", {"startDateTime": "2026-02-30T00:00:00Z"}) != []
    assert problems("TimePeriod", {"startDateTime": "2026-02-28T23:59:59.123+05:30"}) == []


def test_notification_events_are_checked_against_billing_notification() -> None:
    event = {
        "eventId": "e-1",
        "eventTime": "2026-04-02T00:00:00Z",
        "eventType": "customerBillCreateEvent",
        "event": {"id": "hgc-dcc-2026-2026-03-EUR"},
    }
    assert problems("CustomerBillEvent", event, spec="billingNotification") == []
    event["eventType"] = "customerBillDeleteEvent"
    del event["event"]
    assert problems("CustomerBillEvent", event, spec="billingNotification") == [
        "$: 'event' is a required property",
        "$.eventType: 'customerBillDeleteEvent' is not one of "
        "['customerBillCreateEvent', 'customerBillStateChangeEvent']",
    ]


def test_unknown_specs_and_components_are_programming_errors() -> None:
    assert "CustomerBillItem" in components()
    with pytest.raises(KeyError, match="CustomerBil"):
        problems("CustomerBil", {})
    with pytest.raises(KeyError, match="productOrderManagement"):
        problems("ProductOrder", {}, spec="productOrderManagement")
