"""Settings of one Bilat deployment (one party), from the environment with CLI overrides.

Every setting has a default that works with ``bilat up`` on one machine, so the demo and the
tests need no configuration; production sets the ``BILAT_*`` variables below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from streams.core import resources
from streams.runtime.security import PARTNER_ENV_PREFIX, KafkaSecurity, RedisSecurity

__all__ = [
    "LEDGER_TOPICS",
    "PARTY_PORTS",
    "RECON_TOPICS",
    "SETTLE_TOPICS",
    "TOPICS",
    "Settings",
]

DEFAULT_PARTIES = ("hgc", "dcc")
"""The two parties ``bilat up`` and the demo start by default: Seller, then Buyer."""
DEFAULT_BASE_PORT = 9092
PARTY_PORT_STEP = 100
"""Party i's broker listens on base + 100·i, its controller on that + 1."""
PARTY_PORTS: Mapping[str, int] = {
    party: DEFAULT_BASE_PORT + PARTY_PORT_STEP * i for i, party in enumerate(DEFAULT_PARTIES)
}
"""Local broker ports of the default parties (as ``bilat up`` starts them)."""

DEFAULT_REDIS = "redis://127.0.0.1:6390/0"
DEFAULT_AGREEMENT = resources.example_agreement()
"""The packaged example agreement (``examples/agreement.yaml`` in the checkout)."""
DEFAULT_RUN_DIR = resources.work_dir() / "run"
"""``.bilat/run`` in the checkout, else ``~/.local/state/bilat/run`` (see ``work_dir``)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where one party's pipeline reads, writes and what it rates against.

    ============================  ===============================  ==============================
    variable                      meaning                          default
    ============================  ===============================  ==============================
    ``BILAT_PARTY``               this deployment's party id       ``hgc``
    ``BILAT_KAFKA``               bootstrap servers                the party's local broker
    ``BILAT_REDIS``               Redis URL                        ``redis://127.0.0.1:6390/0``
    ``BILAT_TOPIC_PREFIX``        prefix of every topic name       empty
    ``BILAT_AGREEMENT``           agreement YAML                   the packaged example [1]_
    ``BILAT_SCHEMA_REGISTRY``     Confluent registry URL           none: single-object encoding
    ``BILAT_PARTITIONS``          partitions of new topics         ``4``
    ``BILAT_REPLICATION_FACTOR``  replicas of new topics           ``1`` (one local broker);
                                                                   ``3`` in production
    ``BILAT_RUN_DIR``             logs, pid files, worker state    ``.bilat/run`` [2]_
    ``BILAT_KAFKA_*``             Kafka TLS and SASL [3]_          plaintext, no authentication
    ``BILAT_PARTNER_KAFKA_*``     the same for the partner's       plaintext, no authentication
                                  cluster (MirrorMaker 2's source)
    ``BILAT_REDIS_*_FILE``        Redis password, TLS files [3]_   none
    ============================  ===============================  ==============================

    .. [1] ``examples/agreement.yaml``, shipped in the package (``bilat agreement example``).
    .. [2] In the checkout; an installed Bilat uses ``$XDG_STATE_HOME/bilat/run``
       (``~/.local/state/bilat/run``).
    .. [3] :mod:`streams.runtime.security`, which also builds every client from these settings.
    """

    party: str = "hgc"
    kafka: str = "127.0.0.1:9092"
    redis: str = DEFAULT_REDIS
    topic_prefix: str = ""
    agreement: Path = DEFAULT_AGREEMENT
    schema_registry: str | None = None
    partitions: int = 4
    replication_factor: int = 1
    """Replicas of the topics Bilat creates; 1 suits one local broker, a production cluster
    wants 3 (with ``min.insync.replicas`` 2 on the brokers)."""
    run_dir: Path = DEFAULT_RUN_DIR
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    """How clients authenticate to ``kafka`` (``BILAT_KAFKA_*``)."""
    partner_security: KafkaSecurity = field(
        default_factory=lambda: KafkaSecurity(env_prefix=PARTNER_ENV_PREFIX)
    )
    """How MirrorMaker 2 authenticates to the partner's cluster (``BILAT_PARTNER_KAFKA_*``)."""
    redis_security: RedisSecurity = field(default_factory=RedisSecurity)
    """Redis password and TLS files (``BILAT_REDIS_*_FILE``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``env`` (default ``os.environ``), then non-None ``overrides``."""
        env = os.environ if env is None else env
        party = str(overrides.get("party") or env.get("BILAT_PARTY", "hgc"))
        port = PARTY_PORTS.get(party, DEFAULT_BASE_PORT)
        settings = cls(
            party=party,
            kafka=env.get("BILAT_KAFKA", f"127.0.0.1:{port}"),
            redis=env.get("BILAT_REDIS", DEFAULT_REDIS),
            topic_prefix=env.get("BILAT_TOPIC_PREFIX", ""),
            agreement=Path(env.get("BILAT_AGREEMENT", str(DEFAULT_AGREEMENT))),
            schema_registry=env.get("BILAT_SCHEMA_REGISTRY") or None,
            partitions=int(env.get("BILAT_PARTITIONS", "4")),
            replication_factor=int(env.get("BILAT_REPLICATION_FACTOR", "1")),
            run_dir=Path(env.get("BILAT_RUN_DIR", str(DEFAULT_RUN_DIR))),
            security=KafkaSecurity.from_env(env),
            partner_security=KafkaSecurity.from_env(env, PARTNER_ENV_PREFIX),
            redis_security=RedisSecurity.from_env(env),
        )
        chosen = {k: v for k, v in overrides.items() if v is not None and k != "party"}
        return replace(settings, **chosen)  # type: ignore[arg-type]

    def topic(self, name: str) -> str:
        """The full name of a logical topic (``usage.cdr`` → ``<prefix>usage.cdr``)."""
        return f"{self.topic_prefix}{name}"

    @property
    def app_id(self) -> str:
        """Faust application id = consumer group; unique per party and topic prefix."""
        return f"bilat-{self.party}-{self.topic_prefix.strip('.') or 'main'}"


LEDGER_TOPICS = ("ledger.anchors", "ledger.digests", "ledger.batches")
"""This party's ledger (anchors, digests: mirrored to the partner) and leaf store (kept)."""

RECON_TOPICS = ("recon.requests", "recon.answers", "recon.alerts", "recon.cosign")
"""Reconciliation: drill-down requests and answers (mirrored to the partner), alerts and
countersigning requests (kept)."""

SETTLE_TOPICS = ("ledger.requests", "settle.documents")
"""Settlement: entries asked of the chain writer (kept) and the statement and evidence
documents ledger entries name by hash (mirrored to the partner)."""

TOPICS = (
    "usage.cdr",
    "usage.rated",
    "usage.dlq",
    "sonata.orders",
    *LEDGER_TOPICS,
    *RECON_TOPICS,
    *SETTLE_TOPICS,
)
"""Every logical topic of one party's deployment."""
