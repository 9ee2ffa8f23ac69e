"""MEF 123 notification bodies → a :class:`Notification`, or every problem with its JSON path.

Pure: no HTTP, no Kafka. The listener feeds it the raw request body and the event type of the
endpoint that received it (``/listener/<eventType>``, one endpoint per MEF event type).

What is checked is what the MEF schemas (``productOrderNotification.api.yaml`` v10) require,
plus what Bilat relies on:

- the body is UTF-8 JSON (no ``NaN``/``Infinity``) holding an object;
- ``eventId`` (non-empty string), ``eventTime`` (RFC 3339 date-time with an offset),
  ``eventType`` (the MEF enum of the endpoint's schema, and equal to the endpoint's type),
  ``event`` (object) with ``event.id`` (non-empty string); ``href``, ``buyerId``, ``sellerId``,
  ``orderItemId``, ``milestoneName`` strings when present; every string Unicode text (no
  lone surrogate, which JSON's ``\\uXXXX`` escapes can produce);
- ``event.orderItemId`` for the order item events and ``event.milestoneName`` for the
  milestone event ("Mandatory for ..." in the MEF descriptions, not in the schema's
  ``required``).

Properties MEF does not define are ignored (MEF schemas allow them), never rejected.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = [
    "CHARGE_EVENT_TYPES",
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "ITEM_EVENT_TYPES",
    "LISTENER_BASE_PATH",
    "PRODUCT_ORDER_EVENT_TYPES",
    "Notification",
    "Problem",
    "describe",
    "invalid_body_error",
    "is_unicode",
    "loads_exact",
    "parse_notification",
    "rfc3339_ms",
    "unicode_problem",
    "validate_notification",
]

LISTENER_BASE_PATH = "/mefApi/sonata/productOrderingNotification/v10"
"""The path of the MEF 123 listener's ``servers`` URL (``https://{serverBase}`` + this)."""

PRODUCT_ORDER_EVENT_TYPES = (
    "productOrderStateChangeEvent",
    "productOrderItemStateChangeEvent",
    "productOrderItemExpectedCompletionDateSet",
    "productSpecificProductOrderItemMilestoneEvent",
)
"""MEF ``ProductOrderEventType``: the events that become ``SonataOrderEvent`` records."""

ITEM_EVENT_TYPES = frozenset(PRODUCT_ORDER_EVENT_TYPES[1:])
"""Product Order events about one order item: ``event.orderItemId`` is mandatory."""

CHARGE_EVENT_TYPES = ("chargeCreateEvent", "chargeStateChangeEvent", "chargeTimeoutEvent")
"""MEF ``ChargeEventType``: ``event.id`` is a Charge id."""

EVENT_SCHEMAS: Mapping[str, str] = {
    **dict.fromkeys(PRODUCT_ORDER_EVENT_TYPES, "ProductOrderEvent"),
    "cancelProductOrderStateChangeEvent": "CancelProductOrderEvent",
    **dict.fromkeys(CHARGE_EVENT_TYPES, "ChargeEvent"),
    "modifyProductOrderItemRequestedDeliveryDateStateChangeEvent": (
        "ModifyProductOrderItemRequestedDeliveryDateEvent"
    ),
}
"""Every MEF 123 listener event type (= endpoint ``/listener/<type>``) → its body's schema."""

EVENT_TYPES = tuple(EVENT_SCHEMAS)
"""Every event type the listener accepts, in the order of the MEF yaml's paths."""

_TYPES_OF_SCHEMA: Mapping[str, tuple[str, ...]] = {
    schema: tuple(t for t, s in EVENT_SCHEMAS.items() if s == schema)
    for schema in dict.fromkeys(EVENT_SCHEMAS.values())
}
_OPTIONAL_PAYLOAD_STRINGS: Mapping[str, tuple[str, ...]] = {
    "ProductOrderEvent": ("href", "buyerId", "sellerId", "orderItemId", "milestoneName"),
}
_DEFAULT_PAYLOAD_STRINGS = ("href", "buyerId", "sellerId")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a body: where (a JSON path from ``$``) and what (got X, want Y)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Notification:
    """A valid MEF 123 notification, as the fields Bilat uses."""

    event_id: str
    """MEF ``eventId``: unique per notification at the Seller; repeated on redelivery."""
    event_type: str
    """MEF ``eventType``; equal to the endpoint's type."""
    event_time_ms: int
    """MEF ``eventTime`` as UTC epoch milliseconds (sub-millisecond digits truncated)."""
    subject_id: str
    """MEF ``event.id``: the Product Order id (or Charge, Cancel Product Order, Modify Product
    Order Item Requested Delivery Date id, per :attr:`schema`)."""
    order_item_id: str | None = None
    """MEF ``event.orderItemId``; set for every event type in :data:`ITEM_EVENT_TYPES`."""
    href: str | None = None
    buyer_id: str | None = None
    """MEF ``event.buyerId``: sent only when the Seller's client serves several Buyers."""
    seller_id: str | None = None
    """MEF ``event.sellerId``: sent only when the Seller's side represents several Sellers."""
    milestone_name: str | None = None

    @property
    def schema(self) -> str:
        """The MEF schema of the body, e.g. ``ProductOrderEvent``."""
        return EVENT_SCHEMAS[self.event_type]

    @property
    def is_product_order_event(self) -> bool:
        """True when ``subject_id`` is a Product Order id (a ``ProductOrderEvent``)."""
        return self.event_type in PRODUCT_ORDER_EVENT_TYPES


