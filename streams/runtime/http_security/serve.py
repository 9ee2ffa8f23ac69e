"""Running a guarded app: TLS when configured, the caller in every access log line, start-up
text redacted, a clear error when the port is taken. Used by every ``bilat`` server that runs
with :func:`aiohttp.web.run_app` (the Sonata listener, the billing API and listener)."""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Callable

from aiohttp import web

from streams.core.errors import PortInUseError
from streams.core.redact import redact_text
from streams.runtime.http_security.guard import CallerAccessLogger

__all__ = ["run_guarded"]


def run_guarded(
    app: web.Application,
    *,
    host: str,
    port: int,
    log: logging.Logger,
    tls: ssl.SSLContext | None = None,
    port_hint: str = "--port",
    print_: Callable[[str], None] | None = print,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, over TLS with ``tls``.

    Raises :class:`~streams.core.errors.PortInUseError` (naming ``port_hint``, how to choose
    another) when ``host:port`` is taken. What aiohttp prints at start-up goes through
    :func:`~streams.core.redact.redact_text`.
    """
    shown = None if print_ is None else (lambda text: print_(redact_text(text)))
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            ssl_context=tls,
            print=shown,
            access_log=log,
            access_log_class=CallerAccessLogger,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"cannot listen on {host}:{port}: the port is in use; choose another with "
                f"{port_hint}"
            ) from exc
        raise
