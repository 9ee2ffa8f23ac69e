"""One usage message in, one outcome out: decode → validate → rate, with every failure as data.

This is the whole per-record logic of the rating worker, free of Kafka and Faust, so it is
tested exhaustively in unit tests; :mod:`streams.runtime.worker` only feeds it messages and writes
what it returns. A bad message never raises out of :meth:`UsagePipeline.process`: it becomes a
:class:`~streams.contract.records.DeadLetter` carrying the original bytes, where they came from, the
stage that refused them and every reason.

"Never raises" is the contract the worker's delivery rests on: a message that made the
pipeline raise would stop the whole batch around it. So besides the expected refusals
(``decode``, ``validate``, ``rate``), a rated record that cannot be encoded becomes an
``encode`` dead letter, and any *unexpected* exception on one message (a bug of ours that
this message triggers) becomes an ``internal`` dead letter naming the exception's type and
message, logged loudly: the record is kept for replay once the bug is fixed, and the rest of
the stream goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streams.contract.codec import Codec
from streams.contract.records import DeadLetter, RatedUsage
from streams.core.clock import Clock
from streams.core.errors import CodecError, InvalidRecord, RatingError
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage

__all__ = ["MAX_OUTPUT_BYTES", "Origin", "Outcome", "Output", "UsagePipeline"]

log = logging.getLogger("bilat.pipeline")

Outcome = RatedUsage | DeadLetter

MAX_OUTPUT_BYTES = 512 * 1024
"""A rated record encoding to more than this is refused (``encode:too-large``): far below
Kafka's 1 MiB default message size, so a send can never fail for a record's size."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read: what a dead letter must point back to."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """An outcome ready to publish: the logical topic, the message key and the encoded value."""

    outcome: Outcome
    topic: str
    key: bytes | None
    value: bytes


class UsagePipeline:
    """Decodes, validates and rates usage messages under one agreement.

    The pipeline is deterministic for a given clock reading: the same bytes always give the
    same outcome, which is what lets a replay after a crash produce identical records.
    """

    def __init__(self, codec: Codec, rater: Rater, clock: Clock) -> None:
        self.codec = codec
        self.rater = rater
        self.clock = clock

    def process(self, value: bytes | None, origin: Origin) -> Outcome:
        """The outcome of one ``usage.cdr`` message; never raises for any ``value``."""
        try:
            return self._process(value, origin)
        except Exception as exc:  # the contract above: one message never stops the stream
            log.exception(
                "internal error on %s/%s/%s", origin.topic, origin.partition, origin.offset
            )
            return self.dead_letter(
                value, origin, "internal", "internal-error", [f"{type(exc).__name__}: {exc}"]
            )

    def _process(self, value: bytes | None, origin: Origin) -> Outcome:
        now = self.clock.now()
        if value is None:
            return self.dead_letter(
                value,
                origin,
                "decode",
                "no-value",
                ["got a message without a value (a tombstone), want an Avro usage_record"],
            )
        try:
            fields = self.codec.decode("usage_record", value)
        except CodecError as exc:
            return self.dead_letter(value, origin, "decode", exc.code, [str(exc)])
        try:
            usage = parse_usage(fields, now=now)
        except InvalidRecord as exc:
            return self.dead_letter(value, origin, "validate", exc.code, list(exc.problems))
        try:
            return self.rater.rate(usage, rated_at=now)
        except RatingError as exc:
            return self.dead_letter(value, origin, "rate", exc.code, [str(exc)])

    def handle(self, value: bytes | None, origin: Origin) -> Output:
        """:meth:`process` and :meth:`encode` in one: what to publish for one message.

        Never raises: a rated record that cannot be encoded, or encodes to more than
        :data:`MAX_OUTPUT_BYTES`, is published as an ``encode`` dead letter instead.
        """
        outcome = self.process(value, origin)
        if isinstance(outcome, DeadLetter):
            return self.encode(outcome)
        try:
            output = self.encode(outcome)
        except CodecError as exc:
            return self.encode(self.dead_letter(value, origin, "encode", exc.code, [str(exc)]))
        except Exception as exc:  # as in process(): never let one message stop the stream
            log.exception("internal error encoding %s", outcome.key)
            problem = f"{type(exc).__name__}: {exc}"
            return self.encode(
                self.dead_letter(value, origin, "internal", "internal-error", [problem])
            )
        if len(output.value) > MAX_OUTPUT_BYTES:
            problem = (
                f"rated record encodes to {len(output.value):,} bytes, want <= {MAX_OUTPUT_BYTES:,}"
            )
            return self.encode(self.dead_letter(value, origin, "encode", "too-large", [problem]))
        return output

    def encode(self, outcome: Outcome) -> Output:
        """The message to publish an outcome with."""
        if isinstance(outcome, RatedUsage):
            value = self.codec.encode_rated(outcome)
            return Output(outcome, "usage.rated", outcome.key.encode(), value)
        return Output(
            outcome, "usage.dlq", outcome.key, self.codec.encode("dead_letter", outcome.to_avro())
        )

    def dead_letter(
        self, value: bytes | None, origin: Origin, stage: str, code: str, errors: list[str]
    ) -> DeadLetter:
        """A dead letter for ``value`` read at ``origin``, refused at ``stage`` for ``errors``."""
        return DeadLetter(
            original=value,
            key=origin.key,
            source_topic=origin.topic,
            source_partition=origin.partition,
            source_offset=origin.offset,
            stage=stage,
            error_code=code,
            error_message=f"{stage} failed: {errors[0]}"
            + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""),
            errors=tuple(errors),
            failed_at=self.clock.now(),
        )
