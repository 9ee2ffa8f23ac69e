"""The compose and Kubernetes deployments mirror with the settings ``bilat mirror config`` makes,
and are secured as docs/security.md says.

``deploy/compose/mm2.properties`` is generated (never edited); the Strimzi resources restate the
same settings in Strimzi's layout. Both are held here to :func:`mm2_properties`. The ACLs
(compose ``kafka/acls.txt``, Strimzi ``users.yaml``) are held to the least-privilege table of
:mod:`streams.devstack.acls`, the topic files to :mod:`streams.runtime.topics`; every process
connects over TLS as its own principal, and no file holds a secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.devstack.acls import CLUSTER, ROLES, Acl, acl_table, role_acls
from streams.reconcile.mirroring import (
    DEFAULT_REPLICATION_POLICY,
    MIRRORED,
    MirrorLink,
    internal_topics,
    mm2_properties,
    render_mm2_properties,
    topics_regex,
)
from streams.runtime.config import TOPICS
from streams.runtime.security import PARTNER_ENV_PREFIX, KafkaSecurity, java_client_properties
from streams.runtime.topics import topic_config
from tests.paths import REPO
from tests.unit.deploy.render import (
    APP_ID,
    OPERATIONS,
    PARTNER,
    PRINCIPALS,
    RENDERED,
    STRIMZI_PATTERN,
    STRIMZI_RESOURCE,
    partitions,
    security_doc,
)

COMPOSE = REPO / "deploy" / "compose"
K8S = REPO / "deploy" / "k8s"

# What deploy/compose/mm2.properties was generated for (see deploy/compose/README.md): the
# partner's cluster as the user dcc made for us, ours as mirror-writer, the files where compose
# mounts them.
SECURITY_ENV = {
    "BILAT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "BILAT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "BILAT_KAFKA_CA_FILE": "/run/secrets/ca.crt",
    "BILAT_KAFKA_USERNAME": "mirror-writer",
    "BILAT_KAFKA_PASSWORD_FILE": "/run/secrets/kafka_password_mirror-writer",
    "BILAT_PARTNER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "BILAT_PARTNER_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "BILAT_PARTNER_KAFKA_CA_FILE": "/run/secrets/partner_ca.crt",
    "BILAT_PARTNER_KAFKA_USERNAME": "hgc-mirror",
    "BILAT_PARTNER_KAFKA_PASSWORD_FILE": "/run/secrets/partner_password",
}
COMPOSE_LINK = MirrorLink(
    "dcc",
    "dcc-kafka.example.net:9093",
    "hgc",
    "kafka:9092",
    rest_port=8083,
    replication_factor=1,
    source_client=tuple(
        java_client_properties(KafkaSecurity.from_env(SECURITY_ENV, PARTNER_ENV_PREFIX)).items()
    ),
    target_client=tuple(java_client_properties(KafkaSecurity.from_env(SECURITY_ENV)).items()),
)


def _java_properties(path: Path) -> dict[str, str]:
    """A .properties file as Java loads it (no continuation lines: we never write them)."""
    props = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.replace("\\\\", "\x00").replace("\\", "").replace("\x00", "\\")
    return props


def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_the_compose_mm2_properties_is_exactly_what_bilat_mirror_config_generates() -> None:
    path = COMPOSE / "mm2.properties"
    assert _java_properties(path) == mm2_properties(COMPOSE_LINK)
    body = path.read_text(encoding="utf-8").split("\n\n", 1)[1]
    assert body == render_mm2_properties(COMPOSE_LINK, "x").split("\n\n", 1)[1], (
        "regenerate it: env "
        + " ".join(f"{k}={v}" for k, v in SECURITY_ENV.items())
        + " bilat mirror config --source dcc --source-bootstrap "
        "dcc-kafka.example.net:9093 --target hgc --target-bootstrap kafka:9092 "
        "--replication-factor 1 --out deploy/compose/mm2.properties"
    )
    # both clusters over TLS with SCRAM; the passwords only as references to mounted secrets
    props = _java_properties(path)
    (compose,) = _yaml_docs(COMPOSE / "docker-compose.yml")
    mounted = set(compose["services"]["mirrormaker"]["secrets"])
    for alias, user in (("dcc", "hgc-mirror"), ("hgc", "mirror-writer")):
        assert props[f"{alias}.security.protocol"] == "SASL_SSL"
        assert props[f"{alias}.ssl.endpoint.identification.algorithm"] == "https"
        assert props[f"{alias}.ssl.truststore.location"].removeprefix("/run/secrets/") in mounted
        jaas = props[f"{alias}.sasl.jaas.config"]
        secret = re.fullmatch(
            r'.* username="([^"]+)" password="\$\{dir:/run/secrets:([^}]+)\}";', jaas
        )
        assert secret is not None and secret[1] == user and secret[2] in mounted, jaas
    assert "mirror-writer" in PRINCIPALS


def test_the_compose_runs_mm2_next_to_its_target_on_the_generated_file() -> None:
    (compose,) = _yaml_docs(COMPOSE / "docker-compose.yml")
    services = compose["services"]
    mm2 = services["mirrormaker"]
    assert mm2["image"] == services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert mm2["command"] == [
        "/opt/kafka/bin/connect-mirror-maker.sh",
        "/etc/bilat/mm2.properties",
        "--clusters",
        COMPOSE_LINK.target,
    ]
    assert "./mm2.properties:/etc/bilat/mm2.properties:ro" in mm2["volumes"]
    party = services["worker"]["environment"]
    assert party["BILAT_PARTY"] == COMPOSE_LINK.target
    assert party["BILAT_KAFKA"] == COMPOSE_LINK.target_bootstrap
    commands = {name: services[name]["command"] for name in ("worker", "batcher", "reconciler")}
    assert commands == {
        "worker": ["bilat", "worker"],
        "batcher": ["bilat", "batcher"],
        "reconciler": ["bilat", "reconcile"],
    }


def _strimzi_link(resource: dict[str, Any]) -> MirrorLink:
    spec = resource["spec"]
    (mirror,) = spec["mirrors"]
    return MirrorLink(
        mirror["source"]["alias"],
        mirror["source"]["bootstrapServers"],
        spec["target"]["alias"],
        spec["target"]["bootstrapServers"],
        replication_factor=int(mirror["sourceConnector"]["config"]["replication.factor"]),
    )


@pytest.mark.parametrize(
    ("name", "source", "target"),
    [
        ("mirrormaker2-dcc-to-hgc.yaml", "dcc", "hgc"),
        ("mirrormaker2-hgc-to-dcc.yaml", "hgc", "dcc"),
    ],
)
def test_each_strimzi_mirror_is_one_direction_with_the_generated_settings(
    name: str, source: str, target: str
) -> None:
    (resource,) = _yaml_docs(K8S / name)
    assert (resource["apiVersion"], resource["kind"]) == (
        "kafka.strimzi.io/v1",
        "KafkaMirrorMaker2",
    )
    link = _strimzi_link(resource)
    assert (link.source, link.target, link.replication_factor) == (source, target, 3)
    props = mm2_properties(link)
    spec = resource["spec"]
    (mirror,) = spec["mirrors"]
    connector = {k: str(v).lower() for k, v in mirror["sourceConnector"]["config"].items()}
    worker = {k: str(v).lower() for k, v in spec["target"]["config"].items()}

    assert mirror["topicsPattern"] == topics_regex(link) == props[f"{link.flow}.topics"]
    # exactly once: the worker setting on the target, read_committed on the source consumer
    assert worker["exactly.once.source.support"] == props[f"{target}.exactly.once.source.support"]
    assert connector["consumer.isolation.level"] == props[f"{source}.consumer.isolation.level"]
    assert connector["exactly.once.support"] == "required"  # Strimzi: this connector alone
    for key in (
        "replication.policy.class",
        "heartbeats.replication.enabled",
        "offset-syncs.topic.location",
        "sync.topic.acls.enabled",
        "sync.topic.configs.enabled",
        "refresh.topics.interval.seconds",
        "replication.factor",
        "offset-syncs.topic.replication.factor",
    ):
        assert connector[key] == props[key].lower(), key
    assert connector["replication.policy.class"] == DEFAULT_REPLICATION_POLICY.lower()
    for key in ("config", "offset", "status"):
        assert (
            worker[f"{key}.storage.replication.factor"]
            == props[f"{key}.storage.replication.factor"]
        )
    assert mirror["sourceConnector"]["tasksMax"] == link.tasks_max
    # no heartbeats into the partner's cluster, no checkpoints of consumer groups
    assert "heartbeatConnector" not in mirror and "checkpointConnector" not in mirror
    stores = (
        spec["target"]["configStorageTopic"],
        spec["target"]["offsetStorageTopic"],
        spec["target"]["statusStorageTopic"],
    )
    assert stores == internal_topics(source)  # as dedicated mode names them: same state


def test_the_kafka_cluster_is_kraft_with_a_node_pool_and_the_apps_are_deployed() -> None:
    kinds = {doc["kind"]: doc for doc in _yaml_docs(K8S / "kafka.yaml")}
    assert set(kinds["KafkaNodePool"]["spec"]["roles"]) == {"controller", "broker"}
    assert kinds["Kafka"]["spec"]["kafka"]["version"] == "4.1.1"
    assert "zookeeper" not in kinds["Kafka"]["spec"]
    apps = {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]["args"]
        for doc in _yaml_docs(K8S / "bilat.yaml")
        if doc["kind"] == "Deployment"
    }
    assert apps == {
        "bilat-worker": ["bilat", "worker"],
        "bilat-batcher": ["bilat", "batcher"],
        "bilat-reconciler": ["bilat", "reconcile"],
    }


# --- security (issue 14) -------------------------------------------------------------------

STRIMZI_OPERATIONS = {name: op for op, name in OPERATIONS.items()}
STRIMZI_RESOURCES = {name: resource for resource, name in STRIMZI_RESOURCE.items()}
STRIMZI_PATTERNS = {name: pattern for pattern, name in STRIMZI_PATTERN.items()}
BILAT_SERVICES = {"worker": "worker", "batcher": "batcher", "reconciler": "reconciler"}
"""Compose service / k8s component → the principal (and role) it runs as."""


@pytest.mark.parametrize("path", sorted(RENDERED))
def test_the_generated_deployment_files_are_up_to_date(path: str) -> None:
    assert (REPO / path).read_text(encoding="utf-8") == RENDERED[path](), (
        f"{path} drifted from the ACL or topic tables: .venv/bin/python -m tests.unit.deploy.render"
    )


def test_docs_security_shows_the_acl_table_of_the_code() -> None:
    doc = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    assert doc == security_doc(doc), (
        "docs/security.md's ACL table drifted: .venv/bin/python -m tests.unit.deploy.render"
    )
    assert acl_table() in doc


def _strimzi_acls(user: dict[str, Any]) -> set[Acl]:
    out = set()
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        kind = STRIMZI_RESOURCES[resource["type"]]
        pattern = STRIMZI_PATTERNS[resource.get("patternType", "literal")]
        name = resource.get("name", CLUSTER)
        assert rule.get("type", "allow") == "allow" and rule.get("host", "*") == "*"
        for operation in rule["operations"]:
            out.add(Acl(kind, pattern, name, STRIMZI_OPERATIONS[operation]))  # type: ignore[arg-type]
    return out


def _k8s_users() -> dict[str, dict[str, Any]]:
    users = _yaml_docs(K8S / "users.yaml")
    assert {doc["kind"] for doc in users} == {"KafkaUser"}
    return {doc["metadata"]["name"]: doc for doc in users}


def test_every_kafkauser_has_exactly_its_roles_acls() -> None:
    users = _k8s_users()
    roles = {name: doc["metadata"]["labels"]["bilat/role"] for name, doc in users.items()}
    assert set(roles.values()) == set(ROLES)  # every role of the table has its principal
    assert roles[f"{PARTNER}-mirror"] == "mirror-reader"  # the partner's MirrorMaker 2
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "bilat"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        want = set(role_acls(roles[name], app_id=APP_ID, partner=PARTNER))
        assert _strimzi_acls(user) == want, name


def test_the_partners_mirror_reads_only_the_mirrored_topics_and_writes_nothing() -> None:
    acls = _strimzi_acls(_k8s_users()[f"{PARTNER}-mirror"])
    assert {a.name for a in acls} == set(MIRRORED)
    assert {a.operation for a in acls} <= {"READ", "DESCRIBE", "DESCRIBE_CONFIGS"}
    assert all(a.resource == "topic" and a.pattern == "literal" for a in acls)


def _compose_acls() -> dict[str, set[Acl]]:
    out: dict[str, set[Acl]] = {}
    for line in (COMPOSE / "kafka" / "acls.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        principal, resource, pattern, name, operations = line.split(" ")
        assert principal.startswith("User:")
        for operation in operations.split(","):
            acl = Acl(resource, pattern, name, STRIMZI_OPERATIONS[operation])  # type: ignore[arg-type]
            out.setdefault(principal.removeprefix("User:"), set()).add(acl)
    return out


def test_the_compose_acls_are_the_table_for_every_principal() -> None:
    acls = _compose_acls()
    assert set(acls) == set(PRINCIPALS)
    for principal, (role, _) in PRINCIPALS.items():
        assert acls[principal] == set(role_acls(role, app_id=APP_ID, partner=PARTNER)), principal


def test_the_topic_files_create_every_topic_as_ensure_topics_would() -> None:
    rows = [
        line.split(" ")
        for line in (COMPOSE / "kafka" / "topics.txt").read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert [row[0] for row in rows] == list(TOPICS)
    for name, count, settings in rows:
        config = dict(kv.split("=") for kv in settings.split(",")) if settings != "-" else {}
        assert (int(count), config) == (partitions(name), topic_config(name))
    k8s = {doc["metadata"]["name"]: doc["spec"] for doc in _yaml_docs(K8S / "topics.yaml")}
    assert list(k8s) == list(TOPICS)
    for name, spec in k8s.items():
        assert spec["partitions"] == partitions(name) and spec["replicas"] == 3
        assert {k: str(v) for k, v in spec.get("config", {}).items()} == topic_config(name)
    assert {name for name in TOPICS if topic_config(name)} >= set(MIRRORED)  # kept forever


def _properties_text(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key] = value
    return props


def test_the_compose_broker_has_no_open_listener_and_denies_by_default() -> None:
    props = _properties_text(COMPOSE / "kafka" / "server.properties")
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    for listener in props["listeners"].split(","):
        name, _, address = listener.partition("://")
        if protocols[name] == "PLAINTEXT":  # only on the container's loopback
            assert address.startswith("127.0.0.1:"), listener
        else:
            assert protocols[name] == "SASL_SSL", listener
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["auto.create.topics.enable"] == "false"
    (compose,) = _yaml_docs(COMPOSE / "docker-compose.yml")
    kafka = compose["services"]["kafka"]
    users = kafka["environment"]["BILAT_KAFKA_USERS"].split()
    assert users == ["admin", *PRINCIPALS]
    assert {f"kafka_password_{user}" for user in users} <= set(kafka["secrets"])
    assert kafka["ports"] == ["9093:9093"]  # the PARTNER listener alone is published
    redis = compose["services"]["redis"]["command"]
    assert redis[redis.index("--port") + 1] == "0"  # TLS only
    assert "--aclfile" in redis and "--tls-port" in redis


def test_every_compose_process_connects_as_its_own_principal_over_tls() -> None:
    (compose,) = _yaml_docs(COMPOSE / "docker-compose.yml")
    services = compose["services"]
    for service, principal in BILAT_SERVICES.items():
        env, secrets = services[service]["environment"], set(services[service]["secrets"])
        assert env["BILAT_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["BILAT_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["BILAT_KAFKA_USERNAME"] == principal
        assert env["BILAT_KAFKA_PASSWORD_FILE"] == f"/run/secrets/kafka_password_{principal}"
        assert env["BILAT_REDIS"].startswith("rediss://bilat@")
        for variable, value in env.items():
            if variable.endswith("_FILE") or variable == "BILAT_KEY":
                assert value.removeprefix("/run/secrets/") in secrets, variable
        assert ("BILAT_KEY" in env) == (service == "batcher")  # only the signer holds the key
        assert ("BILAT_KEY_PASSPHRASE_FILE" in env) == (service == "batcher")
    mm2 = services["mirrormaker"]
    assert {"partner_password", "partner_ca.crt", "kafka_password_mirror-writer"} <= set(
        mm2["secrets"]
    )
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"}, name  # a file, never an inline value


def test_the_k8s_cluster_has_tls_scram_listeners_and_simple_authorization() -> None:
    kafka = next(doc for doc in _yaml_docs(K8S / "kafka.yaml") if doc["kind"] == "Kafka")
    spec = kafka["spec"]["kafka"]
    assert spec["authorization"]["type"] == "simple"
    for listener in spec["listeners"]:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] in ("scram-sha-512", "tls"), listener["name"]
    assert "userOperator" in kafka["spec"]["entityOperator"]


def test_each_k8s_process_runs_as_its_own_kafkauser() -> None:
    users = _k8s_users()
    docs = _yaml_docs(K8S / "bilat.yaml")
    (config,) = [doc["data"] for doc in docs if doc["kind"] == "ConfigMap"]
    assert config["BILAT_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["BILAT_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert config["BILAT_KAFKA"] == "bilat-kafka-bootstrap:9093"  # the tls listener
    assert config["BILAT_REDIS"].startswith("rediss://bilat@")
    for doc in (d for d in docs if d["kind"] == "Deployment"):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        principal = BILAT_SERVICES[component]
        assert env["BILAT_KAFKA_USERNAME"] == principal
        assert users[principal]["metadata"]["labels"]["bilat/role"] == principal
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert principal in secrets  # the User Operator's Secret of that user
        assert ("bilat-hgc-key" in secrets) == (component == "batcher")
        assert ("BILAT_KEY_PASSPHRASE_FILE" in env) == (component == "batcher")
        assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize(
    ("name", "source", "target"),
    [
        ("mirrormaker2-dcc-to-hgc.yaml", "dcc", "hgc"),
        ("mirrormaker2-hgc-to-dcc.yaml", "hgc", "dcc"),
    ],
)
def test_each_strimzi_mirror_authenticates_on_both_clusters(
    name: str, source: str, target: str
) -> None:
    (resource,) = _yaml_docs(K8S / name)
    spec = resource["spec"]
    (mirror,) = spec["mirrors"]
    for cluster, user in (
        (spec["target"], "mirror-writer"),
        (mirror["source"], f"{target}-mirror"),
    ):
        assert cluster["tls"]["trustedCertificates"], cluster["alias"]
        auth = cluster["authentication"]
        assert auth["type"] == "scram-sha-512" and auth["username"] == user
        assert set(auth["passwordSecret"]) == {"secretName", "password"}  # a Secret's key
    assert spec["target"]["bootstrapServers"].endswith(":9093")  # our tls listener
    assert mirror["source"]["bootstrapServers"] == f"{source}-kafka.example.net:9094"
    assert _k8s_users()["mirror-writer"]["metadata"]["labels"]["bilat/role"] == "mirror-writer"


_INLINE_SECRETS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"password\s*=\s*\"(?!\$\{)[^\"]+\"", re.IGNORECASE),  # JAAS with a literal
    re.compile(  # a key ending in password/passphrase/secret/token with a literal value
        r"[\w.-]*(password|passphrase|secret|token)\s*[:=]\s*['\"]?(?![\[{$/])[^\s'\"]{6,}",
        re.IGNORECASE,
    ),
]
_PLANTED = [
    "BILAT_KEY_PASSPHRASE: hunter2hunter2",
    "      BILAT_KAFKA_PASSWORD: s3cr3t-pw",
    'sasl.jaas.config=ScramLoginModule required username="w" password="pw-literal";',
    "hgc.ssl.key.password=changeit",
    "-----BEGIN PRIVATE KEY-----",
    "  client_secret: abcdefgh",
]


def test_no_secret_is_inline_in_any_deployment_file() -> None:
    for line in _PLANTED:  # the check would see these
        assert any(pattern.search(line) for pattern in _INLINE_SECRETS), line
    files = [p for folder in (COMPOSE, K8S) for p in sorted(folder.rglob("*")) if p.is_file()]
    assert len(files) > 10
    allowed = re.compile(r"(_FILE|secretName|passwordSecret|password: password)")
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#") or allowed.search(line):
                continue
            for pattern in _INLINE_SECRETS:
                assert not pattern.search(line), f"{path.relative_to(REPO)}:{number}: {line}"