def loads_exact(text: str | bytes) -> Any:
    """JSON text → Python values with every non-integer number as an exact ``Decimal``.

    Raises ``ValueError`` (with the position) for text that is not JSON, including Python's
    ``NaN``/``Infinity`` extensions, which JSON does not have, and for non-UTF-8 bytes.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8: {exc}") from exc
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"got {name}, want a JSON number (JSON has no {name})")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


def rfc3339_ms(text: str) -> int:
    """An RFC 3339 ``date-time`` (the OpenAPI ``format: date-time``) as UTC epoch milliseconds.

    The offset is mandatory (``Z`` or ``±hh:mm``): a time without one means nothing in UTC.
    Digits below the millisecond are truncated (floor). Raises ``ValueError`` saying
    ``got ..., want ...``; leap seconds (``:60``) are refused, as Python and Avro cannot hold
    them.
    """
    match = _RFC3339.fullmatch(text)
    want = "want an RFC 3339 date-time with an offset, e.g. '2026-11-24T10:00:00.000Z'"
    if match is None:
        raise ValueError(f"got {describe(text)}, {want}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, sign, off_h, off_m = match.group(7), match.group(8), match.group(9), match.group(10)
    offset = timedelta(0)
    if sign is not None:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"got {describe(text)}, want an offset within ±23:59")
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    try:  # range checks: month 13, Feb 30, hour 24, leap second :60
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise ValueError(f"got {describe(text)}, want a valid date and time ({exc})") from exc
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return (moment - _EPOCH) // timedelta(milliseconds=1) + millis


def describe(value: object) -> str:
    """A short description of a JSON value for ``got ...`` messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float | Decimal):
        return f"number {value}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def parse_notification(body: str | bytes, endpoint: str) -> Notification | list[Problem]:
    """Parse and validate the raw body received at the listener of event type ``endpoint``.

    Returns the :class:`Notification`, or every :class:`Problem` found (never an empty list).
    ``endpoint`` must be one of :data:`EVENT_TYPES` (``ValueError`` otherwise: a caller bug).
    """
    _check_endpoint(endpoint)
    try:
        doc = loads_exact(body)
    except ValueError as exc:
        return [Problem("$", f"got a body that is not JSON ({exc}), want a JSON object")]
    return validate_notification(doc, endpoint)


def validate_notification(doc: object, endpoint: str) -> Notification | list[Problem]:
    """Validate a parsed body (see the module docstring); the notification or every problem."""
    schema = EVENT_SCHEMAS[_check_endpoint(endpoint)]
    if not isinstance(doc, Mapping):
        return [Problem("$", f"got {describe(doc)}, want an object (a MEF {schema})")]
    problems: list[Problem] = []
    event_id = _string(doc, "eventId", "$", problems, required=True)
    time_text = _string(doc, "eventTime", "$", problems, required=True)
    event_time_ms = 0
    if time_text is not None:
        try:
            event_time_ms = rfc3339_ms(time_text)
        except ValueError as exc:
            problems.append(Problem("$.eventTime", str(exc)))
    event_type = _string(doc, "eventType", "$", problems, required=True)
    allowed = _TYPES_OF_SCHEMA[schema]
    if event_type is not None:
        if event_type not in allowed:
            got = describe(event_type)
            problems.append(Problem("$.eventType", f"got {got}, want {endpoint!r}"))
        elif event_type != endpoint:
            problems.append(
                Problem(
                    "$.eventType",
                    f"got {event_type!r}, want {endpoint!r} (the type of this endpoint: "
                    f"post it to /listener/{event_type})",
                )
            )
    payload = _payload(doc, schema, endpoint, problems)
    if problems:
        return problems
    assert event_id is not None and event_type is not None and payload is not None
    return Notification(
        event_id=event_id,
        event_type=event_type,
        event_time_ms=event_time_ms,
        subject_id=payload["id"],
        order_item_id=payload.get("orderItemId"),
        href=payload.get("href"),
        buyer_id=payload.get("buyerId"),
        seller_id=payload.get("sellerId"),
        milestone_name=payload.get("milestoneName"),
    )


