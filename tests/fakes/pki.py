"""Throwaway certificates for the TLS tests of Bilat's servers, made with ``cryptography``:
a CA, a server certificate for 127.0.0.1 (its key optionally encrypted), client certificates
signed by that CA, and a stranger CA's client certificate.

Small on purpose: the secured local stack has its own CA (``streams/devstack``); these tests
need only files in a temporary folder and nothing beyond loopback.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Pki", "make_pki"]

_Issuer = tuple[x509.Name, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca: Path
    """The CA's certificate: trusted by clients for the server, by the server for clients."""
    server_cert: Path
    server_key: Path
    """Encrypted with :attr:`password_file`'s passphrase when made with ``encrypt=True``."""
    password_file: Path | None
    _ca: _Issuer

    def client(self, cn: str, *, stranger: bool = False) -> Path:
        """A PEM file holding a client certificate with ``cn`` and its key, signed by the CA
        (or, ``stranger``, by a CA the server does not know)."""
        issuer = _self_signed("stranger CA") if stranger else self._ca
        cert, key = _issue(cn, issuer, server=False)
        return _write(self.folder / f"client-{cn}{'-stranger' if stranger else ''}.pem", cert, key)

    def client_context(self, cn: str | None = None, *, stranger: bool = False) -> ssl.SSLContext:
        """What a caller connects with: trusts the CA; holds a client certificate ``cn``."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if cn is not None:
            context.load_cert_chain(str(self.client(cn, stranger=stranger)))
        return context


def make_pki(folder: Path, *, encrypt: bool = False) -> Pki:
    ca_cert, ca_key = _cert("Bilat test CA", None, ca=True, server=False)
    ca = folder / "ca.pem"
    ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_cert, server_key = _issue("127.0.0.1", (ca_cert.subject, ca_key), server=True)
    cert_path = folder / "server.crt"
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    password_file = None
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if encrypt:
        password_file = folder / "server.key.pass"
        password_file.write_text("correct horse battery staple\n")
        encryption = serialization.BestAvailableEncryption(b"correct horse battery staple")
    key_path = folder / "server.key"
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    )
    return Pki(folder, ca, cert_path, key_path, password_file, (ca_cert.subject, ca_key))


def _self_signed(name: str) -> _Issuer:
    cert, key = _cert(name, None, ca=True, server=False)
    return cert.subject, key


def _issue(
    name: str, issuer: _Issuer, *, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return _cert(name, issuer, ca=False, server=server)


def _cert(
    name: str, issuer: _Issuer | None, *, ca: bool, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path
