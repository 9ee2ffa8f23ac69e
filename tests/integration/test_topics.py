"""Topics Bilat creates: the ledger and reconciliation topics never expire (a chain must never
lose entries to retention), MirrorMaker 2's copies neither; the others keep the broker's
defaults."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ConfigResource

from streams.reconcile.mirroring import mirrored_topic
from streams.runtime.config import Settings
from streams.runtime.topics import ensure_topics
from tests.mirror_pair import MirroredPair


def retention(bootstrap: str, topic: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    return str(configs["retention.ms"].value)


def test_ledger_and_recon_topics_are_kept_forever(settings: Settings) -> None:
    ensure_topics(settings)
    for name in ("ledger.anchors", "ledger.digests", "ledger.batches", "recon.alerts"):
        assert retention(settings.kafka, settings.topic(name)) == "-1", name
    assert retention(settings.kafka, settings.topic("usage.cdr")) != "-1"


def test_the_partners_copy_is_kept_forever_too(
    mirrored_pair: MirroredPair, settings: Settings, topic_prefix: str
) -> None:
    hgc = Settings.from_env(
        {}, party="hgc", kafka=mirrored_pair.bootstrap("hgc"), topic_prefix=topic_prefix
    )
    ensure_topics(hgc, ["ledger.anchors"])
    copy = mirrored_topic("hgc", hgc.topic("ledger.anchors"))
    mirrored_pair.wait_for_records("dcc", copy, 0)
    assert retention(mirrored_pair.bootstrap("dcc"), copy) == "-1"
