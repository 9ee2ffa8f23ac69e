"""The generated parts of deploy/compose and deploy/k8s, rendered from Bilat's own tables.

The least-privilege ACLs (:mod:`streams.devstack.acls`) and the topics with their partitions and
settings (:mod:`streams.runtime.topics`) are written into the deployment files as Kafka's tools
and Strimzi want them: ``deploy/compose/kafka/acls.txt`` and ``topics.txt`` (applied by the
compose broker's ``start.sh``), ``deploy/k8s/users.yaml`` (one ``KafkaUser`` per principal) and
``deploy/k8s/topics.yaml`` (``KafkaTopic``). ``test_deploy_files.py`` holds each file equal to
its rendering here; after a change of a table, regenerate them::

    .venv/bin/python -m tests.unit.deploy.render

The deployment is the example one of the files: party ``hgc``, no topic prefix, partner ``dcc``.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Iterable

from streams.devstack.acls import Acl, acl_table, role_acls
from streams.runtime.config import TOPICS
from streams.runtime.topics import topic_config
from tests.paths import REPO

__all__ = [
    "APP_ID",
    "PARTNER",
    "PRINCIPALS",
    "compose_acls",
    "compose_topics",
    "grouped",
    "k8s_topics",
    "k8s_users",
    "partitions",
    "security_doc",
]

PARTY, PARTNER, APP_ID = "hgc", "dcc", "bilat-hgc-main"
USAGE_PARTITIONS = 4  # BILAT_PARTITIONS' default

PRINCIPALS: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "mediation (bilat ingest) writing CDRs"),
    "sonata": ("sonata", "the Sonata listener (bilat sonata listen)"),
    "worker": ("worker", "bilat worker"),
    "batcher": ("batcher", "bilat batcher: the party's single ledger writer"),
    "reconciler": ("reconciler", "bilat reconcile"),
    "settler": ("settler", "bilat settle agent"),
    "mirror-writer": ("mirror-writer", "OUR MirrorMaker 2 writing dcc's copies into this cluster"),
    f"{PARTNER}-mirror": (
        "mirror-reader",
        "the PARTNER's (dcc's) MirrorMaker 2: reads only the mirrored topics; dcc gets its "
        "password",
    ),
}
"""Principal (SCRAM user, KafkaUser name) → (role of the ACL table, who runs as it)."""

OPERATIONS = {
    "READ": "Read",
    "WRITE": "Write",
    "CREATE": "Create",
    "DESCRIBE": "Describe",
    "DESCRIBE_CONFIGS": "DescribeConfigs",
    "ALTER_CONFIGS": "AlterConfigs",
    "IDEMPOTENT_WRITE": "IdempotentWrite",
}
"""The table's operations as kafka-acls.sh and Strimzi spell them."""

STRIMZI_RESOURCE = {
    "topic": "topic",
    "group": "group",
    "transactional_id": "transactionalId",
    "cluster": "cluster",
}
STRIMZI_PATTERN = {"literal": "literal", "prefixed": "prefix"}


def _header(text: str) -> list[str]:
    """``text`` as comment lines of at most 96 characters."""
    return [f"# {line}" for line in textwrap.wrap(text, width=94)]


def grouped(acls: Iterable[Acl]) -> dict[tuple[str, str, str], list[str]]:
    """(resource, pattern, name) → its operations in :data:`OPERATIONS` order."""
    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for acl in acls:
        out[(acl.resource, acl.pattern, acl.name)].append(acl.operation)
    order = list(OPERATIONS)
    return {key: sorted(ops, key=order.index) for key, ops in out.items()}


def principal_acls(principal: str) -> tuple[Acl, ...]:
    role, _ = PRINCIPALS[principal]
    return role_acls(role, app_id=APP_ID, partner=PARTNER)


def partitions(name: str) -> int:
    """The partitions ``ensure_topics`` gives logical topic ``name`` (kept-forever ones: 1)."""
    return 1 if topic_config(name) else USAGE_PARTITIONS


def compose_acls() -> str:
    lines = _header(
        "The ACLs of hgc's principals, one line per resource: principal, resource type, pattern"
        " type, name, operations. start.sh applies them with kafka-acls.sh. They are the least-"
        "privilege table of streams/devstack/acls.py for party hgc, no topic prefix (app id "
        "bilat-hgc-main), partner dcc; dcc-mirror is the partner's MirrorMaker 2 (mirror-"
        "reader). Generated: .venv/bin/python -m tests.unit.deploy.render (tests/unit/deploy "
        "holds it)."
    )
    for principal in PRINCIPALS:
        for (resource, pattern, name), ops in grouped(principal_acls(principal)).items():
            names = ",".join(OPERATIONS[op] for op in ops)
            lines.append(f"User:{principal} {resource} {pattern} {name} {names}")
    return "\n".join(lines) + "\n"


