"""A throwaway certificate authority for the secured local stack and its tests.

:func:`ensure_pki` writes, once, into one folder (every file PEM, mode 0600)::

    ca.pem, ca.key                       the local CA (the one trust anchor of the stack)
    server-<name>.pem, .key              a server certificate per broker or Redis, SANs
                                         127.0.0.1 and localhost (hostname verification on)
    server-<name>.keystore.pem           its key then its chain, for Kafka's PEM keystore
    client-<principal>.pem, .key         a client certificate per principal (CN = principal)
    expired-<principal>.pem, .key        the same principal, expired yesterday (failure tests)
    rogue-ca.pem, rogue-<principal>.pem, .key
                                         a certificate from a CA nobody trusts (failure tests)

Keys are EC P-256 (PKCS#8, unencrypted: the folder is the secret; Kafka's PEM keystore and
librdkafka read them as they are). A second call reuses what exists and adds what is missing,
so running brokers keep their certificates; the CA is renewed (and every leaf with it) only
when it expires within a day. The broker maps a certificate's subject to its principal by CN
(``ssl.principal.mapping.rules``), so ``client-worker.pem`` authenticates as ``User:worker``,
the same principal as the SCRAM user ``worker``.

Development and tests only: a production deployment brings its own CA and certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CA_DAYS", "LEAF_DAYS", "CertPair", "Pki", "ensure_pki", "write_secret"]

CA_DAYS = 365
LEAF_DAYS = 90
_ORG = "Bilat local stack"
_EXPIRED = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CertPair:
    """A certificate (PEM, leaf only) and its private key (PEM, PKCS#8)."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Pki:
    """The files of one local CA folder (see the module docstring)."""

    folder: Path

    @property
    def ca(self) -> Path:
        """The CA certificate: every client's and server's trust anchor."""
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def rogue_ca(self) -> Path:
        """A CA nobody trusts."""
        return self.folder / "rogue-ca.pem"

    def server(self, name: str) -> CertPair:
        return CertPair(self.folder / f"server-{name}.pem", self.folder / f"server-{name}.key")

    def keystore(self, name: str) -> Path:
        """Key then certificate of server ``name`` in one file (Kafka ``ssl.keystore.type=PEM``)."""
        return self.folder / f"server-{name}.keystore.pem"

    def client(self, principal: str) -> CertPair:
        return self._pair("client", principal)

    def expired(self, principal: str) -> CertPair:
        """A certificate of ``principal`` from the right CA whose validity ended yesterday."""
        return self._pair("expired", principal)

    def rogue(self, principal: str) -> CertPair:
        """A certificate of ``principal`` issued by :attr:`rogue_ca`."""
        return self._pair("rogue", principal)

    def _pair(self, kind: str, principal: str) -> CertPair:
        return CertPair(
            self.folder / f"{kind}-{principal}.pem", self.folder / f"{kind}-{principal}.key"
        )


def write_secret(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (never world-readable)."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_usage(ca: bool) -> x509.KeyUsage:
    """A CA signs certificates; a leaf signs handshakes and agrees keys (ECDHE)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _self_signed_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    name = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    server: bool,
    expired: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    if expired:
        begins, ends = now - dt.timedelta(days=LEAF_DAYS), now - _EXPIRED
    else:
        begins, ends = now - dt.timedelta(minutes=5), now + dt.timedelta(days=LEAF_DAYS)
    ends = min(ends, ca_cert.not_valid_after_utc)
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begins)
        .not_valid_after(ends)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        # A server certificate is also a client one: a broker authenticates to its own
        # controller listener with it (mutual TLS, principal = its CN).
        .add_extension(x509.ExtendedKeyUsage(usage if server else usage[1:]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _load_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The CA of ``pki`` if both files load and it stays valid for another day."""
    try:
        cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
        key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc - _now() < dt.timedelta(days=1):
        return None
    return cert, key


def _write_pair(pair: CertPair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    write_secret(pair.key, _key_pem(key))
    write_secret(pair.cert, _cert_pem(cert))


def ensure_pki(
    folder: Path,
    servers: Iterable[str],
    principals: Iterable[str],
    *,
    failure_principal: str | None = None,
) -> Pki:
    """The local CA in ``folder`` with a server certificate per name of ``servers`` and a client
    certificate per principal; with ``failure_principal``, also an expired certificate and one
    from an unknown CA for it. Creates only what is missing (see the module docstring)."""
    pki = Pki(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    loaded = _load_ca(pki)
    if loaded is None:
        ca_cert, ca_key = _self_signed_ca("Bilat local CA")
        for stale in folder.glob("*.pem"):
            stale.unlink()
        write_secret(pki.ca_key, _key_pem(ca_key))
        write_secret(pki.ca, _cert_pem(ca_cert))
    else:
        ca_cert, ca_key = loaded
    for name in servers:
        pair = pki.server(name)
        if not (pair.cert.exists() and pair.key.exists() and pki.keystore(name).exists()):
            cert, key = _leaf(ca_cert, ca_key, name, server=True)
            _write_pair(pair, cert, key)
            write_secret(pki.keystore(name), _key_pem(key) + _cert_pem(cert))
    for principal in principals:
        pair = pki.client(principal)
        if not (pair.cert.exists() and pair.key.exists()):
            _write_pair(pair, *_leaf(ca_cert, ca_key, principal, server=False))
    if failure_principal is not None:
        expired = pki.expired(failure_principal)
        if not expired.cert.exists():
            _write_pair(
                expired, *_leaf(ca_cert, ca_key, failure_principal, server=False, expired=True)
            )
        rogue = pki.rogue(failure_principal)
        if not (rogue.cert.exists() and pki.rogue_ca.exists()):
            rogue_cert, rogue_key = _self_signed_ca("Unknown CA")
            write_secret(pki.rogue_ca, _cert_pem(rogue_cert))
            _write_pair(rogue, *_leaf(rogue_cert, rogue_key, failure_principal, server=False))
    return pki
