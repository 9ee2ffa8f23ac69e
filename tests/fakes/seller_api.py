"""A fake Seller Sonata Product Ordering API (aiohttp) serving ProductOrders and Charges.

``GET {base}/productOrder/{id}`` and ``GET {base}/charge/{id}`` answer from two dicts (edit
them between requests), 404 with a MEF ``Error404`` body for unknown ids. Knobs:

- :meth:`FakeSellerApi.fail_next`: the next N requests (any path) fail with a status
  (503, 429, 404...) and an optional ``Retry-After``;
- ``delay``: seconds every answer waits (for timeouts);
- ``raw``: path → bytes served as a 200 body as is (for broken JSON);
- ``log``: every request received, as (path, query dict).

Use ``async with FakeSellerApi(...) as fake:`` then ``fake.base_url``; it listens on an
ephemeral port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from connectors.sonata.seller_api import MANAGEMENT_BASE_PATH
from tests.fakes.mef_payloads import dumps

__all__ = ["FakeSellerApi", "Request"]


@dataclass(frozen=True)
class Request:
    """One request the fake received."""

    path: str
    """The decoded path, without the base, e.g. ``/productOrder/PO-7001``."""
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: str | None


@dataclass
class FakeSellerApi:
    """See the module docstring."""

    orders: dict[str, Any] = field(default_factory=dict)
    charges: dict[str, Any] = field(default_factory=dict)
    base_path: str = MANAGEMENT_BASE_PATH
    delay: float = 0.0
    raw: dict[str, bytes] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        """The URL to give a client, e.g. ``http://127.0.0.1:41234/mefApi/.../v10``."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        """Make the next ``count`` requests answer ``status`` (after any faults queued)."""
        self._faults.append(_Fault(count, status, retry_after))

    def requests_to(self, path: str) -> int:
        """How many requests asked for ``path`` (e.g. ``/productOrder/PO-7001``)."""
        return sum(1 for r in self.log if r.path == path)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"{self.base_path}/productOrder/{{id}}", self._order)
        app.router.add_get(f"{self.base_path}/charge/{{id}}", self._charge)
        return app

    async def start(self) -> str:
        """Listen on an ephemeral port; returns :attr:`base_url`."""
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.01)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSellerApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _order(self, request: web.Request) -> web.Response:
        return await self._serve(request, "productOrder", self.orders)

    async def _charge(self, request: web.Request) -> web.Response:
        return await self._serve(request, "charge", self.charges)

    async def _serve(
        self, request: web.Request, resource: str, store: Mapping[str, Any]
    ) -> web.Response:
        ident = request.match_info["id"]
        path = f"/{resource}/{ident}"
        self.log.append(Request(path, dict(request.query), dict(request.headers)))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._faults:
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            code = {429: "tooManyRequests", 404: "notFound"}.get(fault.status, "internalError")
            return _json(
                fault.status, {"code": code, "reason": f"injected {fault.status}"}, headers
            )
        if path in self.raw:
            return web.Response(status=200, body=self.raw[path], content_type="application/json")
        if ident not in store:
            reason = f"{resource} {ident} not found"
            return _json(404, {"code": "notFound", "reason": reason})
        return _json(200, store[ident])


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=dumps(body),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
