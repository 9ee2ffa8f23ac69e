"""Running a billing app: the bearer token to require, and the server until SIGINT/SIGTERM."""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from connectors.billing import BillingError
from streams.core.errors import PortInUseError
from streams.core.redact import redact_text

__all__ = ["client_tls", "require_token", "run_server"]


def require_token(token: str | None, *, no_token: bool) -> str | None:
    """The token to require of callers, or ``None`` when ``no_token`` says so.

    Raises :class:`BillingError` when there is no token and ``no_token`` is not set: an API
    is never open by accident, only by an explicit choice (a proxy in front authenticates).
    """
    if no_token:
        return None
    if token is None:
        raise BillingError(
            "no bearer token: set BILAT_API_TOKEN or pass --token-file PATH (the token callers "
            "must send), or --no-token when a proxy in front authenticates (docs/api.md)"
        )
    return token


def run_server(
    app: web.Application,
    *,
    host: str,
    port: int,
    log: logging.Logger,
    print_: Callable[[str], None] | None = print,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; :class:`PortInUseError` when the port is taken.
    What aiohttp prints at start-up goes through :func:`~streams.core.redact.redact_text`."""
    shown = None if print_ is None else (lambda text: print_(redact_text(text)))
    try:
        web.run_app(app, host=host, port=port, print=shown, access_log=log)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"cannot listen on {host}:{port}: the port is in use; choose another with --port"
            ) from exc
        raise


def client_tls(
    cert: Path | None, key: Path | None = None, ca: Path | None = None
) -> ssl.SSLContext | None:
    """The TLS context of this process's outgoing calls when the partner wants mutual TLS: the
    client certificate ``cert`` (PEM, with its ``key`` unless the file holds both), and ``ca``
    to trust instead of the system's CAs (a partner's private CA). ``None`` when neither
    ``cert`` nor ``ca`` is given: the system defaults apply.

    Raises :class:`BillingError` naming the file when one cannot be loaded.
    """
    if key is not None and cert is None:
        raise BillingError("a client key without its certificate: give --client-cert too")
    if cert is None and ca is None:
        return None
    try:
        context = ssl.create_default_context(cafile=None if ca is None else str(ca))
        if cert is not None:
            context.load_cert_chain(str(cert), None if key is None else str(key))
    except (OSError, ssl.SSLError) as exc:
        raise BillingError(f"cannot load the TLS files ({cert}, {key}, {ca}): {exc}") from exc
    return context
