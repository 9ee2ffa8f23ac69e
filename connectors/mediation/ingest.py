"""``bilat ingest``: mediation files to the ``usage.cdr`` topic, bad lines to ``usage.dlq``.

Each good line is encoded as a ``UsageRecord`` (Avro) and produced keyed by its usage key
(``source/record_id``), so every record of one call lands on the same partition. Each line that
cannot be expressed as a UsageRecord becomes a ``DeadLetter`` (stage ``parse``) pointing at its
file and line number. A well-formed line that bills nothing (a switch CDR of a call never
answered) is counted as ``not_billable`` and produces nothing: it never reaches rating. The
producer is idempotent with ``acks=all``; the report is only returned after every message is
acknowledged, and counts what the broker refused, so the numbers it prints are what Kafka holds:
``lines == produced + dead_lettered + not_billable + failed``.

Nothing in a file's content makes ingest raise: the formats read lines in bounded chunks and
turn every fault (bytes that are not UTF-8, NULs, overlong lines, bad quoting, impossible times)
into a dead letter with its reasons.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from connectors.mediation.base import FormatOptions, Line
from connectors.mediation.registry import make_format
from streams.contract.codec import Codec
from streams.contract.records import DeadLetter
from streams.core.clock import Clock, SystemClock
from streams.core.errors import BilatError, EncodeError, InvalidRecord
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config

__all__ = ["IngestError", "IngestReport", "KafkaSink", "Sink", "ingest_files"]


@dataclass
class IngestReport:
    """What one ingest run read and what Kafka acknowledged."""

    files: int = 0
    lines: int = 0
    """Non-blank lines read (a CSV header aside; a CSV whose header is refused counts 1)."""
    produced: int = 0
    """UsageRecords acknowledged on ``usage.cdr``."""
    dead_lettered: int = 0
    """Lines acknowledged on ``usage.dlq`` as DeadLetters."""
    not_billable: int = 0
    """Well-formed lines that bill nothing (calls never answered): counted, never produced."""
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


class Sink(Protocol):
    """Where ingest sends messages. ``send`` adds 1 to the report's ``counter`` (``produced``
    or ``dead_lettered``) once the message is stored, or to ``failed`` if it cannot be;
    ``flush`` returns once every message sent is one or the other."""

    def send(self, logical: str, key: bytes | None, value: bytes, counter: str) -> None: ...

    def flush(self) -> None: ...


class KafkaSink:
    """Produces to Kafka and tracks acknowledgements; delivery callbacks update the report."""

    def __init__(self, settings: Settings, report: IngestReport) -> None:
        self.settings = settings
        self.report = report
        self.producer = Producer(
            kafka_config(
                settings,
                {
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 20,
                    "compression.type": "lz4",
                },
            )
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
            except KafkaException as exc:  # refused before queueing (e.g. too large): counted
                self.report.failed += 1
                self.report.errors.append(str(exc))
                break
        self.producer.poll(0)

    def flush(self) -> None:
        remaining = self.producer.flush(60)
        if remaining:
            self.report.failed += remaining
            self.report.errors.append(f"{remaining} messages still queued after 60 s")


def _dead_letter(
    line: Line, origin: str, error: InvalidRecord | EncodeError, now: Clock
) -> DeadLetter:
    problems = list(error.problems) if isinstance(error, InvalidRecord) else [str(error)]
    problems = [_printable(p) for p in problems] or ["no reason given"]
    return DeadLetter(
        original=line.raw.encode("utf-8", "surrogateescape"),
        source_topic=f"file:{origin}",
        source_partition=-1,
        source_offset=line.number,
        stage="parse",
        error_code=error.code,
        error_message=f"parse failed at {origin}:{line.number}: {problems[0]}",
        errors=tuple(problems),
        failed_at=now.now(),
    )


def _printable(text: str) -> str:
    """``text`` as valid UTF-8: a byte that is not UTF-8 (read with ``surrogateescape``) becomes
    an escape such as ``\\udcff``, so Avro can always write the message."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def ingest_files(
    paths: Iterable[Path],
    settings: Settings,
    fmt: str = "csv",
    on_progress: Callable[[int], Any] | None = None,
    clock: Clock | None = None,
    options: FormatOptions | None = None,
    sink: Callable[[Settings, IngestReport], Sink] = KafkaSink,
) -> IngestReport:
    """Ingest ``paths`` in format ``fmt``; returns the report once Kafka acknowledged all.

    ``options`` say what the files do not carry (see :class:`FormatOptions`; default: none).
    ``on_progress(n)`` is called with the bytes consumed since the last call (for a progress
    bar). ``sink`` makes where messages go (tests pass one that keeps them). Nothing in the
    files' content raises: every line is produced, dead-lettered or counted as not billable.
    Raises :class:`IngestError` if the broker refused any message, and
    :class:`~connectors.mediation.base.FormatOptionsError` before reading anything if the
    format is unknown or cannot work with ``options``.
    """
    reader = make_format(fmt, options or FormatOptions())
    clock = clock or SystemClock()
    report = IngestReport()
    codec = make_codec(settings.schema_registry)
    out = sink(settings, report)
    started = time.monotonic()
    for path in paths:
        report.files += 1
        origin = _printable(str(path))  # a file name that is not UTF-8 still names the file
        # newline=None: "\r\n", "\n" and a lone "\r" all end a line (numbered() relies on it)
        with path.open(encoding="utf-8", errors="surrogateescape") as stream:
            for line in reader.lines(stream, origin):
                report.lines += 1
                if on_progress is not None:
                    on_progress(len(line.raw.encode("utf-8", "surrogateescape")) + 1)
                if line.not_billable is not None:
                    report.not_billable += 1
                else:
                    _ingest_line(out, codec, line, origin, clock)
    out.flush()
    report.seconds = time.monotonic() - started
    if report.failed:
        raise IngestError(report)
    return report


def _ingest_line(sink: Sink, codec: Codec, line: Line, origin: str, clock: Clock) -> None:
    error: InvalidRecord | EncodeError | None = line.error
    if error is None and line.fields is not None:
        try:
            value = codec.encode("usage_record", line.fields)
        except EncodeError as exc:
            error = exc
        else:
            key = f"{line.fields['source']}/{line.fields['record_id']}".encode()
            sink.send("usage.cdr", key, value, "produced")
            return
    if error is None:  # a format broke the Line contract: a bug, not bad input
        raise AssertionError(f"{origin}:{line.number}: a Line with neither fields nor error")
    letter = _dead_letter(line, origin, error, clock)
    sink.send("usage.dlq", None, codec.encode("dead_letter", letter.to_avro()), "dead_lettered")
