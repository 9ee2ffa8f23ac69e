"""``bilat dashboard``'s web app (aiohttp): the page, its JSON, the live feed, ``/metrics``.

Reads only Redis, which the reconciler and the settler fill (see
:mod:`streams.runtime.reconciler`), for each bilateral (one app id = one party's deployment):

* ``bilat:<app>:recon:about``   HASH  party, partner, agreement_id, round_ms
* ``bilat:<app>:recon:windows`` HASH  ``<start_ms>-<end_ms>`` → ``WindowStatus.to_json()``
* ``bilat:<app>:recon:alerts``  STREAM one entry per alert (``alert_fields``)
* ``bilat:<app>:settle:bills``  HASH  bill id → ``{bill, items, disputes, role, ...}``

Routes: ``/`` (the page), ``/static/*``, ``/api/state`` (everything the page shows now),
``/api/alerts`` (``?record=KEY`` filters, ``?limit=``), ``/api/alerts/{app}/{alert_id}``
(one alert, its proofs checked), ``/events`` (server-sent events: ``alert`` for each new
alert, ``summary`` when windows, bills or counts changed), ``/metrics``, ``/healthz``.

Callers are checked by the guard (:mod:`streams.runtime.http_security`) when one is given
(``bilat dashboard --tokens-file``/``--token-file``/``--client-ca``): a browser sends the
token as the password of HTTP Basic (the partner id, or anything, as the user), a script as
``Authorization: Bearer``; ``/healthz`` stays open. No answer says more of a failure than a
reference the log line carries (Redis' address and error text stay in the log).

One :class:`Hub` per app follows the alert streams (``XREAD BLOCK``) and rebuilds the summary
every :data:`SUMMARY_EVERY` seconds, sending it only when it changed; every browser gets the
same events from a queue of its own. A browser that falls behind is told to reload its state
(``resync``) rather than slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from streams.core.redact import redact_text
from streams.runtime import metrics
from streams.runtime.dashboard.charts import class_chart, stake_chart
from streams.runtime.dashboard.views import (
    ProofKey,
    alert_view,
    bilateral_view,
    bill_view,
    class_counts,
    window_view,
)
from streams.runtime.http_security import (
    CallerAccessLogger,
    HttpGuard,
    guard,
    harden,
    no_detail,
)
from streams.runtime.security import RedisSecurity, aioredis_from_url

__all__ = ["SUMMARY_EVERY", "DashboardConfig", "Hub", "make_app", "serve"]

log = logging.getLogger("bilat.dashboard")

STATIC = Path(__file__).with_name("static")
SUMMARY_EVERY = 2.0
"""Seconds between two summaries (windows, bills, counts); sent only when changed."""
RECENT = 200
"""Alerts the page loads at start (newest first, over all bilaterals)."""
QUEUE = 500
"""Events a browser may fall behind by before it is told to resync."""
_APP: web.AppKey[Hub] = web.AppKey("hub", object)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """What to show: the app ids (one per bilateral), where Redis is, and the agreement whose
    depth and salt check record proofs (None: proofs are shown unchecked)."""

    apps: tuple[str, ...]
    redis_url: str
    proof_key: ProofKey | None = None
    redis_security: RedisSecurity = field(default_factory=RedisSecurity)
    """Redis password and TLS files (``BILAT_REDIS_*_FILE``)."""


def _redis_down(exc: RedisError) -> str:
    """What a browser is told when Redis fails: no address, no error text (both logged under
    the reference it quotes)."""
    ref = uuid.uuid4().hex[:12]
    log.warning("[%s] Redis: %s", ref, redact_text(str(exc)))
    return f"Redis unavailable (reference {ref})"


def _key(app: str, name: str) -> str:
    return f"bilat:{app}:{name}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


class Hub:
    """Follows Redis for every bilateral and fans events out to the browsers."""

    def __init__(self, config: DashboardConfig, client: aioredis.Redis[Any] | None = None) -> None:
        self.config = config
        self.redis: aioredis.Redis[Any] = client or aioredis_from_url(
            config.redis_url, config.redis_security
        )
        self.queues: set[asyncio.Queue[tuple[str, Any]]] = set()
        self.last_ids: dict[str, str] = {}
        self.counts: dict[str, Counter[tuple[str, str]]] = {a: Counter() for a in config.apps}
        self.summary: dict[str, Any] = {"bilaterals": [], "error": "starting"}
        self._summary_text = ""
        self._tasks: list[asyncio.Task[None]] = []

    # --- reading --------------------------------------------------------------------------

    async def scan_counts(self) -> None:
        """Count every alert so far per class, and note where each stream ends."""
        for app in self.config.apps:
            stream, start = _key(app, "recon:alerts"), "-"
            counts: Counter[tuple[str, str]] = Counter()
            last = "0-0"
            while True:
                entries = await self.redis.xrange(stream, start, "+", count=1000)
                for entry_id, raw in entries:
                    fields = _fields(raw)
                    counts[(fields.get("kind", ""), fields.get("severity") or "warning")] += 1
                    last = _text(entry_id)
                if len(entries) < 1000:
                    break
                start = "(" + last
            self.counts[app], self.last_ids[app] = counts, last

    async def build_summary(self) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        bilaterals = []
        for app in self.config.apps:
            about = _fields(await self.redis.hgetall(_key(app, "recon:about")))
            raw_windows = await self.redis.hgetall(_key(app, "recon:windows"))
            windows = [json.loads(_text(v)) for v in raw_windows.values()]
            raw_bills = await self.redis.hgetall(_key(app, "settle:bills"))
            bills = sorted(
                (bill_view(_text(k), json.loads(_text(v))) for k, v in raw_bills.items()),
                key=lambda b: (b["period"], b["bill_id"]),
                reverse=True,
            )
            view = bilateral_view(app, about, windows, now_ms)
            classes = class_counts(self.counts[app])
            view["classes"] = classes
            view["alerts_total"] = sum(self.counts[app].values())
            view["stake_chart"] = stake_chart([window_view(w) for w in windows])
            view["class_chart"] = class_chart(classes)
            view["bills"] = bills
            view["bills_key"] = _key(app, "settle:bills")
            bilaterals.append(view)
        return {"bilaterals": bilaterals, "error": None}

    async def recent(
        self, limit: int = RECENT, record: str | None = None, scan: int = 5000
    ) -> list[dict[str, Any]]:
        """The newest alerts over every bilateral (``record``: only those naming that usage
        key, among the newest ``scan`` of each)."""
        views = []
        for app in self.config.apps:
            entries = await self.redis.xrevrange(
                _key(app, "recon:alerts"), count=scan if record else limit
            )
            for entry_id, raw in entries:
                fields = _fields(raw)
                if record and record not in fields.get("record_keys", "").split(","):
                    continue
                views.append(alert_view(fields, _text(entry_id), app, self.config.proof_key))
        views.sort(key=lambda v: (v["detected_ms"] or 0, v["stream_id"]), reverse=True)
        return views[:limit]

    async def find(self, app: str, alert_id: str) -> dict[str, Any] | None:
        """One alert by id (newest first, in chunks)."""
        stream, end = _key(app, "recon:alerts"), "+"
        while True:
            entries = await self.redis.xrevrange(stream, end, "-", count=500)
            for entry_id, raw in entries:
                fields = _fields(raw)
                if fields.get("alert_id") == alert_id:
                    return alert_view(fields, _text(entry_id), app, self.config.proof_key)
            if len(entries) < 500:
                return None
            end = "(" + _text(entries[-1][0])

    # --- following ------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[tuple[str, Any]]:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE)
        self.queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        self.queues.discard(queue)

    def broadcast(self, event: str, data: Any) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:  # this browser fell behind: it reloads its state
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(("resync", {}))

    async def follow_alerts(self) -> None:
        while True:
            try:
                if not self.last_ids:
                    await self.scan_counts()
                found = await self.redis.xread(
                    {_key(a, "recon:alerts"): self.last_ids[a] for a in self.config.apps},
                    block=1000,
                    count=500,
                )
            except RedisError as exc:
                self.summary = {**self.summary, "error": _redis_down(exc)}
                self.last_ids = {}
                await asyncio.sleep(SUMMARY_EVERY)
                continue
            for stream, entries in found or []:
                app = _text(stream).split(":")[1]
                for entry_id, raw in entries:
                    fields = _fields(raw)
                    self.last_ids[app] = _text(entry_id)
                    kind, severity = fields.get("kind", ""), fields.get("severity") or "warning"
                    self.counts[app][(kind, severity)] += 1
                    self.broadcast(
                        "alert", alert_view(fields, _text(entry_id), app, self.config.proof_key)
                    )

    async def follow_summary(self) -> None:
        while True:
            try:
                summary = await self.build_summary()
            except RedisError as exc:
                summary = {**self.summary, "error": _redis_down(exc)}
            text = json.dumps(
                {**summary, "bilaterals": [_stable(b) for b in summary["bilaterals"]]},
                sort_keys=True,
            )
            if text != self._summary_text:
                self._summary_text = text
                self.summary = summary
                self.broadcast("summary", summary)
            else:
                self.summary = summary  # the same, but with fresh ages
            await asyncio.sleep(SUMMARY_EVERY)

    async def start(self) -> None:
        """Follow Redis from now on; the first summary is built before the page is served."""
        try:
            await self.scan_counts()
            self.summary = await self.build_summary()
        except RedisError as exc:
            self.summary = {"bilaterals": [], "error": _redis_down(exc)}
            self.last_ids = {}
        self._tasks = [
            asyncio.create_task(self.follow_alerts()),
            asyncio.create_task(self.follow_summary()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await task
        self.broadcast("bye", {})
        await self.redis.aclose()  # type: ignore[attr-defined]  # redis 5+, newer than its stubs


def _stable(bilateral: Mapping[str, Any]) -> dict[str, Any]:
    """A bilateral without what changes by itself (ages), to tell real changes."""
    return {k: v for k, v in bilateral.items() if k != "last_round_age_s"}


# --- HTTP -------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _state(request: web.Request) -> web.Response:
    hub = request.app[_APP]
    try:
        alerts = await hub.recent()
    except RedisError as exc:
        return _json({"summary": hub.summary, "alerts": [], "error": _redis_down(exc)})
    return _json({"summary": hub.summary, "alerts": alerts, "error": hub.summary.get("error")})


async def _alerts(request: web.Request) -> web.Response:
    hub = request.app[_APP]
    try:
        limit = max(1, min(1000, int(request.query.get("limit", RECENT))))
    except ValueError:
        return _json({"error": "limit: want an integer"}, 400)
    return _json({"alerts": await hub.recent(limit, request.query.get("record") or None)})


async def _alert(request: web.Request) -> web.Response:
    hub = request.app[_APP]
    app, alert_id = request.match_info["app"], request.match_info["alert_id"]
    if app not in hub.config.apps:
        return _json({"error": f"unknown bilateral {app!r}"}, 404)
    found = await hub.find(app, alert_id)
    if found is None:
        return _json({"error": f"no alert {alert_id!r} in {app}"}, 404)
    return _json(found)


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[_APP]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a proxy in front must not buffer the feed
        }
    )
    await response.prepare(request)
    queue = hub.subscribe()
    metrics.SSE_CLIENTS.inc()
    try:
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event == "bye":
                break
            body = json.dumps(data, default=str)
            await response.write(f"event: {event}\ndata: {body}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
        metrics.SSE_CLIENTS.dec()
    return response


async def _metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=metrics.exposition())
    response.headers["Content-Type"] = metrics.CONTENT_TYPE
    return response


async def _health(request: web.Request) -> web.Response:
    hub = request.app[_APP]
    try:
        await hub.redis.ping()
    except RedisError as exc:
        return _json({"redis": "down", "error": _redis_down(exc)}, 503)
    return _json({"redis": "ok", "apps": list(hub.config.apps)})


@web.middleware
async def _headers(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def make_app(
    config: DashboardConfig,
    client: aioredis.Redis[Any] | None = None,
    *,
    checks: HttpGuard | None = None,
) -> web.Application:
    """The dashboard app; its :class:`Hub` starts and stops with it. ``checks``: who may see
    it and how often (``None``: anyone, unlimited)."""
    middlewares = [_headers, no_detail(log)] + ([] if checks is None else [guard(checks)])
    app = harden(web.Application(middlewares=middlewares))
    hub = Hub(config, client)
    app[_APP] = hub

    async def start(_app: web.Application) -> None:
        await hub.start()

    async def stop(_app: web.Application) -> None:
        await hub.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    app.router.add_get("/", _index)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/alerts", _alerts)
    app.router.add_get("/api/alerts/{app}/{alert_id}", _alert)
    app.router.add_get("/events", _events)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _health)
    return app


def serve(
    config: DashboardConfig,
    host: str,
    ports: Sequence[int],
    say: Callable[[int], object],
    *,
    checks: HttpGuard | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM on the first of ``ports`` that is free (0: any), over TLS
    with ``tls``, callers checked by ``checks``; ``say`` is called with the port bound once
    the dashboard answers. Raises ``OSError`` when none is."""

    async def main() -> None:
        runner = web.AppRunner(
            make_app(config, checks=checks),
            handle_signals=False,
            access_log=log,
            access_log_class=CallerAccessLogger,
        )
        await runner.setup()
        site = None
        error: OSError | None = None
        for port in ports:
            candidate = web.TCPSite(runner, host, port, ssl_context=tls)
            try:
                await candidate.start()
            except OSError as exc:
                error = exc
                continue
            site = candidate
            break
        if site is None:
            await runner.cleanup()
            raise error or OSError("no port to listen on")
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        say(int(sockets[0].getsockname()[1]) if sockets else ports[0])
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
