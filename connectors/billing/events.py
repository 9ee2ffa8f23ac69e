"""Paths, hub subscriptions and notification bodies of MEF 141 (no I/O).

A subscription (``POST /hub``, MEF ``EventSubscriptionInput``) names a ``callback``, the base
URL of the Buyer's notification API; per ``billingNotification.api.yaml`` an event of type
``T`` is POSTed to ``{callback}/mefApi/sonata/customerBillNotification/v2/listener/T``. Its
``query`` picks event types (``eventType=customerBillCreateEvent,customerBillStateChangeEvent``;
empty or absent: all).

Spec oddity, recorded here and in ``docs/api.md``: the ``callback`` description's example
appends ``/mefApi/sonata/customerBillManagement/v2/listener/troubleTicketStatusChangeEvent``
(the management API's base path and a trouble-ticket event, copied from another MEF API);
Bilat follows the notification API's own ``servers`` URL and paths, which that description
also tells the Seller to use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from streams.settle.mef_schema import problems
from streams.settle.query import parse_date_time

__all__ = [
    "EVENT_TYPES",
    "MANAGEMENT_BASE_PATH",
    "NOTIFICATION_BASE_PATH",
    "BillEvent",
    "Subscription",
    "event_problems",
    "parse_event_types",
    "parse_subscription",
]

MANAGEMENT_BASE_PATH = "/mefApi/sonata/customerBillManagement/v2"
"""The path of ``billingManagement.api.yaml``'s ``servers`` URL (the Seller's API)."""
NOTIFICATION_BASE_PATH = "/mefApi/sonata/customerBillNotification/v2"
"""The path of ``billingNotification.api.yaml``'s ``servers`` URL (the Buyer's listener)."""
EVENT_TYPES = ("customerBillCreateEvent", "customerBillStateChangeEvent")
"""MEF ``CustomerBillEventType``; each is also a listener path ``/listener/<type>``."""

_FILTER = re.compile(r"\s*eventType\s*=\s*(.*?)\s*", re.DOTALL)
_MAX_CALLBACK = 2048


@dataclass(frozen=True, slots=True)
class Subscription:
    """One registered listener (a ``/hub`` entry), as stored in Redis."""

    id: str
    callback: str
    """The Buyer's base URL (scheme, host, optional path), without a trailing ``/``."""
    query: str | None
    """As registered (returned by ``GET /hub/{id}``); :attr:`event_types` is its meaning."""
    event_types: tuple[str, ...]
    buyer_id: str | None = None
    """``buyerId`` of the registration, echoed in every event's payload."""
    seller_id: str | None = None
    created_ms: int = 0
    owner: str | None = None
    """The partner that registered it, when the API knows its callers by partner (a tokens
    file): only that partner may read or delete it."""

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types

    def url_for(self, event_type: str) -> str:
        """Where an event of ``event_type`` is POSTed."""
        return f"{self.callback}{NOTIFICATION_BASE_PATH}/listener/{event_type}"

    def resource(self) -> dict[str, str]:
        """The MEF ``EventSubscription`` answered by ``POST /hub`` and ``GET /hub/{id}``."""
        out = {"id": self.id, "callback": self.callback}
        if self.query is not None:
            out["query"] = self.query
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "callback": self.callback,
            "query": self.query,
            "event_types": list(self.event_types),
            "buyer_id": self.buyer_id,
            "seller_id": self.seller_id,
            "created_ms": self.created_ms,
            "owner": self.owner,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Subscription:
        """The inverse of :meth:`to_json`; ``KeyError``/``TypeError`` on a damaged entry."""
        return cls(
            id=str(value["id"]),
            callback=str(value["callback"]),
            query=value.get("query"),
            event_types=tuple(value["event_types"]),
            buyer_id=value.get("buyer_id"),
            seller_id=value.get("seller_id"),
            created_ms=int(value.get("created_ms", 0)),
            owner=value.get("owner"),
        )


def parse_subscription(
    body: Any,
    ident: str,
    *,
    buyer_id: str | None = None,
    seller_id: str | None = None,
    created_ms: int = 0,
) -> Subscription | list[str]:
    """An ``EventSubscriptionInput`` body → a :class:`Subscription` named ``ident``, or every
    problem (``$.path: message``): the schema's, then a callback that is not an absolute
    http(s) URL without query or fragment, then an unknown event type in ``query``."""
    found = problems("EventSubscriptionInput", body)
    if found:
        return found
    callback, query = body["callback"], body.get("query")
    found = _callback_problems(callback)
    types = parse_event_types(query)
    if isinstance(types, str):
        found.append(f"$.query: {types}")
    if found or isinstance(types, str):
        return found
    return Subscription(
        id=ident,
        callback=callback.rstrip("/"),
        query=query,
        event_types=types,
        buyer_id=buyer_id,
        seller_id=seller_id,
        created_ms=created_ms,
    )


