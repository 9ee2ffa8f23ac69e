"""Kafka client configurations from the security settings: confluent-kafka (librdkafka), aiokafka
and Faust. Secrets are read from their files when a configuration is built."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from streams.runtime.security.settings import KafkaSecurity, SecuritySettingsError

if TYPE_CHECKING:
    import ssl

    from streams.runtime.config import Settings

__all__ = [
    "OidcTokenProvider",
    "aiokafka_kwargs",
    "faust_broker_settings",
    "kafka_client_config",
    "kafka_config",
]

_SECURITY_KEYS = ("bootstrap.servers", "security.protocol", "ssl.", "sasl.")


def kafka_config(
    settings: Settings, extra: Mapping[str, Any] | None = None, /, **more: Any
) -> dict[str, Any]:
    """The confluent-kafka (librdkafka) configuration of a Producer, Consumer or AdminClient of
    ``settings.kafka`` secured by ``settings.security``, plus ``extra`` (dotted librdkafka keys:
    ``{"group.id": ...}``) and ``more`` (Python-level ones: ``log_level=0``, ``error_cb=...``).

    Secrets are read from their files now. ``extra`` may not set the address or any security
    key (``ValueError``: a caller bug) — that is what this function is for.
    """
    return kafka_client_config(settings.kafka, settings.security, extra, **more)


def kafka_client_config(
    bootstrap: str,
    security: KafkaSecurity,
    extra: Mapping[str, Any] | None = None,
    /,
    **more: Any,
) -> dict[str, Any]:
    """:func:`kafka_config` for a cluster given by address and security (the partner's cluster,
    a probe of a freshly started broker)."""
    overrides = {**(extra or {}), **more}
    clash = [k for k in overrides if k.startswith(_SECURITY_KEYS)]
    if clash:
        raise ValueError(f"kafka_config: {', '.join(clash)} are set from the security settings")
    config: dict[str, Any] = {"bootstrap.servers": bootstrap}
    if security.protocol != "PLAINTEXT":
        config["security.protocol"] = security.protocol
    if security.uses_tls:
        files = security.checked_files()
        # "probe": librdkafka finds the system's CA bundle itself (the wheels' OpenSSL has no
        # usable default path).
        config["ssl.ca.location"] = files.get("ca", "probe")
        config["ssl.endpoint.identification.algorithm"] = "https"
        if "cert" in files:
            config["ssl.certificate.location"] = files["cert"]
            config["ssl.key.location"] = files["key"]
            key_password = security.key_password()
            if key_password is not None:
                config["ssl.key.password"] = key_password
    if security.uses_sasl:
        assert security.sasl_mechanism is not None
        config["sasl.mechanism"] = security.sasl_mechanism
        if security.sasl_mechanism == "OAUTHBEARER":
            config["sasl.oauthbearer.method"] = "oidc"
            config["sasl.oauthbearer.token.endpoint.url"] = security.oauth_token_url
            config["sasl.oauthbearer.client.id"] = security.oauth_client_id
            config["sasl.oauthbearer.client.secret"] = security.client_secret()
            if security.oauth_scope:
                config["sasl.oauthbearer.scope"] = security.oauth_scope
        else:
            config["sasl.username"] = security.username
            config["sasl.password"] = security.password()
    config.update(overrides)
    return config


def _ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    files = security.checked_files()
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=files.get("ca"),
            certfile=files.get("cert"),
            keyfile=files.get("key"),
            password=security.key_password(),
        )
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise SecuritySettingsError(
            f"{security.env_prefix}CA_FILE/CERT_FILE/KEY_FILE: the TLS files do not load "
            f"({exc}): want PEM files, the key matching the certificate, and "
            f"{security.env_prefix}KEY_PASSWORD_FILE if the key is encrypted"
        ) from None
    return context


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of aiokafka's ``AIOKafkaProducer``/``AIOKafkaConsumer``/admin client
    for ``settings.kafka`` secured by ``settings.security``: ``ssl_context`` built by
    ``aiokafka.helpers.create_ssl_context`` (host names verified), ``sasl_*``; OAUTHBEARER
    through :class:`OidcTokenProvider`."""
    security = settings.security
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka,
        "security_protocol": security.protocol,
    }
    if security.uses_tls:
        kwargs["ssl_context"] = _ssl_context(security)
    if security.uses_sasl:
        kwargs["sasl_mechanism"] = security.sasl_mechanism
        if security.sasl_mechanism == "OAUTHBEARER":
            kwargs["sasl_oauth_token_provider"] = OidcTokenProvider.of(security)
        else:
            kwargs["sasl_plain_username"] = security.username
            kwargs["sasl_plain_password"] = security.password()
    return kwargs


