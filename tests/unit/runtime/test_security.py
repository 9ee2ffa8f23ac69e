"""The security settings and the client configurations built from them (no network)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

import pytest

from streams.runtime.config import Settings
from streams.runtime.security import (
    MECHANISMS,
    KafkaSecurity,
    OidcTokenProvider,
    RedisSecurity,
    SecuritySettingsError,
    aiokafka_kwargs,
    faust_broker_settings,
    kafka_client_config,
    kafka_config,
    redis_kwargs,
)

PASSWORD = "s3cr3t-Pa55"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA, client certificate and key (PEM), and secret files."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bilat-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM)
    out = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client.key",
        "password": tmp_path / "kafka.password",
        "secret": tmp_path / "oauth.secret",
        "key_password": tmp_path / "key.password",
    }
    out["ca"].write_bytes(pem_cert)
    out["cert"].write_bytes(pem_cert)
    out["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out["password"].write_text(PASSWORD + "\n", encoding="utf-8")
    out["secret"].write_text("client-secret-XYZ", encoding="utf-8")
    out["key_password"].write_text("key-pass-123", encoding="utf-8")
    return out


def _settings(security: KafkaSecurity) -> Settings:
    return Settings(kafka="broker-1:9093,broker-2:9093", security=security)


def _scram(files: Mapping[str, Path], mechanism: str = "SCRAM-SHA-512") -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        ca_file=files["ca"],
        sasl_mechanism=mechanism,
        username="hgc-worker",
        password_file=files["password"],
    )


def _oauth(files: Mapping[str, Path]) -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        ca_file=files["ca"],
        sasl_mechanism="OAUTHBEARER",
        oauth_token_url="https://idp.example/token",
        oauth_client_id="bilat-hgc",
        oauth_client_secret_file=files["secret"],
        oauth_scope="kafka",
    )


# --- defaults ------------------------------------------------------------------------------


def test_the_default_is_plaintext_and_builds_the_bootstrap_only() -> None:
    settings = Settings.from_env({})
    assert settings.security == KafkaSecurity()
    assert settings.partner_security.env_prefix == "BILAT_PARTNER_KAFKA_"
    assert kafka_config(settings) == {"bootstrap.servers": settings.kafka}
    assert kafka_config(settings, {"group.id": "g"}, log_level=0) == {
        "bootstrap.servers": settings.kafka,
        "group.id": "g",
        "log_level": 0,
    }
    assert aiokafka_kwargs(settings) == {
        "bootstrap_servers": settings.kafka,
        "security_protocol": "PLAINTEXT",
    }
    assert faust_broker_settings(settings) == {"broker": f"kafka://{settings.kafka}"}


def test_extra_may_not_override_the_address_or_security() -> None:
    for key in ("bootstrap.servers", "security.protocol", "sasl.password", "ssl.ca.location"):
        with pytest.raises(ValueError, match=key):
            kafka_config(Settings(), {key: "x"})


# --- librdkafka keys -----------------------------------------------------------------------


def test_ssl_with_ca_verifies_host_names(files: dict[str, Path]) -> None:
    config = kafka_config(_settings(KafkaSecurity(protocol="SSL", ca_file=files["ca"])))
    assert config == {
        "bootstrap.servers": "broker-1:9093,broker-2:9093",
        "security.protocol": "SSL",
        "ssl.ca.location": str(files["ca"]),
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_ssl_without_ca_probes_the_system_bundle() -> None:
    config = kafka_config(_settings(KafkaSecurity(protocol="SSL")))
    assert config["ssl.ca.location"] == "probe"


def test_mutual_tls_with_an_encrypted_key(files: dict[str, Path]) -> None:
    security = KafkaSecurity(
        protocol="SSL",
        ca_file=files["ca"],
        cert_file=files["cert"],
        key_file=files["key"],
        key_password_file=files["key_password"],
    )
    config = kafka_config(_settings(security))
    assert config["ssl.certificate.location"] == str(files["cert"])
    assert config["ssl.key.location"] == str(files["key"])
    assert config["ssl.key.password"] == "key-pass-123"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_sasl_ssl_with_a_password_file(files: dict[str, Path], mechanism: str) -> None:
    config = kafka_config(_settings(_scram(files, mechanism)))
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == mechanism
    assert config["sasl.username"] == "hgc-worker"
    assert config["sasl.password"] == PASSWORD  # the trailing line break is not part of it
    assert config["ssl.endpoint.identification.algorithm"] == "https"


def test_oauthbearer_uses_librdkafkas_oidc_method(files: dict[str, Path]) -> None:
    config = kafka_config(_settings(_oauth(files)))
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert config["sasl.oauthbearer.method"] == "oidc"
    assert config["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    assert config["sasl.oauthbearer.client.id"] == "bilat-hgc"
    assert config["sasl.oauthbearer.client.secret"] == "client-secret-XYZ"
    assert config["sasl.oauthbearer.scope"] == "kafka"
    assert "sasl.username" not in config


def test_sasl_plaintext_only_with_the_test_override(files: dict[str, Path]) -> None:
    with pytest.raises(SecuritySettingsError, match="ALLOW_PLAINTEXT_SASL"):
        KafkaSecurity(
            protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            username="u",
            password_file=files["password"],
        )
    security = KafkaSecurity(
        protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        username="u",
        password_file=files["password"],
        allow_plaintext_sasl=True,
    )
    config = kafka_config(_settings(security))
    assert config["security.protocol"] == "SASL_PLAINTEXT"
    assert "ssl.ca.location" not in config


def test_the_secret_is_read_when_the_client_is_built(files: dict[str, Path]) -> None:
    settings = _settings(_scram(files))
    files["password"].write_text("rotated", encoding="utf-8")
    assert kafka_config(settings)["sasl.password"] == "rotated"


# --- aiokafka and Faust --------------------------------------------------------------------


def test_aiokafka_kwargs_for_scram(files: dict[str, Path]) -> None:
    kwargs = aiokafka_kwargs(_settings(_scram(files)))
    assert isinstance(kwargs.pop("ssl_context"), ssl.SSLContext)
    assert kwargs == {
        "bootstrap_servers": "broker-1:9093,broker-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hgc-worker",
        "sasl_plain_password": PASSWORD,
    }


def test_aiokafka_ssl_context_verifies_and_carries_the_client_certificate(
    files: dict[str, Path],
) -> None:
    security = KafkaSecurity(
        protocol="SSL", ca_file=files["ca"], cert_file=files["cert"], key_file=files["key"]
    )
    context = aiokafka_kwargs(_settings(security))["ssl_context"]
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_aiokafka_oauthbearer_gets_a_token_provider(files: dict[str, Path]) -> None:
    from aiokafka.abc import AbstractTokenProvider

    kwargs = aiokafka_kwargs(_settings(_oauth(files)))
    provider = kwargs["sasl_oauth_token_provider"]
    assert isinstance(provider, OidcTokenProvider)
    assert isinstance(provider, AbstractTokenProvider)
    assert "client-secret" not in repr(provider)


def test_aiokafka_refuses_a_key_that_does_not_load(files: dict[str, Path]) -> None:
    files["key"].write_text("not a key", encoding="utf-8")
    security = KafkaSecurity(
        protocol="SSL", ca_file=files["ca"], cert_file=files["cert"], key_file=files["key"]
    )
    with pytest.raises(SecuritySettingsError, match="TLS files do not load"):
        aiokafka_kwargs(_settings(security))


def test_faust_credentials_match_the_security(files: dict[str, Path]) -> None:
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    plain = faust_broker_settings(_settings(_scram(files)))
    assert plain["broker"] == ["kafka://broker-1:9093", "kafka://broker-2:9093"]
    credentials = plain["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_password"] == PASSWORD
    tls = faust_broker_settings(_settings(KafkaSecurity(protocol="SSL", ca_file=files["ca"])))
    assert credentials_to_aiokafka_auth(tls["broker_credentials"])["security_protocol"] == "SSL"
    oauth = faust_broker_settings(_settings(_oauth(files)))["broker_credentials"]
    assert credentials_to_aiokafka_auth(oauth)["sasl_mechanism"] == "OAUTHBEARER"


# --- bad combinations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "TLS"}, "SECURITY_PROTOCOL: got 'TLS', want one of PLAINTEXT"),
        ({"protocol": "SSL", "cert_file": Path("c")}, "CERT_FILE set without BILAT_KAFKA_KEY_FILE"),
        ({"protocol": "SSL", "key_file": Path("k")}, "KEY_FILE set without BILAT_KAFKA_CERT_FILE"),
        ({"protocol": "PLAINTEXT", "ca_file": Path("ca")}, "used only with SSL or SASL_SSL"),
        ({"protocol": "SSL", "sasl_mechanism": "PLAIN"}, "used only with SASL_SSL"),
        ({"protocol": "SASL_SSL"}, "SASL_MECHANISM missing"),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "got 'GSSAPI'"),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "USERNAME missing"),
        (
            {"protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "OAUTH_TOKEN_URL missing",
        ),
        (
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "OAUTHBEARER",
                "oauth_token_url": "http://idp/token",
                "oauth_client_id": "c",
                "oauth_client_secret_file": Path("s"),
            },
            "want an https:// URL",
        ),
        (
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "username": "u",
                "password_file": Path("p"),
                "oauth_client_id": "c",
            },
            "OAUTH_CLIENT_ID set but BILAT_KAFKA_SASL_MECHANISM is SCRAM-SHA-512",
        ),
    ],
)
def test_bad_combinations_are_refused_with_what_to_do(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(SecuritySettingsError, match=message.replace("'", ".")):
        KafkaSecurity(**fields)  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SecuritySettingsError) as info:
        KafkaSecurity(
            protocol="SASL_PLAINTEXT", cert_file=Path("c"), sasl_mechanism="PLAIN", username="u"
        )
    assert len(info.value.problems) == 4  # plaintext SASL, TLS file, no key, no password file


def test_a_missing_file_names_the_variable(tmp_path: Path) -> None:
    security = KafkaSecurity.from_env(
        {
            "BILAT_PARTNER_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "BILAT_PARTNER_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "BILAT_PARTNER_KAFKA_USERNAME": "mm2",
            "BILAT_PARTNER_KAFKA_PASSWORD_FILE": str(tmp_path / "nope"),
        },
        "BILAT_PARTNER_KAFKA_",
    )
    with pytest.raises(SecuritySettingsError, match=r"BILAT_PARTNER_KAFKA_PASSWORD_FILE: .*nope"):
        kafka_client_config("b:9093", security)
    ca = KafkaSecurity(protocol="SSL", ca_file=tmp_path / "ca.pem")
    with pytest.raises(SecuritySettingsError, match=r"BILAT_KAFKA_CA_FILE: .*PEM CA bundle"):
        kafka_client_config("b:9093", ca)


def test_an_empty_secret_file_is_refused(files: dict[str, Path]) -> None:
    files["password"].write_text("\n", encoding="utf-8")
    with pytest.raises(SecuritySettingsError, match=r"PASSWORD_FILE: .* is empty"):
        kafka_config(_settings(_scram(files)))


# --- environment and config file -----------------------------------------------------------


def test_from_env_reads_every_variable(files: dict[str, Path]) -> None:
    env = {
        "BILAT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "BILAT_KAFKA_CA_FILE": str(files["ca"]),
        "BILAT_KAFKA_CERT_FILE": str(files["cert"]),
        "BILAT_KAFKA_KEY_FILE": str(files["key"]),
        "BILAT_KAFKA_KEY_PASSWORD_FILE": str(files["key_password"]),
        "BILAT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "BILAT_KAFKA_USERNAME": "hgc-batcher",
        "BILAT_KAFKA_PASSWORD_FILE": str(files["password"]),
    }
    settings = Settings.from_env(env)
    assert settings.security == KafkaSecurity(
        protocol="SASL_SSL",
        ca_file=files["ca"],
        cert_file=files["cert"],
        key_file=files["key"],
        key_password_file=files["key_password"],
        sasl_mechanism="SCRAM-SHA-256",
        username="hgc-batcher",
        password_file=files["password"],
    )
    assert settings.partner_security.protocol == "PLAINTEXT"


def test_the_config_file_with_relative_paths_and_the_environment_winning(tmp_path: Path) -> None:
    config = tmp_path / "kafka.yaml"
    config.write_text(
        "security_protocol: SASL_SSL\nca_file: certs/ca.pem\nsasl_mechanism: SCRAM-SHA-512\n"
        "username: from-file\npassword_file: /run/secrets/kafka\n",
        encoding="utf-8",
    )
    security = KafkaSecurity.from_env(
        {"BILAT_KAFKA_CONFIG": str(config), "BILAT_KAFKA_USERNAME": "from-env"}
    )
    assert security.ca_file == tmp_path / "certs" / "ca.pem"
    assert security.password_file == Path("/run/secrets/kafka")
    assert security.username == "from-env"


def test_the_config_file_refuses_secrets_and_unknown_keys(tmp_path: Path) -> None:
    config = tmp_path / "kafka.yaml"
    config.write_text("password: hunter2\nsasl_mechanisms: PLAIN\n", encoding="utf-8")
    with pytest.raises(SecuritySettingsError) as info:
        KafkaSecurity.from_env({"BILAT_KAFKA_CONFIG": str(config)})
    assert len(info.value.problems) == 2
    assert "password_file" in info.value.problems[0]
    assert "hunter2" not in str(info.value)
    with pytest.raises(SecuritySettingsError, match=r"BILAT_KAFKA_CONFIG: .* does not exist"):
        KafkaSecurity.from_env({"BILAT_KAFKA_CONFIG": str(tmp_path / "none.yaml")})


@pytest.mark.parametrize(
    "variable", ["BILAT_KAFKA_PASSWORD", "BILAT_KAFKA_OAUTH_CLIENT_SECRET", "BILAT_REDIS_PASSWORD"]
)
def test_a_secret_given_as_a_value_is_refused_without_echoing_it(variable: str) -> None:
    with pytest.raises(SecuritySettingsError, match=f"{variable} is not read") as info:
        Settings.from_env({variable: "hunter2"})
    assert "hunter2" not in str(info.value)


def test_every_mechanism_is_accepted(files: dict[str, Path]) -> None:
    for mechanism in MECHANISMS:
        security = _oauth(files) if mechanism == "OAUTHBEARER" else _scram(files, mechanism)
        assert kafka_config(_settings(security))["sasl.mechanism"] == mechanism


# --- Redis ---------------------------------------------------------------------------------


def test_redis_plain_has_no_extra_arguments() -> None:
    assert redis_kwargs("redis://127.0.0.1:6390/0", RedisSecurity()) == {}


def test_rediss_with_ca_client_certificate_and_password(files: dict[str, Path]) -> None:
    security = RedisSecurity.from_env(
        {
            "BILAT_REDIS_PASSWORD_FILE": str(files["password"]),
            "BILAT_REDIS_CA_FILE": str(files["ca"]),
            "BILAT_REDIS_CERT_FILE": str(files["cert"]),
            "BILAT_REDIS_KEY_FILE": str(files["key"]),
        }
    )
    assert redis_kwargs("rediss://bilat@redis:6380/0", security) == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(files["ca"]),
        "ssl_certfile": str(files["cert"]),
        "ssl_keyfile": str(files["key"]),
        "password": PASSWORD,
    }


def test_redis_tls_files_need_rediss(files: dict[str, Path]) -> None:
    with pytest.raises(SecuritySettingsError, match="use rediss://"):
        redis_kwargs("redis://redis:6379/0", RedisSecurity(ca_file=files["ca"]))
    with pytest.raises(SecuritySettingsError, match="CERT_FILE set without"):
        RedisSecurity(cert_file=files["cert"])
    with pytest.raises(SecuritySettingsError, match="keep only the file"):
        redis_kwargs("redis://u:pw@redis/0", RedisSecurity(password_file=files["password"]))


def test_redis_client_is_built_from_the_settings(files: dict[str, Path]) -> None:
    from streams.runtime.security import aioredis_client, redis_client

    settings = Settings(
        redis="rediss://bilat@redis.example:6380/0",
        redis_security=RedisSecurity(password_file=files["password"], ca_file=files["ca"]),
    )
    for client in (redis_client(settings), aioredis_client(settings)):
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["password"] == PASSWORD
        assert kwargs["username"] == "bilat"
        assert kwargs["ssl_ca_certs"] == str(files["ca"])


def test_to_env_round_trips_for_a_child_process(files: dict[str, Path]) -> None:
    for security in (KafkaSecurity(), _scram(files), _oauth(files)):
        assert KafkaSecurity.from_env(security.to_env()) == security
    partner = KafkaSecurity.from_env(
        {**_scram(files).to_env(), "BILAT_KAFKA_ALLOW_PLAINTEXT_SASL": "1"}
    )
    assert "BILAT_KAFKA_ALLOW_PLAINTEXT_SASL" in partner.to_env()
    redis_security = RedisSecurity(password_file=files["password"], ca_file=files["ca"])
    assert RedisSecurity.from_env(redis_security.to_env()) == redis_security
    assert PASSWORD not in str(_scram(files).to_env())
