from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.core.errors import RatingError
from streams.rating.inventory import ChargeItem, Inventory, OrderEvent


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(
    event_id: str,
    item: str,
    action: str,
    state: str,
    completed: str | None = None,
    product: str | None = "evc-1",
    offering: str | None = "evc-eline-1g",
    charges: tuple[ChargeItem, ...] = (),
    time: str = "2026-11-01T00:00:00",
) -> OrderEvent:
    return OrderEvent(
        event_id=event_id,
        event_type="productOrderItemStateChangeEvent",
        event_time=at(time),
        order_id="po-1",
        order_item_id=item,
        state=state,
        action=action,
        product_id=product,
        product_offering_id=offering,
        completion_date=at(completed) if completed else None,
        buyer_id="dcc",
        seller_id="hgc",
        charge_items=charges,
    )


def charge(
    item: str, state: str, price_type: str = "nonRecurring", amount: str = "250.00"
) -> ChargeItem:
    return ChargeItem("ch-1", item, state, price_type, None, None, Decimal(amount), "EUR")


ADD = event("e1", "item-1", "add", "completed", "2026-11-10T12:00:00")
DELETE = event("e2", "item-2", "delete", "completed", "2026-11-20T00:00:00")


def test_billable_from_add_completion_until_delete_completion() -> None:
    inventory = Inventory([ADD, DELETE])
    inventory.check("evc-1", at("2026-11-10T12:00:00"))
    inventory.check("evc-1", at("2026-11-19T23:59:59"))
    with pytest.raises(RatingError, match="active only from 2026-11-10T12:00:00") as early:
        inventory.check("evc-1", at("2026-11-10T11:59:59"))
    assert early.value.code == "product-not-active"
    with pytest.raises(RatingError, match="disconnected at 2026-11-20T00:00:00"):
        inventory.check("evc-1", at("2026-11-20T00:00:00"))


def test_unknown_and_uncompleted_products_are_not_billable() -> None:
    inventory = Inventory([event("e1", "item-1", "add", "inProgress")])
    with pytest.raises(RatingError, match="add order item is not completed"):
        inventory.check("evc-1", at("2026-11-15T00:00:00"))
    with pytest.raises(RatingError) as unknown:
        inventory.check("evc-9", at("2026-11-15T00:00:00"))
    assert unknown.value.code == "unknown-product"


def test_failed_or_cancelled_add_never_activates() -> None:
    inventory = Inventory(
        [event("e1", "item-1", "add", "failed"), event("e2", "item-1", "add", "cancelled")]
    )
    assert inventory.product("evc-1").active_from is None  # type: ignore[union-attr]


def test_replays_and_any_order_give_the_same_products() -> None:
    modify = event(
        "e3", "item-3", "modify", "completed", "2026-11-15T00:00:00", offering="evc-eline-10g"
    )
    progress = event("e0", "item-1", "add", "inProgress", product=None)
    events = [progress, ADD, modify, DELETE]
    views = set()
    for order in itertools.permutations(events):
        inventory = Inventory([*order, *order])  # every event twice
        assert len(inventory) == 4
        views.add(inventory.product("evc-1"))
    assert len(views) == 1
    (product,) = views
    assert product is not None
    assert product.offering_at(at("2026-11-12T00:00:00")) == "evc-eline-1g"
    assert product.offering_at(at("2026-11-16T00:00:00")) == "evc-eline-10g"


def test_apply_reports_replays() -> None:
    inventory = Inventory()
    assert inventory.apply(ADD) is True
    assert inventory.apply(ADD) is False


def test_item_without_product_id_links_through_its_order_item() -> None:
    early = event("e0", "item-1", "add", "completed", "2026-11-10T12:00:00", product=None)
    inventory = Inventory([early, event("e1", "item-1", "add", "inProgress")])
    inventory.check("evc-1", at("2026-11-11T00:00:00"))


def test_only_accepted_charges_count_and_the_latest_state_wins() -> None:
    offered = event(
        "e1",
        "item-1",
        "add",
        "inProgress",
        charges=(
            charge("c1", "awaitingResponse"),
            charge("c2", "awaitingResponse"),
            charge("c3", "awaitingResponse"),
        ),
    )
    answered = event(
        "e2",
        "item-1",
        "add",
        "completed",
        "2026-11-10T12:00:00",
        charges=(charge("c1", "acceptedByBuyer"), charge("c2", "declinedByBuyer")),
        time="2026-11-02T00:00:00",
    )
    withdrawn = event(
        "e3",
        "item-1",
        "add",
        "completed",
        "2026-11-10T12:00:00",
        charges=(charge("c3", "acceptedByBuyer"),),
        time="2026-11-03T00:00:00",
    )
    later = event(
        "e4",
        "item-1",
        "add",
        "completed",
        "2026-11-10T12:00:00",
        charges=(charge("c3", "withdrawnBySeller"),),
        time="2026-11-04T00:00:00",
    )
    for order in itertools.permutations([offered, answered, withdrawn, later]):
        product = Inventory(order).product("evc-1")
        assert product is not None
        assert [c.charge_item_id for c in product.charges] == ["c1"]


def test_from_avro() -> None:
    parsed = OrderEvent.from_avro(
        {
            "event_id": "e1",
            "event_type": "t",
            "event_time_ms": 1795514400000,
            "order_id": "po",
            "order_item_id": "i",
            "state": "completed",
            "action": "add",
            "product_id": "p",
            "product_offering_id": "o",
            "completion_date_ms": 1795514400000,
            "buyer_id": "b",
            "seller_id": "s",
            "charge_items": [
                {
                    "charge_id": "c",
                    "charge_item_id": "1",
                    "state": "acceptedByBuyer",
                    "price_type": "recurring",
                    "recurring_charge_period": "month",
                    "price_category": None,
                    "amount": "10.50",
                    "currency": "EUR",
                }
            ],
        }
    )
    assert parsed.completed_at == at("2026-11-24T10:00:00")
    assert parsed.charge_items[0].amount == Decimal("10.50")
