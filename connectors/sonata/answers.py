"""The listener's HTTP plumbing: the request body, and a MEF Error JSON body for every failure.

The MEF 123 listener (``productOrderNotification.api.yaml`` v10) defines ``Error400``,
``Error401``, ``Error403``, ``Error408`` and ``Error500``, all extending ``Error`` (``reason``
required, at most 255 characters; ``message``; ``code`` per status). HTTP answers it does not
list keep their HTTP status, so that any client understands them, with the closest MEF body:

======  ==========================================  ==========================================
status  when                                        body
======  ==========================================  ==========================================
400     body invalid (not JSON, wrong fields, not   ``Error400``, ``code: invalidBody``
        decodable per its ``Content-Encoding``)
404     no such path                                ``Error404``, ``code: notFound`` (as in
                                                    MEF 123's ``productOrderManagement`` API)
405     a method other than POST                    ``Error501``'s ``code: notImplemented``
                                                    ("Method not supported by the server")
413     body longer than :data:`MAX_BODY_BYTES`     ``Error400``, ``code: invalidBody``
415     ``Content-Encoding`` other than             ``Error400``, ``code: invalidBody``
        ``identity``, ``gzip``, ``deflate``
5xx     500 and 503                                 ``Error500``, ``code: internalError``
======  ==========================================  ==========================================

The ``Content-Type`` is not checked (no 415 for it): MEF declares ``*/*`` for the Charge,
Cancel and Modify listener bodies, and the body is validated as JSON whatever it says.

Bodies say what the *caller* can act on and nothing of the Buyer's internals: no URL of the
Seller API, no exception text, no stack. Those are logged (redacted, :mod:`streams.core.redact`)
under the ``reference`` the 5xx body quotes, so the two sides can talk about one failure.

Not covered: a request that is not well-formed HTTP (a broken request line or chunk framing, a
header line over 8 KiB) is refused by aiohttp's parser with its own short plain-text 400
before any application code runs.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from connectors.sonata.notifications import LISTENER_BASE_PATH
from streams.core.redact import redact_text

__all__ = [
    "HANDLER_ARGS",
    "MAX_BODY_BYTES",
    "error_body",
    "internal_error",
    "json_response",
    "logged",
    "mef_errors",
    "read_body",
]

MAX_BODY_BYTES = 64 * 1024
"""Longest notification body the listener takes, in bytes, as sent and once decoded.

MEF 123 notifications carry ids only (a few hundred bytes); 64 KiB leaves room for Seller
extensions and bounds the memory one request can take. Longer bodies get 413, unread when the
``Content-Length`` says so up front."""

HANDLER_ARGS: Mapping[str, Any] = {"auto_decompress": False}
"""aiohttp server settings of the listener app: bodies are decoded by :func:`read_body`, so a
broken or oversized ``Content-Encoding`` is a MEF 400/413, not aiohttp's plain-text 400."""

log = logging.getLogger("bilat.sonata.listener")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CODES = {400: "invalidBody", 404: "notFound", 405: "notImplemented", 408: "timeOut"}
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def error_body(status: int, reason: str, message: str | None = None) -> dict[str, str]:
    """The MEF Error body answered with HTTP ``status`` (see the module docstring's table).

    ``reason`` is cut to the schema's 255 characters; ``message`` is left out when ``None``.
    """
    code = "internalError" if status >= 500 else _CODES.get(status, "invalidBody")
    body = {"code": code, "reason": reason[:255]}
    if message is not None:
        body["message"] = message
    return body


def json_response(
    status: int, body: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


async def read_body(request: web.Request, max_body: int) -> bytes | web.Response:
    """The request's body, decoded per its ``Content-Encoding``; or the MEF error answer."""
    length = request.content_length
    if length is not None and length > max_body:  # refused unread
        return _too_large(max_body, f"{length} bytes")
    try:
        raw = await request.read()  # raises HTTPRequestEntityTooLarge past client_max_size
    except web.RequestPayloadError as exc:  # e.g. broken chunk framing mid-body
        log.info("%s: the body could not be read: %s", request.path, exc)
        message = "got a body broken in transfer (chunked framing), want a complete body"
        return _invalid(400, "Invalid body: it could not be read", message)
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding not in _WBITS:
        message = f"got Content-Encoding {coding[:40]!r}, want identity, gzip or deflate"
        return _invalid(415, "Unsupported Content-Encoding", message)
    decoder = zlib.decompressobj(_WBITS[coding])
    try:
        body = decoder.decompress(raw, max_body + 1)  # bounded: no decompression bomb
    except zlib.error:
        body = None
    if body is not None and len(body) > max_body:
        return _too_large(max_body, "a longer body once decoded")
    if body is None or not decoder.eof or decoder.unused_data:
        message = f"got a body that is not valid {coding}, want {coding} data or no encoding"
        return _invalid(400, "Invalid body: it could not be decoded", message)
    return body


def mef_errors(max_body: int) -> Any:
    """The middleware turning every failure into a MEF Error JSON body: aiohttp's own answers
    (404, 405, 413...) and unexpected exceptions (500, logged with their stack)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(request, exc, max_body)
        except Exception as exc:  # a bug: keep serving, log it, do not acknowledge
            what = f"{request.method} {request.path} failed"
            return internal_error(logged(logging.ERROR, what, exc, stack=True))

    return middleware


def internal_error(ref: str) -> web.Response:
    """The 500 for a failure on the Buyer's side: no detail but the log's reference."""
    reason = "Internal error in the Buyer's listener"
    message = f"The notification was not acknowledged (reference {ref})."
    return json_response(500, error_body(500, reason, message))


def logged(level: int, what: str, exc: BaseException, *, stack: bool = False) -> str:
    """Log ``exc`` (redacted, with its stack when ``stack``); returns the reference to quote in
    the answer, so that the Seller's report and this log line can be matched."""
    ref = uuid.uuid4().hex[:12]
    text = "".join(traceback.format_exception(exc)) if stack else str(exc)
    log.log(level, "[%s] %s: %s", ref, what, redact_text(text).rstrip())
    return ref


def _http_error(request: web.Request, exc: web.HTTPException, max_body: int) -> web.Response:
    status = exc.status
    headers: dict[str, str] = {}
    message: str | None = None
    if status == 404:
        reason = "No MEF 123 listener at this path"
        message = f"POST notifications to {LISTENER_BASE_PATH}/listener/<eventType>."
    elif status == 405:
        reason = "Method not supported: the listener takes POST only"
        if allow := exc.headers.get("Allow"):
            headers["Allow"] = allow
    elif status == 413:
        return _too_large(max_body, "a longer body")
    else:
        reason = exc.reason or "Request refused"
    log.info("%s %s answered %d: %s", request.method, request.path, status, reason)
    return json_response(status, error_body(status, reason, message), headers)


def _too_large(max_body: int, got: str) -> web.Response:
    message = f"got {got}, want at most {max_body} bytes (MEF 123 notifications carry ids only)"
    return _invalid(413, "Notification body too large", message)


def _invalid(status: int, reason: str, message: str) -> web.Response:
    log.info("notification refused (%d): %s", status, message)
    return json_response(status, error_body(status, reason, message))
