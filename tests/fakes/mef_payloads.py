"""Realistic MEF LSO Sonata payloads (MEF 123 v10) and a validator against the MEF OpenAPI specs.

Builders return plain JSON-ready dicts with amounts as ``Decimal`` (serialise them with
:func:`dumps`, which writes the exact digits). Defaults tell one story: Buyer ``dcc`` orders
an ``evc-eline-1g`` from Seller ``hgc`` (Product Order ``PO-7001``, item ``1``); the item
completed on 2026-11-24 with one Charge ``CHG-7001-1`` holding a monthly recurring charge the
Buyer accepted and an installation charge it declined.

:class:`MefSchemas` validates any payload against ``#/components/schemas/<Name>`` of a MEF
OpenAPI 3.0 file with ``jsonschema`` (Draft 4 semantics, as OpenAPI 3.0 schema objects use):
``$ref`` through a ``referencing`` registry, ``nullable``, ``discriminator`` mappings, and
``format: date-time`` checked as RFC 3339.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from connectors.sonata.notifications import EVENT_SCHEMAS, ITEM_EVENT_TYPES, rfc3339_ms
from streams.core import resources

SELLER_BASE = "https://hgc.example/mefApi/sonata/productOrderingManagement/v10"
ORDER_ID = "PO-7001"
ITEM_ID = "1"
PRODUCT_ID = "PRD-EVC-0001"
OFFERING_ID = "evc-eline-1g"
CHARGE_ID = "CHG-7001-1"
COMPLETED_AT = "2026-11-24T10:00:00.000Z"
COMPLETED_AT_MS = 1_795_514_400_000
EVENT_TIME = "2026-11-24T10:00:05.123Z"
EVENT_TIME_MS = 1_795_514_405_123


# --- JSON with exact decimals -------------------------------------------------------------


def dumps(value: Any) -> bytes:
    """``value`` as UTF-8 JSON, ``Decimal`` written with its exact digits (never via float)."""
    return "".join(_json_parts(value)).encode()


def _json_parts(value: Any) -> Iterator[str]:
    if isinstance(value, Decimal):
        yield str(value)
    elif isinstance(value, Mapping):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(str(k)) + ":"
            yield from _json_parts(v)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, v in enumerate(value):
            yield "," if i else ""
            yield from _json_parts(v)
        yield "]"
    else:
        yield json.dumps(value)


# --- Product Order Management (GET /productOrder/{id}, GET /charge/{id}) -------------------


def charge_item(
    item_id: str = "1",
    *,
    state: str = "acceptedByBuyer",
    price_type: str = "recurring",
    period: str | None = "month",
    category: str = "other",
    amount: Decimal | int | str = Decimal("1250.0000"),
    currency: str = "USD",
    blocking: bool = False,
) -> dict[str, Any]:
    """A ``MEFProductOrderChargeItem``; ``amount`` as a str becomes an exact ``Decimal``."""
    item: dict[str, Any] = {
        "id": item_id,
        "activityType": "new",
        "blocking": blocking,
        "priceType": price_type,
        "priceCategory": category,
        "price": {
            "dutyFreeAmount": {
                "unit": currency,
                "value": Decimal(amount) if isinstance(amount, str) else amount,
            }
        },
        "state": state,
    }
    if state in ("acceptedByBuyer", "declinedByBuyer"):
        item["acceptanceIndicator"] = "accepted" if state == "acceptedByBuyer" else "rejected"
    if period is not None:
        item["recurringChargePeriod"] = period
    return item


def charge(
    charge_id: str = CHARGE_ID,
    *,
    order_id: str = ORDER_ID,
    item_id: str = ITEM_ID,
    items: Sequence[Mapping[str, Any]] | None = None,
    state: str = "completed",
) -> dict[str, Any]:
    """A ``MEFProductOrderCharge`` of one order item (default: accepted MRC, declined NRC)."""
    if items is None:
        items = [
            charge_item("1"),
            charge_item(
                "2",
                state="declinedByBuyer",
                price_type="nonRecurring",
                period=None,
                category="construction",
                amount="3000.00",
            ),
        ]
    return {
        "id": charge_id,
        "href": f"{SELLER_BASE}/charge/{charge_id}",
        "creationDate": "2026-11-03T08:00:00.000Z",
        "responseDueDate": "2026-11-10T08:00:00.000Z",
        "state": state,
        "productOrderItem": {
            "productOrderId": order_id,
            "productOrderItemId": item_id,
            "productOrderHref": f"{SELLER_BASE}/productOrder/{order_id}",
        },
        "chargeItem": copy.deepcopy(list(items)),
    }


def order_item(
    item_id: str = ITEM_ID,
    *,
    action: str = "add",
    state: str = "completed",
    product_id: str | None = PRODUCT_ID,
    offering_id: str | None = OFFERING_ID,
    completion_date: str | None = COMPLETED_AT,
    charges: Sequence[str] = (CHARGE_ID,),
) -> dict[str, Any]:
    """A ``ProductOrderItem`` as the Seller returns it."""
    product: dict[str, Any] = {
        "place": [{"@type": "GeographicAddressRef", "role": "INSTALL_LOCATION", "id": "GA-88"}]
    }
    if action != "delete":  # MEF: productConfiguration MUST NOT be sent for a delete
        product["productConfiguration"] = {
            "@type": "urn:mef:lso:spec:sonata:access-eline-ovc:v1.0.0:all"
        }
    if product_id is not None:
        product["id"] = product_id
        product["href"] = (
            f"https://hgc.example/mefApi/sonata/productInventory/v7/product/{product_id}"
        )
    if offering_id is not None:
        product["productOffering"] = {"id": offering_id}
    item: dict[str, Any] = {
        "id": item_id,
        "action": action,
        "state": state,
        "product": product,
        "billingAccount": {"id": "BA-DCC-01"},
        "requestedCompletionDate": "2026-11-20T00:00:00.000Z",
        "expectedCompletionDate": "2026-11-24T00:00:00.000Z",
        "stateChange": [
            {"state": "acknowledged", "changeDate": "2026-11-02T09:15:01.000Z"},
            {"state": state, "changeDate": completion_date or "2026-11-03T09:00:00.000Z"},
        ],
    }
    if completion_date is not None:
        item["completionDate"] = completion_date
    if charges:
        item["charge"] = [{"id": c, "href": f"{SELLER_BASE}/charge/{c}"} for c in charges]
    return item


def product_order(
    order_id: str = ORDER_ID,
    *,
    items: Sequence[Mapping[str, Any]] | None = None,
    state: str = "completed",
) -> dict[str, Any]:
    """A ``ProductOrder`` as ``GET /productOrder/{id}`` returns it."""
    return {
        "id": order_id,
        "href": f"{SELLER_BASE}/productOrder/{order_id}",
        "externalId": "DCC-PO-2026-0042",
        "orderDate": "2026-11-02T09:15:00.000Z",
        "state": state,
        "relatedContactInformation": [
            {
                "role": "productOrderContact",
                "name": "DCC Provisioning Desk",
                "emailAddress": "provisioning@dcc.example",
                "number": "+44 20 7946 0100",
            }
        ],
        "productOrderItem": copy.deepcopy(list(items or [order_item()])),
    }


# --- Product Order notifications (MEF 123 listener) -----------------------------------------


def notification(
    event_type: str = "productOrderItemStateChangeEvent",
    subject_id: str = ORDER_ID,
    item_id: str | None = ITEM_ID,
    *,
    event_id: str = "EVT-20261124-0001",
    event_time: str = EVENT_TIME,
    milestone: str = "siteSurveyCompleted",
    buyer_id: str | None = None,
    seller_id: str | None = None,
) -> dict[str, Any]:
    """A notification body of ``event_type``; ``subject_id`` is ``event.id``.

    ``item_id`` and ``milestone`` are used only where the event type has them.
    """
    schema = EVENT_SCHEMAS[event_type]
    resource = {
        "ProductOrderEvent": "productOrder",
        "ChargeEvent": "charge",
        "CancelProductOrderEvent": "cancelProductOrder",
        "ModifyProductOrderItemRequestedDeliveryDateEvent": (
            "modifyProductOrderItemRequestedDeliveryDate"
        ),
    }[schema]
    event: dict[str, Any] = {"id": subject_id, "href": f"{SELLER_BASE}/{resource}/{subject_id}"}
    if event_type in ITEM_EVENT_TYPES and item_id is not None:
        event["orderItemId"] = item_id
    if event_type == "productSpecificProductOrderItemMilestoneEvent":
        event["milestoneName"] = milestone
    if buyer_id is not None:
        event["buyerId"] = buyer_id
    if seller_id is not None:
        event["sellerId"] = seller_id
    return {"eventId": event_id, "eventTime": event_time, "eventType": event_type, "event": event}


# --- Validation against the MEF OpenAPI files ------------------------------------------------


def mef_dir() -> Path:
    """The MEF spec folder: ``BILAT_MEF_DIR``, else the packaged copy (``specs/mef``)."""
    env = os.environ.get("BILAT_MEF_DIR")
    folder = Path(env) if env else resources.mef_dir()
    if not (folder / "productOrderManagement.api.yaml").is_file():
        raise FileNotFoundError(
            f"MEF specs: got no productOrderManagement.api.yaml in {folder}, want the MEF "
            "OpenAPI files there (set BILAT_MEF_DIR)"
        )
    return folder


class MefSchemas:
    """The component schemas of one MEF OpenAPI 3.0 file, as JSON Schema validators."""

    def __init__(self, path: Path) -> None:
        self.path = path
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # safe loader
        schemas = copy.deepcopy(self.document["components"]["schemas"])
        _split_discriminator_bases(schemas)
        self.uri = f"urn:mef:{path.name}"
        contents = {"components": {"schemas": _from_openapi(schemas)}}
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(self.uri, resource)
        self._names = frozenset(schemas)

    def problems(self, name: str, payload: Any) -> list[str]:
        """Every way ``payload`` breaks ``#/components/schemas/<name>``, as ``$.path: msg``."""
        if name not in self._names:
            raise KeyError(f"schema: got {name!r}, want one of {sorted(self._names)}")
        validator = _VALIDATOR(
            {"$ref": f"{self.uri}#/components/schemas/{name}"},
            registry=self._registry,
            format_checker=_FORMATS,
        )
        return sorted(f"{_path(e)}: {e.message}" for e in validator.iter_errors(payload))

    def assert_valid(self, name: str, payload: Any) -> None:
        """Raise ``AssertionError`` listing every problem of ``payload`` against ``name``."""
        problems = self.problems(name, payload)
        assert not problems, f"not a valid MEF {name} ({self.path.name}):\n" + "\n".join(problems)


