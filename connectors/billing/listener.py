"""The Buyer's MEF 141 notification listener (aiohttp): validate, fetch the bill, record.

Endpoints, as ``billingNotification.api.yaml`` v2 has them::

    POST /mefApi/sonata/customerBillNotification/v2/listener/customerBillCreateEvent
    POST /mefApi/sonata/customerBillNotification/v2/listener/customerBillStateChangeEvent

For each event: the caller is checked by the guard (:mod:`streams.runtime.http_security`:
bearer token, client certificate when TLS asks for one, rate limit: 401, 403, 429), the body
validated against
``CustomerBillEvent`` (400 ``invalidBody`` listing every problem), the bill fetched from the
Seller's API (``GET {seller}/customerBill/{event.id}``, with retries) and both recorded in Redis
(:class:`~connectors.billing.store.ReceivedStore`: the bill hash and, once per ``eventId``,
the stream the Buyer's dashboard and agent read). Only then 204. Not acknowledged, so that
the Seller's notifier sends the event again:

- **503** + ``Retry-After`` when the Seller's API stayed unavailable through the retry policy
  or Redis failed;
- **500** when the Seller's API refused the bill (e.g. 404) or served one that is not a valid
  ``CustomerBill`` with the notified id (the problems are in the body: the Seller's to fix).

The Seller's 200 body is read as the spec has it, an array holding the ``CustomerBill``; a
bare object is taken too (TMF678, which MEF 141 derives from, answers one).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
import redis.exceptions
from aiohttp import web

from connectors.billing.answers import counted, error, joined, logged, mef_errors
from connectors.billing.events import EVENT_TYPES, NOTIFICATION_BASE_PATH, event_problems
from connectors.billing.store import BillingKeys, ReceivedStore
from connectors.sonata import SellerApiError, SellerUnavailableError
from connectors.sonata.answers import MAX_BODY_BYTES, read_body
from connectors.sonata.notifications import loads_exact
from connectors.sonata.seller_api import RetryPolicy, SellerApiClient
from streams.core.clock import Clock, SystemClock, to_ms
from streams.runtime.config import Settings
from streams.runtime.http_security import Callers, HttpGuard, guard, harden
from streams.runtime.security import aioredis_client
from streams.settle.mef_schema import problems

__all__ = ["BillSource", "BillingApiClient", "Recorder", "build_listener", "make_listener"]

log = logging.getLogger("bilat.billing.listener")


class BillSource(Protocol):
    """Where the listener fetches a notified bill (the Seller's API)."""

    async def get_customer_bill(self, bill_id: str) -> Any: ...


class Recorder(Protocol):
    """Where the listener keeps what it received (:class:`ReceivedStore`)."""

    async def record(
        self, event: Mapping[str, Any], bill: Mapping[str, Any], received_ms: int
    ) -> bool: ...


class BillingApiClient(SellerApiClient):
    """The Seller API client (:class:`~connectors.sonata.seller_api.SellerApiClient`: retries,
    backoff, ``Retry-After``, exact decimals) pointed at the Billing API, e.g.
    ``https://seller.example/mefApi/sonata/customerBillManagement/v2``; ``tls``: the client
    certificate and trusted CAs when the Seller's API wants mutual TLS."""

    def __init__(self, base_url: str, *, tls: ssl.SSLContext | None = None, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._tls = tls

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:  # opened in the running loop, as the parent class does
            connector = None if self._tls is None else aiohttp.TCPConnector(ssl=self._tls)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def get_customer_bill(self, bill_id: str) -> Any:
        """The JSON of ``GET /customerBill/{bill_id}``."""
        return await self._get("customerBill", bill_id, None, None)


def make_listener(
    source: BillSource,
    recorder: Recorder,
    *,
    token: str | None,
    checks: HttpGuard | None = None,
    clock: Clock | None = None,
    retry_after: int = 30,
    max_body: int = MAX_BODY_BYTES,
) -> web.Application:
    """The listener app (see the module docstring). ``checks``: who may call and how often;
    ``None``: ``token`` for every caller (``None``: no check), the default rate limit."""
    not_found = f"POST events to {NOTIFICATION_BASE_PATH}/listener/<eventType>"
    if checks is None:
        checks = HttpGuard(Callers() if token is None else Callers.single(token))
    app = web.Application(
        middlewares=[counted(), mef_errors(log, not_found), guard(checks)],
        client_max_size=max_body,
        handler_args={"auto_decompress": False},  # read_body decodes, within max_body
    )
    harden(app)
    now = (clock or SystemClock()).now
    for event_type in EVENT_TYPES:
        app.router.add_post(
            f"{NOTIFICATION_BASE_PATH}/listener/{event_type}",
            _endpoint(source, recorder, event_type, now, retry_after, max_body),
        )
    return app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(
    source: BillSource,
    recorder: Recorder,
    event_type: str,
    now: Callable[[], Any],
    retry_after: int,
    max_body: int,
) -> Handler:
    async def receive(request: web.Request) -> web.StreamResponse:
        raw = await read_body(request, max_body)
        if isinstance(raw, web.Response):
            return raw
        try:
            body = loads_exact(raw)
        except ValueError as exc:
            message = f"got a body that is not JSON ({exc}), want a CustomerBillEvent"
            return error(400, "Invalid body: not JSON", message)
        found = event_problems(body, event_type)
        if found:
            log.info("%s refused: %s", event_type, "; ".join(found)[:1000])
            return error(400, "Invalid body: not a CustomerBillEvent", joined(found))
        bill_id = body["event"]["id"]
        label = f"{event_type} {body['eventId']!r} (bill {bill_id!r})"
        again = {"Retry-After": str(retry_after)}
        try:
            answer = await source.get_customer_bill(bill_id)
        except SellerUnavailableError as exc:
            ref = logged(log, logging.WARNING, f"{label} not acknowledged, Seller to retry", exc)
            message = f"the Seller's bill API did not answer usably; send again (reference {ref})"
            return error(503, "Temporarily unavailable", message, headers=again)
        except SellerApiError as exc:
            ref = logged(log, logging.ERROR, f"{label} not acknowledged", exc)
            status = "no usable answer" if exc.status is None else f"HTTP {exc.status}"
            message = f"GET customerBill/{bill_id} gave {status} (reference {ref})"
            return error(500, "Cannot fetch the notified bill", message)
        bill, found = _the_bill(answer, bill_id)
        if bill is None:
            log.error("%s not acknowledged: the Seller's bill: %s", label, "; ".join(found))
            return error(500, "The notified bill is not usable", joined(found))
        try:
            new = await recorder.record(body, bill, to_ms(now()))
        except redis.exceptions.RedisError as exc:
            ref = logged(log, logging.WARNING, f"{label} not recorded, Seller to retry", exc)
            message = f"the Buyer could not record the bill; send again (reference {ref})"
            return error(503, "Temporarily unavailable", message, headers=again)
        log.info("%s recorded%s: state %s", label, "" if new else " (again)", bill.get("state"))
        return web.Response(status=204)

    return receive


def _the_bill(answer: Any, bill_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``CustomerBill`` of a ``GET /customerBill/{id}`` answer, or its problems."""
    if isinstance(answer, list):
        if len(answer) != 1:
            return None, [f"$: got an array of {len(answer)}, want one CustomerBill"]
        answer = answer[0]
    found = [f"$[0]{p[1:]}" for p in problems("CustomerBill", answer)]
    if not found and answer["id"] != bill_id:
        found.append(f"$[0].id: got {answer['id']!r}, want the notified {bill_id!r}")
    return (None, found) if found else (answer, [])


def build_listener(
    settings: Settings,
    seller_api_url: str,
    *,
    token: str | None,
    checks: HttpGuard | None = None,
    seller_token: str | None = None,
    policy: RetryPolicy | None = None,
    tls: ssl.SSLContext | None = None,
) -> web.Application:
    """:func:`make_listener` wired to the Seller's API and this deployment's Redis; ``tls``:
    the client certificate and trusted CAs when the Seller's API wants mutual TLS;
    ``checks``: the guard of incoming calls (see :func:`make_listener`)."""
    headers = {"Authorization": f"Bearer {seller_token}"} if seller_token else None
    session = (
        None if tls is None else aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
    )
    client = BillingApiClient(seller_api_url, policy=policy, headers=headers, session=session)
    redis = aioredis_client(settings, decode_responses=True)
    received = ReceivedStore(redis, BillingKeys.of(settings))
    app = make_listener(client, received, token=token, checks=checks)

    async def close(_app: web.Application) -> None:
        await client.close()
        await redis.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose

    app.on_cleanup.append(close)
    return app
