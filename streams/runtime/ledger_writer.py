"""The ledger's transactional writes behind a small protocol, and the Kafka implementation.

The batcher anchors each batch in ONE transaction: the anchor entry, its digest and its leaves,
together with the input offsets those records were read up to. :class:`LedgerWriter` is what the
loop needs of that transaction, four calls in this order; :class:`KafkaLedgerWriter` is the
transactional producer behind it in production, and a test passes a fake that records them.

One transactional id per party and agreement (:func:`transactional_id`): opening a writer
fences every earlier writer of the same chain (its next commit fails), which is how ``bilat
ledger init``, ``bilat ledger rotate-key`` and a second batcher take over from a running one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from streams.core.errors import StackError
from streams.runtime.config import Settings
from streams.runtime.security import kafka_config

__all__ = ["KafkaLedgerWriter", "LedgerWriter", "Outgoing", "transactional_id"]

Outgoing = tuple[str, bytes, bytes]
"""One message of a transaction: full topic name, key, value."""
TIMEOUT = 30.0
"""Seconds each transactional call may take before it fails."""


def transactional_id(settings: Settings, agreement_id: str) -> str:
    """The one transactional id of a party's chain writer."""
    return f"bilat-ledger-{settings.app_id}-{agreement_id}"


class LedgerWriter(Protocol):
    """One transaction at a time: :meth:`begin`, :meth:`produce`, :meth:`send_offsets`
    (optional), :meth:`commit`. Until :meth:`commit` returns, nothing of the transaction is
    visible to a ``read_committed`` reader, and a crash or a failed call leaves nothing visible.

    Every method raises :class:`~streams.core.errors.StackError` when the broker refuses
    (another writer of the chain fenced this one, a timeout); the transaction is then lost.
    """

    def begin(self) -> None:
        """Open a transaction."""

    def produce(self, messages: Sequence[Outgoing]) -> None:
        """Write ``messages`` in the open transaction; when it returns the broker holds them
        (not yet visible)."""

    def send_offsets(self, offsets: Mapping[int, int]) -> None:
        """Commit, with the transaction, the input consumer group's offsets: per partition of
        the input topic, the next offset to read."""

    def commit(self) -> None:
        """Make the transaction visible, all of it or nothing."""


class KafkaLedgerWriter:
    """:class:`LedgerWriter` over a Kafka transactional producer.

    ``consumer`` is the one reading ``input_topic``: its group's offsets are what
    :meth:`send_offsets` commits. A writer that only appends entries (``bilat ledger init``,
    ``rotate-key``) has neither.
    """

    def __init__(
        self, producer: Producer, consumer: Consumer | None = None, input_topic: str | None = None
    ) -> None:
        self.producer = producer
        self.consumer = consumer
        self.input_topic = input_topic

    @classmethod
    def open(
        cls,
        settings: Settings,
        agreement_id: str,
        consumer: Consumer | None = None,
        input_topic: str | None = None,
    ) -> KafkaLedgerWriter:
        """Connect as the chain writer of ``settings.party`` under ``agreement_id``, fencing
        any earlier writer of that chain (network I/O: this is where it happens)."""
        producer = Producer(
            kafka_config(
                settings,
                {
                    "transactional.id": transactional_id(settings, agreement_id),
                    "enable.idempotence": True,
                    "transaction.timeout.ms": 60_000,
                },
            )
        )
        try:
            producer.init_transactions(TIMEOUT)  # fences any earlier writer of this chain
        except KafkaException as exc:
            raise StackError(f"starting the ledger writer on {settings.kafka}: {exc}") from exc
        return cls(producer, consumer, input_topic)

    def begin(self) -> None:
        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            raise StackError(f"beginning a transaction: {exc}") from exc

    def produce(self, messages: Sequence[Outgoing]) -> None:
        try:
            for topic, key, value in messages:
                self.producer.produce(topic, key=key, value=value)
            # On the broker before anything else happens; a message that cannot be delivered
            # fails the commit, which flushes again.
            self.producer.flush(TIMEOUT)
        except KafkaException as exc:
            raise StackError(f"producing in a transaction: {exc}") from exc

    def send_offsets(self, offsets: Mapping[int, int]) -> None:
        if self.consumer is None or self.input_topic is None:
            raise ValueError("this ledger writer has no input consumer: no offsets to send")
        positions = [
            TopicPartition(self.input_topic, partition, offset)
            for partition, offset in sorted(offsets.items())
        ]
        try:
            self.producer.send_offsets_to_transaction(
                positions, self.consumer.consumer_group_metadata(), TIMEOUT
            )
        except KafkaException as exc:
            raise StackError(f"sending input offsets to the transaction: {exc}") from exc

    def commit(self) -> None:
        try:
            self.producer.commit_transaction(TIMEOUT)
        except KafkaException as exc:
            raise StackError(f"committing a transaction: {exc}") from exc
