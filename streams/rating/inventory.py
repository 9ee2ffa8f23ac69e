"""The product inventory both partners bill from, folded from Sonata order item events.

A product is billable from the completion of its ``add`` order item until the completion of
its ``delete`` order item (MEF 123 ``MEFProductOrderItemStateType`` ``completed``). Its offering
can change with a completed ``modify`` item. Charge items the Buyer accepted
(``acceptedByBuyer``) are billed; declined, withdrawn, timed-out or still-awaiting ones never.

The inventory is a pure fold and its view depends only on the *set* of events applied, never
on their order or repetition: a replayed notification, a restart that re-reads the topic, or
events arriving out of order all give the same products. Each derived field is a function of
the events (earliest completed add, earliest completed delete, the latest state of each charge
item by event time), so this holds by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.contract.records import ms_of
from streams.core.clock import from_ms
from streams.core.errors import RatingError

__all__ = ["ChargeItem", "Inventory", "OrderEvent", "Product"]

BILLABLE_CHARGE_STATE = "acceptedByBuyer"


@dataclass(frozen=True, slots=True)
class ChargeItem:
    """One MEF Charge Item of an order item, as the Seller's API reported it."""

    charge_id: str
    charge_item_id: str
    state: str
    price_type: str
    """MEF ``MEFPriceType``: ``recurring`` | ``nonRecurring`` | ``usageBased``."""
    recurring_charge_period: str | None
    price_category: str | None
    amount: Decimal
    currency: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.charge_id, self.charge_item_id)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A ``SonataOrderEvent``: one order item's state, with the charge items it references."""

    event_id: str
    event_type: str
    event_time: datetime
    order_id: str
    order_item_id: str
    state: str
    action: str
    product_id: str | None
    product_offering_id: str | None
    completion_date: datetime | None
    buyer_id: str
    seller_id: str
    charge_items: tuple[ChargeItem, ...] = ()

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> OrderEvent:
        completion = data.get("completion_date_ms")
        return cls(
            event_id=data["event_id"],
            event_type=data["event_type"],
            event_time=from_ms(ms_of(data["event_time_ms"])),
            order_id=data["order_id"],
            order_item_id=data["order_item_id"],
            state=data["state"],
            action=data["action"],
            product_id=data.get("product_id"),
            product_offering_id=data.get("product_offering_id"),
            completion_date=None if completion is None else from_ms(ms_of(completion)),
            buyer_id=data["buyer_id"],
            seller_id=data["seller_id"],
            charge_items=tuple(
                ChargeItem(
                    charge_id=c["charge_id"],
                    charge_item_id=c["charge_item_id"],
                    state=c["state"],
                    price_type=c["price_type"],
                    recurring_charge_period=c.get("recurring_charge_period"),
                    price_category=c.get("price_category"),
                    amount=Decimal(c["amount"]),
                    currency=c["currency"],
                )
                for c in data.get("charge_items", ())
            ),
        )

    @property
    def completed_at(self) -> datetime | None:
        """When a completed item took effect (completion date, else the event time)."""
        if self.state != "completed":
            return None
        return self.completion_date or self.event_time


@dataclass(frozen=True, slots=True)
class Product:
    """The billable view of one product."""

    product_id: str
    offerings: tuple[tuple[datetime, str], ...]
    """``(from, product offering id)``, in time order: the add, then each completed modify."""
    active_from: datetime | None
    """Completion of the add item; ``None`` while it is not completed."""
    active_until: datetime | None
    """Completion of the delete item; ``None`` while the product is not disconnected."""
    charges: tuple[ChargeItem, ...]
    """Charge items whose latest state is ``acceptedByBuyer``."""
    order_id: str = ""
    order_item_id: str = ""
    """The Product Order and its item that added the product (the completed ``add``; before
    completion, the earliest ``add`` event): what a bill item names as its MEF
    ``productOrderItem``. Empty when no ``add`` event is known."""

    def active_at(self, at: datetime) -> bool:
        return (
            self.active_from is not None
            and self.active_from <= at
            and (self.active_until is None or at < self.active_until)
        )

    def offering_at(self, at: datetime) -> str | None:
        current = None
        for since, offering in self.offerings:
            if since <= at:
                current = offering
        return current


