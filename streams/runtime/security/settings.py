"""The security settings of Bilat's Kafka and Redis clients, read from the environment or a
config file: paths and names only, secrets read from their files when a client is built.

See :mod:`streams.runtime.security` for the variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from streams.core.errors import BilatError

__all__ = [
    "KAFKA_ENV_PREFIX",
    "MECHANISMS",
    "PARTNER_ENV_PREFIX",
    "PROTOCOLS",
    "REDIS_ENV_PREFIX",
    "KafkaSecurity",
    "RedisSecurity",
    "SecuritySettingsError",
    "need_file",
    "read_secret",
]

KAFKA_ENV_PREFIX = "BILAT_KAFKA_"
PARTNER_ENV_PREFIX = "BILAT_PARTNER_KAFKA_"
REDIS_ENV_PREFIX = "BILAT_REDIS_"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT")
"""Kafka's ``security.protocol`` values, as librdkafka, aiokafka and Java spell them."""
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "OAUTHBEARER")
"""The SASL mechanisms Bilat configures (GSSAPI/Kerberos is not supported)."""
_TLS = frozenset({"SSL", "SASL_SSL"})
_SASL = frozenset({"SASL_SSL", "SASL_PLAINTEXT"})


class SecuritySettingsError(BilatError):
    """The Kafka or Redis security settings cannot work: an unknown protocol or mechanism, SASL
    over plaintext without the test-only override, a certificate without its key, a secret given
    as a value instead of a file, a missing or unreadable file. Raised when the settings are read
    (combinations) or when a client is built (files); the message names the variable and says
    what to do. Lists every problem found, not only the first."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


# --- secrets -----------------------------------------------------------------------------


def read_secret(path: Path, variable: str, what: str) -> str:
    """The secret in ``path`` (one trailing line break dropped), read now.

    Raises SecuritySettingsError naming ``variable`` when the file is missing, unreadable or
    empty: ``what`` says what the file should hold (``the SASL password``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecuritySettingsError(
            f"{variable}: {path} does not exist: write {what} into it, or point {variable} "
            "at the file that holds it"
        ) from None
    except OSError as exc:
        raise SecuritySettingsError(
            f"{variable}: cannot read {path} ({exc.strerror}): it must be a file readable by "
            f"this user, holding {what}"
        ) from None
    except UnicodeDecodeError:
        raise SecuritySettingsError(f"{variable}: {path} is not UTF-8 text: want {what}") from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise SecuritySettingsError(f"{variable}: {path} is empty: write {what} into it")
    return secret


def need_file(path: Path, variable: str, what: str) -> str:
    """``path`` as a string for a client, after checking it is a readable file."""
    if not path.is_file():
        raise SecuritySettingsError(
            f"{variable}: {path} does not exist or is not a file: it must be {what}"
        )
    if not os.access(path, os.R_OK):
        raise SecuritySettingsError(f"{variable}: {path} is not readable by this user ({what})")
    return str(path)


# --- Kafka -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How clients authenticate to one Kafka cluster. The default is plaintext without
    authentication: the local demo and the tests need no settings.

    Holds file *paths*, never a secret: printing or logging one shows nothing to hide.
    Combinations are checked on construction (:class:`SecuritySettingsError` lists all);
    the files are checked and read when a client is built.
    """

    protocol: str = "PLAINTEXT"
    """``security.protocol``: one of :data:`PROTOCOLS`."""
    ca_file: Path | None = None
    """PEM CA bundle that signed the brokers' certificates (None: the system's CAs)."""
    cert_file: Path | None = None
    """This client's PEM certificate (chain), for mutual TLS; needs ``key_file``."""
    key_file: Path | None = None
    """This client's PEM private key (PKCS#8 for MirrorMaker 2's Java clients)."""
    key_password_file: Path | None = None
    """File holding the password of an encrypted ``key_file``."""
    sasl_mechanism: str | None = None
    """One of :data:`MECHANISMS`; required with a ``SASL_*`` protocol, refused without."""
    username: str | None = None
    """SCRAM or PLAIN principal."""
    password_file: Path | None = None
    """File holding the SCRAM or PLAIN password."""
    oauth_token_url: str | None = None
    """OAUTHBEARER: the OIDC token endpoint (client-credentials grant)."""
    oauth_client_id: str | None = None
    oauth_client_secret_file: Path | None = None
    oauth_scope: str | None = None
    allow_plaintext_sasl: bool = False
    """Let ``SASL_PLAINTEXT`` through: only for tests; passwords would cross the network clear."""
    env_prefix: str = KAFKA_ENV_PREFIX
    """Where these settings came from, for error messages (``BILAT_PARTNER_KAFKA_``)."""

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise SecuritySettingsError(problems)

    def _var(self, name: str) -> str:
        return f"{self.env_prefix}{name}"

    def _problems(self) -> list[str]:
        var, out = self._var, []
        if self.protocol not in PROTOCOLS:
            out.append(
                f"{var('SECURITY_PROTOCOL')}: got {self.protocol!r}, want one of "
                f"{', '.join(PROTOCOLS)}"
            )
            return out
        if self.protocol == "SASL_PLAINTEXT" and not self.allow_plaintext_sasl:
            out.append(
                f"{var('SECURITY_PROTOCOL')}: SASL_PLAINTEXT sends credentials unencrypted: use "
                f"SASL_SSL (set {var('ALLOW_PLAINTEXT_SASL')}=1 only for a test broker)"
            )
        tls_files = {
            "CA_FILE": self.ca_file,
            "CERT_FILE": self.cert_file,
            "KEY_FILE": self.key_file,
            "KEY_PASSWORD_FILE": self.key_password_file,
        }
        if self.protocol not in _TLS:
            given = [var(name) for name, value in tls_files.items() if value is not None]
            if given:
                out.append(
                    f"{', '.join(given)} set but {var('SECURITY_PROTOCOL')} is {self.protocol}: "
                    "TLS files are used only with SSL or SASL_SSL; set the protocol or unset them"
                )
        if (self.cert_file is None) != (self.key_file is None):
            have, lack = (
                ("CERT_FILE", "KEY_FILE") if self.key_file is None else ("KEY_FILE", "CERT_FILE")
            )
            out.append(
                f"{var(have)} set without {var(lack)}: mutual TLS needs both the client "
                "certificate and its private key"
            )
        if self.key_password_file is not None and self.key_file is None:
            out.append(f"{var('KEY_PASSWORD_FILE')} set without {var('KEY_FILE')}")
        out += self._sasl_problems()
        return out

    def _sasl_problems(self) -> list[str]:
        var, out = self._var, []
        oauth = {
            "OAUTH_TOKEN_URL": self.oauth_token_url,
            "OAUTH_CLIENT_ID": self.oauth_client_id,
            "OAUTH_CLIENT_SECRET_FILE": self.oauth_client_secret_file,
        }
        password = {"USERNAME": self.username, "PASSWORD_FILE": self.password_file}
        if self.protocol not in _SASL:
            given = [
                var(name)
                for name, value in {
                    "SASL_MECHANISM": self.sasl_mechanism,
                    **password,
                    **oauth,
                }.items()
                if value is not None
            ]
            if given:
                out.append(
                    f"{', '.join(given)} set but {var('SECURITY_PROTOCOL')} is {self.protocol}: "
                    "SASL settings are used only with SASL_SSL; set the protocol or unset them"
                )
            return out
        if self.sasl_mechanism is None:
            out.append(
                f"{var('SASL_MECHANISM')} missing: {self.protocol} needs one of "
                f"{', '.join(MECHANISMS)}"
            )
            return out
        if self.sasl_mechanism not in MECHANISMS:
            out.append(
                f"{var('SASL_MECHANISM')}: got {self.sasl_mechanism!r}, want one of "
                f"{', '.join(MECHANISMS)}"
            )
            return out
        if self.sasl_mechanism == "OAUTHBEARER":
            out += [
                f"{var(name)} missing: OAUTHBEARER gets its tokens from the OIDC endpoint"
                for name, value in oauth.items()
                if not value
            ]
            out += [
                f"{var(name)} set but {var('SASL_MECHANISM')} is OAUTHBEARER: unset it"
                for name, value in password.items()
                if value is not None
            ]
            if self.oauth_token_url and urlsplit(self.oauth_token_url).scheme != "https":
                out.append(
                    f"{var('OAUTH_TOKEN_URL')}: got {self.oauth_token_url!r}, want an https:// "
                    "URL (the client secret is sent to it)"
                )
        else:
            out += [
                f"{var(name)} missing: {self.sasl_mechanism} logs in with a user name and the "
                "file holding its password"
                for name, value in password.items()
                if not value
            ]
            out += [
                f"{var(name)} set but {var('SASL_MECHANISM')} is {self.sasl_mechanism}: unset it"
                for name, value in {**oauth, "OAUTH_SCOPE": self.oauth_scope}.items()
                if value is not None
            ]
        return out

    @property
    def uses_tls(self) -> bool:
        return self.protocol in _TLS

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in _SASL

    @property
    def describe(self) -> str:
        """One line for status output and logs: protocol, mechanism, user; no secret."""
        parts = [self.protocol]
        if self.sasl_mechanism:
            parts.append(self.sasl_mechanism)
        if self.username:
            parts.append(f"user {self.username}")
        if self.cert_file:
            parts.append("client certificate")
        return ", ".join(parts)

    def password(self) -> str:
        """The SASL password, read from its file now."""
        assert self.password_file is not None, "only called when SASL with a password is set"
        return read_secret(self.password_file, self._var("PASSWORD_FILE"), "the SASL password")

    def key_password(self) -> str | None:
        """The private key's password, read from its file now (None: the key is not encrypted)."""
        if self.key_password_file is None:
            return None
        return read_secret(
            self.key_password_file, self._var("KEY_PASSWORD_FILE"), "the private key's password"
        )

    def client_secret(self) -> str:
        """The OAuth client secret, read from its file now."""
        assert self.oauth_client_secret_file is not None, "only called for OAUTHBEARER"
        return read_secret(
            self.oauth_client_secret_file,
            self._var("OAUTH_CLIENT_SECRET_FILE"),
            "the OAuth client secret",
        )

    def checked_files(self) -> dict[str, str]:
        """``ca``, ``cert``, ``key`` paths present, each checked to be a readable file."""
        files = {}
        if self.ca_file is not None:
            files["ca"] = need_file(self.ca_file, self._var("CA_FILE"), "a PEM CA bundle")
        if self.cert_file is not None:
            files["cert"] = need_file(
                self.cert_file, self._var("CERT_FILE"), "this client's PEM certificate"
            )
        if self.key_file is not None:
            files["key"] = need_file(
                self.key_file, self._var("KEY_FILE"), "this client's PEM private key"
            )
        return files

    def to_env(self) -> dict[str, str]:
        """The ``<env_prefix>*`` variables that :meth:`from_env` reads back as these settings
        (paths and names only: a child process gets the same security, never a secret)."""
        out = {}
        for key, name in _KEYS.items():
            value = getattr(self, name)
            if name == "allow_plaintext_sasl":
                value = "1" if value else None
            if value is not None and not (name == "protocol" and value == "PLAINTEXT"):
                out[f"{self.env_prefix}{key.upper()}"] = str(value)
        return out

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, prefix: str = KAFKA_ENV_PREFIX
    ) -> KafkaSecurity:
        """The settings of ``<prefix>*`` variables over those of the ``<prefix>CONFIG`` file."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        config = env.get(f"{prefix}CONFIG")
        if config:
            values.update(_yaml_values(Path(config), f"{prefix}CONFIG"))
        problems = [
            f"{prefix}{name} is not read: secrets come only from files; write it into a file "
            f"readable only by this user and set {prefix}{name}_FILE"
            for name in _SECRET_VALUES
            if env.get(f"{prefix}{name}")
        ]
        if problems:
            raise SecuritySettingsError(problems)
        for key, field_name in _KEYS.items():
            raw = env.get(f"{prefix}{key.upper()}")
            if raw is not None and raw != "":
                values[field_name] = raw
        return cls(**_typed(values, prefix), env_prefix=prefix)


_KEYS: Mapping[str, str] = {
    "security_protocol": "protocol",
    "ca_file": "ca_file",
    "cert_file": "cert_file",
    "key_file": "key_file",
    "key_password_file": "key_password_file",
    "sasl_mechanism": "sasl_mechanism",
    "username": "username",
    "password_file": "password_file",
    "oauth_token_url": "oauth_token_url",
    "oauth_client_id": "oauth_client_id",
    "oauth_client_secret_file": "oauth_client_secret_file",
    "oauth_scope": "oauth_scope",
    "allow_plaintext_sasl": "allow_plaintext_sasl",
}
"""Config file key (and variable suffix, upper-cased) -> KafkaSecurity field."""
_SECRET_VALUES = ("PASSWORD", "KEY_PASSWORD", "OAUTH_CLIENT_SECRET", "SASL_PASSWORD")
_PATH_FIELDS = frozenset(f.name for f in fields(KafkaSecurity) if f.name.endswith("_file"))


def _yaml_values(path: Path, variable: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SecuritySettingsError(
            f"{variable}: {path} does not exist: point it at the YAML file of the Kafka client "
            "settings, or unset it"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise SecuritySettingsError(f"{variable}: cannot read {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecuritySettingsError(f"{variable}: {path}: want a mapping of settings")
    problems, values = [], {}
    for key, value in data.items():
        if key in ("password", "key_password", "oauth_client_secret", "sasl_password"):
            problems.append(
                f"{variable}: {path}: {key!r} is not read: secrets come only from files; "
                f"write it into a file and name it in '{key}_file'"
            )
        elif key not in _KEYS:
            problems.append(
                f"{variable}: {path}: unknown key {key!r}, want some of {', '.join(_KEYS)}"
            )
        elif value is not None:
            name = _KEYS[key]
            # A relative path in the file is relative to the file, not to where bilat runs.
            values[name] = path.parent / str(value) if name in _PATH_FIELDS else value
    if problems:
        raise SecuritySettingsError(problems)
    return values


def _typed(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in _PATH_FIELDS:
            out[name] = Path(value).expanduser()
        elif name == "allow_plaintext_sasl":
            text = str(value).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no"):
                raise SecuritySettingsError(
                    f"{prefix}ALLOW_PLAINTEXT_SASL: got {value!r}, want 1 or 0"
                )
            out[name] = text in ("1", "true", "yes")
        elif name in ("protocol", "sasl_mechanism"):
            out[name] = str(value).strip().upper()
        else:
            out[name] = str(value)
    return out


# --- Redis -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedisSecurity:
    """How clients authenticate to Redis beyond what ``BILAT_REDIS``'s URL says (the scheme
    ``rediss://`` for TLS and the user name). Paths only, like :class:`KafkaSecurity`."""

    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            have, lack = (
                ("CERT_FILE", "KEY_FILE") if self.key_file is None else ("KEY_FILE", "CERT_FILE")
            )
            raise SecuritySettingsError(
                f"{REDIS_ENV_PREFIX}{have} set without {REDIS_ENV_PREFIX}{lack}: a client "
                "certificate needs its private key"
            )

    @property
    def uses_tls_files(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None

    def to_env(self) -> dict[str, str]:
        """The ``BILAT_REDIS_*_FILE`` variables :meth:`from_env` reads back as these settings."""
        return {
            f"{REDIS_ENV_PREFIX}{f.name.upper()}": str(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedisSecurity:
        env = os.environ if env is None else env
        if env.get(f"{REDIS_ENV_PREFIX}PASSWORD"):
            raise SecuritySettingsError(
                f"{REDIS_ENV_PREFIX}PASSWORD is not read: secrets come only from files; write "
                f"it into a file readable only by this user and set {REDIS_ENV_PREFIX}PASSWORD_FILE"
            )
        paths = {
            name: Path(env[f"{REDIS_ENV_PREFIX}{name.upper()}"]).expanduser()
            for name in ("password_file", "ca_file", "cert_file", "key_file")
            if env.get(f"{REDIS_ENV_PREFIX}{name.upper()}")
        }
        return cls(**paths)
