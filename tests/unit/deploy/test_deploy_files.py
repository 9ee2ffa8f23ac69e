"""The compose and Kubernetes deployments mirror with the settings ``bilat mirror config`` makes.

``deploy/compose/mm2.properties`` is generated (never edited); the Strimzi resources restate the
same settings in Strimzi's layout. Both are held here to :func:`mm2_properties`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.reconcile.mirroring import (
    DEFAULT_REPLICATION_POLICY,
    MirrorLink,
    internal_topics,
    mm2_properties,
    render_mm2_properties,
    topics_regex,
)
from tests.paths import REPO

COMPOSE = REPO / "deploy" / "compose"
K8S = REPO / "deploy" / "k8s"

# What deploy/compose/mm2.properties was generated for (see deploy/compose/README.md).
COMPOSE_LINK = MirrorLink(
    "dcc", "dcc-kafka.example.net:9093", "hgc", "kafka:9092", rest_port=8083, replication_factor=1
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
        "regenerate it: bilat mirror config --source dcc --source-bootstrap "
        "dcc-kafka.example.net:9093 --target hgc --target-bootstrap kafka:9092 "
        "--replication-factor 1 --out deploy/compose/mm2.properties"
    )


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
    assert "PLAINTEXT://:9092" in services["kafka"]["environment"]["KAFKA_LISTENERS"]
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
