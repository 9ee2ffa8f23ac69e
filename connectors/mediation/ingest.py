"""``bilat ingest``: mediation files to the ``usage.cdr`` topic, bad lines to ``usage.dlq``.

Each good line is encoded as a ``UsageRecord`` (Avro) and produced keyed by its usage key
(``source/record_id``), so every record of one call lands on the same partition. Each line that
cannot be expressed as a UsageRecord becomes a ``DeadLetter`` (stage ``parse``) pointing at its
file and line number. The producer is idempotent with ``acks=all``; the report is only returned
after every message is acknowledged, and counts what the broker refused, so the numbers it
prints are what Kafka holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from connectors.mediation.base import Line
from connectors.mediation.options import FormatOptions, make_format
from streams.clock import Clock, SystemClock
from streams.codec import Codec, make_codec
from streams.config import Settings
from streams.errors import BilatError, EncodeError, InvalidRecord
from streams.records import DeadLetter

__all__ = ["IngestReport", "ingest_files"]


@dataclass
class IngestReport:
    """What one ingest run read and what Kafka acknowledged."""

    files: int = 0
    lines: int = 0
    produced: int = 0
    """UsageRecords acknowledged on ``usage.cdr``."""
    dead_lettered: int = 0
    """Lines acknowledged on ``usage.dlq`` as DeadLetters."""
    failed: int = 0
    """Messages the broker did not acknowledge (the run should be repeated; see README)."""
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class IngestError(BilatError):
    """Kafka refused messages of an ingest run; ``report`` says how many."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        first = "; ".join(report.errors[:3])
        super().__init__(
            f"{report.failed} messages were not acknowledged by Kafka ({first}); the file can "
            "be ingested again safely: duplicates are recognised by their usage key"
        )


class _Sink:
    """Produces and tracks acknowledgements; delivery callbacks update the report."""

    def __init__(self, settings: Settings, codec: Codec, report: IngestReport) -> None:
        self.settings = settings
        self.codec = codec
        self.report = report
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
            }
        )

    def _delivered(self, counter: str) -> Callable[[KafkaError | None, Message], None]:
        def callback(error: KafkaError | None, _msg: Message) -> None:
            if error is None:
                setattr(self.report, counter, getattr(self.report, counter) + 1)
            else:
                self.report.failed += 1
                self.report.errors.append(str(error))

        return callback

    def send(self, logical: str, key: bytes | None, value: bytes, counter: str) -> None:
        while True:
            try:
                self.producer.produce(
                    self.settings.topic(logical),
                    value=value,
                    key=key,
                    on_delivery=self._delivered(counter),
                )
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self.producer.poll(0.1)
        self.producer.poll(0)

    def flush(self) -> None:
        remaining = self.producer.flush(60)
        if remaining:
            self.report.failed += remaining
            self.report.errors.append(f"{remaining} messages still queued after 60 s")


def _dead_letter(
    line: Line, path: Path, error: InvalidRecord | EncodeError, now: Clock
) -> DeadLetter:
    problems = list(error.problems) if isinstance(error, InvalidRecord) else [str(error)]
    code = error.code
    return DeadLetter(
        original=line.raw.encode("utf-8", "surrogateescape"),
        source_topic=f"file:{path}",
        source_partition=-1,
        source_offset=line.number,
        stage="parse",
        error_code=code,
        error_message=f"parse failed at {path}:{line.number}: {problems[0]}",
        errors=tuple(problems),
        failed_at=now.now(),
    )


def ingest_files(
    paths: Iterable[Path],
    settings: Settings,
    fmt: str = "csv",
    on_progress: Callable[[int], Any] | None = None,
    clock: Clock | None = None,
    options: FormatOptions | None = None,
) -> IngestReport:
    """Ingest ``paths`` in format ``fmt``; returns the report once Kafka acknowledged all.

    ``options`` say what the files do not carry (see :class:`FormatOptions`; default: none).
    ``on_progress(n)`` is called with the bytes consumed since the last call (for a progress
    bar). Raises :class:`IngestError` if the broker refused any message, and
    :class:`~connectors.mediation.options.FormatOptionsError` before reading anything if the
    format is unknown or cannot work with ``options``.
    """
    reader = make_format(fmt, options or FormatOptions())
    clock = clock or SystemClock()
    report = IngestReport()
    sink = _Sink(settings, make_codec(settings.schema_registry), report)
    started = time.monotonic()
    for path in paths:
        report.files += 1
        with path.open(encoding="utf-8", errors="surrogateescape", newline="") as stream:
            for line in reader.lines(stream, str(path)):
                report.lines += 1
                if on_progress is not None:
                    on_progress(len(line.raw.encode("utf-8", "surrogateescape")) + 1)
                _ingest_line(sink, line, path, clock)
    sink.flush()
    report.seconds = time.monotonic() - started
    if report.failed:
        raise IngestError(report)
    return report


def _ingest_line(sink: _Sink, line: Line, path: Path, clock: Clock) -> None:
    error: InvalidRecord | EncodeError | None = line.error
    if error is None and line.fields is not None:
        try:
            value = sink.codec.encode("usage_record", line.fields)
        except EncodeError as exc:
            error = exc
        else:
            key = f"{line.fields['source']}/{line.fields['record_id']}".encode()
            sink.send("usage.cdr", key, value, "produced")
            return
    assert error is not None
    letter = _dead_letter(line, path, error, clock)
    sink.send(
        "usage.dlq", None, sink.codec.encode("dead_letter", letter.to_avro()), "dead_lettered"
    )
