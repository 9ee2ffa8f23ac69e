"""What each party mirrors to its partner, and the MirrorMaker 2 configuration that does it.

Each party's ledger is read by the partner from a copy on the partner's own cluster: MirrorMaker
2 (MM2) copies :data:`MIRRORED` from the source cluster to the target, under the name
:func:`mirrored_topic` gives (``hgc.ledger.anchors`` on dcc's cluster is hgc's
``ledger.anchors``). The leaves (``ledger.batches``) and the local reconciliation topics
(``recon.alerts``, ``recon.cosign``) never leave their party: a leaf is only opened to the
partner, bucket by bucket, through ``recon.requests``/``recon.answers``.

One :class:`MirrorLink` is one direction, run next to its *target* ("consume from remote,
produce to local"); a two-party deployment has two (:func:`links_for`). :func:`mm2_properties`
renders a link as MM2 dedicated-mode settings, :func:`mm2_settings` the same with the reason
for each one, :func:`render_mm2_properties` as the ``mm2.properties`` file. The file is never
hand-edited: ``bilat mirror up`` renders it on every start, ``bilat mirror config`` for the
compose and Kubernetes deployments, and ``tests/unit/deploy`` holds those to the same settings.

Exactly once (KIP-618): the copy is written in Kafka transactions together with MM2's source
offsets, and MM2 reads the source ``read_committed``, so a record of an aborted transaction is
never copied and a restart neither loses nor repeats a record. Readers of a copy read it
``read_committed`` too.

Security: each cluster's client settings (TLS trust and key stores, SASL) arrive as data, the
Java client properties :func:`streams.runtime.security.java_client_properties` renders from the
party's settings; a secret is never among them, only a ``${dir:<folder>:<file>}`` reference that
Kafka's DirectoryConfigProvider resolves when MM2 starts (:data:`CONFIG_PROVIDERS`). MM2 hands
``<alias>.<client setting>`` to every client of that cluster: the worker and its producer and
admin on the target, the consumer and admin on the source.

Pure: no Kafka client; the launcher (:mod:`streams.devstack.mirrormaker`) runs the process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from streams.core.errors import MirrorError

__all__ = [
    "CONFIG_PROVIDERS",
    "DEFAULT_REPLICATION_POLICY",
    "DIRECTORY_CONFIG_PROVIDER",
    "KEPT_LOCAL",
    "MIRRORED",
    "MM2_MAIN_CLASS",
    "MirrorLink",
    "Setting",
    "check_alias",
    "internal_topics",
    "is_mirrored",
    "links_for",
    "mirrored_topic",
    "mm2_properties",
    "mm2_settings",
    "render_mm2_properties",
    "topics_regex",
]

MIRRORED: tuple[str, ...] = (
    "ledger.anchors",
    "ledger.digests",
    "recon.requests",
    "recon.answers",
    "settle.documents",
)
"""The logical topics each party mirrors to its partner: the signed chain, the bucket digests,
the drill-down exchange of reconciliation and the settlement documents (statements, dispute
evidence) the chain names by hash."""

KEPT_LOCAL: tuple[str, ...] = ("ledger.batches", "recon.alerts", "recon.cosign", "ledger.requests")
"""Logical topics that never leave their party (the leaves, the local alerts and co-signing)."""

DEFAULT_REPLICATION_POLICY = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
"""Names a copy ``<source alias>.<topic>``; the only policy Bilat supports."""

MM2_MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"

DIRECTORY_CONFIG_PROVIDER = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
"""Kafka's config provider that replaces ``${dir:<folder>:<file>}`` with the file's content."""
CONFIG_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("config.providers", "dir"),
    ("config.providers.dir.class", DIRECTORY_CONFIG_PROVIDER),
)
"""The MM2 settings that make ``${dir:...}`` references resolve (added when a client setting
holds one)."""

ClientProperties = tuple[tuple[str, str], ...]
"""Java client properties of one cluster (``security.protocol``, ``ssl.*``, ``sasl.*``), in
order, without the cluster's alias prefix."""
_CLIENT_KEY = re.compile(r"(security\.protocol|ssl\.[a-z0-9.]+|sasl\.[a-z0-9.]+)")