@functools.cache
def mef_schemas(file_name: str) -> MefSchemas:
    """The (cached) :class:`MefSchemas` of ``file_name`` in :func:`mef_dir`."""
    return MefSchemas(mef_dir() / file_name)


def management() -> MefSchemas:
    """``productOrderManagement.api.yaml``: ProductOrder, MEFProductOrderCharge, errors."""
    return mef_schemas("productOrderManagement.api.yaml")


def notifications() -> MefSchemas:
    """``productOrderNotification.api.yaml``: the listener's event bodies and errors."""
    return mef_schemas("productOrderNotification.api.yaml")


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _from_openapi(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema's ``type: [T, "null"]``, recursively."""
    if isinstance(node, list):
        return [_from_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _from_openapi(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _split_discriminator_bases(schemas: dict[str, Any]) -> None:
    """Make ``discriminator.mapping`` checkable without infinite recursion.

    A base ``B`` with a mapping validates the instance against the mapped subtype, and each
    subtype is ``allOf: [B, ...]``, which would validate ``B`` (and its discriminator) again.
    Subtypes are rewritten to extend ``B__base``, a copy of ``B`` without the discriminator.
    """
    for name, schema in list(schemas.items()):
        mapping = (schema.get("discriminator") or {}).get("mapping")
        if not mapping:
            continue
        schemas[f"{name}__base"] = {k: v for k, v in schema.items() if k != "discriminator"}
        base_ref = f"#/components/schemas/{name}"
        for target in mapping.values():
            sub = schemas[target.rsplit("/", 1)[1]]
            for part in sub.get("allOf", []):
                if part.get("$ref") == base_ref:
                    part["$ref"] = f"{base_ref}__base"


def _discriminator(
    validator: Any, discriminator: Mapping[str, Any], instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    mapping = discriminator.get("mapping")
    if not mapping or not isinstance(instance, dict):
        return  # no mapping: the value names an external schema that cannot be checked here
    prop = discriminator["propertyName"]
    value = instance.get(prop)
    if value not in mapping:
        yield ValidationError(f"{prop} {value!r} is not one of {sorted(mapping)}")
        return
    yield from validator.descend(instance, {"$ref": mapping[value]})


_VALIDATOR = validators.extend(Draft4Validator, {"discriminator": _discriminator})
_FORMATS = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    """OpenAPI ``format: date-time`` is RFC 3339 ``date-time`` (offset required)."""
    if isinstance(value, str):
        rfc3339_ms(value)  # raises ValueError, which the checker reports
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)
