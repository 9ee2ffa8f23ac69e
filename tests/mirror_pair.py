"""Two Kafka clusters with MirrorMaker 2 both ways: what the ``mirrored_pair`` fixture returns.

Tests import :class:`MirroredPair` for its type; ``tests/conftest.py`` builds one per session.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.reconcile.mirroring import MirrorLink, mirrored_topic

__all__ = ["TEST_PREFIX_PATTERN", "MirroredPair", "Record"]

TEST_PREFIX_PATTERN = r"t-[0-9a-f]{10}\."
"""Every prefix the ``topic_prefix`` fixture makes: the session's mirrors copy all of them."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from a copy."""

    key: bytes | None
    value: bytes | None
    offset: int


@dataclass(frozen=True, slots=True)
class MirroredPair:
    """Two clusters, aliases ``hgc`` and ``dcc`` (the parties' ids), mirrored both ways for the
    whole test session.

    Contract for tests:

    * ``bootstrap("hgc")`` is the session broker of ``kafka_bootstrap``; ``bootstrap("dcc")`` a
      second cluster (``BILAT_TEST_KAFKA_B``, else started by the launcher on 25192).
    * Every topic of :data:`~streams.reconcile.mirroring.MIRRORED` under a test's
      ``topic_prefix`` (``t-<10 hex>.``), created on either cluster, is copied to the other as
      ``copy_of(source, topic)`` = ``<source>.<prefix><topic>``, in transactions: read copies
      ``read_committed`` (:meth:`wait_for_records` does). MM2 looks for new topics every 2 s,
      so a copy appears within seconds of its topic; poll, never sleep.
    * Nothing else is copied (not ``ledger.batches``, not the copies themselves).
    * Do not stop the mirrors; a test that must (restart tests) uses :attr:`links` with the
      launcher's ``mirror_down``/``mirror_up`` and leaves them running.
    """

    hgc: str
    dcc: str
    links: tuple[MirrorLink, MirrorLink]
    """(hgc -> dcc, dcc -> hgc); the first runs next to dcc, the second next to hgc."""

    @property
    def aliases(self) -> tuple[str, str]:
        return ("hgc", "dcc")

    def bootstrap(self, alias: str) -> str:
        """The bootstrap servers of the cluster ``alias`` (``hgc`` or ``dcc``)."""
        return {"hgc": self.hgc, "dcc": self.dcc}[alias]

    def partner(self, alias: str) -> str:
        return "dcc" if alias == "hgc" else "hgc"

    def link_into(self, target: str) -> MirrorLink:
        """The link that writes copies to the cluster ``target``."""
        return next(link for link in self.links if link.target == target)

    def copy_of(self, source: str, topic: str) -> str:
        """The name, on the partner's cluster, of the copy of ``topic`` (full name) of
        cluster ``source``."""
        return mirrored_topic(source, topic)

    def wait_for_records(
        self, alias: str, topic: str, count: int, timeout: float = 60.0
    ) -> list[Record]:
        """Read ``topic`` on cluster ``alias`` from the start, ``read_committed``, until it has
        ``count`` records; return them (all of them, if more arrived). Waits for the topic to
        exist. AssertionError when fewer arrive within ``timeout`` seconds."""
        bootstrap = self.bootstrap(alias)
        deadline = time.monotonic() + timeout
        partitions = _await_topic(bootstrap, topic, deadline)
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"mirror-test-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "log_level": 0,
            }
        )
        records: list[Record] = []
        try:
            consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
            while time.monotonic() < deadline:
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    records.append(Record(message.key(), message.value(), message.offset() or 0))
                    continue
                if len(records) >= count and message is None:
                    return records
        finally:
            consumer.close()
        raise AssertionError(
            f"{topic} on {alias} ({bootstrap}): got {len(records)} records within "
            f"{timeout:.0f} s, want {count}"
        )


def _await_topic(bootstrap: str, topic: str, deadline: float) -> int:
    """Partition count of ``topic`` once it exists; AssertionError at the deadline."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    while True:
        found = admin.list_topics(timeout=5).topics.get(topic)
        if found is not None and found.partitions:
            return len(found.partitions)
        if time.monotonic() >= deadline:
            raise AssertionError(f"{topic} does not exist on {bootstrap}: not mirrored?")
        time.sleep(0.2)