def parse_event_types(query: str | None) -> tuple[str, ...] | str:
    """The event types a subscription ``query`` selects (all when empty), or the problem."""
    if query is None or not query.strip():
        return EVENT_TYPES
    match = _FILTER.fullmatch(query)
    if match is None:
        return (
            f"got {query[:80]!a}, want eventType=<type>[,<type>] with types from "
            f"{', '.join(EVENT_TYPES)}"
        )
    chosen = [t.strip() for t in match.group(1).split(",")]
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown or not chosen:
        shown = ", ".join(ascii(t[:40]) for t in unknown)
        return f"unknown event type {shown}: want {', '.join(EVENT_TYPES)}"
    return tuple(t for t in EVENT_TYPES if t in chosen)


def _callback_problems(callback: str) -> list[str]:
    if len(callback) > _MAX_CALLBACK:
        return [f"$.callback: got {len(callback)} characters, want at most {_MAX_CALLBACK}"]
    try:
        parts = urlsplit(callback)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return [f"$.callback: got {callback[:80]!a}, want a URL ({exc})"]
    want = "want an absolute http(s) URL, e.g. https://buyer.example/billing"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"$.callback: got {callback[:80]!a}, {want}"]
    if parts.query or parts.fragment or "?" in callback or "#" in callback:
        return [f"$.callback: got {callback[:80]!a}, {want} without query or fragment"]
    if any(c.isspace() or not c.isprintable() for c in callback):
        return [f"$.callback: got {callback[:80]!a}, {want} without spaces or controls"]
    return []


@dataclass(frozen=True, slots=True)
class BillEvent:
    """One entry of the ``settle:events`` stream: a bill created or its state changed."""

    stream_id: str
    event_type: str
    bill_id: str
    time: str
    """RFC 3339, as the settle runtime wrote it (MEF ``eventTime``)."""
    state: str | None = None

    @classmethod
    def from_fields(cls, stream_id: str, fields: Mapping[str, str]) -> BillEvent | str:
        """The event of a stream entry (fields ``event``, ``bill_id``, ``state``, ``time``),
        or why it cannot be one."""
        event_type, bill_id, time = fields.get("event"), fields.get("bill_id"), fields.get("time")
        if event_type not in EVENT_TYPES:
            return f"event: got {event_type!r}, want one of {', '.join(EVENT_TYPES)}"
        if not bill_id:
            return "bill_id: missing or empty"
        if parse_date_time(time) is None:
            return f"time: got {time!r}, want an RFC 3339 date-time with an offset"
        assert event_type is not None and time is not None
        return cls(stream_id, event_type, bill_id, time, fields.get("state") or None)

    def body(self, subscription: Subscription, *, source: str, api_url: str) -> dict[str, Any]:
        """The MEF ``CustomerBillEvent`` sent to ``subscription``.

        ``eventId`` is ``{source}/{stream id}``: the same for every attempt (and every
        subscriber) of one event, so a listener recognises a redelivery. ``href`` is the
        bill's URL on the Seller's API (``api_url`` = its base URL).
        """
        payload: dict[str, str] = {
            "id": self.bill_id,
            "href": f"{api_url.rstrip('/')}/customerBill/{quote(self.bill_id, safe='')}",
        }
        if subscription.buyer_id:
            payload["buyerId"] = subscription.buyer_id
        if subscription.seller_id:
            payload["sellerId"] = subscription.seller_id
        return {
            "eventId": f"{source}/{self.stream_id}",
            "eventTime": self.time,
            "eventType": self.event_type,
            "event": payload,
        }


def event_problems(body: Any, event_type: str) -> list[str]:
    """Every problem of a notification ``body`` received at ``/listener/<event_type>``: the
    ``CustomerBillEvent`` schema's, an ``eventType`` other than the endpoint's, an empty
    ``event.id``."""
    found = problems("CustomerBillEvent", body, spec="billingNotification")
    if isinstance(body, Mapping):
        got = body.get("eventType")
        if got != event_type and got in EVENT_TYPES:
            found.append(f"$.eventType: got {got!r} at /listener/{event_type}, want {event_type!r}")
        event = body.get("event")
        if isinstance(event, Mapping) and event.get("id") == "":
            found.append("$.event.id: got '', want a bill id")
    return found
