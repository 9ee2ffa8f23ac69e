"""A fetched MEF ProductOrder and its Charges → ``SonataOrderEvent`` records (Avro dicts).

Pure: no HTTP, no Kafka. Input is JSON as :func:`~connectors.sonata.notifications.loads_exact`
parses it (non-integer numbers as ``Decimal``), so amounts keep the Seller's exact digits.

One record per concerned order item: every item of the order for a
``productOrderStateChangeEvent``, the one item ``event.orderItemId`` names for the item events.
Each record carries every Charge Item of every Charge the item references
(``ProductOrderItem.charge[].id``), each with its MEF state; only ``acceptedByBuyer`` items
are billable, and that choice is left to the consumer so that declined and withdrawn items
stay visible.

Only the fields that are mapped are checked, each against its MEF type, and *every* problem is
reported at once as :class:`~connectors.sonata.SellerDataError`. Everything else in the
Seller's JSON is ignored, so Seller extensions never break the feed.

Determinism: the same notification and the same Seller data give the same records, byte for
byte: ``event_id`` is ``<eventId>/<orderItemId>``, charge items are sorted by
(charge id, charge item id) whatever order the Seller lists them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.sonata import SellerDataError
from connectors.sonata.notifications import (
    Notification,
    describe,
    is_unicode,
    rfc3339_ms,
    unicode_problem,
)

__all__ = [
    "ACTIONS",
    "CHARGE_ITEM_STATES",
    "CHARGE_PERIODS",
    "ITEM_STATES",
    "PRICE_CATEGORIES",
    "PRICE_TYPES",
    "SUBJECT",
    "charge_ids",
    "event_id_of",
    "order_events",
    "record_key",
]

SUBJECT = "sonata_order_event"
"""The Avro subject of the records (``schemas/sonata_order_event``)."""

ITEM_STATES = (
    "acknowledged",
    "cancelled",
    "completed",
    "failed",
    "held",
    "inProgress",
    "pending",
    "rejected",
    "rejected.validated",
    "rejected.unassessed",
)
"""MEF ``MEFProductOrderItemStateType``."""
ACTIONS = ("add", "modify", "delete")
"""MEF ``MEFProductActionType``."""
CHARGE_ITEM_STATES = ("awaitingResponse", "acceptedByBuyer", "declinedByBuyer", "withdrawnBySeller")
"""MEF ``MEFProductOrderChargeItemStateType`` (the enum; its description table differs)."""
PRICE_TYPES = ("recurring", "nonRecurring", "usageBased")
"""MEF ``MEFPriceType``."""
CHARGE_PERIODS = ("hour", "day", "week", "month", "year")
"""MEF ``MEFChargePeriod``."""
PRICE_CATEGORIES = ("cancellation", "construction", "connection", "disconnect", "expedite", "other")
"""MEF ``MEFPriceCategory``."""


def event_id_of(notification_event_id: str, order_item_id: str) -> str:
    """The record's ``event_id``: the notification's ``eventId`` + ``/`` + the order item id.

    Deterministic, so a redelivered notification produces the same ids; unique per item, since
    one order-level notification yields one record per item.
    """
    return f"{notification_event_id}/{order_item_id}"


def record_key(record: Mapping[str, Any]) -> bytes:
    """The Kafka key: the product id, else ``<order id>/<order item id>`` (UTF-8).

    Keying by product puts every event of one Product (add, modify, delete, across orders) on
    one partition, in order. Before the Seller assigns the product id (an ``add`` in
    progress) the item's own identity is used; order item ids alone (``1``, ``2``...) repeat
    across orders, hence the order id.
    """
    product = record.get("product_id")
    if product:
        return str(product).encode()
    return f"{record['order_id']}/{record['order_item_id']}".encode()


def charge_ids(notification: Notification, order: object) -> list[str]:
    """The ids of the Charges referenced by the items ``notification`` concerns, deduplicated.

    Raises :class:`SellerDataError` when ``order`` is not a usable ProductOrder for it (the
    same checks as :func:`order_events`, minus the Charges).
    """
    problems: list[str] = []
    ids: list[str] = []
    for index, item in _concerned_items(notification, order, problems):
        ids.extend(_charge_refs(item, f"ProductOrder $.productOrderItem[{index}]", problems))
    if problems:
        raise SellerDataError(problems)
    return list(dict.fromkeys(ids))


def order_events(
    notification: Notification,
    order: object,
    charges: Mapping[str, object],
    *,
    buyer_id: str,
    seller_id: str,
) -> list[dict[str, Any]]:
    """The ``SonataOrderEvent`` records for ``notification``, given the Seller's data.

    ``order`` is the ProductOrder JSON (``GET /productOrder/{event.id}``) and ``charges`` maps
    each id of :func:`charge_ids` to its Charge JSON (``GET /charge/{id}``). ``buyer_id`` and
    ``seller_id`` apply when the notification does not name the parties (MEF sends
    ``buyerId``/``sellerId`` only to parties that represent several). Raises
    :class:`SellerDataError` listing every problem; raises ``ValueError`` for a notification
    that is not a Product Order event (a caller bug).
    """
    if not notification.is_product_order_event:
        raise ValueError(
            f"event type: got {notification.event_type!r}, want a ProductOrderEvent type"
        )
    problems: list[str] = []
    items = _concerned_items(notification, order, problems)
    records = []
    for index, item in items:
        path = f"ProductOrder $.productOrderItem[{index}]"
        record = _item_record(notification, item, path, problems)
        item_id = record["order_item_id"]
        charge_items: list[dict[str, Any]] = []
        for ref in _charge_refs(item, path, problems):
            if ref not in charges:
                problems.append(f"{path}.charge: Charge {ref!r} was referenced but not supplied")
                continue
            order_id = notification.subject_id
            charge_items.extend(_charge_items(charges[ref], ref, order_id, item_id, problems))
        charge_items.sort(key=lambda c: (c["charge_id"], c["charge_item_id"]))
        record.update(
            buyer_id=notification.buyer_id or buyer_id,
            seller_id=notification.seller_id or seller_id,
            charge_items=charge_items,
        )
        records.append(record)
    if problems:
        raise SellerDataError(problems)
    return records


def _concerned_items(
    notification: Notification, order: object, problems: list[str]
) -> list[tuple[int, Mapping[str, Any]]]:
    """(index, item) of the items the notification is about; problems appended."""
    where = "ProductOrder $"
    if not isinstance(order, Mapping):
        problems.append(f"{where}: got {describe(order)}, want an object (a MEF ProductOrder)")
        return []
    order_id = order.get("id")
    if order_id != notification.subject_id:
        problems.append(
            f"{where}.id: got {describe(order_id)}, want {notification.subject_id!r} "
            "(the notification's event.id)"
        )
    raw_items = order.get("productOrderItem")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append(
            f"{where}.productOrderItem: got {describe(raw_items)}, want a non-empty array"
        )
        return []
    items: list[tuple[int, Mapping[str, Any]]] = []
    for index, item in enumerate(raw_items):
        if isinstance(item, Mapping):
            items.append((index, item))
        else:
            problems.append(
                f"{where}.productOrderItem[{index}]: got {describe(item)}, want an object"
            )
    wanted = notification.order_item_id
    if notification.event_type == "productOrderStateChangeEvent" or wanted is None:
        return items
    chosen = [(i, item) for i, item in items if item.get("id") == wanted]
    if not chosen:
        ids = ", ".join(describe(item.get("id")) for _, item in items)
        problems.append(
            f"{where}.productOrderItem: got items {ids}, want the item {wanted!r} "
            "(the notification's event.orderItemId)"
        )
    return chosen[:1]


def _item_record(
    notification: Notification, item: Mapping[str, Any], path: str, problems: list[str]
) -> dict[str, Any]:
    """The record's item fields (no parties, no charge items yet)."""
    item_id = _text(item, "id", path, problems)
    product = item.get("product")
    product_id = offering_id = None
    if product is not None and not isinstance(product, Mapping):
        problems.append(f"{path}.product: got {describe(product)}, want an object")
    elif product is not None:
        product_id = _text(product, "id", f"{path}.product", problems, required=False)
        offering = product.get("productOffering")
        if offering is not None and not isinstance(offering, Mapping):
            problems.append(
                f"{path}.product.productOffering: got {describe(offering)}, want an object"
            )
        elif offering is not None:
            offering_id = _text(offering, "id", f"{path}.product.productOffering", problems)
    completion = _text(item, "completionDate", path, problems, required=False)
    completion_ms = None
    if completion is not None:
        try:
            completion_ms = rfc3339_ms(completion)
        except ValueError as exc:
            problems.append(f"{path}.completionDate: {exc}")
    return {
        "event_id": event_id_of(notification.event_id, item_id or ""),
        "event_type": notification.event_type,
        "event_time_ms": notification.event_time_ms,
        "order_id": notification.subject_id,
        "order_item_id": item_id or "",
        "state": _enum(item, "state", ITEM_STATES, path, problems),
        "action": _enum(item, "action", ACTIONS, path, problems),
        "product_id": product_id,
        "product_offering_id": offering_id,
        "completion_date_ms": completion_ms,
    }