class Inventory:
    """Products folded from order events; implements ``ProductLookup`` for the rater."""

    def __init__(self, events: Iterable[OrderEvent] = ()) -> None:
        self._events: dict[str, OrderEvent] = {}
        self._item_product: dict[tuple[str, str], str] = {}
        """(order id, order item id) → product id: item ids repeat across orders."""
        self._cache: dict[str, Product] = {}
        for event in events:
            self.apply(event)

    def apply(self, event: OrderEvent) -> bool:
        """Add ``event``; returns False if it was already applied (a replay)."""
        if event.event_id in self._events:
            return False
        self._events[event.event_id] = event
        if event.product_id is not None:
            self._item_product[(event.order_id, event.order_item_id)] = event.product_id
        self._cache.clear()
        return True

    def __len__(self) -> int:
        return len(self._events)

    def product_ids(self) -> list[str]:
        return sorted(set(self._item_product.values()))

    def product(self, product_id: str) -> Product | None:
        """The product's billable view, or ``None`` if no event names it."""
        if product_id not in self._cache:
            events = [e for e in self._events.values() if self._product_of(e) == product_id]
            if not events:
                return None
            self._cache[product_id] = _derive(product_id, events)
        return self._cache[product_id]

    def check(self, product_id: str, at: datetime) -> None:
        """``ProductLookup``: return if billable at ``at``, else raise ``RatingError``."""
        product = self.product(product_id)
        if product is None:
            raise RatingError(
                "unknown-product",
                f"product {product_id!r} is not in the inventory: no Sonata order created it",
            )
        if not product.active_at(at):
            if product.active_from is None:
                why = "its add order item is not completed"
            elif at < product.active_from:
                why = f"it is active only from {product.active_from.isoformat()}"
            else:
                assert product.active_until is not None
                why = f"it was disconnected at {product.active_until.isoformat()}"
            raise RatingError(
                "product-not-active",
                f"usage at {at.isoformat()} for product {product_id!r} is not billable: {why}",
            )

    def _product_of(self, event: OrderEvent) -> str | None:
        return event.product_id or self._item_product.get((event.order_id, event.order_item_id))


def _derive(product_id: str, events: list[OrderEvent]) -> Product:
    def completions(action: str) -> list[datetime]:
        return sorted(e.completed_at for e in events if e.action == action and e.completed_at)

    adds = [e for e in events if e.action == "add" and e.completed_at is not None]
    add = min(adds, key=lambda e: (e.completed_at, e.event_id), default=None)
    active_from = add.completed_at if add else None
    # The first disconnection after activation ends billing; a delete before it is ignored.
    active_until = next(
        (t for t in completions("delete") if active_from is not None and t > active_from), None
    )
    offerings: list[tuple[datetime, str]] = []
    if add is not None and add.product_offering_id and active_from is not None:
        offerings.append((active_from, add.product_offering_id))
    for e in events:
        if e.action == "modify" and e.completed_at is not None and e.product_offering_id:
            offerings.append((e.completed_at, e.product_offering_id))
    latest: dict[tuple[str, str], tuple[datetime, str, ChargeItem]] = {}
    for e in events:
        for item in e.charge_items:
            seen = latest.get(item.key)
            if seen is None or (e.event_time, e.event_id) > seen[:2]:
                latest[item.key] = (e.event_time, e.event_id, item)
    charges = tuple(
        item
        for _, _, item in sorted(latest.values(), key=lambda v: v[2].key)
        if item.state == BILLABLE_CHARGE_STATE
    )
    origin = add or min(
        (e for e in events if e.action == "add"),
        key=lambda e: (e.event_time, e.event_id),
        default=None,
    )
    return Product(
        product_id=product_id,
        offerings=tuple(sorted(set(offerings))),
        active_from=active_from,
        active_until=active_until,
        charges=charges,
        order_id=origin.order_id if origin else "",
        order_item_id=origin.order_item_id if origin else "",
    )
