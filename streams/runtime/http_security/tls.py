"""TLS for the servers Bilat runs: the server's certificate and, when configured, its callers'.

One :class:`ServerTls` per server (Sonata listener, billing API and listener, dashboard), made
from ``--tls-cert``/``--tls-key`` (and ``--client-ca`` for client certificates); one
:func:`server_context` builds the :class:`ssl.SSLContext` aiohttp serves with.

Why Python's ssl rather than a proxy only: the partners' traffic crosses networks neither
controls, and a process that speaks TLS itself needs no second hop in clear. A proxy in front
stays possible (``docs/api.md``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.core.errors import BilatError

__all__ = ["HttpSecurityError", "ServerTls", "peer_cn", "server_context"]


class HttpSecurityError(BilatError):
    """A server's TLS files, tokens or limits cannot be used as configured (a file missing,
    unreadable, not PEM, a key that its passphrase does not open...). Raised at start-up, so a
    server never runs with less protection than it was asked for."""


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The files of a server's TLS."""

    cert: Path
    """PEM certificate chain (leaf first); may hold the key too."""
    key: Path | None = None
    """PEM private key, unless :attr:`cert` holds it; may be encrypted (PKCS#8 or legacy)."""
    key_password_file: Path | None = None
    """File whose first line is the key's passphrase (never on the command line)."""
    client_ca: Path | None = None
    """PEM CAs that sign the callers' certificates: set, a caller must present one
    (``CERT_REQUIRED``); a caller without one, or with one no CA here signed, fails the
    TLS handshake before any HTTP is read."""


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """The context of a server with ``tls``: TLS 1.2 at least, the system's default ciphers,
    client certificates verified against :attr:`ServerTls.client_ca` when it is set.

    Raises :class:`HttpSecurityError` naming the file that could not be used.
    """
    password = _password(tls.key_password_file) if tls.key_password_file else None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(tls.cert), None if tls.key is None else str(tls.key), password)
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(str(p) for p in (tls.cert, tls.key) if p is not None)
        hint = " (is the passphrase right?)" if tls.key_password_file else ""
        raise HttpSecurityError(
            f"cannot load the TLS certificate and key ({files}){hint}: {exc}"
        ) from exc
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(tls.client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise HttpSecurityError(f"cannot load the client CA {tls.client_ca}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _password(path: Path) -> bytes:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise HttpSecurityError(f"cannot read the key passphrase file {path}: {exc}") from exc
    if not lines or not lines[0]:
        raise HttpSecurityError(f"{path}: got nothing, want the key's passphrase on one line")
    return lines[0]


def peer_cn(transport: Any) -> str | None:
    """The common name of the certificate the caller presented on ``transport`` (verified by
    the TLS handshake against the client CA), or ``None`` without one."""
    cert = None if transport is None else transport.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None
