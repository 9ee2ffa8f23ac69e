"""The MEF 123 notification listener (aiohttp): validate, fetch, map, publish, then answer.

Endpoints, one per MEF event type, as in ``productOrderNotification.api.yaml`` v10::

    POST {base}/listener/{eventType}      base = /mefApi/sonata/productOrderingNotification/v10

Answers (the MEF listener responses, plus 503):

- **204** once every record of the notification is acknowledged by Kafka (or, for event types
  that yield no record, once the body is valid);
- **400** ``Error400`` (``code: invalidBody``) listing every problem with its JSON path;
- **503** ``Retry-After`` + an ``Error500``-shaped body when the Seller API stayed unavailable
  through the retry policy, or Kafka did not acknowledge: nothing is lost, the Seller sends
  the notification again later. MEF lists no 503 for listeners; it is the standard HTTP
  answer for "try again later" and any HTTP client treats it as a failure;
- **500** ``Error500`` (``code: internalError``) when the Seller's own data is unusable (a 404
  for the notified order, a ProductOrder that does not parse...): not acknowledged either.

Only Product Order events (:data:`~connectors.sonata.notifications.PRODUCT_ORDER_EVENT_TYPES`)
become records. Charge, Cancel Product Order and Modify Requested Delivery Date events are
validated and acknowledged: their effect on an order item (accepted charge items, new state)
reaches ``sonata.orders`` with the item's next Product Order event, which re-reads the item
and every Charge it references.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from connectors.sonata import (
    PublishError,
    SellerApiError,
    SellerDataError,
    SellerUnavailableError,
)
from connectors.sonata.notifications import (
    EVENT_TYPES,
    LISTENER_BASE_PATH,
    Notification,
    invalid_body_error,
    parse_notification,
)
from connectors.sonata.orders import charge_ids, order_events
from streams.config import Settings
from streams.errors import EncodeError, PortInUseError

if TYPE_CHECKING:
    from connectors.sonata.seller_api import RetryPolicy

__all__ = [
    "NotificationHandler",
    "Parties",
    "Publisher",
    "SellerApi",
    "build_app",
    "make_app",
    "run_listener",
]

log = logging.getLogger("bilat.sonata.listener")


@dataclass(frozen=True, slots=True)
class Parties:
    """The party ids recorded when a notification does not name them (MEF sends
    ``buyerId``/``sellerId`` only when a party represents several)."""

    buyer_id: str
    seller_id: str


class SellerApi(Protocol):
    """The part of :class:`~connectors.sonata.seller_api.SellerApiClient` the handler uses."""

    async def get_product_order(
        self, order_id: str, *, buyer_id: str | None = None, seller_id: str | None = None
    ) -> Any: ...

    async def get_charge(
        self, charge_id: str, *, buyer_id: str | None = None, seller_id: str | None = None
    ) -> Any: ...


class Publisher(Protocol):
    """Makes records durable; returns only once all are (see ``publisher.py``)."""

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None: ...


class NotificationHandler:
    """One valid notification → records published (fetch, map, publish).

    ``fetch_budget`` bounds the seconds spent fetching the order and its Charges together
    (each call also has its own retry deadline); past it, :class:`SellerUnavailableError`.
    """

    def __init__(
        self,
        seller: SellerApi,
        publisher: Publisher,
        parties: Parties,
        *,
        fetch_budget: float = 12.0,
    ) -> None:
        self.seller = seller
        self.publisher = publisher
        self.parties = parties
        self.fetch_budget = fetch_budget

    async def handle(self, notification: Notification) -> list[dict[str, Any]]:
        """Publish the records of ``notification``; returns them once Kafka holds them all.

        Returns ``[]`` (nothing to publish) for event types that are not Product Order events.
        Raises :class:`SellerUnavailableError`, :class:`SellerApiError`,
        :class:`SellerDataError` or :class:`PublishError`; nothing is published unless the
        Seller's data was fetched and mapped in full.
        """
        if not notification.is_product_order_event:
            return []
        try:
            async with asyncio.timeout(self.fetch_budget):
                order, charges = await self._fetch(notification)
        except TimeoutError as exc:
            raise SellerUnavailableError(
                f"Seller API: fetching order {notification.subject_id!r} and its Charges took "
                f"longer than {self.fetch_budget:g} s",
                url="",
                status=None,
                attempts=0,
            ) from exc
        records = order_events(
            notification,
            order,
            charges,
            buyer_id=self.parties.buyer_id,
            seller_id=self.parties.seller_id,
        )
        await self.publisher.publish(records)
        return records

    async def _fetch(self, notification: Notification) -> tuple[Any, dict[str, Any]]:
        who = {"buyer_id": notification.buyer_id, "seller_id": notification.seller_id}
        order = await self.seller.get_product_order(notification.subject_id, **who)
        ids = charge_ids(notification, order)
        fetched = await asyncio.gather(
            *(self.seller.get_charge(i, **who) for i in ids), return_exceptions=True
        )
        for outcome in fetched:
            if isinstance(outcome, BaseException):
                raise outcome
        return order, dict(zip(ids, fetched, strict=True))


def make_app(
    handler: NotificationHandler,
    *,
    base_path: str = LISTENER_BASE_PATH,
    retry_after: int = 30,
) -> web.Application:
    """The listener app: ``POST {base_path}/listener/<type>`` for every MEF 123 event type.

    ``retry_after`` is the ``Retry-After`` (seconds) sent with every 503.
    """
    app = web.Application(middlewares=[_unexpected_as_500])
    for event_type in EVENT_TYPES:
        app.router.add_post(
            f"{base_path.rstrip('/')}/listener/{event_type}",
            _endpoint(handler, event_type, retry_after),
            name=event_type,
        )
    return app


def build_app(
    settings: Settings,
    seller_api_url: str,
    parties: Parties,
    *,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy | None = None,
) -> web.Application:
    """:func:`make_app` wired to the real Seller API client and Kafka publisher.

    Both are closed (the producer flushed) when the app shuts down.
    """
    from connectors.sonata.publisher import KafkaOrderPublisher
    from connectors.sonata.seller_api import SellerApiClient

    client = SellerApiClient(seller_api_url, policy=policy, headers=headers)
    publisher = KafkaOrderPublisher(settings)
    app = make_app(NotificationHandler(client, publisher, parties))

    async def close(_app: web.Application) -> None:
        await client.close()
        await asyncio.to_thread(publisher.close)

    app.on_cleanup.append(close)
    return app


def run_listener(
    settings: Settings,
    seller_api_url: str,
    parties: Parties,
    *,
    host: str = "127.0.0.1",
    port: int = 8440,
    headers: Mapping[str, str] | None = None,
    print_: Callable[[str], None] | None = print,
) -> None:
    """Create ``sonata.orders`` if needed and serve the listener until SIGINT/SIGTERM.

    Raises :class:`~streams.errors.PortInUseError` when ``host:port`` is taken.
    """
    from connectors.sonata.publisher import TOPIC
    from streams.ops.topics import ensure_topics

    ensure_topics(settings, [TOPIC])
    app = build_app(settings, seller_api_url, parties, headers=headers)
    try:
        web.run_app(app, host=host, port=port, print=print_, access_log=log)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"cannot listen on {host}:{port}: the port is in use; choose another with "
                "--port or BILAT_SONATA_PORT"
            ) from exc
        raise


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(handler: NotificationHandler, event_type: str, retry_after: int) -> Handler:
    async def receive(request: web.Request) -> web.StreamResponse:
        parsed = parse_notification(await request.read(), event_type)
        if isinstance(parsed, list):
            log.info("%s rejected: %s", event_type, "; ".join(map(str, parsed)))
            return _json(400, invalid_body_error(parsed, event_type))
        label = f"{event_type} {parsed.event_id!r} (order {parsed.subject_id!r})"
        try:
            records = await handler.handle(parsed)
        except (SellerUnavailableError, PublishError) as exc:
            log.warning("%s not acknowledged, Seller to retry: %s", label, exc)
            body = _error500("Temporarily unavailable: send this notification again later", exc)
            return _json(503, body, {"Retry-After": str(retry_after)})
        except (SellerApiError, SellerDataError, EncodeError) as exc:
            log.error("%s not acknowledged: %s", label, exc)
            return _json(500, _error500("Cannot process the notified Product Order", exc))
        log.info("%s acknowledged: %d record(s) published", label, len(records))
        return web.Response(status=204)

    return receive


@web.middleware
async def _unexpected_as_500(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any unexpected failure → an ``Error500`` body (logged with its traceback), never HTML."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug: keep serving, report it, do not acknowledge
        log.exception("%s %s failed", request.method, request.path)
        return _json(500, _error500("Internal error in the Buyer's listener", exc))


def _error500(reason: str, exc: BaseException) -> dict[str, str]:
    return {"code": "internalError", "reason": reason[:255], "message": str(exc)}


def _json(
    status: int, body: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
