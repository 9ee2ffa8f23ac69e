"""Who is calling: bearer tokens per partner, client certificates, and the caller identity.

A server knows its partners from a tokens file, one ``partner-id: token-file`` line each (a
YAML mapping; a relative token file is read beside the tokens file)::

    dcc: /etc/bilat/tokens/dcc      # the file holds dcc's token alone on one line
    acme: tokens/acme

or from one token (``BILAT_API_TOKEN``, ``--token-file``: the caller is then
:data:`SINGLE_TOKEN_CALLER`). :meth:`Callers.identify` checks a request's credentials:

======================================  ======  ====================================
request                                 answer  MEF ``code``
======================================  ======  ====================================
no ``Authorization``                    401     ``missingCredentials``
a token no partner holds, another       401     ``invalidCredentials``
scheme
a client certificate whose CN is not    403     ``accessDenied``
allowed, or is another partner's than
the token's
======================================  ======  ====================================

Tokens are compared in constant time with every partner's (:func:`hmac.compare_digest`, no
early exit), so timing tells neither a token's prefix nor which partner holds it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from streams.runtime.http_security.tls import HttpSecurityError

__all__ = [
    "SINGLE_TOKEN_CALLER",
    "Caller",
    "Callers",
    "Refusal",
    "cn_bindings",
    "load_tokens",
    "read_token",
]

log = logging.getLogger("bilat.http")

SINGLE_TOKEN_CALLER = "api-token"
"""The caller's name when the server has one token for every caller (``--token-file``)."""

_PARTNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Caller:
    """A request's checked caller."""

    name: str
    """Who, for the log: the partner id, :data:`SINGLE_TOKEN_CALLER`, ``cn:<CN>`` for a
    certificate bound to no partner, or ``anonymous``."""
    partner: str | None
    """The partner id when the credentials name one (a tokens file entry, or a client
    certificate bound to a partner): what a server scopes that caller's resources by."""
    remote: str
    """The peer address (a proxy's, behind one)."""

    @property
    def limit_key(self) -> str:
        """The rate-limit bucket: the identity when there is one, else the address."""
        return f"ip:{self.remote}" if self.name == "anonymous" else f"caller:{self.name}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request's credentials are refused: a 401 or a 403 with its MEF ``code``."""

    status: int
    code: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Callers:
    """The credentials a server accepts."""

    tokens: Mapping[str, str] = field(default_factory=dict)
    """Partner id → its bearer token; empty: no token is asked for."""
    allowed_cns: frozenset[str] = frozenset()
    """Client certificate CNs accepted (403 for others); empty: any the client CA signed."""
    cn_partners: Mapping[str, str] = field(default_factory=dict)
    """Client certificate CN → the partner it belongs to (``--allowed-client-cn P=CN``): a
    token of another partner with it is refused (403). These CNs are allowed too."""
    basic: bool = False
    """Accept ``Authorization: Basic`` with the partner id as user and the token as password
    too: what a browser can send (the dashboard)."""

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for partner, token in self.tokens.items():
            if token in seen:
                raise HttpSecurityError(
                    f"partners {seen[token]!r} and {partner!r} have the same token: want one "
                    "token per partner, so that a caller is known by its token"
                )
            seen[token] = partner

    @classmethod
    def single(cls, token: str, **options: object) -> Callers:
        """One token for every caller (the ``--token-file`` / ``BILAT_API_TOKEN`` option)."""
        return cls(tokens={SINGLE_TOKEN_CALLER: token}, **options)  # type: ignore[arg-type]

    @property
    def asks_token(self) -> bool:
        return bool(self.tokens)

    def identify(self, authorization: str | None, cn: str | None, remote: str) -> Caller | Refusal:
        """The caller of a request with this ``Authorization`` header, client certificate
        common name ``cn`` (verified by the TLS handshake) and peer address; or the refusal."""
        cn_partner = None
        if cn is not None:
            allowed = self.allowed_cns | self.cn_partners.keys()
            if allowed and cn not in allowed:
                return Refusal(
                    403,
                    "accessDenied",
                    "Client certificate not allowed",
                    "the certificate presented is not one this server accepts",
                )
            cn_partner = self.cn_partners.get(cn)
        if not self.tokens:
            if cn is None:
                return Caller("anonymous", None, remote)
            return Caller(cn_partner or f"cn:{cn}", cn_partner, remote)
        partner = self._token_partner(authorization)
        if isinstance(partner, Refusal):
            return partner
        if cn_partner is not None and cn_partner != partner:
            return Refusal(
                403,
                "accessDenied",
                "Client certificate of another partner",
                "the token and the client certificate belong to different partners",
            )
        named = None if partner == SINGLE_TOKEN_CALLER else partner
        return Caller(partner, named or cn_partner, remote)

    def _token_partner(self, authorization: str | None) -> str | Refusal:
        if authorization is None:
            return Refusal(
                401,
                "missingCredentials",
                "No credentials provided",
                "send Authorization: Bearer <token>",
            )
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        claimed = None
        if scheme.lower() == "basic" and self.basic:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            claimed, _, value = decoded.partition(":")
        elif scheme.lower() != "bearer":
            value = ""
        offered = value.encode("utf-8", "surrogateescape")
        found = None
        for partner, token in self.tokens.items():  # every one: the time does not say which
            if hmac.compare_digest(offered, token.encode("utf-8")) and found is None:
                found = partner
        if found is None or (claimed and claimed != found and found != SINGLE_TOKEN_CALLER):
            return Refusal(
                401,
                "invalidCredentials",
                "Provided credentials are invalid or expired",
                "send Authorization: Bearer <token> with the token agreed for this API",
            )
        return found


