"""HTTP security shared by every server Bilat runs (the Sonata listener, the billing API and
listener, the dashboard): TLS (:mod:`.tls`), callers checked by bearer token per partner and
client certificate (:mod:`.callers`), rate limits per caller (:mod:`.limits`), and the
middleware that applies them and keeps internal detail out of every answer (:mod:`.guard`),
and the runner of a guarded app (:mod:`.serve`).

The options that configure them are :mod:`streams.cli.http_options`.
"""

from __future__ import annotations

from streams.runtime.http_security.callers import (
    SINGLE_TOKEN_CALLER,
    Caller,
    Callers,
    Refusal,
    cn_bindings,
    load_tokens,
    read_token,
)
from streams.runtime.http_security.guard import (
    CALLER,
    JSON_TYPE,
    CallerAccessLogger,
    HttpGuard,
    guard,
    harden,
    no_detail,
    problem,
    problem_response,
    reference,
)
from streams.runtime.http_security.limits import DEFAULT_LIMIT, Buckets, RateLimit
from streams.runtime.http_security.serve import run_guarded
from streams.runtime.http_security.tls import (
    HttpSecurityError,
    ServerTls,
    peer_cn,
    server_context,
)

__all__ = [
    "CALLER",
    "DEFAULT_LIMIT",
    "JSON_TYPE",
    "SINGLE_TOKEN_CALLER",
    "Buckets",
    "Caller",
    "CallerAccessLogger",
    "Callers",
    "HttpGuard",
    "HttpSecurityError",
    "RateLimit",
    "Refusal",
    "ServerTls",
    "cn_bindings",
    "guard",
    "harden",
    "load_tokens",
    "no_detail",
    "peer_cn",
    "problem",
    "problem_response",
    "read_token",
    "reference",
    "run_guarded",
    "server_context",
]
