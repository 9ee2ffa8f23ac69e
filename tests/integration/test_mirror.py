"""MirrorMaker 2 between two real clusters, both ways, exactly once (the ``mirrored_pair``).

Records are produced in Kafka transactions, as the batcher writes the ledger; copies are read
``read_committed``. Each test has its own topic prefix, which the session's mirrors match.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.devstack.localstack import LocalStack
from tests.mirror_pair import MirroredPair

pytestmark = pytest.mark.integration


def _create(bootstrap: str, *topics: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result()


def _produce(bootstrap: str, topic: str, values: list[bytes], *, abort: bool = False) -> None:
    """Produce ``values`` to ``topic`` in one transaction, committed (or aborted)."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"mirror-test-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(10)
    producer.begin_transaction()
    for value in values:
        producer.produce(topic, value, key=value[:8])
    producer.flush(10)
    if abort:
        producer.abort_transaction(10)
    else:
        producer.commit_transaction(10)


def _high_watermark(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "mirror-test-watermark"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        consumer.close()


def _values(count: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i:04d}-{uuid.uuid4().hex}".encode() for i in range(count)]


def test_committed_records_are_copied_and_aborted_ones_are_not(
    mirrored_pair: MirroredPair, topic_prefix: str
) -> None:
    pair = mirrored_pair
    anchors, batches = f"{topic_prefix}ledger.anchors", f"{topic_prefix}ledger.batches"
    _create(pair.hgc, anchors, batches)
    committed, aborted = _values(20, "anchor"), _values(5, "aborted")
    _produce(pair.hgc, anchors, committed[:10])
    _produce(pair.hgc, anchors, aborted, abort=True)
    began = time.monotonic()
    _produce(pair.hgc, anchors, committed[10:])
    _produce(pair.hgc, batches, _values(3, "leaf"))

    copy = pair.copy_of("hgc", anchors)
    assert copy == f"hgc.{topic_prefix}ledger.anchors"
    records = pair.wait_for_records("dcc", copy, 20)
    print(f"20 records copied hgc -> dcc in {time.monotonic() - began:.1f} s")
    assert [r.value for r in records] == committed  # in order, once each, none aborted
    assert [r.key for r in records] == [v[:8] for v in committed]
    # The copy is written in transactions too: a commit marker follows the last record.
    assert _high_watermark(pair.dcc, copy) > records[-1].offset + 1
    on_dcc = AdminClient({"bootstrap.servers": pair.dcc}).list_topics(timeout=10).topics
    assert pair.copy_of("hgc", batches) not in on_dcc  # the leaves never leave their party
    assert f"dcc.{copy}" not in on_dcc and f"hgc.{copy}" not in on_dcc


def test_the_reverse_direction_copies_the_partners_exchange(
    mirrored_pair: MirroredPair, topic_prefix: str
) -> None:
    pair = mirrored_pair
    digests, answers = f"{topic_prefix}ledger.digests", f"{topic_prefix}recon.answers"
    _create(pair.dcc, digests, answers)
    _produce(pair.dcc, digests, values := _values(4, "digest"))
    _produce(pair.dcc, answers, answer := _values(1, "answer"))
    assert [r.value for r in pair.wait_for_records("hgc", f"dcc.{digests}", 4)] == values
    assert [r.value for r in pair.wait_for_records("hgc", f"dcc.{answers}", 1)] == answer
    on_dcc = AdminClient({"bootstrap.servers": pair.dcc}).list_topics(timeout=10).topics
    assert f"hgc.dcc.{digests}" not in on_dcc  # the copy is not mirrored back


def test_a_stopped_mirror_resumes_where_it_stopped_with_every_record_once(
    mirrored_pair: MirroredPair, topic_prefix: str, local_stack: LocalStack
) -> None:
    pair = mirrored_pair
    requests = f"{topic_prefix}recon.requests"
    _create(pair.hgc, requests)
    before, during, after = _values(10, "before"), _values(15, "during"), _values(5, "after")
    _produce(pair.hgc, requests, before)
    copy = pair.copy_of("hgc", requests)
    assert len(pair.wait_for_records("dcc", copy, 10)) == 10

    link = pair.link_into("dcc")
    assert local_stack.mirror_down(link.name)
    try:
        _produce(pair.hgc, requests, during)
        _produce(pair.hgc, requests, _values(3, "aborted"), abort=True)
    finally:
        began = time.monotonic()
        handle = local_stack.mirror_up(link)
    print(f"mm2 {link.name} restarted in {time.monotonic() - began:.1f} s")
    assert handle.started
    _produce(pair.hgc, requests, after)

    values = [r.value for r in pair.wait_for_records("dcc", copy, 30)]
    assert len(values) == len(set(values)) == 30, "a record was copied twice"
    assert values == before + during + after


def test_status_names_each_mirrored_topic_with_its_copy(
    mirrored_pair: MirroredPair, topic_prefix: str, local_stack: LocalStack
) -> None:
    pair = mirrored_pair
    anchors = f"{topic_prefix}ledger.anchors"
    _create(pair.dcc, anchors)
    _produce(pair.dcc, anchors, _values(2, "anchor"))
    pair.wait_for_records("hgc", pair.copy_of("dcc", anchors), 2)
    status = local_stack.mirror_status(pair.link_into("hgc"))
    assert status.running and status.source is not None
    assert status.source.connector == "RUNNING"
    (lag,) = [lag for lag in status.topics if lag.source_topic == anchors]
    assert (lag.target_topic, lag.missing) == (f"dcc.{anchors}", False)
    assert lag.source_end >= 2 and lag.target_end is not None and lag.target_end >= 2
