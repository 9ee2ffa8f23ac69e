"""Least privilege on a party's Kafka cluster: the ACLs of each role, as one table.

Pure data: no Kafka client. :func:`role_acls` gives one role's grants for a deployment (its
topic prefix, its app id, its partner's alias); the secured local stack applies them
(:mod:`streams.devstack.secure`), the documentation and the deployment manifests (Strimzi
``KafkaUser`` ACLs) render the same table (:func:`acl_table`), so what is tested is what is
documented. Every grant is ALLOW; the broker runs with ``allow.everyone.if.no.acl.found=false``,
so whatever is not granted is denied. The broker's own principal and the operator's ``admin``
are super users and create the topics (``bilat topics``/``ensure_topics``) before any role runs.

Roles (one principal each; the SCRAM user name and the client certificate's CN are the same):

``ingest``         mediation writing CDRs to ``usage.cdr``, unparseable lines to ``usage.dlq``
``sonata``         the Sonata listener publishing order events to ``sonata.orders``
``worker``         reads ``usage.cdr`` and ``sonata.orders``, writes ``usage.rated``/``usage.dlq``
``batcher``        reads ``usage.rated`` and the requests of the chain, writes ``ledger.*``
                   in transactions (one transactional id per agreement)
``reconciler``     reads both ledgers (its own, the partner's copy), writes ``recon.*``
``settler``        reads both ledgers and settlement documents, writes ``ledger.requests`` and
                   ``settle.documents``
``mirror-reader``  the PARTNER's MirrorMaker 2 on OUR cluster: reads only the topics we
                   mirror to it (:data:`~streams.reconcile.mirroring.MIRRORED`), writes nothing
``mirror-writer``  OUR MirrorMaker 2 on our cluster: writes the partner's copies
                   (``<partner>.*``) and MM2's own topics; reads nothing of ours

Every in-house role may DESCRIBE every topic of its deployment (names and partitions, no
data): the topic check at start (``ensure_topics``) then sees that they exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from streams.reconcile.mirroring import MIRRORED, mirrored_topic
from streams.runtime.config import TOPICS

__all__ = [
    "ROLES",
    "Acl",
    "Grant",
    "Operation",
    "Pattern",
    "ResourceType",
    "acl_table",
    "role_acls",
    "role_summary",
]

ResourceType = Literal["topic", "group", "transactional_id", "cluster"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal[
    "READ",
    "WRITE",
    "CREATE",
    "DESCRIBE",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
]

ROLES: tuple[str, ...] = (
    "ingest",
    "sonata",
    "worker",
    "batcher",
    "reconciler",
    "settler",
    "mirror-reader",
    "mirror-writer",
)

CLUSTER = "kafka-cluster"
"""The name of Kafka's one cluster resource."""


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One ALLOW binding for one principal: ``operation`` on a resource pattern."""

    resource: ResourceType
    pattern: Pattern
    name: str
    operation: Operation


@dataclass(frozen=True, slots=True)
class Grant:
    """Operations on the resources a logical name stands for (table form, before prefixing)."""

    resource: ResourceType
    pattern: Pattern
    names: tuple[str, ...]
    operations: tuple[Operation, ...]
    why: str


def _app_groups(app_id: str, *suffixes: str) -> tuple[str, ...]:
    return tuple(f"{app_id}{suffix}" for suffix in suffixes)


def role_grants(
    role: str, *, topic_prefix: str = "", app_id: str, partner: str
) -> tuple[Grant, ...]:
    """The grants of ``role`` for one deployment (see the module docstring): topics named in
    full (``topic_prefix`` applied; the partner's copies as MM2 names them)."""

    def own(*names: str) -> tuple[str, ...]:
        return tuple(f"{topic_prefix}{name}" for name in names)

    def copies(*names: str) -> tuple[str, ...]:
        return tuple(mirrored_topic(partner, f"{topic_prefix}{name}") for name in names)

    describe = Grant(
        "topic", "literal", own(*TOPICS), ("DESCRIBE",), "see that its deployment's topics exist"
    )
    readback = Grant(
        "group",
        "prefixed",
        ("bilat-readback-", "bilat-topic-names", "bilat-watermarks"),
        ("READ",),
        "throwaway groups of the read-to-the-end readers (never committed)",
    )
    grants: dict[str, tuple[Grant, ...]] = {
        "ingest": (
            describe,
            Grant("topic", "literal", own("usage.cdr"), ("WRITE",), "publish CDRs"),
            # A line that is not a record is a parse dead letter, written by ingest itself
            # (found by the secured pipeline test: without it the whole file fails).
            Grant("topic", "literal", own("usage.dlq"), ("WRITE",), "parse dead letters"),
        ),
        "sonata": (
            describe,
            Grant("topic", "literal", own("sonata.orders"), ("WRITE",), "publish order events"),
        ),
        "worker": (
            describe,
            Grant("topic", "literal", own("usage.cdr", "sonata.orders"), ("READ",), "its input"),
            Grant("topic", "literal", own("usage.rated", "usage.dlq"), ("WRITE",), "rated, dead"),
            Grant(
                "group",
                "literal",
                _app_groups(app_id, "", "-inventory"),
                ("READ",),
                "its consumer group and the inventory feed's",
            ),
            Grant(
                "topic",
                "prefixed",
                (f"{app_id}-",),
                ("CREATE", "READ", "WRITE"),
                "Faust's own topics (the assignor's leader topic)",
            ),
            readback,
        ),
        "batcher": (
            describe,
            Grant(
                "topic",
                "literal",
                own("usage.rated", "recon.cosign", "ledger.requests", *_LEDGER),
                ("READ",),
                "rated usage, the chain's requests, its own chain and leaves to resume",
            ),
            Grant("topic", "literal", own(*_LEDGER), ("WRITE",), "the chain and its leaves"),
            Grant(
                "group",
                "literal",
                _app_groups(app_id, "-batcher", "-cosign"),
                ("READ",),
                "its consumer groups",
            ),
            Grant(
                "transactional_id",
                "prefixed",
                (f"bilat-ledger-{app_id}-",),
                ("WRITE", "DESCRIBE"),
                "one transactional id per agreement: a second writer is fenced",
            ),
            readback,
        ),
        "reconciler": (
            describe,
            Grant("topic", "literal", copies(*_RECON_PARTNER), ("DESCRIBE",), "partner's copies"),
            Grant(
                "topic",
                "literal",
                own("ledger.anchors", "ledger.batches", *_RECON),
                ("READ",),
                "its own chain, leaves and reconciliation topics",
            ),
            Grant(
                "topic",
                "literal",
                copies(*_RECON_PARTNER),
                ("READ",),
                "the partner's chain, digests and drill-down exchange (mirrored copies)",
            ),
            Grant("topic", "literal", own(*_RECON), ("WRITE",), "requests, answers, alerts"),
            Grant("group", "literal", _app_groups(app_id, "-reconcile"), ("READ",), "its group"),
            Grant(
                "transactional_id",
                "prefixed",
                (f"bilat-recon-{app_id}-",),
                ("WRITE", "DESCRIBE"),
                "its transactional writes",
            ),
            readback,
        ),
        "settler": (
            describe,
            Grant("topic", "literal", copies(*_SETTLE_PARTNER), ("DESCRIBE",), "partner's copies"),
            Grant(
                "topic",
                "literal",
                own(*_LEDGER, "settle.documents", "sonata.orders"),
                ("READ",),
                "its own chain, leaves, documents and orders",
            ),
            Grant(
                "topic",
                "literal",
                copies(*_SETTLE_PARTNER),
                ("READ",),
                "the partner's chain and documents (mirrored copies)",
            ),
            Grant(
                "topic",
                "literal",
                own("ledger.requests", "settle.documents"),
                ("WRITE",),
                "entries asked of the batcher, statements and evidence",
            ),
            readback,
        ),
        "mirror-reader": (
            Grant(
                "topic",
                "literal",
                own(*MIRRORED),
                ("READ", "DESCRIBE", "DESCRIBE_CONFIGS"),
                "only the mirrored topics (their configs: the copy keeps the retention)",
            ),
        ),
        "mirror-writer": (
            Grant(
                "topic",
                "prefixed",
                (f"{partner}.",),
                ("CREATE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"),
                "the partner's copies and its checkpoints topic",
            ),
            Grant(
                "topic",
                "prefixed",
                ("mm2-",),
                ("CREATE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS"),
                "MM2's Connect topics and offset syncs",
            ),
            Grant(
                "topic",
                "literal",
                ("heartbeats",),
                ("CREATE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS"),
                "MM2 creates it even with heartbeats off",
            ),
            Grant("group", "prefixed", (f"{partner}-mm2",), ("READ",), "its Connect group"),
            Grant(
                "transactional_id",
                "prefixed",
                (f"{partner}-mm2", f"connect-cluster-{partner}-mm2"),
                ("WRITE", "DESCRIBE"),
                "exactly-once copies (KIP-618): its tasks' and its worker's transactional ids",
            ),
            Grant(
                "cluster", "literal", (CLUSTER,), ("IDEMPOTENT_WRITE",), "exactly-once producers"
            ),
        ),
    }
    try:
        return grants[role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}: want one of {', '.join(ROLES)}") from None


_LEDGER = ("ledger.anchors", "ledger.digests", "ledger.batches")
_RECON = ("recon.requests", "recon.answers", "recon.alerts", "recon.cosign")
_RECON_PARTNER = ("ledger.anchors", "ledger.digests", "recon.requests", "recon.answers")
_SETTLE_PARTNER = ("ledger.anchors", "settle.documents")


def role_acls(role: str, *, topic_prefix: str = "", app_id: str, partner: str) -> tuple[Acl, ...]:
    """The ACL bindings of ``role``: every (resource, operation) its grants name, sorted,
    without duplicates."""
    grants = role_grants(role, topic_prefix=topic_prefix, app_id=app_id, partner=partner)
    return tuple(
        sorted(
            {
                Acl(grant.resource, grant.pattern, name, operation)
                for grant in grants
                for name in grant.names
                for operation in grant.operations
            }
        )
    )


def role_summary(roles: Iterable[str] = ROLES) -> list[tuple[str, str, str, str, str]]:
    """The table in its generic form (prefix ``<prefix>``, app id ``<app>``, partner
    ``<partner>``): rows of (role, resource, names, operations, why)."""
    rows: list[tuple[str, str, str, str, str]] = []
    every = ", ".join(f"<prefix>{name}" for name in TOPICS)
    for role in roles:
        # An alias may hold no '<': a placeholder alias, replaced in the names shown.
        for grant in role_grants(role, topic_prefix="<prefix>", app_id="<app>", partner=_PARTNER):
            names = ", ".join(f"{n}*" if grant.pattern == "prefixed" else n for n in grant.names)
            names = names.replace(_PARTNER, "<partner>").replace(every, "<prefix><every topic>")
            rows.append((role, grant.resource, names, ", ".join(grant.operations), grant.why))
    return rows


_PARTNER = "PARTNER"


def acl_table(roles: Sequence[str] = ROLES) -> str:
    """The table as Markdown (for docs/security.md): one row per grant."""
    lines = [
        "| role | resource | names (`*`: prefix) | operations | why |",
        "|---|---|---|---|---|",
    ]
    for role, resource, names, operations, why in role_summary(roles):
        lines.append(f"| {role} | {resource} | `{names}` | {operations} | {why} |")
    return "\n".join(lines) + "\n"
