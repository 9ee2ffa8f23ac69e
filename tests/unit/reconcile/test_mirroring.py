"""The MirrorMaker 2 configuration: which topics a link mirrors and the settings it renders."""

from __future__ import annotations

import re

import pytest

from streams.core.errors import MirrorError, StackError
from streams.reconcile.mirroring import (
    DEFAULT_REPLICATION_POLICY,
    KEPT_LOCAL,
    MIRRORED,
    MirrorLink,
    internal_topics,
    is_mirrored,
    links_for,
    mirrored_topic,
    mm2_properties,
    mm2_settings,
    render_mm2_properties,
    topics_regex,
)

HGC, DCC = "127.0.0.1:9092", "127.0.0.1:9192"
TEST_PATTERN = r"t-[0-9a-f]{10}\."


def _link(**overrides: object) -> MirrorLink:
    fields: dict[str, object] = {
        "source": "hgc",
        "source_bootstrap": HGC,
        "target": "dcc",
        "target_bootstrap": DCC,
    }
    return MirrorLink(**(fields | overrides))  # type: ignore[arg-type]


def test_the_ledger_and_the_exchange_are_mirrored_and_nothing_else() -> None:
    assert MIRRORED == (
        "ledger.anchors",
        "ledger.digests",
        "recon.requests",
        "recon.answers",
        "settle.documents",
    )
    assert not set(MIRRORED) & set(KEPT_LOCAL)
    assert "ledger.batches" in KEPT_LOCAL


def test_a_copy_is_named_by_the_default_replication_policy() -> None:
    assert mirrored_topic("hgc", "demo-1.ledger.anchors") == "hgc.demo-1.ledger.anchors"
    assert mirrored_topic("dcc", "ledger.digests") == "dcc.ledger.digests"


@pytest.mark.parametrize("prefix", ["", "demo-20261201."])
def test_the_regex_matches_exactly_the_mirrored_topics_under_the_prefix(prefix: str) -> None:
    link = _link(topic_prefix=prefix)
    for topic in MIRRORED:
        assert is_mirrored(link, prefix + topic)
    refused = [
        *(prefix + topic for topic in KEPT_LOCAL),
        prefix + "usage.rated",
        f"dcc.{prefix}ledger.anchors",  # the partner's copy of our own ledger: never back
        f"hgc.{prefix}ledger.anchors",
        f"{prefix}ledger.anchors.x",
        f"x{prefix}ledger.anchors",
        f"{prefix}ledgerXanchors",  # the dot is literal
        "mm2-offsets.dcc.internal",
    ]
    if prefix:
        refused += ["ledger.anchors", "other." + "ledger.anchors"]
    assert [topic for topic in refused if is_mirrored(link, topic)] == []


def test_a_prefix_pattern_mirrors_every_test_prefix_and_not_the_copies() -> None:
    link = _link(prefix_pattern=TEST_PATTERN)
    assert is_mirrored(link, "t-0123456789.ledger.anchors")
    assert is_mirrored(link, "t-abcdefabcd.recon.answers")
    for topic in (
        "t-0123456789.ledger.batches",
        "dcc.t-0123456789.ledger.anchors",
        "t-012345678.ledger.anchors",  # nine digits
        "t-0123456789Xledger.anchors",
        "ledger.anchors",
    ):
        assert not is_mirrored(link, topic), topic


def test_the_regex_is_anchored_and_has_no_comma_for_mm2s_list() -> None:
    regex = topics_regex(_link(topic_prefix="demo."))
    assert regex == (
        r"^(?:demo\.)(?:ledger\.anchors|ledger\.digests|recon\.requests|recon\.answers"
        r"|settle\.documents)$"
    )
    assert "," not in regex


def test_properties_run_one_direction_next_to_the_target_exactly_once() -> None:
    props = mm2_properties(_link(rest_port=9202))
    assert props["clusters"] == "hgc, dcc"
    assert props["hgc.bootstrap.servers"] == HGC and props["dcc.bootstrap.servers"] == DCC
    assert props["hgc->dcc.enabled"] == "true" and props["dcc->hgc.enabled"] == "false"
    assert props["hgc->dcc.topics"] == topics_regex(_link())
    # KIP-618: the worker setting is keyed by the target (MM2 builds the worker config from it)
    assert props["dcc.exactly.once.source.support"] == "enabled"
    assert "hgc.exactly.once.source.support" not in props
    assert props["hgc.consumer.isolation.level"] == "read_committed"
    assert props["dedicated.mode.enable.internal.rest"] == "true"
    assert props["listeners"] == "http://127.0.0.1:9202"
    assert props["hgc->dcc.exactly.once.support"] == "requested"
    assert props["replication.policy.class"] == DEFAULT_REPLICATION_POLICY
    assert props["emit.heartbeats.enabled"] == "false"
    assert props["offset-syncs.topic.location"] == "target"
    assert props["sync.topic.acls.enabled"] == "false"


def test_replication_factor_and_refresh_apply_to_every_topic_mm2_creates() -> None:
    props = mm2_properties(_link(replication_factor=1, refresh_seconds=2))
    factors = {k: v for k, v in props.items() if k.endswith("replication.factor")}
    assert len(factors) == 7 and set(factors.values()) == {"1"}
    assert props["refresh.topics.interval.seconds"] == "2"
    assert set(mm2_properties(_link()).values()) >= {"3", "60"}  # production defaults


def test_every_setting_says_why() -> None:
    settings = mm2_settings(_link())
    assert all(len(s.why) > 10 for s in settings)
    assert len({s.key for s in settings}) == len(settings)


