"""The options of every server ``bilat`` runs: TLS, callers' credentials, rate limits.

``bilat sonata listen``, ``bilat billing serve|listen`` and ``bilat dashboard`` take the same
options (:func:`http_security_options`), each with environment variables of its own
(``BILAT_<SERVER>_...``) falling back to shared ones (``BILAT_HTTP_...``):

==================================  ==============================================  ============
option                              variables (``X`` = ``BILAT_<SERVER>``)          default
==================================  ==============================================  ============
``--tls-cert FILE``                 ``X_TLS_CERT``, ``BILAT_HTTP_TLS_CERT``         plain HTTP
``--tls-key FILE``                  ``X_TLS_KEY``, ``BILAT_HTTP_TLS_KEY``           in the cert
``--tls-key-password-file FILE``    ``X_TLS_KEY_PASSWORD_FILE``, ``BILAT_HTTP_...`` no password
``--client-ca FILE``                ``X_CLIENT_CA``, ``BILAT_HTTP_CLIENT_CA``       no client CA
``--allowed-client-cn NAME|P=NAME`` ``X_ALLOWED_CLIENT_CN`` (space separated)       any signed
``--tokens-file FILE``              ``X_TOKENS_FILE``, ``BILAT_HTTP_TOKENS_FILE``   none
``--token-file FILE``               the server's token variable (the token itself)  none
``--no-token``                                                                      off
``--rate-limit N/s``                ``X_RATE_LIMIT``, ``BILAT_HTTP_RATE_LIMIT``     ``50/s``
``--rate-burst N``                  ``X_RATE_BURST``, ``BILAT_HTTP_RATE_BURST``     ``100``
==================================  ==============================================  ============

Secrets (tokens, the key's passphrase) come from files or the environment, never from the
command line, which every user of the host can read.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from streams.runtime.http_security import (
    DEFAULT_LIMIT,
    Callers,
    HttpGuard,
    HttpSecurityError,
    RateLimit,
    ServerTls,
    cn_bindings,
    load_tokens,
    read_token,
    server_context,
)

__all__ = ["HttpOptions", "ServerSecurity", "http_security_options"]

F = TypeVar("F", bound=Callable[..., Any])

_NAMES = (
    "tls_cert",
    "tls_key",
    "tls_key_password_file",
    "client_ca",
    "allowed_client_cn",
    "tokens_file",
    "token_file",
    "no_token",
    "refused_token",
    "rate_limit",
    "rate_burst",
)


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """What a server runs with: its TLS context (``None``: plain HTTP) and its guard."""

    tls: ssl.SSLContext | None
    guard: HttpGuard
    summary: str
    """One line for the start-up message (no secret in it)."""

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The values of :func:`http_security_options`' options, as given."""

    token_env: str
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_key_password_file: Path | None = None
    client_ca: Path | None = None
    allowed_client_cn: tuple[str, ...] = ()
    tokens_file: Path | None = None
    token_file: Path | None = None
    no_token: bool = False
    refused_token: str | None = None
    rate_limit: str = "50/s"
    rate_burst: int | None = None

    def build(
        self,
        environ: dict[str, str],
        *,
        required: bool = True,
        basic: bool = False,
        public: frozenset[str] = frozenset(),
    ) -> ServerSecurity:
        """The server's TLS context and guard.

        ``required``: callers must prove who they are (a token, or a client certificate) unless
        ``--no-token`` says a proxy in front does. Raises :class:`click.UsageError` for a token
        on the command line, :class:`HttpSecurityError` for what cannot be used.
        """
        if self.refused_token is not None:
            raise click.UsageError(
                "--token is refused: a token on the command line is visible to every user in "
                f"the process list. Set {self.token_env} in the environment, or pass "
                "--token-file PATH or --tokens-file PATH (files only you can read)."
            )
        tokens = self._tokens(environ)
        if self.no_token and tokens:
            raise HttpSecurityError("--no-token with a token given: want one or the other")
        if required and not (tokens or self.client_ca or self.no_token):
            raise HttpSecurityError(
                f"no bearer token: set {self.token_env} or pass --token-file PATH (the token "
                "callers must send), --tokens-file PATH (one per partner), --client-ca FILE "
                "(client certificates), or --no-token when a proxy in front authenticates "
                "(docs/api.md)"
            )
        if self.allowed_client_cn and self.client_ca is None:
            raise HttpSecurityError("--allowed-client-cn without --client-ca: give the CA too")
        if self.tls_cert is None and (self.tls_key or self.client_ca):
            raise HttpSecurityError("--tls-key or --client-ca without --tls-cert: give it too")
        allowed, bound = cn_bindings(self.allowed_client_cn)
        callers = Callers(tokens=tokens, allowed_cns=allowed, cn_partners=bound, basic=basic)
        limit = (
            RateLimit.parse(self.rate_limit, self.rate_burst)
            if self.rate_limit != "50/s" or self.rate_burst is not None
            else DEFAULT_LIMIT
        )
        tls = None
        if self.tls_cert is not None:
            key, password = self.tls_key, self.tls_key_password_file
            tls = server_context(ServerTls(self.tls_cert, key, password, self.client_ca))
        guard = HttpGuard(callers=callers, limit=limit, public=public)
        return ServerSecurity(tls, guard, self._summary(tokens, callers, limit))

    def _tokens(self, environ: dict[str, str]) -> dict[str, str]:
        single = read_token(self.token_file) if self.token_file else environ.get(self.token_env)
        if self.tokens_file is None:
            return {} if not single else dict(Callers.single(single).tokens)
        if self.token_file is not None:
            raise HttpSecurityError("--token-file with --tokens-file: want one or the other")
        return load_tokens(self.tokens_file)  # the single token's variable is not used then

    def _summary(self, tokens: dict[str, str], callers: Callers, limit: RateLimit | None) -> str:
        parts = ["TLS" if self.tls_cert else "plain HTTP (no TLS)"]
        if self.client_ca:
            named = len(callers.allowed_cns | callers.cn_partners.keys())
            parts.append(f"client certificates required ({named or 'any'} CN allowed)")
        if self.tokens_file:
            parts.append(f"bearer tokens of {len(tokens)} partner(s): {', '.join(sorted(tokens))}")
        elif tokens:
            parts.append("bearer token set")
        elif not self.client_ca:
            parts.append("no credentials asked" + (" (--no-token)" if self.no_token else ""))
        parts.append(f"rate limit {limit} per caller" if limit else "no rate limit")
        return "; ".join(parts)


