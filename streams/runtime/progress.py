"""How far a consumer group has come on a topic: end offsets and committed offsets.

Used by ``bilat worker --until-caught-up``: a batch job is done when its group has committed
every message that was on the topic when it started.
"""

from __future__ import annotations

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.runtime.config import Settings
from streams.runtime.security import kafka_config

__all__ = ["committed_up_to", "end_offsets"]

_TIMEOUT = 10.0


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The end (high watermark) offset of every partition of ``topic`` now."""
    admin = AdminClient(kafka_config(settings))
    meta = admin.list_topics(topic, timeout=_TIMEOUT).topics[topic]
    consumer = Consumer(kafka_config(settings, {"group.id": "bilat-watermarks"}))
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), _TIMEOUT)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def committed_up_to(settings: Settings, group: str, topic: str, targets: dict[int, int]) -> bool:
    """Whether ``group`` has committed at least ``targets[p]`` on every partition ``p``.

    A partition whose target is 0 (empty at start) counts as done without a commit.
    """
    admin = AdminClient(kafka_config(settings))
    wanted = [TopicPartition(topic, p) for p, end in targets.items() if end > 0]
    if not wanted:
        return True
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, wanted)])
    listed = futures[group].result(timeout=_TIMEOUT)
    committed = {tp.partition: tp.offset for tp in listed.topic_partitions}
    return all(committed.get(p, -1) >= end for p, end in targets.items() if end > 0)
