"""Credentials never leave the process in what Bilat prints or logs.

Every URL or connection string Bilat shows a person (an error, a status table, a log line)
goes through :func:`redact_url` first: a password in ``redis://user:secret@host`` or a token
in ``?token=...`` would otherwise land in terminals, CI logs and support tickets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "is_secret_key", "redact_config", "redact_text", "redact_url"]

REDACTED = "***"

_SECRET_PARAMS = re.compile(r"(pass|secret|token|key|auth|credential|sig)", re.IGNORECASE)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+._-]*")
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|jaas|credential|token(?![._-]?(endpoint|url|provider))|"
    r"(^|[._-])key$)",
    re.IGNORECASE,
)
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+._-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``.

    The user name stays (it says *who* connects, which an operator needs), the password goes.
    Strings that are not URLs come back unchanged; a URL that cannot be parsed comes back
    with everything between ``://`` and the last ``@`` replaced, so nothing leaks either way.
    """
    head, sep, rest = url.partition("://")
    if sep and "_" in head and _SCHEME.fullmatch(head):
        # SASL_SSL://...: urlsplit takes no '_' in a scheme; parse the rest as x://...
        return head + redact_url(f"x://{rest}").removeprefix("x")
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, has_password, _ = userinfo.partition(":")
            # A user info without ':' may be a bare password (``redis://secret@host``): hide it.
            netloc = f"{user}:{REDACTED}@{host}" if has_password else f"{REDACTED}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, REDACTED if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        head, sep, tail = url.partition("://")
        if sep and "@" in tail:
            return f"{head}://{REDACTED}@{tail.rpartition('@')[2]}"
        return url


def redact_text(text: str) -> str:
    """``text`` with every URL inside it redacted (for exception messages from libraries)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def is_secret_key(key: str) -> bool:
    """Whether a client setting named ``key`` holds a secret: a password (``sasl.password``,
    ``ssl.key.password``, ``sasl_plain_password``), a client secret, a JAAS line, a token or
    inline key material (``ssl.keystore.key``). Paths (``ssl.key.location``) and the token
    endpoint's URL are not secrets."""
    return _SECRET_KEY.search(key) is not None


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A client configuration safe to print or log: every secret value (:func:`is_secret_key`)
    replaced by ``***``, URLs redacted, other non-text values (an SSL context, a callback)
    shown by type name only."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if is_secret_key(str(key)):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact_text(value)
        elif value is None or isinstance(value, bool | int | float):
            out[key] = value
        else:
            out[key] = f"<{type(value).__name__}>"
    return out