def test_the_rendered_file_doubles_backslashes_as_java_properties_want() -> None:
    text = render_mm2_properties(_link(topic_prefix="demo."), "written by a test")
    assert text.startswith("# written by a test\n")
    line = next(x for x in text.splitlines() if x.startswith("hgc->dcc.topics="))
    assert line == "hgc->dcc.topics=" + topics_regex(_link(topic_prefix="demo.")).replace(
        "\\", "\\\\"
    )
    reason = "# MM2 writes nothing to the partner's cluster, which it may only read"
    assert f"\n{reason}\noffset-syncs.topic.location=target\n" in text


def test_links_for_two_parties_point_both_ways_with_the_target_rest_port() -> None:
    forward, back = links_for(
        {"hgc": HGC, "dcc": DCC},
        rest_ports={"hgc": 9102, "dcc": 9202},
        replication_factor=1,
        refresh_seconds=2,
    )
    assert (forward.source, forward.target, forward.rest_port) == ("hgc", "dcc", 9202)
    assert (back.source, back.target, back.rest_port) == ("dcc", "hgc", 9102)
    assert (back.source_bootstrap, back.target_bootstrap) == (DCC, HGC)
    assert forward.name == "hgc-to-dcc" and back.flow == "dcc->hgc"
    assert back.replication_factor == 1 and back.refresh_seconds == 2


def test_links_for_needs_exactly_two_parties() -> None:
    with pytest.raises(MirrorError, match="two parties: got 3"):
        links_for({"a": HGC, "b": DCC, "c": DCC})


def test_internal_topics_are_named_by_the_source() -> None:
    assert internal_topics("hgc") == (
        "mm2-configs.hgc.internal",
        "mm2-offsets.hgc.internal",
        "mm2-status.hgc.internal",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source": "h.gc"}, "no dot"),
        ({"target": ""}, "want 1-64"),
        ({"target": "hgc"}, "want two clusters"),
        ({"source_bootstrap": ""}, "source bootstrap"),
        ({"target_bootstrap": "a b"}, "target bootstrap"),
        ({"topic_prefix": "demo/"}, "topic prefix"),
        ({"prefix_pattern": "a,b"}, "without commas"),
        ({"prefix_pattern": "("}, "prefix pattern"),
        ({"prefix_pattern": "t-", "topic_prefix": "x."}, "want one of them"),
        ({"rest_port": 0}, "rest port"),
        ({"replication_factor": 0}, "replication_factor 0"),
    ],
)
def test_a_link_mm2_cannot_run_is_refused_saying_why(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(MirrorError, match=re.escape(message)) as caught:
        _link(**overrides)
    assert isinstance(caught.value, StackError)


# --- security of both clusters -------------------------------------------------------------

SOURCE_CLIENT = (
    ("security.protocol", "SASL_SSL"),
    ("ssl.truststore.type", "PEM"),
    ("ssl.truststore.location", "/etc/bilat/partner-ca.pem"),
    ("sasl.mechanism", "SCRAM-SHA-512"),
    (
        "sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="dcc-mm2" password="${dir:/run/secrets:partner}";',
    ),
)
TARGET_CLIENT = (("security.protocol", "SSL"), ("ssl.truststore.location", "/etc/bilat/ca.pem"))


def test_plaintext_links_render_no_security_setting() -> None:
    keys = set(mm2_properties(_link()))
    assert not any(".security." in k or ".ssl." in k or ".sasl." in k for k in keys)
    assert "config.providers" not in keys


def test_each_cluster_gets_its_own_client_settings_and_the_config_provider() -> None:
    props = mm2_properties(_link(source_client=SOURCE_CLIENT, target_client=TARGET_CLIENT))
    assert props["hgc.security.protocol"] == "SASL_SSL"
    assert props["hgc.sasl.jaas.config"].endswith('password="${dir:/run/secrets:partner}";')
    assert props["hgc.ssl.truststore.location"] == "/etc/bilat/partner-ca.pem"
    assert props["dcc.security.protocol"] == "SSL"
    assert props["dcc.ssl.truststore.location"] == "/etc/bilat/ca.pem"
    assert props["config.providers"] == "dir"
    assert props["config.providers.dir.class"].endswith("DirectoryConfigProvider")
    assert "sasl.jaas.config" not in props  # only per cluster, never for both at once


def test_a_link_read_back_from_json_is_the_same_link() -> None:
    import dataclasses
    import json

    link = _link(source_client=SOURCE_CLIENT, target_client=TARGET_CLIENT)
    again = MirrorLink(**json.loads(json.dumps(dataclasses.asdict(link))))
    assert again == link


@pytest.mark.parametrize(
    "pair",
    [("bootstrap.servers", "x:1"), ("group.id", "g"), ("ssl.truststore.location", "a\nb")],
)
def test_client_settings_are_only_security_settings(pair: tuple[str, str]) -> None:
    with pytest.raises(MirrorError, match=r"want security\.protocol"):
        _link(source_client=(pair,))


def test_links_for_hands_each_cluster_its_client_settings() -> None:
    forward, back = links_for(
        {"hgc": HGC, "dcc": DCC}, clients={"hgc": TARGET_CLIENT, "dcc": SOURCE_CLIENT}
    )
    assert (forward.source_client, forward.target_client) == (TARGET_CLIENT, SOURCE_CLIENT)
    assert (back.source_client, back.target_client) == (SOURCE_CLIENT, TARGET_CLIENT)
