"""The Seller's MEF 141 Billing API (aiohttp): bills, bill items and hub subscriptions.

Endpoints under :data:`~connectors.billing.events.MANAGEMENT_BASE_PATH`
(``/mefApi/sonata/customerBillManagement/v2``), as ``billingManagement.api.yaml`` v2 has them:

==========================  =================================================================
``GET /customerBill``       ``CustomerBill_Find`` list (:mod:`streams.settle.query`: filters,
                            ``offset``/``limit``, ``X-Total-Count``, ``X-Result-Count``,
                            ``X-Pagination-Throttled``)
``GET /customerBill/{id}``  ``[CustomerBill]``: the spec's 200 schema is an *array* of
                            ``CustomerBill``, served literally as a one-element array
``GET /customerBillItem/    ``[CustomerBillItem]``, an array too per the spec
{id}``
``POST /hub``               ``EventSubscriptionInput`` → 201 ``EventSubscription``
``GET /hub/{id}``           ``EventSubscription``
``DELETE /hub/{id}``        204
==========================  =================================================================

Every request is checked by the guard (:mod:`streams.runtime.http_security`): a bearer token
(one for every caller, or one per partner), a client certificate when TLS asks for one, a rate
limit per caller (401, 403, 429 otherwise); every error is a MEF Error body
(:mod:`connectors.billing.answers`). A caller known as a partner (a tokens file, a client
certificate bound to one) sees its own bills only (``billingAccount.id`` = the partner id) and
its own hub subscriptions: another's is a 403. The bills are those the settle runtime keeps in Redis
(:class:`~connectors.billing.store.BillStore`): this process only reads them, so it can be
restarted, or run as several replicas, at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from connectors.billing.answers import (
    counted,
    error,
    joined,
    json_response,
    mef_errors,
)
from connectors.billing.events import MANAGEMENT_BASE_PATH, Subscription, parse_subscription
from connectors.billing.notifier import Notifier
from connectors.billing.store import BillingKeys, BillStore, HubStore
from connectors.sonata.notifications import loads_exact
from streams.core.clock import Clock, SystemClock, to_ms
from streams.core.redact import redact_text
from streams.runtime.config import Settings
from streams.runtime.http_security import CALLER, Callers, HttpGuard, guard, harden
from streams.runtime.security import aioredis_client
from streams.settle.query import QueryError, find, parse_query

__all__ = ["ApiConfig", "build_app", "make_app"]

log = logging.getLogger("bilat.billing.api")

MAX_HUB_BODY = 16 * 1024
"""Longest ``POST /hub`` body read, in bytes (a callback URL and a query)."""


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Who the API serves and how it is reached."""

    token: str | None
    """The bearer token every request must carry; ``None``: no check (see ``docs/api.md``:
    only behind a proxy that authenticates, e.g. with mTLS)."""
    seller_id: str
    """This party: a request naming another ``sellerId`` is refused (403)."""
    buyer_id: str | None = None
    """The partner, when known: a request naming another ``buyerId`` is refused (403)."""
    base_path: str = MANAGEMENT_BASE_PATH
    guard: HttpGuard | None = None
    """Who may call, and how often; ``None``: :attr:`token` for every caller (no token: no
    check), with the default rate limit."""

    def guard_of(self) -> HttpGuard:
        if self.guard is not None:
            return self.guard
        return HttpGuard(Callers() if self.token is None else Callers.single(self.token))


@dataclass(frozen=True, slots=True)
class _State:
    bills: BillStore
    hub: HubStore
    config: ApiConfig
    clock: Clock
    new_id: Callable[[], str]


_STATE = web.AppKey("billing_api", _State)


