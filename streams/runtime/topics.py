"""Creating the pipeline's topics up front, with explicit partition counts.

Topics are never left to broker auto-creation: partition counts decide how far workers scale
and how records are keyed, so they are chosen here, once, per deployment.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams.core.errors import StackError
from streams.runtime.config import LEDGER_TOPICS, RECON_TOPICS, SETTLE_TOPICS, TOPICS, Settings
from streams.runtime.preflight import check_kafka
from streams.runtime.security import kafka_config

__all__ = ["KEPT_FOREVER", "delete_topics", "ensure_topics", "topic_config"]


def ensure_topics(
    settings: Settings, names: Iterable[str] = TOPICS, timeout: float = 10.0
) -> list[str]:
    """Create the logical topics ``names`` (prefixed) that do not exist yet; return those created.

    Idempotent: an existing topic is left as it is. Raises :class:`StackError` when the broker
    cannot be reached or refuses, with the broker address so the operator knows where to look.
    """
    config = kafka_config(settings)
    if settings.security.protocol != "PLAINTEXT":
        # A refused login or TLS handshake would otherwise surface only as a timeout.
        check_kafka(config, timeout=timeout)
    admin = AdminClient(config)
    names = list(names)
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise StackError(
            f"Kafka at {settings.kafka} did not answer ({exc}): start it with `bilat up` "
            "or set BILAT_KAFKA"
        ) from exc
    wanted = [
        NewTopic(settings.topic(name), num_partitions=_partitions(name, settings),
                 replication_factor=settings.replication_factor, config=topic_config(name))
        for name in names
        if settings.topic(name) not in existing
    ]  # fmt: skip
    if not wanted:
        return []
    created = []
    for topic, future in admin.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as exc:
            code = exc.args[0].code()
            if code in _NOT_ALLOWED:
                raise StackError(
                    f"cannot create topic {topic} on {settings.kafka}: "
                    f"this client ({settings.security.describe}) may not create topics (least "
                    "privilege); the operator creates them with the admin principal "
                    "(docs/security.md; `bilat up --secure` does it locally)"
                ) from exc
            if code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"cannot create topic {topic} on {settings.kafka}: {exc}") from exc
    return created


_NOT_ALLOWED = (
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
)

_SINGLE = frozenset((*LEDGER_TOPICS, *RECON_TOPICS, *SETTLE_TOPICS))
"""Topics of one partition, kept forever: the ledger, reconciliation and settlement."""

KEPT_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
"""The ledger and reconciliation topics are the record of what both parties signed: never
expired (MirrorMaker 2 copies the setting to the partner's copy). A chain that lost its start
to retention could not be checked at all, and one that lost entries in the middle has a gap."""


def topic_config(name: str) -> dict[str, str]:
    """The topic settings Bilat creates the logical topic ``name`` with."""
    return dict(KEPT_FOREVER) if name in _SINGLE else {}


def _partitions(name: str, settings: Settings) -> int:
    """Ledger and reconciliation topics have one partition: a party's chain is one total order,
    and reconciliation's few records are read whole."""
    return 1 if name in _SINGLE else settings.partitions


def delete_topics(settings: Settings, topics: Iterable[str], timeout: float = 30.0) -> None:
    """Delete ``topics`` (full names) of ``settings.kafka`` if they exist; used to reset demo
    runs."""
    admin = AdminClient(kafka_config(settings))
    names = [t for t in topics if t in admin.list_topics(timeout=timeout).topics]
    if not names:
        return
    for topic, future in admin.delete_topics(names, operation_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(f"cannot delete topic {topic} on {settings.kafka}: {exc}") from exc
