"""One usage message in, one outcome out: decode → validate → rate, with every failure as data.

This is the whole per-record logic of the rating worker, free of Kafka and Faust, so it is
tested exhaustively in unit tests; :mod:`streams.worker` only feeds it messages and writes
what it returns. A bad message never raises out of :meth:`UsagePipeline.process`: it becomes a
:class:`~streams.records.DeadLetter` carrying the original bytes, where they came from, the
stage that refused them and every reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.clock import Clock
from streams.codec import Codec
from streams.errors import CodecError, InvalidRecord, RatingError
from streams.rating import Rater
from streams.records import DeadLetter, RatedUsage
from streams.validation import parse_usage

__all__ = ["Origin", "Outcome", "UsagePipeline"]

Outcome = RatedUsage | DeadLetter


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read: what a dead letter must point back to."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None


class UsagePipeline:
    """Decodes, validates and rates usage messages under one agreement.

    The pipeline is deterministic for a given clock reading: the same bytes always give the
    same outcome, which is what lets a replay after a crash produce identical records.
    """

    def __init__(self, codec: Codec, rater: Rater, clock: Clock) -> None:
        self.codec = codec
        self.rater = rater
        self.clock = clock

    def process(self, value: bytes, origin: Origin) -> Outcome:
        """The outcome of one ``usage.cdr`` message; never raises for bad input."""
        now = self.clock.now()
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

    def encode(self, outcome: Outcome) -> tuple[str, bytes | None, bytes]:
        """``(logical topic, key, value)`` to publish an outcome with."""
        if isinstance(outcome, RatedUsage):
            return (
                "usage.rated",
                outcome.key.encode(),
                self.codec.encode("rated_usage", outcome.to_avro()),
            )
        return "usage.dlq", outcome.key, self.codec.encode("dead_letter", outcome.to_avro())

    def dead_letter(
        self, value: bytes, origin: Origin, stage: str, code: str, errors: list[str]
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