SEPARATOR = "."
"""``replication.policy.separator`` of the default policy: why an alias may hold no dot."""

_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,100}")


def check_alias(alias: str) -> None:
    """Raise MirrorError unless ``alias`` can name a cluster in MM2: 1-64 topic-legal characters
    without a dot. It prefixes the copies (``<alias>.<topic>``) and MM2's internal topics; a dot
    would make a copy's source ambiguous to the replication policy."""
    if not _ALIAS.fullmatch(alias):
        raise MirrorError(
            f"mirror alias {alias!r}: want 1-64 letters, digits, '_' or '-' (no dot: it "
            "separates the alias from the topic in the copy's name); use the party id"
        )


def mirrored_topic(source_alias: str, topic: str) -> str:
    """The name of the copy of ``topic`` (its full, prefixed name) mirrored from the cluster
    ``source_alias``, as MM2's DefaultReplicationPolicy names it: ``<alias>.<topic>``."""
    check_alias(source_alias)
    return f"{source_alias}{SEPARATOR}{topic}"


def internal_topics(source_alias: str) -> tuple[str, str, str]:
    """The Connect topics the MM2 of a link ``source_alias -> target`` keeps on the target
    (configs, offsets, status); they exist once the process has started."""
    check_alias(source_alias)
    return (
        f"mm2-configs.{source_alias}.internal",
        f"mm2-offsets.{source_alias}.internal",
        f"mm2-status.{source_alias}.internal",
    )


@dataclass(frozen=True, slots=True)
class MirrorLink:
    """One direction of mirroring: ``source`` cluster to ``target`` cluster, run by one MM2
    process next to the target (``--clusters <target>``).

    The topics mirrored are :data:`MIRRORED` under a prefix: the literal ``topic_prefix`` (a
    deployment's ``BILAT_TOPIC_PREFIX``), or ``prefix_pattern``, a regular expression any
    prefix must match whole (tests use ``t-[0-9a-f]{10}\\.`` to mirror every test's topics).
    A pattern must be in the syntax Java and Python share (MM2 matches it in Java, ``bilat
    mirror status`` in Python) and hold no comma (MM2 splits its topic list on commas).
    """

    source: str
    """Alias of the source cluster: the party id whose topics are copied."""
    source_bootstrap: str
    target: str
    """Alias of the target cluster: the partner's party id, where the copies are written."""
    target_bootstrap: str
    topic_prefix: str = ""
    prefix_pattern: str | None = None
    """A regex replacing ``topic_prefix`` (then ``topic_prefix`` must be empty)."""
    rest_port: int = 8083
    """Port of MM2's internal REST server (needed for exactly-once in dedicated mode)."""
    rest_host: str = "127.0.0.1"
    """Host it listens on; loopback is enough for a single MM2 node."""
    refresh_seconds: int = 60
    """How often MM2 looks for new source topics: 60 s in production, about 2 s locally."""
    replication_factor: int = 3
    """Replication factor of the copies and of MM2's internal topics (1 on the local stack)."""
    tasks_max: int = 1
    """MM2 tasks: the mirrored topics have one partition each, so one task suffices."""
    source_client: ClientProperties = ()
    """How MM2 connects to the source cluster: the partner's TLS and SASL client settings for
    MM2's principal there (empty: plaintext, no authentication)."""
    target_client: ClientProperties = ()
    """How MM2 connects to the target cluster (our own)."""

    def __post_init__(self) -> None:
        check_alias(self.source)
        check_alias(self.target)
        for attr in ("source_client", "target_client"):
            # Normalised: a link read back from JSON holds lists.
            pairs = tuple((str(k), str(v)) for k, v in getattr(self, attr))
            object.__setattr__(self, attr, pairs)
            for key, text in pairs:
                if not _CLIENT_KEY.fullmatch(key) or "\n" in text or not text:
                    raise MirrorError(
                        f"mirror link {self.name}: {attr} {key}: want security.protocol, ssl.* "
                        "or sasl.* with a one-line value"
                    )
        if self.source == self.target:
            raise MirrorError(f"mirror link {self.source} -> {self.target}: want two clusters")
        for what, bootstrap in (
            ("source", self.source_bootstrap),
            ("target", self.target_bootstrap),
        ):
            if not bootstrap or any(c.isspace() for c in bootstrap):
                raise MirrorError(
                    f"mirror link {self.name}: {what} bootstrap {bootstrap!r}: want host:port[,...]"
                )
        if not _TOPIC_PREFIX.fullmatch(self.topic_prefix):
            raise MirrorError(
                f"mirror link {self.name}: topic prefix {self.topic_prefix!r}: want at most 100 "
                "topic-legal characters (letters, digits, '.', '_', '-')"
            )
        if self.prefix_pattern is not None:
            _check_pattern(self.name, self.topic_prefix, self.prefix_pattern)
        if not 1 <= self.rest_port <= 65535:
            raise MirrorError(f"mirror link {self.name}: rest port {self.rest_port}: want 1..65535")
        for field, value in (
            ("refresh_seconds", self.refresh_seconds),
            ("replication_factor", self.replication_factor),
            ("tasks_max", self.tasks_max),
        ):
            if value < 1:
                raise MirrorError(f"mirror link {self.name}: {field} {value}: want >= 1")

    @property
    def name(self) -> str:
        """``<source>-to-<target>``: names the MM2 service and its folder (``mm2-<name>``)."""
        return f"{self.source}-to-{self.target}"

    @property
    def flow(self) -> str:
        """MM2's name of the replication flow, the prefix of its per-flow settings."""
        return f"{self.source}->{self.target}"


