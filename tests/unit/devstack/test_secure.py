"""The secured stack's pure parts: certificates, the ACL table, broker settings, client env."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from streams.devstack import secure
from streams.devstack.acls import ROLES, acl_table, role_acls
from streams.devstack.certs import ensure_pki
from streams.devstack.kafka_broker import server_properties
from streams.reconcile.mirroring import MIRRORED
from streams.runtime.preflight import KafkaAccessError, check_client_certificate


def test_pki_files_are_private_and_certificates_fit(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", ["kafka-a"], ["worker"], failure_principal="worker")
    for path in (tmp_path / "pki").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    server = x509.load_pem_x509_certificate(pki.server("kafka-a").cert.read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    keystore = pki.keystore("kafka-a").read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----") and "CERTIFICATE" in keystore
    check_client_certificate(pki.client("worker").cert)
    with pytest.raises(KafkaAccessError, match="expired on"):
        check_client_certificate(pki.expired("worker").cert)
    rogue = x509.load_pem_x509_certificate(pki.rogue("worker").cert.read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    assert rogue.issuer != ca.subject


def test_pki_is_reused(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, ["s"], ["a"])
    before = first.ca.read_bytes(), first.client("a").cert.read_bytes()
    again = ensure_pki(tmp_path, ["s"], ["a", "b"])
    assert (again.ca.read_bytes(), again.client("a").cert.read_bytes()) == before
    assert again.client("b").cert.exists()


def test_partner_mirror_principal_reads_only_mirrored_topics() -> None:
    acls = role_acls("mirror-reader", topic_prefix="p.", app_id="bilat-hgc-p", partner="dcc")
    assert {a.operation for a in acls} == {"READ", "DESCRIBE", "DESCRIBE_CONFIGS"}
    assert {a.name for a in acls} == {f"p.{t}" for t in MIRRORED}
    assert all(a.resource == "topic" and a.pattern == "literal" for a in acls)


def test_no_role_but_the_batcher_writes_the_ledger_and_nobody_reads_usage_from_outside() -> None:
    for role in ROLES:
        acls = role_acls(role, topic_prefix="p.", app_id="app", partner="dcc")
        writes = {a.name for a in acls if a.operation == "WRITE" and a.resource == "topic"}
        if role != "batcher":
            assert not writes & {"p.ledger.anchors", "p.ledger.digests", "p.ledger.batches"}
        reads = {a.name for a in acls if a.operation == "READ" and a.resource == "topic"}
        if role.startswith("mirror"):
            assert not any(name.startswith("p.usage.") for name in reads)
    assert "mirror-reader" in acl_table() and "<partner>." in acl_table()
    with pytest.raises(ValueError, match="unknown role"):
        role_acls("root", app_id="a", partner="b")


def test_secured_broker_settings_and_client_env(tmp_path: Path) -> None:
    files = secure.ensure_secure_files(tmp_path, [secure.broker_name("x")])
    spec = secure.kafka_spec(files, "x", 39000)
    props = server_properties(spec, tmp_path / "data")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:kafka-x;User:admin"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:SSL"
    assert props["ssl.keystore.type"] == "PEM" and props["ssl.client.auth"] == "required"
    env = secure.client_env(files, spec, "worker")
    assert env["BILAT_KAFKA"] == "127.0.0.1:39000"
    assert env["BILAT_KAFKA_PASSWORD_FILE"].endswith("worker.password")
    assert not any(files.password("worker") in value for value in env.values())
    tls = secure.client_env(files, spec, "worker", mode="mtls", prefix="PARTNER_")
    assert tls["BILAT_PARTNER_KAFKA"] == "127.0.0.1:39002"
    assert stat.S_IMODE(files.password_file("worker").stat().st_mode) == 0o600


def test_the_readiness_probe_passes_tls_keywords_only_to_rediss(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """redis-py refuses ``ssl_ca_certs`` on a plain connection (a TypeError that stopped every
    plain Redis start of a CI run); the probe gives it only to rediss://."""
    from streams.devstack import redis_server

    seen: list[dict[str, object]] = []

    class Probe:
        def info(self, _section: str) -> dict[str, int]:
            return {"process_id": 7}

        def close(self) -> None:
            pass

    def from_url(url: str, **kwargs: object) -> Probe:
        seen.append(kwargs)
        return Probe()

    monkeypatch.setattr(redis_server.redis.Redis, "from_url", staticmethod(from_url))
    assert redis_server._redis_answers("redis://127.0.0.1:1/0", 7)
    password = tmp_path / "password"
    password.write_text("s3cret")
    probe = {"password_file": str(password), "ca": "/ca.pem"}
    assert redis_server._redis_answers("rediss://u@127.0.0.1:1/0", 7, probe)
    assert "ssl_ca_certs" not in seen[0] and seen[1]["ssl_ca_certs"] == "/ca.pem"
