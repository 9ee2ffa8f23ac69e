"""The TLS context of the billing processes' outgoing calls (the server side, incoming TLS and
callers' credentials, is :mod:`streams.runtime.http_security`, shared by every server)."""

from __future__ import annotations

import ssl
from pathlib import Path

from connectors.billing import BillingError

__all__ = ["client_tls"]


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
