"""ProductOrder + Charges → SonataOrderEvent records: fields, exact amounts, every problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.sonata import SellerDataError
from connectors.sonata.notifications import Notification, loads_exact, parse_notification
from connectors.sonata.orders import SUBJECT, charge_ids, event_id_of, order_events, record_key
from streams.runtime.registry import make_codec
from tests.fakes.mef_payloads import (
    CHARGE_ID,
    COMPLETED_AT_MS,
    EVENT_TIME_MS,
    OFFERING_ID,
    ORDER_ID,
    PRODUCT_ID,
    charge,
    charge_item,
    dumps,
    management,
    notification,
    order_item,
    product_order,
)


def note(event_type: str = "productOrderItemStateChangeEvent", **kwargs: Any) -> Notification:
    result = parse_notification(dumps(notification(event_type, **kwargs)), event_type)
    assert isinstance(result, Notification), result
    return result


def seller_json(value: Any) -> Any:
    """What the client hands over: the Seller's JSON text parsed with exact decimals."""
    return loads_exact(dumps(value))


def events(
    n: Notification, order: Any, charges: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    charges = {CHARGE_ID: charge()} if charges is None else charges
    return order_events(
        n,
        seller_json(order),
        {k: seller_json(v) for k, v in charges.items()},
        buyer_id="dcc",
        seller_id="hgc",
    )


def problems(n: Notification, order: Any, charges: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(SellerDataError) as info:
        events(n, order, charges)
    assert str(info.value).startswith(f"Seller data is not usable ({len(info.value.problems)} ")
    return list(info.value.problems)


def test_builder_payloads_are_valid_mef() -> None:
    management().assert_valid("ProductOrder", product_order())
    management().assert_valid("MEFProductOrderCharge", charge())
    delete = order_item("2", action="delete", state="inProgress", completion_date=None, charges=())
    management().assert_valid("ProductOrder", product_order(items=[order_item(), delete]))


def test_completed_add_item() -> None:
    (record,) = events(note(), product_order())
    assert record == {
        "event_id": "EVT-20261124-0001/1",
        "event_type": "productOrderItemStateChangeEvent",
        "event_time_ms": EVENT_TIME_MS,
        "order_id": ORDER_ID,
        "order_item_id": "1",
        "state": "completed",
        "action": "add",
        "product_id": PRODUCT_ID,
        "product_offering_id": OFFERING_ID,
        "completion_date_ms": COMPLETED_AT_MS,
        "buyer_id": "dcc",
        "seller_id": "hgc",
        "charge_items": [
            {
                "charge_id": CHARGE_ID,
                "charge_item_id": "1",
                "state": "acceptedByBuyer",
                "price_type": "recurring",
                "recurring_charge_period": "month",
                "price_category": "other",
                "amount": "1250.0000",
                "currency": "USD",
            },
            {
                "charge_id": CHARGE_ID,
                "charge_item_id": "2",
                "state": "declinedByBuyer",
                "price_type": "nonRecurring",
                "recurring_charge_period": None,
                "price_category": "construction",
                "amount": "3000.00",
                "currency": "USD",
            },
        ],
    }
    assert record_key(record) == PRODUCT_ID.encode()
    codec = make_codec()
    assert codec.decode(SUBJECT, codec.encode(SUBJECT, record)) == record


def test_parties_named_by_the_notification_win() -> None:
    (record,) = events(note(buyer_id="dcc-eu", seller_id="hgc-hk"), product_order())
    assert (record["buyer_id"], record["seller_id"]) == ("dcc-eu", "hgc-hk")


def test_order_event_gives_one_record_per_item_item_event_only_its_item() -> None:
    second = order_item("2", product_id=None, state="inProgress", completion_date=None, charges=())
    order = product_order(items=[order_item(), second], state="inProgress")
    whole = events(note("productOrderStateChangeEvent", item_id=None), order)
    assert [r["order_item_id"] for r in whole] == ["1", "2"]
    assert [r["event_id"] for r in whole] == ["EVT-20261124-0001/1", "EVT-20261124-0001/2"]
    pending = whole[1]
    assert (pending["state"], pending["product_id"], pending["completion_date_ms"]) == (
        "inProgress",
        None,
        None,
    )
    assert pending["charge_items"] == []
    assert record_key(pending) == f"{ORDER_ID}/2".encode()
    (only,) = events(note(item_id="2"), order)
    assert only["order_item_id"] == "2"


def test_same_inputs_same_records_whatever_the_charge_item_order() -> None:
    n, order = note(), product_order()
    listed = charge(items=[charge_item("b"), charge_item("a", amount="1.5")])
    reversed_ = charge(items=[charge_item("a", amount="1.5"), charge_item("b")])
    first = events(n, order, {CHARGE_ID: listed})
    assert first == events(n, order, {CHARGE_ID: reversed_})
    assert [c["charge_item_id"] for c in first[0]["charge_items"]] == ["a", "b"]
    assert event_id_of("E/1", "2") == "E/1/2"


@pytest.mark.parametrize(
    ("json_number", "want"),
    [
        ("1250.0000", "1250.0000"),
        ("99", "99"),
        ("0.1", "0.1"),
        ("1.25E3", "1250"),
        ("12345678901234567890.123456789", "12345678901234567890.123456789"),
        ("-0.0", "0.0"),
    ],
)
def test_amounts_keep_the_exact_json_digits(json_number: str, want: str) -> None:
    text = dumps(charge(items=[charge_item(amount=0)])).replace(
        b'"value":0', b'"value":' + json_number.encode()
    )
    (record,) = order_events(
        note(),
        seller_json(product_order()),
        {CHARGE_ID: loads_exact(text)},
        buyer_id="b",
        seller_id="s",
    )
    assert record["charge_items"][0]["amount"] == want


def test_a_float_amount_is_refused_not_rounded() -> None:
    bad = charge(items=[charge_item()])
    parsed = seller_json(bad)
    parsed["chargeItem"][0]["price"]["dutyFreeAmount"]["value"] = 0.1
    with pytest.raises(SellerDataError, match="parse JSON with parse_float=Decimal"):
        order_events(
            note(), seller_json(product_order()), {CHARGE_ID: parsed}, buyer_id="b", seller_id="s"
        )


def test_every_charge_problem_is_reported() -> None:
    bad_items: list[Any] = [
        charge_item("1", state="accepted", amount="-5"),
        charge_item("2", price_type="oneOff", period="fortnight", currency="usd"),
        {"id": "3", "price": {"dutyFreeAmount": {"value": "12"}}},
        "four",
    ]
    bad = charge(items=bad_items, order_id="PO-9", item_id="7")
    where = f"Charge {CHARGE_ID!r} $"
    assert problems(note(), product_order(), {CHARGE_ID: bad}) == [
        f"{where}.productOrderItem: got order 'PO-9' item '7', want order 'PO-7001' item '1' "
        "(the item that references this Charge)",
        f"{where}.chargeItem[0].price.dutyFreeAmount.value: got number -5, "
        "want a finite number >= 0",
        f"{where}.chargeItem[0].state: got 'accepted', want one of awaitingResponse, "
        "acceptedByBuyer, declinedByBuyer, withdrawnBySeller",
        f"{where}.chargeItem[1].price.dutyFreeAmount.unit: got 'usd', want an ISO 4217 code "
        "such as 'USD'",
        f"{where}.chargeItem[1].priceType: got 'oneOff', want one of recurring, nonRecurring, "
        "usageBased",
        f"{where}.chargeItem[1].recurringChargePeriod: got 'fortnight', want one of hour, day, "
        "week, month, year",
        f"{where}.chargeItem[2].price.dutyFreeAmount.value: got '12', want an exact JSON number",
        f"{where}.chargeItem[2].price.dutyFreeAmount.unit: got null, want an ISO 4217 code such "
        "as 'USD'",
        f"{where}.chargeItem[2].state: got nothing, want one of awaitingResponse, "
        "acceptedByBuyer, declinedByBuyer, withdrawnBySeller",
        f"{where}.chargeItem[2].priceType: got nothing, want one of recurring, nonRecurring, "
        "usageBased",
        f"{where}.chargeItem[3]: got 'four', want an object",
    ]


def test_every_order_problem_is_reported() -> None:
    item = order_item(action="install", state="done", completion_date="2026-11-24")
    item["product"]["productOffering"] = {"id": 42}
    item["charge"] = [{"id": CHARGE_ID}, {"href": "x"}, {"id": "CHG-MISSING"}]
    order = product_order("PO-OTHER", items=[item])
    path = "ProductOrder $.productOrderItem[0]"
    assert problems(note(), order) == [
        "ProductOrder $.id: got 'PO-OTHER', want 'PO-7001' (the notification's event.id)",
        f"{path}.product.productOffering.id: got number 42, want a non-empty string",
        f"{path}.completionDate: got '2026-11-24', want an RFC 3339 date-time with an offset, "
        "e.g. '2026-11-24T10:00:00.000Z'",
        f"{path}.state: got 'done', want one of acknowledged, cancelled, completed, failed, "
        "held, inProgress, pending, rejected, rejected.validated, rejected.unassessed",
        f"{path}.action: got 'install', want one of add, modify, delete",
        f"{path}.charge[1].id: got nothing, want a non-empty string",
        f"{path}.charge: Charge 'CHG-MISSING' was referenced but not supplied",
    ]


def test_the_notified_item_must_exist() -> None:
    assert problems(note(item_id="9"), product_order()) == [
        "ProductOrder $.productOrderItem: got items '1', want the item '9' "
        "(the notification's event.orderItemId)"
    ]


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        ([], "ProductOrder $: got an array, want an object (a MEF ProductOrder)"),
        (
            {"id": ORDER_ID, "productOrderItem": []},
            "ProductOrder $.productOrderItem: got an array, want a non-empty array",
        ),
        (
            {"id": ORDER_ID, "productOrderItem": [None]},
            "ProductOrder $.productOrderItem[0]: got null, want an object",
        ),
    ],
)
def test_not_a_product_order(order: Any, problem: str) -> None:
    assert problem in problems(note("productOrderStateChangeEvent", item_id=None), order)