def _charge_refs(item: Mapping[str, Any], path: str, problems: list[str]) -> list[str]:
    """The Charge ids of ``item.charge`` (``MEFProductOrderChargeRef``), deduplicated."""
    refs = item.get("charge", [])
    if not isinstance(refs, list):
        problems.append(f"{path}.charge: got {describe(refs)}, want an array")
        return []
    ids: list[str] = []
    for index, ref in enumerate(refs):
        ref_path = f"{path}.charge[{index}]"
        if not isinstance(ref, Mapping):
            problems.append(f"{ref_path}: got {describe(ref)}, want an object")
            continue
        charge_id = _text(ref, "id", ref_path, problems)
        if charge_id is not None and charge_id not in ids:
            ids.append(charge_id)
    return ids


def _charge_items(
    charge: object, charge_id: str, order_id: str, item_id: str, problems: list[str]
) -> Iterable[dict[str, Any]]:
    """The ``ChargeItem`` records of one ``MEFProductOrderCharge``; problems appended."""
    where = f"Charge {charge_id!r} $"
    if not isinstance(charge, Mapping):
        problems.append(f"{where}: got {describe(charge)}, want an object (a MEF Charge)")
        return []
    if charge.get("id") != charge_id:
        problems.append(f"{where}.id: got {describe(charge.get('id'))}, want {charge_id!r}")
    owner = charge.get("productOrderItem")
    if isinstance(owner, Mapping):
        got = (owner.get("productOrderId"), owner.get("productOrderItemId"))
        if got != (order_id, item_id):
            problems.append(
                f"{where}.productOrderItem: got order {describe(got[0])} item "
                f"{describe(got[1])}, want order {order_id!r} item {item_id!r} "
                "(the item that references this Charge)"
            )
    raw = charge.get("chargeItem")
    if not isinstance(raw, list):
        problems.append(f"{where}.chargeItem: got {describe(raw)}, want an array")
        return []
    records = []
    for index, entry in enumerate(raw):
        path = f"{where}.chargeItem[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: got {describe(entry)}, want an object")
            continue
        amount, currency = _price(entry, path, problems)
        records.append(
            {
                "charge_id": charge_id,
                "charge_item_id": _text(entry, "id", path, problems) or "",
                "state": _enum(entry, "state", CHARGE_ITEM_STATES, path, problems),
                "price_type": _enum(entry, "priceType", PRICE_TYPES, path, problems),
                "recurring_charge_period": _enum(
                    entry, "recurringChargePeriod", CHARGE_PERIODS, path, problems, required=False
                ),
                "price_category": _enum(
                    entry, "priceCategory", PRICE_CATEGORIES, path, problems, required=False
                ),
                "amount": amount,
                "currency": currency,
            }
        )
    return records


