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
  for the notified order, a ProductOrder that does not parse...): not acknowledged either;
- **404**, **405**, **413** (body over :data:`~connectors.sonata.answers.MAX_BODY_BYTES`),
  **415** (an unsupported ``Content-Encoding``) and any other failure: a MEF Error JSON body
  too (:mod:`connectors.sonata.answers`), never aiohttp's plain text.

Callers are checked by the guard (:mod:`streams.runtime.http_security`) when the app has one
(``bilat sonata listen`` always gives one): a bearer token per Seller partner or one for all, a
client certificate when TLS asks for one, a rate limit per caller; 401, 403 and 429 carry MEF
``Error`` bodies too (``Error401``, ``Error403``; 429 has no MEF schema, its body is ``Error``'s
shape with ``code: tooManyRequests``).

No answer carries the Buyer's internals (the Seller API's URL, exception text, a stack): the
listener logs them, redacted (:mod:`streams.core.redact`), under a ``reference`` that the 5xx body
quotes. The 500 for unusable Seller data lists the problems found in the Seller's own JSON,
which the Seller needs to fix it.

An order item for an offering the agreement does not price is published (the product exists
and its usage is billable) and logged as a warning: see :func:`offering_check`.

Only Product Order events (:data:`~connectors.sonata.notifications.PRODUCT_ORDER_EVENT_TYPES`)
become records. Charge, Cancel Product Order and Modify Requested Delivery Date events are
validated and acknowledged: their effect on an order item (accepted charge items, new state)
reaches ``sonata.orders`` with the item's next Product Order event, which re-reads the item
and every Charge it references.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
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
from connectors.sonata.answers import (
    HANDLER_ARGS,
    MAX_BODY_BYTES,
    error_body,
    internal_error,
    json_response,
    logged,
    mef_errors,
    read_body,
)
from connectors.sonata.notifications import (
    EVENT_TYPES,
    LISTENER_BASE_PATH,
    Notification,
    invalid_body_error,
    parse_notification,
)
from connectors.sonata.orders import charge_ids, order_events
from streams.core.clock import from_ms
from streams.core.errors import EncodeError, RatingError
from streams.runtime import metrics
from streams.runtime.config import Settings
from streams.runtime.http_security import HttpGuard, guard, harden, run_guarded
from streams.settle.charges import unpriced_offering

if TYPE_CHECKING:
    from connectors.sonata.seller_api import RetryPolicy
    from streams.agreement.model import AgreementBook