def test_charge_id_mismatch_and_non_object_charge() -> None:
    n = note()
    assert problems(n, product_order(), {CHARGE_ID: charge("CHG-X")}) == [
        f"Charge {CHARGE_ID!r} $.id: got 'CHG-X', want {CHARGE_ID!r}"
    ]
    assert problems(n, product_order(), {CHARGE_ID: "gone"}) == [
        f"Charge {CHARGE_ID!r} $: got 'gone', want an object (a MEF Charge)"
    ]


def test_charge_ids_are_those_of_the_concerned_items_deduplicated() -> None:
    first = order_item("1", charges=("C1", "C2", "C1"))
    second = order_item("2", charges=("C2", "C3"))
    order = seller_json(product_order(items=[first, second]))
    assert charge_ids(note(item_id="2"), order) == ["C2", "C3"]
    assert charge_ids(note("productOrderStateChangeEvent", item_id=None), order) == [
        "C1",
        "C2",
        "C3",
    ]
    with pytest.raises(SellerDataError, match="want the item '5'"):
        charge_ids(note(item_id="5"), order)


def test_missing_optional_fields_become_nulls() -> None:
    item = order_item(product_id=None, offering_id=None, completion_date=None, charges=())
    item["state"] = "acknowledged"
    del item["product"]
    (record,) = events(note(), product_order(items=[item]), {})
    assert record["product_id"] is None and record["product_offering_id"] is None
    assert record["completion_date_ms"] is None and record["charge_items"] == []
    only = charge(items=[charge_item(period=None, amount=Decimal("7"))])
    del only["chargeItem"][0]["priceCategory"]
    (record,) = events(note(), product_order(), {CHARGE_ID: only})
    assert record["charge_items"][0]["price_category"] is None


def test_non_order_events_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="want a ProductOrderEvent type"):
        events(note("chargeStateChangeEvent", subject_id="C1", item_id=None), product_order())


def test_a_lone_surrogate_in_the_sellers_ids_is_a_data_problem_not_a_crash() -> None:
    """JSON's \\udc00 escape parses to a str UTF-8 cannot encode: as a Charge id it would break
    the Charge's URL, as a product id the Avro record; it is reported like any bad value."""
    order = product_order(items=[order_item(product_id="PRD-\udc00", charges=("C-\ud800",))])
    with pytest.raises(SellerDataError) as info:
        charge_ids(note(), seller_json(order))
    assert info.value.problems == (
        "ProductOrder $.productOrderItem[0].charge[0].id: got a string with a lone surrogate "
        "at index 2, want Unicode text",
    )
    order = product_order(items=[order_item(product_id="PRD-\udc00")])
    assert problems(note(), order) == [
        "ProductOrder $.productOrderItem[0].product.id: got a string with a lone surrogate at "
        "index 4, want Unicode text"
    ]
