"""Fail fast, and say why, when a Kafka cluster refuses us: :func:`check_kafka`.

librdkafka retries a refused login or TLS handshake forever and a client only sees a request
time out ("Broker transport failure"); the cause is reported through ``error_cb`` alone. So a
process checks its connection once at start: the first such report becomes a
:class:`KafkaAccessError` within a second or two, naming the cause and the setting to look at:

* our client certificate is expired or not yet valid: said before connecting (from the file);
* SASL login refused (wrong user or password file): ``_AUTHENTICATION``;
* the broker's certificate does not verify (unknown CA, wrong host): ``_SSL`` handshake;
* the broker refused our certificate (unknown CA, expired, none given): a TLS alert;
* nothing answers at all within ``timeout``: the address.

Authorization (a missing ACL) is not a connection failure: the broker answers each request
with ``*_AUTHORIZATION_FAILED`` at once, and the clients raise that themselves.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from cryptography import x509

from streams.core.errors import StackError

__all__ = ["KafkaAccessError", "check_client_certificate", "check_kafka", "diagnose"]

_POLL = 0.25
_TLS_ALERTS = ("alert certificate unknown", "alert bad certificate", "certificate expired",
               "alert unknown ca", "certificate required", "alert handshake failure")  # fmt: skip


class KafkaAccessError(StackError):
    """The cluster refused this client (authentication or TLS); the message says what to fix."""


def check_client_certificate(path: str | Path, now: dt.datetime | None = None) -> None:
    """Raise :class:`KafkaAccessError` if the PEM certificate at ``path`` is outside its
    validity period (the broker would refuse it with an unhelpful TLS alert)."""
    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise KafkaAccessError(f"cannot read the client certificate {path}: {exc}") from exc
    moment = now or dt.datetime.now(dt.UTC)
    subject = cert.subject.rfc4514_string()
    if moment > cert.not_valid_after_utc:
        raise KafkaAccessError(
            f"the client certificate {path} ({subject}) expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: renew it (BILAT_KAFKA_CERT_FILE)"
        )
    if moment < cert.not_valid_before_utc:
        raise KafkaAccessError(
            f"the client certificate {path} ({subject}) is valid only from "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: check the clock or the certificate"
        )


def diagnose(error: KafkaError, config: Mapping[str, Any]) -> str | None:
    """What an ``error_cb`` report means for the operator, or None if it is not a refusal."""
    text = error.str()
    where = config.get("bootstrap.servers", "?")
    if error.code() == KafkaError._AUTHENTICATION:
        user = config.get("sasl.username", "?")
        mechanism = config.get("sasl.mechanism", "?")
        return (
            f"Kafka at {where} refused the login of {user!r} ({mechanism}): wrong user name or "
            f"password (BILAT_KAFKA_USERNAME, BILAT_KAFKA_PASSWORD_FILE)? Broker said: {text}"
        )
    if error.code() == KafkaError._SSL or "certificate verify failed" in text:
        return (
            f"the TLS certificate of Kafka at {where} does not verify against "
            f"{config.get('ssl.ca.location', 'the system CAs')}: wrong CA file "
            f"(BILAT_KAFKA_CA_FILE) or host name? {text}"
        )
    if any(alert in text for alert in _TLS_ALERTS):
        cert = config.get("ssl.certificate.location")
        given = f"the certificate {cert}" if cert else "no client certificate"
        return (
            f"Kafka at {where} refused the TLS connection with {given}: it must be signed by a "
            f"CA the broker trusts, be valid now and match its key (BILAT_KAFKA_CERT_FILE, "
            f"BILAT_KAFKA_KEY_FILE). {text}"
        )
    return None


def check_kafka(config: Mapping[str, Any], timeout: float = 10.0) -> None:
    """Connect with the librdkafka ``config`` and ask for metadata; raise
    :class:`KafkaAccessError` as soon as the cluster refuses us (see the module docstring), or
    when nothing answers within ``timeout`` seconds."""
    cert = config.get("ssl.certificate.location")
    if cert:
        check_client_certificate(cert)
    reports: list[KafkaError] = []
    settings: dict[str, Any] = {**config, "log_level": 0, "error_cb": reports.append}
    admin = AdminClient(settings)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            admin.list_topics(timeout=_POLL)
            return
        except KafkaException as exc:
            last = exc
        admin.poll(0)  # serves error_cb
        for report in reports:
            reason = diagnose(report, config)
            if reason is not None:
                raise KafkaAccessError(reason)
        if time.monotonic() >= deadline:
            seen = "; ".join(r.str() for r in reports[-2:]) or str(last)
            raise KafkaAccessError(
                f"Kafka at {config.get('bootstrap.servers', '?')} did not answer within "
                f"{timeout:.0f} s ({seen}): is it running, and is BILAT_KAFKA right?"
            )