def make_app(
    bills: BillStore,
    hub: HubStore,
    config: ApiConfig,
    *,
    clock: Clock | None = None,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> web.Application:
    """The API app over ``bills`` and ``hub`` (see the module docstring)."""
    base = config.base_path.rstrip("/")
    not_found = (
        f"Resources are {base}/customerBill[/{{id}}], {base}/customerBillItem/{{id}}, "
        f"{base}/hub[/{{id}}]"
    )
    app = web.Application(
        middlewares=[counted(), mef_errors(log, not_found), guard(config.guard_of())],
        client_max_size=MAX_HUB_BODY,
    )
    harden(app)
    app[_STATE] = _State(bills, hub, config, clock or SystemClock(), new_id)
    app.router.add_get(f"{base}/customerBill", _list_bills)
    app.router.add_get(f"{base}/customerBill/{{id}}", _get_bill)
    app.router.add_get(f"{base}/customerBillItem/{{id}}", _get_item)
    app.router.add_post(f"{base}/hub", _register)
    app.router.add_get(f"{base}/hub/{{id}}", _get_hub)
    app.router.add_delete(f"{base}/hub/{{id}}", _unregister)
    return app


async def _list_bills(request: web.Request) -> web.Response:
    query = parse_query(request.query.items())
    if isinstance(query, QueryError):
        log.info("GET %s refused: %s", request.path, "; ".join(query.problems))
        return json_response(400, query.body())
    bills = await request.app[_STATE].bills.bills()
    if (partner := _partner(request)) is not None:  # a partner sees its own bills only
        bills = [b for b in bills if _account(b) == partner]
    page = find(query, bills)
    return json_response(200, list(page.bills), page.headers())


async def _get_bill(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    bill = await request.app[_STATE].bills.bill(ident)
    if bill is None:
        return _not_found("CustomerBill", ident)
    if (refused := _not_yours(request, bill, "CustomerBill")) is not None:
        return refused
    return json_response(200, [bill])  # the spec's 200 body is an array of CustomerBill


async def _get_item(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    found = await request.app[_STATE].bills.item_and_bill(ident)
    if found is None:
        return _not_found("CustomerBillItem", ident)
    item, bill = found
    if (refused := _not_yours(request, bill, "CustomerBillItem")) is not None:
        return refused
    return json_response(200, [item])  # an array too, per the spec


async def _register(request: web.Request) -> web.Response:
    if (refused := _parties_refused(request)) is not None:
        return refused
    if (request.content_length or 0) > MAX_HUB_BODY:
        message = f"got {request.content_length} bytes, want at most {MAX_HUB_BODY}"
        return error(413, "Body too large", message, code="invalidBody")
    raw = await request.read()  # past client_max_size (chunked): 413 by mef_errors
    try:
        body = loads_exact(raw)
    except ValueError as exc:
        message = f"got a body that is not JSON ({exc}), want an EventSubscriptionInput"
        return error(400, "Invalid body: not JSON", message)
    state = request.app[_STATE]
    subscription = parse_subscription(
        body,
        state.new_id(),
        buyer_id=request.query.get("buyerId"),
        seller_id=request.query.get("sellerId"),
        created_ms=to_ms(state.clock.now()),
    )
    if isinstance(subscription, list):
        return error(400, "Invalid body: not a usable EventSubscriptionInput", joined(subscription))
    subscription = replace(subscription, owner=_partner(request))
    after = await state.hub.add(subscription)
    log.info(
        "hub %s registered: %s, events %s after %s",
        subscription.id,
        redact_text(subscription.callback),
        ",".join(subscription.event_types),
        after,
    )
    location = f"{state.config.base_path.rstrip('/')}/hub/{subscription.id}"
    return json_response(201, subscription.resource(), {"Location": location})


async def _get_hub(request: web.Request) -> web.Response:
    if (refused := _parties_refused(request)) is not None:
        return refused
    ident = request.match_info["id"]
    subscription = await request.app[_STATE].hub.get(ident)
    if subscription is None:
        return _not_found("EventSubscription", ident)
    if (refused := _not_owner(request, subscription)) is not None:
        return refused
    return json_response(200, subscription.resource())


async def _unregister(request: web.Request) -> web.Response:
    if (refused := _parties_refused(request)) is not None:
        return refused
    ident = request.match_info["id"]
    hub = request.app[_STATE].hub
    subscription = await hub.get(ident)
    if subscription is not None and (refused := _not_owner(request, subscription)) is not None:
        return refused
    if subscription is None or not await hub.delete(ident):
        return _not_found("EventSubscription", ident)
    log.info("hub %s unregistered", ident)
    return web.Response(status=204)


def _parties_refused(request: web.Request) -> web.Response | None:
    """403 when the request names a Seller or Buyer this deployment does not serve."""
    config = request.app[_STATE].config
    buyer = _partner(request) or config.buyer_id  # a partner is the Buyer it asks for
    for name, served in (("sellerId", config.seller_id), ("buyerId", buyer)):
        given = request.query.get(name)
        if given is not None and served is not None and given != served:
            return error(
                403,
                "Access denied",
                f"{name}: got {given[:80]!a}, this API serves {name} {served!r} only",
                code="accessDenied",
            )
    return None


def _partner(request: web.Request) -> str | None:
    """The partner calling, when the guard knows it (a tokens file, a bound certificate)."""
    caller = request.get(CALLER)
    return None if caller is None else caller.partner


def _account(bill: dict[str, Any]) -> Any:
    account = bill.get("billingAccount")
    return account.get("id") if isinstance(account, dict) else None


def _not_yours(request: web.Request, bill: dict[str, Any], kind: str) -> web.Response | None:
    """403 when a partner asks for another Buyer's bill (or one of its items)."""
    partner = _partner(request)
    if partner is None or _account(bill) == partner:
        return None
    log.info("%s refused: %s asks for another Buyer's %s", request.path, partner, kind)
    message = f"this {kind} is not billed to {partner}"
    return error(403, "Access denied", message, code="accessDenied")


def _not_owner(request: web.Request, subscription: Subscription) -> web.Response | None:
    """403 when a partner asks for a subscription another partner registered."""
    partner = _partner(request)
    if partner is None or subscription.owner in (None, partner):
        return None
    message = f"this subscription was registered by another partner than {partner}"
    return error(403, "Access denied", message, code="accessDenied")


def _not_found(kind: str, ident: str) -> web.Response:
    return error(404, f"No {kind} with this id", f"{kind} {ident[:200]!a} not found")


def build_app(
    settings: Settings,
    config: ApiConfig,
    *,
    notifier: Callable[[HubStore], Notifier] | None = None,
) -> web.Application:
    """:func:`make_app` on this deployment's Redis; ``notifier`` (a :class:`Notifier` made
    for the :class:`HubStore`), when given, runs beside the API for the app's lifetime."""
    redis = aioredis_client(settings, decode_responses=True)
    keys = BillingKeys.of(settings)
    hub = HubStore(redis, keys)
    app = make_app(BillStore(redis, keys), hub, config)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        task = None
        if notifier is not None:
            task = notifier(hub).start()
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await redis.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose

    app.cleanup_ctx.append(lifetime)
    return app