def invalid_body_error(problems: Sequence[Problem], endpoint: str) -> dict[str, str]:
    """The MEF ``Error400`` body (``code: invalidBody``) listing every problem with its path.

    ``reason`` stays within the schema's 255 characters; ``message`` holds every problem, one
    per line (values from the body are quoted with ``repr``, so they never add lines).
    """
    count = len(problems)
    reason = f"Invalid {endpoint} notification: {count} problem{'s' if count != 1 else ''}"
    return {
        "code": "invalidBody",
        "reason": reason[:255],
        "message": "\n".join(str(p) for p in problems),
    }


def _check_endpoint(endpoint: str) -> str:
    if endpoint not in EVENT_SCHEMAS:
        raise ValueError(f"endpoint event type: got {endpoint!r}, want one of {EVENT_TYPES}")
    return endpoint


def _payload(
    doc: Mapping[str, Any], schema: str, endpoint: str, problems: list[Problem]
) -> dict[str, str] | None:
    """``event`` as its string fields, appending its problems; None when it is unusable."""
    if "event" not in doc:
        problems.append(Problem("$.event", f"got nothing, want an object (the {schema} payload)"))
        return None
    event = doc["event"]
    if not isinstance(event, Mapping):
        problems.append(Problem("$.event", f"got {describe(event)}, want an object"))
        return None
    before = len(problems)
    fields: dict[str, str] = {}
    subject = _string(event, "id", "$.event", problems, required=True)
    if subject is not None:
        fields["id"] = subject
    for name in _OPTIONAL_PAYLOAD_STRINGS.get(schema, _DEFAULT_PAYLOAD_STRINGS):
        required = (name == "orderItemId" and endpoint in ITEM_EVENT_TYPES) or (
            name == "milestoneName" and endpoint == "productSpecificProductOrderItemMilestoneEvent"
        )
        value = _string(event, name, "$.event", problems, required=required)
        if value is not None:
            fields[name] = value
    for name in _IDENTIFIERS:
        value = fields.get(name)
        at = None if value is None else next((i for i, c in enumerate(value) if _control(c)), None)
        if at is not None:
            problems.append(
                Problem(
                    f"$.event.{name}",
                    f"got a string with a control character at index {at}, want an "
                    "identifier (it names the order in the Seller API's URL)",
                )
            )
    return fields if len(problems) == before else None


_IDENTIFIERS = ("id", "orderItemId", "buyerId", "sellerId")
"""Payload members that are identifiers: refused with a control character (a newline in an
order id would become part of the Seller API's URL and, there, a 404 no retry changes)."""


def _control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def _string(
    obj: Mapping[str, Any], name: str, parent: str, problems: list[Problem], *, required: bool
) -> str | None:
    """``obj[name]`` when it is a string (non-empty when required); else a problem or None."""
    path = f"{parent}.{name}"
    if name not in obj:
        if required:
            problems.append(Problem(path, "got nothing, want a non-empty string"))
        return None
    value = obj[name]
    if not isinstance(value, str) or (required and not value):
        want = "a non-empty string" if required else "a string"
        problems.append(Problem(path, f"got {describe(value)}, want {want}"))
        return None
    if not is_unicode(value):
        problems.append(Problem(path, f"got {unicode_problem(value)}, want Unicode text"))
        return None
    return value


def is_unicode(text: str) -> bool:
    """False when ``text`` holds a lone surrogate (JSON ``"\\ud800"`` parses to one): such a
    string cannot be UTF-8 encoded, so it could be neither a URL path nor an Avro string."""
    return text.isascii() or not any("\ud800" <= c <= "\udfff" for c in text)


def unicode_problem(text: str) -> str:
    """``a string with a lone surrogate at index N`` for a ``text`` :func:`is_unicode` refuses."""
    index = next(i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff")
    return f"a string with a lone surrogate at index {index}"