def _check_pattern(name: str, topic_prefix: str, pattern: str) -> None:
    if topic_prefix:
        raise MirrorError(
            f"mirror link {name}: both topic_prefix {topic_prefix!r} and prefix_pattern "
            f"{pattern!r} given: want one of them"
        )
    if "," in pattern or pattern != pattern.strip() or not pattern:
        raise MirrorError(
            f"mirror link {name}: prefix pattern {pattern!r}: want a non-empty regex without "
            "commas or surrounding blanks (MM2 reads its topic list split on commas)"
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise MirrorError(f"mirror link {name}: prefix pattern {pattern!r}: {exc}") from exc


def topics_regex(link: MirrorLink) -> str:
    """The regex MM2 mirrors by (``<flow>.topics``): exactly the :data:`MIRRORED` topics under
    the link's prefix, anchored at both ends. MM2 matches it whole; a copy of the partner's
    (``dcc.<prefix>ledger.anchors``) never matches, so nothing is mirrored back."""
    prefix = link.prefix_pattern if link.prefix_pattern is not None else _literal(link.topic_prefix)
    names = "|".join(_literal(topic) for topic in MIRRORED)
    return f"^(?:{prefix})(?:{names})$" if prefix else f"^(?:{names})$"


def _literal(text: str) -> str:
    """``text`` as a regex matching itself, in the syntax Java and Python share (only ``.``
    needs escaping in topic-legal text)."""
    return text.replace(".", r"\.")


def is_mirrored(link: MirrorLink, topic: str) -> bool:
    """True if MM2 mirrors the source topic ``topic`` (its full name) over ``link``."""
    return re.fullmatch(topics_regex(link), topic) is not None


@dataclass(frozen=True, slots=True)
class Setting:
    """One MM2 setting and why it has its value."""

    key: str
    value: str
    why: str


def mm2_settings(link: MirrorLink) -> tuple[Setting, ...]:
    """The MM2 dedicated-mode settings of ``link``, each with its reason (see module doc)."""
    src, tgt, flow = link.source, link.target, link.flow
    rf = str(link.replication_factor)
    return (
        Setting("clusters", f"{src}, {tgt}", "the two clusters of this one direction"),
        Setting(f"{src}.bootstrap.servers", link.source_bootstrap, "the partner we copy from"),
        Setting(f"{tgt}.bootstrap.servers", link.target_bootstrap, "our cluster, written to"),
        *_client_settings(link),
        Setting(f"{flow}.enabled", "true", "the one flow this process runs"),
        Setting(
            f"{tgt}->{src}.enabled",
            "false",
            "the reverse direction runs next to the partner's cluster, by the partner",
        ),
        Setting(
            f"{flow}.topics",
            topics_regex(link),
            "exactly the mirrored ledger and reconciliation topics; leaves stay local",
        ),
        Setting(
            f"{flow}.groups.exclude",
            ".*",
            "no consumer group is translated; the checkpoint connector cannot be switched off "
            "without an error in MM2 4.1 (emit.checkpoints.enabled=false fails its "
            "validation), so it runs with no group to checkpoint",
        ),
        Setting(
            "replication.policy.class",
            DEFAULT_REPLICATION_POLICY,
            "copies are named <source>.<topic>, which mirrored_topic() and readers rely on",
        ),
        Setting(
            "emit.heartbeats.enabled",
            "false",
            "heartbeats would make MM2 run a reverse flow that writes into the partner's cluster",
        ),
        Setting(
            "heartbeats.replication.enabled",
            "false",
            "MM2 copies every 'heartbeats' topic whatever the topic list says; a party's "
            "cluster holds one (MM2 creates it even with heartbeats off), not ours to copy",
        ),
        Setting("sync.group.offsets.enabled", "false", "no consumer group fails over"),
        Setting(
            "plugin.discovery",
            "service_load",
            "MM2's own plugins carry ServiceLoader manifests: no class-path scan at start",
        ),
        Setting(f"{tgt}.plugin.discovery", "service_load", "the same for the worker of the flow"),
        Setting(
            "offset-syncs.topic.location",
            "target",
            "MM2 writes nothing to the partner's cluster, which it may only read",
        ),
        Setting(
            "sync.topic.acls.enabled",
            "false",
            "each party grants access to its own cluster; the partner's ACLs are not ours",
        ),
        Setting(
            "sync.topic.configs.enabled",
            "true",
            "a copy keeps its original's retention, so the partner's ledger lives as long here",
        ),
        Setting(
            "refresh.topics.interval.seconds",
            str(link.refresh_seconds),
            "how soon a new mirrored topic (a new deployment's ledger) is found",
        ),
        Setting("tasks.max", str(link.tasks_max), "mirrored topics have one partition each"),
        Setting("replication.factor", rf, "of the copies"),
        Setting("checkpoints.topic.replication.factor", rf, "MM2 internal topic"),
        Setting("heartbeats.topic.replication.factor", rf, "MM2 internal topic"),
        Setting("offset-syncs.topic.replication.factor", rf, "MM2 internal topic"),
        Setting("offset.storage.replication.factor", rf, "Connect internal topic"),
        Setting("config.storage.replication.factor", rf, "Connect internal topic"),
        Setting("status.storage.replication.factor", rf, "Connect internal topic"),
        Setting(
            "dedicated.mode.enable.internal.rest",
            "true",
            "exactly-once source tasks need the internal REST server (KIP-618, KIP-710)",
        ),
        Setting(
            "listeners",
            f"http://{link.rest_host}:{link.rest_port}",
            "where that internal REST server listens",
        ),
        Setting(
            f"{tgt}.exactly.once.source.support",
            "enabled",
            "a worker setting, so keyed by the TARGET cluster (the worker config is built from "
            "the target's settings): copies and MM2's offsets commit in one transaction",
        ),
        Setting(
            f"{src}.consumer.isolation.level",
            "read_committed",
            "records of aborted or open transactions on the source are never copied",
        ),
        Setting(
            f"{flow}.exactly.once.support",
            "requested",
            "not 'required': MM2 applies it to all three connectors of the flow, and the "
            "heartbeat and checkpoint connectors fail its preflight check in 4.1; the worker "
            "setting above already makes every task transactional",
        ),
    )


def _client_settings(link: MirrorLink) -> tuple[Setting, ...]:
    """The security settings of both clusters, ``<alias>.<key>`` (MM2 copies them to the
    producer, consumer and admin clients of that cluster and to the worker of the target),
    and the config provider when a value refers to a secret file."""
    settings = [
        Setting(f"{alias}.{key}", value, why)
        for alias, pairs, why in (
            (link.source, link.source_client, "how MM2 authenticates to the partner's cluster"),
            (link.target, link.target_client, "how MM2 authenticates to our cluster"),
        )
        for key, value in pairs
    ]
    if any("${dir:" in s.value for s in settings):
        settings += [
            Setting(key, value, "resolves ${dir:<folder>:<file>}: secrets stay in their files")
            for key, value in CONFIG_PROVIDERS
        ]
    return tuple(settings)


def mm2_properties(link: MirrorLink) -> dict[str, str]:
    """The settings of :func:`mm2_settings` as ``key -> value``, in that order."""
    return {setting.key: setting.value for setting in mm2_settings(link)}


def render_mm2_properties(link: MirrorLink, header: str) -> str:
    """The ``mm2.properties`` file of ``link``: ``# header``, then each setting preceded by its
    reason as a comment. Values are escaped for Java's Properties (a regex's backslashes are
    doubled, or ``\\.`` would load as ``.``)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for setting in mm2_settings(link):
        value = setting.value.replace("\\", "\\\\").replace("\n", "\\n")
        lines += ["", f"# {setting.why}", f"{setting.key}={value}"]
    return "\n".join(lines) + "\n"


def links_for(
    bootstraps: Mapping[str, str],
    *,
    rest_ports: Mapping[str, int] | None = None,
    topic_prefix: str = "",
    prefix_pattern: str | None = None,
    refresh_seconds: int = 60,
    replication_factor: int = 3,
    clients: Mapping[str, ClientProperties] | None = None,
) -> tuple[MirrorLink, MirrorLink]:
    """The two links of a two-party deployment: ``bootstraps`` maps each party id (the
    agreement's, in its order: seller, buyer) to its cluster; each party id is its cluster's
    alias. ``rest_ports`` maps a party to the internal REST port of the MM2 that runs next to
    its cluster (default 8083 for both: one per host). ``clients`` maps a party to the client
    properties every MM2 uses for its cluster (one MM2 principal per cluster, as on the local
    stack; each party of a real deployment renders its own link with ``bilat mirror config``).
    Returns (seller -> buyer, buyer -> seller)."""
    if len(bootstraps) != 2:
        raise MirrorError(
            f"mirroring links two parties: got {len(bootstraps)} ({', '.join(bootstraps)})"
        )
    (first, first_kafka), (second, second_kafka) = bootstraps.items()
    ports = rest_ports or {}
    security = clients or {}

    def link(source: str, source_kafka: str, target: str, target_kafka: str) -> MirrorLink:
        return MirrorLink(
            source,
            source_kafka,
            target,
            target_kafka,
            topic_prefix=topic_prefix,
            prefix_pattern=prefix_pattern,
            rest_port=ports.get(target, 8083),
            refresh_seconds=refresh_seconds,
            replication_factor=replication_factor,
            source_client=tuple(security.get(source, ())),
            target_client=tuple(security.get(target, ())),
        )

    return (
        link(first, first_kafka, second, second_kafka),
        link(second, second_kafka, first, first_kafka),
    )
