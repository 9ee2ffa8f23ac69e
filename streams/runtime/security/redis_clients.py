"""Redis clients (synchronous and asyncio) from the URL and the security settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streams.runtime.security.settings import (
    REDIS_ENV_PREFIX,
    RedisSecurity,
    SecuritySettingsError,
    need_file,
    read_secret,
)

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aioredis

    from streams.runtime.config import Settings

__all__ = ["aioredis_client", "aioredis_from_url", "redis_client", "redis_from_url", "redis_kwargs"]


def redis_kwargs(url: str, security: RedisSecurity) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url(url, **kwargs)`` (sync or asyncio): the password
    read from its file, TLS files and verification for a ``rediss://`` URL."""
    parts = urlsplit(url)
    var = REDIS_ENV_PREFIX
    kwargs: dict[str, Any] = {}
    if security.uses_tls_files and parts.scheme != "rediss":
        raise SecuritySettingsError(
            f"{var}CA_FILE/CERT_FILE set but BILAT_REDIS is {parts.scheme}://: use rediss:// "
            "for TLS, or unset them"
        )
    if parts.scheme == "rediss":
        kwargs["ssl_cert_reqs"] = "required"
        kwargs["ssl_check_hostname"] = True
        if security.ca_file is not None:
            kwargs["ssl_ca_certs"] = need_file(security.ca_file, f"{var}CA_FILE", "a PEM CA bundle")
        if security.cert_file is not None and security.key_file is not None:
            kwargs["ssl_certfile"] = need_file(
                security.cert_file, f"{var}CERT_FILE", "this client's PEM certificate"
            )
            kwargs["ssl_keyfile"] = need_file(
                security.key_file, f"{var}KEY_FILE", "this client's PEM private key"
            )
    if security.password_file is not None:
        if parts.password:
            raise SecuritySettingsError(
                f"BILAT_REDIS holds a password and {var}PASSWORD_FILE is set: keep only the file"
            )
        kwargs["password"] = read_secret(
            security.password_file, f"{var}PASSWORD_FILE", "the Redis password"
        )
    return kwargs


def redis_from_url(url: str, security: RedisSecurity, **extra: Any) -> redis.Redis[Any]:
    """A synchronous Redis client of ``url`` secured by ``security`` (``extra``: e.g.
    ``decode_responses=True``, timeouts)."""
    import redis as redis_sync

    return redis_sync.Redis.from_url(url, **redis_kwargs(url, security), **extra)


def aioredis_from_url(url: str, security: RedisSecurity, **extra: Any) -> aioredis.Redis[Any]:
    """An asyncio Redis client of ``url`` secured by ``security``."""
    import redis.asyncio as redis_async

    return redis_async.Redis.from_url(url, **redis_kwargs(url, security), **extra)


def redis_client(settings: Settings, **extra: Any) -> redis.Redis[Any]:
    """The synchronous Redis client of ``settings.redis``."""
    return redis_from_url(settings.redis, settings.redis_security, **extra)


def aioredis_client(settings: Settings, **extra: Any) -> aioredis.Redis[Any]:
    """The asyncio Redis client of ``settings.redis``."""
    return aioredis_from_url(settings.redis, settings.redis_security, **extra)
