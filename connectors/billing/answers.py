"""JSON answers, MEF 141 Error bodies and the bearer-token check of both billing apps.

Every answer with a body is ``Content-Type: application/json;charset=utf-8`` (the spec's media
type, to the letter) and JSON whose numbers are written with their exact digits: bills are
read with ``Decimal`` amounts (:func:`~connectors.sonata.notifications.loads_exact`) and served
as stored, never through a float.

Error bodies, per the spec's ``Error*`` schemas (``reason`` at most 255 characters):

======  =====================================================================================
status  ``code``
======  =====================================================================================
400     ``invalidQuery``, ``missingQueryValue`` (``GET /customerBill``), ``invalidBody``
401     ``missingCredentials`` (no ``Authorization: Bearer``), ``invalidCredentials``
        (answered by the guard, :mod:`streams.runtime.http_security`)
403     ``accessDenied`` (a ``buyerId``/``sellerId`` this deployment does not serve, another
        partner's bill or subscription, a client certificate not allowed)
429     ``tooManyRequests`` + ``Retry-After`` (the guard's rate limit; no MEF schema has it)
404     ``notFound`` (unknown id or path)
405     ``notImplemented`` (the spec's ``Error501`` code, with HTTP 405 and ``Allow``)
5xx     ``internalError``, quoting a reference the log line carries
======  =====================================================================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from streams.runtime import metrics
from streams.runtime.http_security import JSON_TYPE, reference

__all__ = [
    "JSON_TYPE",
    "dumps",
    "error",
    "joined",
    "json_response",
    "logged",
    "mef_errors",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CODES = {
    400: "invalidBody",
    401: "invalidCredentials",
    403: "accessDenied",
    404: "notFound",
    405: "notImplemented",
    408: "timeOut",
}


def dumps(value: Any) -> bytes:
    """``value`` as ASCII JSON; a ``Decimal`` is written with its own digits (``1250.125``
    stays ``1250.125``), never through a float. ``ValueError`` for a non-finite Decimal."""
    return "".join(_parts(value)).encode("ascii")


def _parts(value: Any) -> Iterator[str]:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"got {value}, want a finite number: JSON has no {value}")
        yield str(value)
    elif isinstance(value, Mapping):
        yield "{"
        for n, (key, item) in enumerate(value.items()):
            yield f"{',' if n else ''}{json.dumps(str(key))}:"
            yield from _parts(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for n, item in enumerate(value):
            if n:
                yield ","
            yield from _parts(item)
        yield "]"
    else:
        yield json.dumps(value, allow_nan=False)


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """``body`` as JSON (:func:`dumps`) with the spec's media type."""
    return web.Response(
        status=status, body=dumps(body), headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


def error(
    status: int,
    reason: str,
    message: str | None = None,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The MEF Error answer: ``code`` (default: the status's, see the module docstring),
    ``reason`` cut to 255 characters, ``message`` when given."""
    default = "internalError" if status >= 500 else _CODES.get(status, "invalidBody")
    body = {"code": code or default}
    body["reason"] = reason[:255]
    if message is not None:
        body["message"] = message
    return json_response(status, body, headers)


def joined(problems: list[str], most: int = 20) -> str:
    """``problems`` one a line for an error ``message``: at most ``most``, each cut to 300
    characters (a body can quote the client's value back)."""
    shown = [p if len(p) <= 300 else f"{p[:300]}..." for p in problems[:most]]
    more = f"\n(and {len(problems) - most} more)" if len(problems) > most else ""
    return "\n".join(shown) + more


logged = reference
"""Log an exception with its stack, redacted; returns the reference a 5xx body quotes
(:func:`streams.runtime.http_security.reference`, shared by every server)."""


def counted() -> Any:
    """The middleware counting every answer by route pattern and status
    (``bilat_http_requests``; served with ``--metrics-port``). Outermost, so it sees the
    answers of the other middlewares too (401, MEF error bodies)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        metrics.observe_request(f"{request.method} {route}", response.status)
        return response

    return middleware


def mef_errors(log: logging.Logger, not_found: str) -> Any:
    """The middleware turning aiohttp's own answers (404, 405, 413...) and unexpected
    exceptions into MEF Error bodies; ``not_found`` is the 404's message (what paths exist)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if exc.status == 404:
                return error(404, "No resource at this path", not_found)
            if exc.status == 405:
                allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
                return error(405, "Method not supported by the server", headers=allow)
            return error(exc.status, exc.reason or "Request refused")
        except Exception as exc:  # a bug: answer MEF's 500, keep serving, log the stack
            ref = logged(log, logging.ERROR, f"{request.method} {request.path} failed", exc)
            return error(500, "Internal error", f"reference {ref}")

    return middleware