__all__ = [
    "NotificationHandler",
    "OfferingCheck",
    "Parties",
    "Publisher",
    "SellerApi",
    "build_app",
    "make_app",
    "offering_check",
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


OfferingCheck = Callable[[Mapping[str, Any]], str | None]
"""A published record → why the agreement does not price its offering, or ``None``."""


def offering_check(book: AgreementBook) -> OfferingCheck:
    """The check of ``add`` records, and ``modify`` records naming an offering, against the
    version of ``book`` in force at the item's completion (else the notification's time; the
    first version before it).

    Why a warning and not a dead letter or an alert record: the order event is valid and must
    reach the inventory (its product is active and its usage billable), so refusing it would
    lose a fact; and whether the offering is priced depends on the agreement version, which an
    amendment can change after the order. ``bilat charges`` recomputes the finding from the
    inventory and the agreement every time, so it is never stale; this warning is the early
    signal, at order time, in the listener's log.
    """

    def check(record: Mapping[str, Any]) -> str | None:
        action, offering = record.get("action"), record.get("product_offering_id")
        if action != "add" and not (action == "modify" and offering):
            return None  # a delete, or a modify that keeps the offering: nothing new to price
        at = from_ms(record.get("completion_date_ms") or record["event_time_ms"])
        try:
            version = book.in_force(at)
        except RatingError:
            version = book.versions[0]
        return unpriced_offering(version, offering)

    return check


class NotificationHandler:
    """One valid notification → records published (fetch, map, publish).

    ``fetch_budget`` bounds the seconds spent fetching the order and its Charges together
    (each call also has its own retry deadline); past it, :class:`SellerUnavailableError`.
    ``offerings`` (see :func:`offering_check`) is asked about every published record; what it
    reports is logged as a warning.
    """

    def __init__(
        self,
        seller: SellerApi,
        publisher: Publisher,
        parties: Parties,
        *,
        fetch_budget: float = 12.0,
        offerings: OfferingCheck | None = None,
    ) -> None:
        self.seller = seller
        self.publisher = publisher
        self.parties = parties
        self.fetch_budget = fetch_budget
        self.offerings = offerings

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
        if self.offerings is not None:
            for record in records:
                if (why := self.offerings(record)) is not None:
                    log.warning(
                        "order %r item %r (product %r): %s; it is billed only through its "
                        "accepted Sonata charge items until the agreement prices the offering "
                        "(bilat charges lists it as an unpriced-offering finding)",
                        record["order_id"],
                        record["order_item_id"],
                        record.get("product_id"),
                        why,
                    )
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
    max_body: int = MAX_BODY_BYTES,
    checks: HttpGuard | None = None,
) -> web.Application:
    """The listener app: ``POST {base_path}/listener/<type>`` for every MEF 123 event type.

    ``retry_after`` is the ``Retry-After`` (seconds) sent with every 503; ``max_body`` the
    longest body read (longer: 413); ``checks`` who may call and how often (``None``: anyone,
    unlimited). Every error answer is a MEF Error JSON body.
    """
    middlewares = [mef_errors(max_body)] + ([] if checks is None else [guard(checks)])
    app = web.Application(
        middlewares=middlewares, client_max_size=max_body, handler_args=HANDLER_ARGS
    )
    harden(app)
    for event_type in EVENT_TYPES:
        app.router.add_post(
            f"{base_path.rstrip('/')}/listener/{event_type}",
            _counted(event_type, _endpoint(handler, event_type, retry_after, max_body)),
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
    book: AgreementBook | None = None,
    checks: HttpGuard | None = None,
) -> web.Application:
    """:func:`make_app` wired to the real Seller API client and Kafka publisher.

    Both are closed (the producer flushed) when the app shuts down. With ``book``, order items
    for offerings it does not price are logged (:func:`offering_check`).
    """
    from connectors.sonata.publisher import KafkaOrderPublisher
    from connectors.sonata.seller_api import SellerApiClient

    client = SellerApiClient(seller_api_url, policy=policy, headers=headers)
    publisher = KafkaOrderPublisher(settings)
    offerings = offering_check(book) if book is not None else None
    handler = NotificationHandler(client, publisher, parties, offerings=offerings)
    app = make_app(handler, checks=checks)

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
    book: AgreementBook | None = None,
    checks: HttpGuard | None = None,
    tls: ssl.SSLContext | None = None,
    print_: Callable[[str], None] | None = print,
) -> None:
    """Create ``sonata.orders`` if needed and serve the listener until SIGINT/SIGTERM, over
    TLS with ``tls``, its callers checked by ``checks``.

    Raises :class:`~streams.core.errors.PortInUseError` when ``host:port`` is taken. What aiohttp
    prints at start-up goes through :func:`~streams.core.redact.redact_text`.
    """
    from connectors.sonata.publisher import TOPIC
    from streams.runtime.topics import ensure_topics

    ensure_topics(settings, [TOPIC])
    app = build_app(settings, seller_api_url, parties, headers=headers, book=book, checks=checks)
    hint = "--port or BILAT_SONATA_PORT"
    run_guarded(app, host=host, port=port, log=log, tls=tls, port_hint=hint, print_=print_)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(
    handler: NotificationHandler, event_type: str, retry_after: int, max_body: int
) -> Handler:
    async def receive(request: web.Request) -> web.StreamResponse:
        raw = await read_body(request, max_body)
        if isinstance(raw, web.Response):
            return raw
        parsed = parse_notification(raw, event_type)
        if isinstance(parsed, list):
            log.info("%s rejected: %s", event_type, "; ".join(map(str, parsed)))
            return json_response(400, invalid_body_error(parsed, event_type))
        label = f"{event_type} {parsed.event_id!r} (order {parsed.subject_id!r})"
        try:
            records = await handler.handle(parsed)
        except (SellerUnavailableError, PublishError) as exc:
            ref = logged(logging.WARNING, f"{label} not acknowledged, Seller to retry", exc)
            side = (
                "the Seller API did not answer usably in time"
                if isinstance(exc, SellerUnavailableError)
                else "the Buyer could not store the order events"
            )
            body = error_body(
                503,
                "Temporarily unavailable: send this notification again later",
                f"Not acknowledged: {side}. Send the notification again after {retry_after} s "
                f"(reference {ref}).",
            )
            return json_response(503, body, {"Retry-After": str(retry_after)})
        except SellerDataError as exc:
            ref = logged(logging.ERROR, f"{label} not acknowledged", exc)
            problems = "\n".join(exc.problems)  # from the Seller's own JSON: its to fix
            message = f"The Seller's data cannot be used (reference {ref}):\n{problems}"
            reason = "Cannot process the notified Product Order: the Seller's data is unusable"
            return json_response(500, error_body(500, reason, message))
        except SellerApiError as exc:
            ref = logged(logging.ERROR, f"{label} not acknowledged", exc)
            status = "no usable answer" if exc.status is None else f"HTTP {exc.status}"
            message = (
                f"Fetching the notified Product Order {parsed.subject_id!r} or its Charges from "
                f"the Seller API gave {status}, which retrying would not change "
                f"(reference {ref})."
            )
            reason = "Cannot process the notified Product Order"
            return json_response(500, error_body(500, reason, message))
        except EncodeError as exc:
            ref = logged(logging.ERROR, f"{label} not acknowledged", exc, stack=True)
            return internal_error(ref)
        log.info("%s acknowledged: %d record(s) published", label, len(records))
        metrics.SONATA_RECORDS.inc(len(records))
        return web.Response(status=204)

    return receive


def _counted(event_type: str, endpoint: Handler) -> Handler:
    """``endpoint``, counting its answers by status (``bilat_sonata_notifications_total``)."""

    async def counted(request: web.Request) -> web.StreamResponse:
        status = 500  # an exception the middleware turns into a MEF error body
        try:
            response = await endpoint(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.observe_listener(event_type, status)

    return counted