def http_security_options(server: str, token_env: str) -> Callable[[F], F]:
    """The options of a server (see the module docstring), passed to the command as one
    ``http: HttpOptions`` argument. ``server``: the variables' infix (``SONATA`` →
    ``BILAT_SONATA_TLS_CERT``); ``token_env``: the variable holding the single token."""

    def env(name: str) -> list[str]:
        return [f"BILAT_{server}_{name}", f"BILAT_HTTP_{name}"]

    existing = click.Path(exists=True, dir_okay=False, path_type=Path)
    options = [
        click.option(
            "--tls-cert",
            envvar=env("TLS_CERT"),
            type=existing,
            metavar="FILE",
            help=f"Serve HTTPS with this PEM certificate chain [env BILAT_{server}_TLS_CERT "
            "or BILAT_HTTP_TLS_CERT; default: plain HTTP].",
        ),
        click.option(
            "--tls-key",
            envvar=env("TLS_KEY"),
            type=existing,
            metavar="FILE",
            help="Its PEM private key, unless the certificate file holds it [env ..._TLS_KEY].",
        ),
        click.option(
            "--tls-key-password-file",
            envvar=env("TLS_KEY_PASSWORD_FILE"),
            type=existing,
            metavar="FILE",
            help="File holding the passphrase of an encrypted key [env ..._TLS_KEY_PASSWORD_FILE].",
        ),
        click.option(
            "--client-ca",
            envvar=env("CLIENT_CA"),
            type=existing,
            metavar="FILE",
            help="Require client certificates signed by these PEM CAs (mutual TLS; a caller "
            "without one fails the handshake) [env ..._CLIENT_CA].",
        ),
        click.option(
            "--allowed-client-cn",
            envvar=f"BILAT_{server}_ALLOWED_CLIENT_CN",
            multiple=True,
            metavar="NAME|PARTNER=NAME",
            help="Accept client certificates with this CN only (403 for others); PARTNER=NAME "
            "binds the CN to a partner of the tokens file. Repeat for several "
            f"[env BILAT_{server}_ALLOWED_CLIENT_CN, space separated].",
        ),
        click.option(
            "--tokens-file",
            envvar=env("TOKENS_FILE"),
            type=existing,
            metavar="FILE",
            help="A bearer token per partner: 'partner-id: token-file' lines (YAML); the "
            "partner becomes the caller's identity [env ..._TOKENS_FILE].",
        ),
        click.option(
            "--token-file",
            type=existing,
            metavar="FILE",
            help="File holding the one bearer token every caller must send (one line, keep it "
            f"0600) [default: env {token_env}].",
        ),
        click.option(
            "--no-token",
            is_flag=True,
            help="Ask callers for no credentials: only behind a proxy that authenticates them "
            "(docs/api.md).",
        ),
        click.option(
            "--token",
            "refused_token",
            default=None,
            hidden=True,
            help="Refused: a token on the command line is visible to every user.",
        ),
        click.option(
            "--rate-limit",
            envvar=env("RATE_LIMIT"),
            default="50/s",
            show_default=True,
            metavar="N/s",
            help="Requests per caller (partner, else address): N/s, N/min or off; more get "
            "429 with Retry-After [env ..._RATE_LIMIT].",
        ),
        click.option(
            "--rate-burst",
            envvar=env("RATE_BURST"),
            type=click.IntRange(1),
            default=None,
            metavar="N",
            help="Requests a caller may send at once [default: 100 with 50/s, else twice the "
            "rate per second; env ..._RATE_BURST].",
        ),
    ]

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in _NAMES}
            values["allowed_client_cn"] = tuple(values["allowed_client_cn"])
            return func(*args, http=HttpOptions(token_env=token_env, **values), **kwargs)

        command: Any = wrapper
        for option in reversed(options):
            command = option(command)
        return command  # type: ignore[no-any-return]

    return decorate