def compose_topics() -> str:
    lines = _header(
        "hgc's topics: name, partitions, settings (k=v,... or -). start.sh creates the missing "
        "ones as the broker itself, so that no Bilat principal needs CREATE. Those of "
        "ensure_topics (streams/runtime/topics.py) with BILAT_PARTITIONS=4. Generated: "
        ".venv/bin/python -m tests.unit.deploy.render (tests/unit/deploy holds it)."
    )
    for name in TOPICS:
        config = ",".join(f"{k}={v}" for k, v in topic_config(name).items()) or "-"
        lines.append(f"{name} {partitions(name)} {config}")
    return "\n".join(lines) + "\n"


def k8s_users() -> str:
    out = _header(
        "One KafkaUser per principal of hgc's cluster (Strimzi User Operator): SCRAM-SHA-512 "
        "over the TLS listeners of kafka.yaml, and exactly the ACLs of its role in the least-"
        "privilege table (streams/devstack/acls.py; docs/security.md shows it). The User "
        "Operator writes each user's password into a Secret of the same name (key `password`): "
        "nothing secret is here. Party hgc, no topic prefix (app id bilat-hgc-main), partner "
        "dcc. Generated: .venv/bin/python -m tests.unit.deploy.render (tests/unit/deploy holds "
        "it)."
    )
    for principal, (role, who) in PRINCIPALS.items():
        lines = [
            "---",
            f"# {who}",
            "apiVersion: kafka.strimzi.io/v1",
            "kind: KafkaUser",
            "metadata:",
            f"  name: {principal}",
            "  namespace: bilat-hgc",
            "  labels:",
            "    strimzi.io/cluster: bilat",
            f"    bilat/role: {role}",
            "spec:",
            "  authentication:",
            "    type: scram-sha-512",
            "  authorization:",
            "    type: simple",
            "    acls:",
        ]
        for (resource, pattern, name), ops in grouped(principal_acls(principal)).items():
            if resource == "cluster":
                lines.append("      - resource: {type: cluster}")
            else:
                lines.append(
                    f'      - resource: {{type: {STRIMZI_RESOURCE[resource]}, name: "{name}", '
                    f"patternType: {STRIMZI_PATTERN[pattern]}}}"
                )
            lines.append(f"        operations: [{', '.join(OPERATIONS[op] for op in ops)}]")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def k8s_topics() -> str:
    out = _header(
        "hgc's topics as Strimzi KafkaTopic resources (the Topic Operator creates them), so "
        "that no Bilat principal needs CREATE: the processes only check at start that they "
        "exist. Partitions and settings are those ensure_topics (streams/runtime/topics.py) "
        "creates them with (BILAT_PARTITIONS=4), three replicas each. Generated: "
        ".venv/bin/python -m tests.unit.deploy.render (tests/unit/deploy holds it)."
    )
    for name in TOPICS:
        lines = [
            "---",
            "apiVersion: kafka.strimzi.io/v1",
            "kind: KafkaTopic",
            "metadata:",
            f"  name: {name}",
            "  namespace: bilat-hgc",
            "  labels:",
            "    strimzi.io/cluster: bilat",
            "spec:",
            f"  partitions: {partitions(name)}",
            "  replicas: 3",
        ]
        config = topic_config(name)
        if config:
            lines.append("  config:")
            lines += [f'    {key}: "{value}"' for key, value in config.items()]
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


ACL_TABLE_START = (
    "<!-- acl-table: generated by streams.devstack.acls.acl_table(); tests/unit/deploy holds it -->"
)
ACL_TABLE_END = "<!-- /acl-table -->"


def security_doc(current: str) -> str:
    """docs/security.md ``current`` with the ACL table between its markers regenerated."""
    head, start, rest = current.partition(ACL_TABLE_START)
    _, end, tail = rest.partition(ACL_TABLE_END)
    if not (start and end):
        raise ValueError(
            f"docs/security.md: want the markers {ACL_TABLE_START} ... {ACL_TABLE_END}"
        )
    return f"{head}{start}\n{acl_table()}{end}{tail}"


RENDERED = {
    "deploy/compose/kafka/acls.txt": compose_acls,
    "deploy/compose/kafka/topics.txt": compose_topics,
    "deploy/k8s/users.yaml": k8s_users,
    "deploy/k8s/topics.yaml": k8s_topics,
}
"""File of the repository → its rendering."""


if __name__ == "__main__":
    for path, render in RENDERED.items():
        (REPO / path).write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    doc = REPO / "docs" / "security.md"
    doc.write_text(security_doc(doc.read_text(encoding="utf-8")), encoding="utf-8")
    print("wrote docs/security.md (its ACL table)")