def _price(entry: Mapping[str, Any], path: str, problems: list[str]) -> tuple[str, str]:
    """``price.dutyFreeAmount`` (MEF ``Money``) as (decimal string, ISO 4217 code)."""
    price = entry.get("price")
    money = price.get("dutyFreeAmount") if isinstance(price, Mapping) else None
    money_path = f"{path}.price.dutyFreeAmount"
    if not isinstance(money, Mapping):
        got = describe(money if isinstance(price, Mapping) else price)
        problems.append(f"{money_path}: got {got}, want an object (MEF Money)")
        return "", ""
    return _amount(money.get("value"), f"{money_path}.value", problems), _currency(
        money.get("unit"), f"{money_path}.unit", problems
    )


def _amount(value: object, path: str, problems: list[str]) -> str:
    """A JSON number (int or exact Decimal) ≥ 0 as a plain decimal string, e.g. ``1250.0000``."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        hint = " (parse JSON with parse_float=Decimal)" if isinstance(value, float) else ""
        problems.append(f"{path}: got {describe(value)}, want an exact JSON number{hint}")
        return ""
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        problems.append(f"{path}: got {describe(value)}, want a finite number >= 0")
        return ""
    return format(abs(amount) if amount.is_zero() else amount, "f")  # "1.25E+3" → "1250"


def _currency(value: object, path: str, problems: list[str]) -> str:
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper():
        return value
    problems.append(f"{path}: got {describe(value)}, want an ISO 4217 code such as 'USD'")
    return ""


def _text(
    obj: Mapping[str, Any], name: str, path: str, problems: list[str], *, required: bool = True
) -> str | None:
    """``obj[name]`` as a non-empty string; a problem if wrong, or if missing and required."""
    value = obj.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str) and value:
        if is_unicode(value):
            return value
        problems.append(f"{path}.{name}: got {unicode_problem(value)}, want Unicode text")
        return None
    got = "nothing" if name not in obj else describe(value)
    problems.append(f"{path}.{name}: got {got}, want a non-empty string")
    return None


def _enum(
    obj: Mapping[str, Any],
    name: str,
    allowed: Sequence[str],
    path: str,
    problems: list[str],
    *,
    required: bool = True,
) -> Any:
    """``obj[name]`` when it is one of ``allowed``; ``""``/None and a problem otherwise."""
    value = obj.get(name)
    if value is None and not required:
        return None
    if value in allowed:
        return value
    got = "nothing" if name not in obj else describe(value)
    problems.append(f"{path}.{name}: got {got}, want one of {', '.join(allowed)}")
    return "" if required else None
