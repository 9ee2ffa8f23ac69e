"""MirrorMaker 2's Java client properties from the security settings, and redaction of every
rendering of a client configuration (no secret ever printed)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.redact import redact_config
from streams.reconcile.mirroring import MirrorLink, render_mm2_properties
from streams.runtime.config import Settings
from streams.runtime.security import (
    KafkaSecurity,
    SecuritySettingsError,
    check_java_secrets,
    java_client_properties,
    kafka_config,
)

CA = Path("/etc/bilat/ca.pem")


def _scram(password_file: Path, mechanism: str = "SCRAM-SHA-512") -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        ca_file=CA,
        sasl_mechanism=mechanism,
        username="hgc-mm2",
        password_file=password_file,
    )


def test_plaintext_has_no_java_properties() -> None:
    assert java_client_properties(KafkaSecurity()) == {}


@pytest.mark.parametrize(
    ("mechanism", "module"),
    [
        ("SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        ("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        ("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
    ],
)
def test_sasl_ssl_refers_to_the_password_file(mechanism: str, module: str) -> None:
    props = java_client_properties(_scram(Path("/run/secrets/kafka"), mechanism), "dcc.")
    assert props == {
        "dcc.security.protocol": "SASL_SSL",
        "dcc.ssl.endpoint.identification.algorithm": "https",
        "dcc.ssl.truststore.type": "PEM",
        "dcc.ssl.truststore.location": str(CA),
        "dcc.sasl.mechanism": mechanism,
        "dcc.sasl.jaas.config": f'{module} required username="hgc-mm2" '
        'password="${dir:/run/secrets:kafka}";',
    }


def test_mutual_tls_uses_pem_key_stores_by_reference() -> None:
    security = KafkaSecurity(
        protocol="SSL",
        ca_file=CA,
        cert_file=Path("/etc/bilat/mm2.pem"),
        key_file=Path("/etc/bilat/mm2.key"),
        key_password_file=Path("/run/secrets/key-password"),
    )
    props = java_client_properties(security)
    assert props["ssl.keystore.type"] == "PEM"
    assert props["ssl.keystore.certificate.chain"] == "${dir:/etc/bilat:mm2.pem}"
    assert props["ssl.keystore.key"] == "${dir:/etc/bilat:mm2.key}"
    assert props["ssl.key.password"] == "${dir:/run/secrets:key-password}"


def test_oauthbearer_is_refused_for_mirrormaker(tmp_path: Path) -> None:
    security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        oauth_token_url="https://idp/token",
        oauth_client_id="c",
        oauth_client_secret_file=tmp_path / "s",
    )
    with pytest.raises(SecuritySettingsError, match="SCRAM-SHA-512 or a client certificate"):
        java_client_properties(security)


def test_check_java_secrets_refuses_a_trailing_line_break_and_quotes(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x", encoding="utf-8")
    password = tmp_path / "password"
    security = KafkaSecurity(
        protocol="SASL_SSL",
        ca_file=ca,
        sasl_mechanism="SCRAM-SHA-512",
        username="u",
        password_file=password,
    )
    password.write_text("fine", encoding="utf-8")
    check_java_secrets(security)
    password.write_text("fine\n", encoding="utf-8")
    with pytest.raises(SecuritySettingsError, match="ends with a line break"):
        check_java_secrets(security)
    password.write_text('a"b', encoding="utf-8")
    with pytest.raises(SecuritySettingsError, match="JAAS"):
        check_java_secrets(security)


# --- no secret in any rendering ------------------------------------------------------------

SECRETS = st.text(
    alphabet=string.ascii_letters + string.digits + "!#$%&*+-./:;<=>?@^_~", min_size=8, max_size=40
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=SECRETS, key_password=SECRETS, secret=SECRETS)
def test_no_secret_value_appears_in_any_rendering(
    tmp_path: Path, password: str, key_password: str, secret: str
) -> None:
    files = {name: tmp_path / name for name in ("password", "key-password", "client-secret")}
    files["password"].write_text(password, encoding="utf-8")
    files["key-password"].write_text(key_password, encoding="utf-8")
    files["client-secret"].write_text(secret, encoding="utf-8")
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("PEM", encoding="utf-8")
    tls = {
        "ca_file": tmp_path / "ca.pem",
        "cert_file": tmp_path / "client.pem",
        "key_file": tmp_path / "client.key",
        "key_password_file": files["key-password"],
    }
    scram = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        username="hgc-worker",
        password_file=files["password"],
        **tls,  # type: ignore[arg-type]
    )
    oauth = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        oauth_token_url="https://idp.example/token",
        oauth_client_id="bilat",
        oauth_client_secret_file=files["client-secret"],
        **tls,  # type: ignore[arg-type]
    )
    hidden = (password, key_password, secret)
    for security in (scram, oauth):
        settings_ = Settings(kafka="b:9093", security=security)
        config = kafka_config(settings_)
        assert set(hidden) & {str(v) for v in config.values()}  # the clients do get them
        renderings = [
            repr(security),
            str(security),
            security.describe,
            repr(settings_),
            str(redact_config(config)),
            str(security.to_env()),
        ]
        if security is scram:
            link = MirrorLink(
                "dcc",
                "d:9093",
                "hgc",
                "h:9093",
                source_client=tuple(java_client_properties(security).items()),
                target_client=tuple(java_client_properties(security).items()),
            )
            renderings.append(render_mm2_properties(link, "test"))
        for text in renderings:
            for value in hidden:
                assert value not in text