def read_token(path: Path) -> str:
    """The token alone on the one line of ``path``; a warning when others may read the file.

    Raises :class:`HttpSecurityError` naming the file when it is unreadable, empty or holds
    more than one word.
    """
    try:
        token, mode = path.read_text(encoding="utf-8").strip(), path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise HttpSecurityError(f"cannot read the token file {path}: {exc}") from exc
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        got = "nothing" if not token else "more than one word or line"
        raise HttpSecurityError(f"{path}: got {got}, want the token alone on one line")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by others (mode %o); chmod 600 %s", path, mode & 0o777, path)
    return token


def load_tokens(path: Path) -> dict[str, str]:
    """Partner id → token, from a tokens file (see the module docstring).

    Raises :class:`HttpSecurityError` listing every problem: a line that is not
    ``partner: file``, a partner id that is not ``[A-Za-z0-9._-]`` (64 at most), an unreadable
    token file, two partners with one token.
    """
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HttpSecurityError(f"cannot read the tokens file {path}: {exc}") from exc
    if not isinstance(entries, dict) or not entries:
        raise HttpSecurityError(f"{path}: want 'partner-id: token-file' lines, one per partner")
    problems: list[str] = []
    tokens: dict[str, str] = {}
    for partner, file in entries.items():
        if not isinstance(partner, str) or not _PARTNER.fullmatch(partner):
            problems.append(f"got partner id {partner!r}, want letters, digits, '.', '_', '-'")
        elif not isinstance(file, str) or not file:
            problems.append(f"{partner}: got {file!r}, want the path of its token file")
        else:
            try:
                tokens[partner] = read_token(path.parent / Path(file).expanduser())
            except HttpSecurityError as exc:
                problems.append(f"{partner}: {exc}")
    if problems:
        raise HttpSecurityError(f"{path}: " + "; ".join(problems))
    return tokens


def cn_bindings(values: Iterable[str]) -> tuple[frozenset[str], dict[str, str]]:
    """``--allowed-client-cn`` values (``NAME`` or ``PARTNER=NAME``) → the allowed CNs and the
    CN → partner bindings."""
    allowed: set[str] = set()
    bound: dict[str, str] = {}
    for value in values:
        partner, sep, cn = value.partition("=")
        if not sep:
            allowed.add(value)
        elif not _PARTNER.fullmatch(partner) or not cn:
            want = "want NAME or PARTNER=NAME"
            raise HttpSecurityError(f"--allowed-client-cn: got {value!r}, {want}")
        else:
            bound[cn] = partner
    return frozenset(allowed), bound