def faust_broker_settings(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App(...)``: the same clients as
    :func:`aiokafka_kwargs`, in Faust's terms (its aiokafka driver turns the credentials back
    into exactly those keyword arguments)."""
    import faust

    security = settings.security
    brokers = [f"kafka://{host.strip()}" for host in settings.kafka.split(",") if host.strip()]
    out: dict[str, Any] = {"broker": brokers if len(brokers) > 1 else brokers[0]}
    if not security.uses_tls and not security.uses_sasl:
        return out
    context = _ssl_context(security) if security.uses_tls else None
    credentials: Any
    if not security.uses_sasl:
        credentials = faust.SSLCredentials(context)
    elif security.sasl_mechanism == "OAUTHBEARER":
        credentials = faust.OAuthCredentials(
            oauth_cb=OidcTokenProvider.of(security), ssl_context=context
        )
    else:
        credentials = faust.SASLCredentials(
            username=security.username,
            password=security.password(),
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    out["broker_credentials"] = credentials
    return out


class OidcTokenProvider:
    """aiokafka's OAUTHBEARER token provider for the OIDC client-credentials grant, the same
    flow as librdkafka's ``sasl.oauthbearer.method=oidc``: POST ``grant_type=
    client_credentials`` (and the scope) to the token endpoint with the client id and secret
    (HTTP basic), keep the access token until a minute before it expires.

    The secret is read from its file at each fetch, so a rotated secret is picked up.
    """

    REFRESH_MARGIN = 60.0

    def __init__(
        self,
        token_url: str,
        client_id: str,
        secret: Callable[[], str],
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = secret
        self.scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0

    @classmethod
    def of(cls, security: KafkaSecurity) -> OidcTokenProvider:
        """A provider for ``security``, registered as aiokafka's ``AbstractTokenProvider``
        (aiokafka checks that with ``isinstance``)."""
        from aiokafka.abc import AbstractTokenProvider

        AbstractTokenProvider.register(cls)
        assert security.oauth_token_url and security.oauth_client_id
        security.client_secret()  # fail now, not at the first connection, if the file is bad
        return cls(
            security.oauth_token_url,
            security.oauth_client_id,
            security.client_secret,
            security.oauth_scope,
        )

    def __repr__(self) -> str:
        return f"<OidcTokenProvider {self.client_id} at {self.token_url}>"

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._expires:
            return self._token
        import aiohttp

        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        auth = aiohttp.BasicAuth(self.client_id, self._secret())
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.token_url, data=form, auth=auth) as response,
        ):
            if response.status != 200:
                raise SecuritySettingsError(
                    f"OAUTHBEARER: the token endpoint {self.token_url} answered "
                    f"{response.status} for client {self.client_id}: check the client id, "
                    "its secret file and the scope"
                )
            body = await response.json(content_type=None)
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise SecuritySettingsError(
                f"OAUTHBEARER: the token endpoint {self.token_url} returned no access_token"
            )
        lifetime = float(body.get("expires_in", 300))
        self._token = access
        self._expires = self._clock() + max(lifetime - self.REFRESH_MARGIN, lifetime / 2)
        return access
