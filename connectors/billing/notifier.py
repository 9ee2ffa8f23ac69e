"""Delivery of bill events to hub subscribers (the Seller's side of billingNotification).

The settle runtime appends ``customerBillCreateEvent`` / ``customerBillStateChangeEvent``
entries to the Redis stream ``bilat:<app>:settle:events``; the notifier runs one delivery task
per subscription (:class:`~connectors.billing.store.HubStore`) that reads the stream after the
subscriber's cursor and POSTs each wanted event, as a MEF ``CustomerBillEvent``, to
``{callback}/mefApi/sonata/customerBillNotification/v2/listener/<eventType>`` with the
partner's bearer token.

Guarantees, per subscriber:

- **at least once, in stream order**: an event is retried until the listener answers 2xx; the
  cursor moves past it (in Redis, so a restart resumes there) only then. A crash between the
  2xx and the cursor's move sends that one event again, with the same ``eventId``;
- **no loss, no skipping**: a listener that keeps failing (5xx, 4xx, no answer) holds its own
  subscriber's queue, retried with exponential backoff and jitter up to ``max_delay``, and
  logged at each failure; other subscribers are not delayed;
- events the subscription's ``query`` does not select, and stream entries that are not events
  (logged as errors), are passed over: the cursor moves past them undelivered;
- a subscription starts after the last event in the stream when it was registered; deleting it
  stops its task within ``refresh`` seconds (a delivery in flight is abandoned).

Only :meth:`Notifier.start` starts anything; the rest is driven by the injected ``sleep`` and
``rand`` so tests control time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import redis.exceptions

from connectors.billing.answers import JSON_TYPE, dumps
from connectors.billing.events import BillEvent, Subscription
from connectors.billing.store import HubStore
from connectors.sonata.seller_api import RetryPolicy
from streams.core.redact import redact_text, redact_url
from streams.runtime import metrics

__all__ = ["DELIVERY_POLICY", "Notifier"]

log = logging.getLogger("bilat.billing.notifier")

DELIVERY_POLICY = RetryPolicy(request_timeout=10.0, base_delay=0.5, max_delay=60.0)
"""Waits between attempts of one delivery (0.5 s doubling to 60 s, jittered) and the time one
POST may take. The notifier never gives up on an event: ``attempts`` and ``deadline`` of the
policy are not used."""


class Notifier:
    """Sends the stream's events to every subscriber (see the module docstring).

    ``source`` prefixes every ``eventId`` (``<source>/<stream id>``); ``api_url`` is the
    Seller API's public base URL, for the event's ``href``; ``token`` the bearer token the
    Buyer's listener expects (``None``: no ``Authorization`` header); ``tls`` the client
    certificate and trusted CAs when the listener wants mutual TLS
    (:func:`~connectors.billing.serving.client_tls`).
    """

    def __init__(
        self,
        hub: HubStore,
        *,
        source: str,
        api_url: str,
        token: str | None = None,
        policy: RetryPolicy = DELIVERY_POLICY,
        refresh: float = 1.0,
        block_ms: int = 1000,
        batch: int = 100,
        session: aiohttp.ClientSession | None = None,
        tls: ssl.SSLContext | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.hub = hub
        self.source = source
        self.api_url = api_url
        self.headers = {"Content-Type": JSON_TYPE}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.policy = policy
        self.refresh = refresh
        self.block_ms = block_ms
        self.batch = batch
        self._session = session
        self._tls = tls
        self._sleep = sleep
        self._rand = rand
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.delivered = 0
        """Events delivered since start (2xx answers), every subscriber together."""

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` as a task of the running loop; cancel it to stop."""
        return asyncio.create_task(self.run(), name="billing-notifier")

    async def run(self) -> None:
        """Keep one delivery task per subscription until cancelled."""
        own_session = self._session is None
        if self._session is None:
            connector = None if self._tls is None else aiohttp.TCPConnector(ssl=self._tls)
            self._session = aiohttp.ClientSession(connector=connector)
        try:
            while True:
                _stop_if_cancelled()
                await self._supervise()
                await self._sleep(self.refresh)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            self._tasks.clear()
            if own_session:
                await self._session.close()

    async def _supervise(self) -> None:
        try:
            subscriptions = {s.id: s for s in await self.hub.all()}
        except redis.exceptions.RedisError as exc:
            log.warning("hub unreadable, subscriptions unchanged: %s", redact_text(str(exc)))
            return
        for ident in [i for i in self._tasks if i not in subscriptions]:
            self._tasks.pop(ident).cancel()
            log.info("hub %s: unsubscribed, delivery stopped", ident)
        for ident, subscription in subscriptions.items():
            task = self._tasks.get(ident)
            if task is not None and task.done() and not task.cancelled():
                if (failure := task.exception()) is not None:
                    log.error("hub %s: delivery task failed, restarting: %r", ident, failure)
                task = None
            if task is None:
                self._tasks[ident] = asyncio.create_task(
                    self._serve(subscription), name=f"billing-notifier-{ident}"
                )

    async def _serve(self, subscription: Subscription) -> None:
        """Deliver ``subscription``'s events from its cursor on; returns once unsubscribed."""
        retry = 0
        while True:
            _stop_if_cancelled()
            try:
                if not await self._serve_batch(subscription):
                    return
                retry = 0
            except redis.exceptions.RedisError as exc:
                delay = self.policy.backoff(retry, self._rand())
                retry += 1
                log.warning(
                    "hub %s: Redis failed (%s); again in %.1f s from the stored cursor",
                    subscription.id,
                    redact_text(str(exc)),
                    delay,
                )
                await self._sleep(delay)

    async def _serve_batch(self, subscription: Subscription) -> bool:
        """One read of the stream and its deliveries; ``False`` once unsubscribed."""
        cursor = await self.hub.cursor(subscription.id)
        entries = await self.hub.events_after(cursor, count=self.batch, block_ms=self.block_ms)
        for stream_id, fields in entries:
            event = BillEvent.from_fields(stream_id, fields)
            if isinstance(event, str):
                log.error("%s %s is not a bill event (%s); passed over", self.hub.keys.events,
                          stream_id, event)  # fmt: skip
            elif subscription.wants(event.event_type):
                await self._deliver(subscription, event)
            if not await self.hub.advance(subscription.id, stream_id):
                return False
        return True

    async def _deliver(self, subscription: Subscription, event: BillEvent) -> None:
        """POST ``event`` until a 2xx answer (see the module docstring)."""
        url = subscription.url_for(event.event_type)
        body = dumps(event.body(subscription, source=self.source, api_url=self.api_url))
        retry = 0
        while (failure := await self._post(url, body)) is not None:
            metrics.observe_notification(event.event_type, delivered=False)
            delay = self.policy.backoff(retry, self._rand())
            retry += 1
            log.warning(
                "hub %s: %s of bill %r to %s failed (%s); attempt %d in %.1f s",
                subscription.id,
                event.event_type,
                event.bill_id,
                redact_url(url),
                failure,
                retry + 1,
                delay,
            )
            await self._sleep(delay)
        self.delivered += 1
        metrics.observe_notification(event.event_type, delivered=True)
        log.info(
            "hub %s: %s of bill %r delivered (%s)",
            subscription.id,
            event.event_type,
            event.bill_id,
            event.stream_id,
        )

    async def _post(self, url: str, body: bytes) -> str | None:
        """One attempt: ``None`` on a 2xx answer, else what went wrong."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=self.policy.request_timeout)
        try:
            async with self._session.post(
                url, data=body, headers=self.headers, timeout=timeout, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}{await _reason(response)}"
        except TimeoutError:
            return f"no answer within {self.policy.request_timeout:g} s"
        except aiohttp.ClientError as exc:
            return redact_text(f"{type(exc).__name__}: {exc}")


def _stop_if_cancelled() -> None:
    """Raise ``CancelledError`` when this task was asked to stop.

    The loops check it on every turn because redis-py (8.1) can swallow a cancellation that
    lands while a command is in flight: the command's coroutine returns or retries and the
    task runs on, still marked as cancelling. Seen in about one test run in fifteen: a
    notifier that never stopped.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _reason(response: aiohttp.ClientResponse) -> str:
    """`` (code: reason)`` of a MEF Error body, else nothing."""
    try:
        body: Any = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k])[:120] for k in ("code", "reason") if body.get(k)]
    return f" ({': '.join(parts)})" if parts else ""
