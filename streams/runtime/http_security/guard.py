"""The guard of every server Bilat runs: callers checked, rate limited, errors without detail.

:func:`guard` is an aiohttp middleware: it identifies the caller (:class:`~streams.runtime.
http_security.callers.Callers`), charges its bucket (:class:`~streams.runtime.http_security.
limits.Buckets`), and answers 401, 403 or 429 itself, each with a MEF-style ``Error`` body::

    {"code": "missingCredentials", "reason": "No credentials provided", "message": "..."}

The caller of an accepted request is ``request[CALLER]``; :class:`CallerAccessLogger` writes
it in every access log line. A refused request costs its address's bucket, so guessing tokens
meets 429 too.

429 is no MEF answer (the specs list none); its body is the base ``Error`` schema's shape with
``code: tooManyRequests`` and a ``Retry-After`` in whole seconds, which any HTTP client honours.

No answer of a guarded server carries internal detail: :func:`no_detail` turns an unexpected
exception into a 500 quoting only a reference (the log line has the stack, redacted), and
:func:`harden` replaces aiohttp's ``Server: Python/3.x aiohttp/3.x`` with ``bilat``.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from streams.core.redact import redact_text
from streams.runtime.http_security.callers import Caller, Callers, Refusal
from streams.runtime.http_security.limits import DEFAULT_LIMIT, Buckets, RateLimit
from streams.runtime.http_security.tls import peer_cn

__all__ = [
    "CALLER",
    "JSON_TYPE",
    "CallerAccessLogger",
    "HttpGuard",
    "guard",
    "harden",
    "no_detail",
    "problem",
    "problem_response",
    "reference",
]

log = logging.getLogger("bilat.http")

JSON_TYPE = "application/json;charset=utf-8"
"""The media type of every MEF request and response body (MEF 123 and 141 spell it so)."""

CALLER = web.RequestKey("bilat_caller", Caller)
"""The checked caller of a request the guard let through."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class HttpGuard:
    """What a server asks of its callers."""

    callers: Callers = field(default_factory=Callers)
    """Credentials accepted (no tokens, no certificates: every caller is ``anonymous``)."""
    limit: RateLimit | None = DEFAULT_LIMIT
    """Per-caller rate limit; ``None``: none."""
    public: frozenset[str] = frozenset()
    """Paths served to anyone, unlimited (a health check)."""
    realm: str = "bilat"


def problem(code: str, reason: str, message: str | None = None) -> dict[str, str]:
    """A MEF ``Error`` body: ``code``, ``reason`` (cut to the schema's 255 characters),
    ``message`` when given."""
    body = {"code": code, "reason": reason[:255]}
    if message is not None:
        body["message"] = message
    return body


def problem_response(
    status: int,
    code: str,
    reason: str,
    message: str | None = None,
    headers: Mapping[str, str] | CIMultiDict[str] | None = None,
) -> web.Response:
    """:func:`problem` as a JSON answer with the MEF media type."""
    all_headers = CIMultiDict(headers or {})
    all_headers["Content-Type"] = JSON_TYPE
    body = json.dumps(problem(code, reason, message)).encode("utf-8")
    return web.Response(status=status, body=body, headers=all_headers)


def reference(logger: logging.Logger, level: int, what: str, exc: BaseException) -> str:
    """Log ``exc`` with its stack, redacted (:func:`~streams.core.redact.redact_text`), under a
    fresh reference; returns the reference, which is all an answer may quote of it."""
    ref = uuid.uuid4().hex[:12]
    text = "".join(traceback.format_exception(exc))
    logger.log(level, "[%s] %s: %s", ref, what, redact_text(text).rstrip())
    return ref


def guard(config: HttpGuard, *, clock: Callable[[], float] | None = None) -> Middleware:
    """The middleware checking callers and limits per ``config`` (see the module docstring).
    ``clock``: the monotonic clock of the buckets (tests pass a fake one)."""
    buckets = None
    if config.limit is not None:
        buckets = Buckets(config.limit) if clock is None else Buckets(config.limit, clock)
    challenge = f'Bearer realm="{config.realm}"'

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in config.public:
            return await handler(request)
        remote = request.remote or "unknown"
        who = config.callers.identify(
            request.headers.get("Authorization"), peer_cn(request.transport), remote
        )
        if buckets is not None:
            key = who.limit_key if isinstance(who, Caller) else f"ip:{remote}"
            wait = buckets.take(key)
            if wait > 0:
                return _too_many(request, key, wait, buckets.limit)
        if isinstance(who, Refusal):
            log.info(
                "%s %s from %s refused (%d %s)",
                request.method, request.path, remote, who.status, who.code,
            )  # fmt: skip
            headers: CIMultiDict[str] = CIMultiDict()
            if who.status == 401:
                bad = "" if who.code == "missingCredentials" else ', error="invalid_token"'
                headers.add("WWW-Authenticate", challenge + bad)
                if config.callers.basic:  # what makes a browser ask for a user and password
                    headers.add("WWW-Authenticate", f'Basic realm="{config.realm}"')
            return problem_response(who.status, who.code, who.reason, who.message, headers)
        request[CALLER] = who
        return await handler(request)

    return middleware


def _too_many(request: web.Request, key: str, wait: float, limit: RateLimit) -> web.Response:
    seconds = max(1, math.ceil(wait))
    log.warning("%s %s: %s over its rate limit (%s)", request.method, request.path, key, limit)
    message = f"More than {limit} for this caller; send again after {seconds} s."
    return problem_response(
        429, "tooManyRequests", "Too many requests", message, {"Retry-After": str(seconds)}
    )


def no_detail(logger: logging.Logger) -> Middleware:
    """The middleware answering an unexpected exception with a 500 whose body quotes only a
    reference (logged with the stack, redacted); aiohttp's own 4xx pass through."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug: keep serving, say nothing of it but the reference
            ref = reference(logger, logging.ERROR, f"{request.method} {request.path}", exc)
            return problem_response(500, "internalError", "Internal error", f"reference {ref}")

    return middleware


def harden(app: web.Application) -> web.Application:
    """``app`` answering ``Server: bilat`` instead of aiohttp's and Python's versions."""

    async def server_header(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = "bilat"

    app.on_response_prepare.append(server_header)
    return app


class CallerAccessLogger(AbstractAccessLogger):
    """Access log lines naming the caller: ``<address> <caller> "<method> <path>" <status>
    <bytes> <seconds>``. The path without its query (a query may carry a secret)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        caller = request.get(CALLER)  # type: ignore[call-overload]
        name = caller.name if isinstance(caller, Caller) else "-"
        self.logger.info(
            '%s %s "%s %s" %d %d %.3f',
            request.remote, name, request.method, redact_text(request.path),
            response.status, response.body_length, time,
        )  # fmt: skip
