"""The records that flow through one party's pipeline, as frozen typed values.

Each record maps one-to-one onto its Avro schema in ``schemas/`` (``to_avro`` / ``from_avro``);
the Avro field names are the contract, these classes are how the core handles them. Money and
quantities are :class:`~decimal.Decimal` (carried as decimal strings on the wire), times are
timezone-aware UTC datetimes (epoch milliseconds on the wire).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streams.core.clock import from_ms, to_ms

__all__ = [
    "MAX_ERRORS",
    "MAX_ERROR_CHARS",
    "MAX_KEY_BYTES",
    "MAX_ORIGINAL_BYTES",
    "DeadLetter",
    "RatedUsage",
    "UsageRecord",
    "ms_of",
    "totals_by_currency",
]


def ms_of(value: Any) -> int:
    """Epoch ms from either an int (raw Avro) or an aware datetime (fastavro's logical type)."""
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"got {value!r} ({type(value).__name__}), want epoch ms or aware datetime")


def totals_by_currency(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Sum of ``(currency, amount)`` pairs per currency (money is never summed across them)."""
    totals: dict[str, Decimal] = {}
    for currency, amount in amounts:
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return totals


def _check_decimal(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"field {name!r}: got {value!r}, want a finite Decimal")


def _check_aware(name: str, value: datetime) -> None:
    if value.tzinfo is not UTC and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"field {name!r}: got naive {value.isoformat()}, want UTC-aware")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One CDR/UDR as mediation reported it; ``(source, record_id)`` is its identity."""

    source: str
    """Mediation source id, e.g. ``hgc-msc-01``."""
    record_id: str
    """Unique within ``source``; with it, the dedup key."""
    agreement_id: str
    """The bilateral agreement this usage is settled under."""
    partner: str
    """The partner party the usage belongs to."""
    product: str
    """``voice`` | ``sms`` | ``data``."""
    start: datetime
    """Event time, UTC."""
    quantity: Decimal
    """Seconds, messages or data volume, in ``unit``."""
    unit: str
    """``second`` | ``message`` | ``byte`` | ``kilobyte`` | ``megabyte`` | ``gigabyte``."""
    direction: str
    """``outbound`` | ``inbound`` as seen by the reporting party."""
    product_id: str | None = None
    a_number: str | None = None
    b_number: str | None = None
    raw_ref: str | None = None

    def __post_init__(self) -> None:
        _check_decimal("quantity", self.quantity)
        _check_aware("start", self.start)

    @property
    def key(self) -> str:
        """The usage key shared by both parties: ``source/record_id``."""
        return f"{self.source}/{self.record_id}"

    def to_avro(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "record_id": self.record_id,
            "agreement_id": self.agreement_id,
            "partner": self.partner,
            "product": self.product,
            "product_id": self.product_id,
            "a_number": self.a_number,
            "b_number": self.b_number,
            "start_ms": to_ms(self.start),
            "quantity": str(self.quantity),
            "unit": self.unit,
            "direction": self.direction,
            "raw_ref": self.raw_ref,
        }


@dataclass(frozen=True, slots=True)
class RatedUsage:
    """A usage record priced under one agreement version; the unit of the Merkle batch."""

    source: str
    record_id: str
    agreement_id: str
    agreement_version: str
    rate_id: str
    """The tariff that priced it."""
    product: str
    start: datetime
    quantity: Decimal
    unit: str
    billed_quantity: Decimal
    """Quantity after rating increments, in ``billed_unit``."""
    billed_unit: str
    amount: Decimal
    """Rounded as the agreement says; never negative."""
    currency: str
    direction: str
    window_start: datetime
    window_end: datetime
    rated_at: datetime
    product_id: str | None = None
    leaf_hash: bytes | None = None
    supersedes: str | None = None
    """The run this record replaces: ``live`` or an earlier ``run_id``; None when live."""
    run_id: str | None = None
    """The re-rating run that produced it; None for live rating."""
    correlation_key: str | None = None
    """``<A>><B>|<start_ms>`` when the agreement correlates by numbers
    (:mod:`streams.reconcile.correlation`): the record's ledger key; None otherwise."""

    def __post_init__(self) -> None:
        # On the hot path (one per rated record): one cheap test per field, details on failure.
        if not (
            self.quantity.is_finite() and self.billed_quantity.is_finite() and self.amount >= 0
        ):
            for name in ("quantity", "billed_quantity", "amount"):
                _check_decimal(name, getattr(self, name))
            raise ValueError(f"field 'amount': got {self.amount}, want >= 0")
        if None in (
            self.start.tzinfo,
            self.window_start.tzinfo,
            self.window_end.tzinfo,
            self.rated_at.tzinfo,
        ):
            for name in ("start", "window_start", "window_end", "rated_at"):
                _check_aware(name, getattr(self, name))

    @property
    def key(self) -> str:
        """The usage key ``source/record_id``: the record's identity in this party's pipeline."""
        return f"{self.source}/{self.record_id}"

    @property
    def ledger_key(self) -> str:
        """The record's key in the ledger, which both parties share: the correlation key when
        the agreement correlates by numbers, else the usage key."""
        return self.correlation_key or self.key

    def to_avro(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "record_id": self.record_id,
            "agreement_id": self.agreement_id,
            "agreement_version": self.agreement_version,
            "rate_id": self.rate_id,
            "product": self.product,
            "product_id": self.product_id,
            "start_ms": to_ms(self.start),
            "quantity": str(self.quantity),
            "unit": self.unit,
            "billed_quantity": str(self.billed_quantity),
            "billed_unit": self.billed_unit,
            "amount": str(self.amount),
            "currency": self.currency,
            "direction": self.direction,
            "window_start_ms": to_ms(self.window_start),
            "window_end_ms": to_ms(self.window_end),
            "rated_at_ms": to_ms(self.rated_at),
            "leaf_hash": self.leaf_hash,
            "supersedes": self.supersedes,
            "run_id": self.run_id,
            "correlation_key": self.correlation_key,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> RatedUsage:
        return cls(
            source=data["source"],
            record_id=data["record_id"],
            agreement_id=data["agreement_id"],
            agreement_version=data["agreement_version"],
            rate_id=data["rate_id"],
            product=data["product"],
            product_id=data.get("product_id"),
            start=from_ms(ms_of(data["start_ms"])),
            quantity=Decimal(data["quantity"]),
            unit=data["unit"],
            billed_quantity=Decimal(data["billed_quantity"]),
            billed_unit=data["billed_unit"],
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            direction=data["direction"],
            window_start=from_ms(ms_of(data["window_start_ms"])),
            window_end=from_ms(ms_of(data["window_end_ms"])),
            rated_at=from_ms(ms_of(data["rated_at_ms"])),
            leaf_hash=data.get("leaf_hash"),
            supersedes=data.get("supersedes"),
            run_id=data.get("run_id"),
            correlation_key=data.get("correlation_key"),
        )


MAX_ORIGINAL_BYTES = 65_536
"""Of an original value longer than this, a dead letter keeps this prefix, the size and SHA-256."""
MAX_KEY_BYTES = 1_024
"""Of a longer message key, a dead letter keeps this prefix (the key is also the DLQ's key)."""
MAX_ERRORS = 100
"""A dead letter lists at most this many problems (the rest are counted in the last entry)."""
MAX_ERROR_CHARS = 1_000
"""Each listed problem is cut to this many characters, so hostile values cannot bloat it."""


def _cut(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters and made valid UTF-8 (Avro strings must be).

    Lone surrogates (undecodable bytes read with ``surrogateescape``) become ``\\udcxx``.
    """
    if len(text) > limit:
        text = f"{text[: limit - 40]}… ({len(text) - limit + 40:,} more characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be processed, kept with every reason, bounded in size.

    Whatever came in, a dead letter stays far below Kafka's message size limit, so writing it
    can never fail for its size: a value over :data:`MAX_ORIGINAL_BYTES` is kept as its prefix
    with ``original_size`` and ``original_sha256`` describing the whole; a key over
    :data:`MAX_KEY_BYTES` is cut; at most :data:`MAX_ERRORS` problems of at most
    :data:`MAX_ERROR_CHARS` characters are kept. The bounds are applied on construction, so
    every producer of dead letters (the worker, ingest) gets them. ``original`` is ``None``
    for a message without a value (a tombstone).
    """

    original: bytes | None
    source_topic: str
    """Topic it was read from, or the file it was read from for ingest-time failures."""
    source_partition: int
    """Partition, or -1 for a file."""
    source_offset: int
    """Offset, or the 1-based line number in a file."""
    stage: str
    """``parse`` | ``decode`` | ``validate`` | ``rate`` | ``dedup`` | ``encode`` | ``internal``."""
    error_code: str
    error_message: str
    errors: tuple[str, ...]
    failed_at: datetime
    key: bytes | None = None
    original_size: int = -1
    """Length of the whole original; -1 when unknown (written before v2) or no value."""
    original_sha256: bytes | None = None
    """SHA-256 of the whole original; ``None`` when there is no value or it is unknown."""

    def __post_init__(self) -> None:
        original = self.original
        if original is not None and self.original_size < 0:
            object.__setattr__(self, "original_size", len(original))
            object.__setattr__(self, "original_sha256", hashlib.sha256(original).digest())
        if original is not None and len(original) > MAX_ORIGINAL_BYTES:
            object.__setattr__(self, "original", bytes(original[:MAX_ORIGINAL_BYTES]))
        if self.key is not None and len(self.key) > MAX_KEY_BYTES:
            object.__setattr__(self, "key", bytes(self.key[:MAX_KEY_BYTES]))
        errors = tuple(_cut(e) for e in self.errors[:MAX_ERRORS])
        if len(self.errors) > MAX_ERRORS:
            errors = (*errors[:-1], f"… and {len(self.errors) - MAX_ERRORS + 1:,} more problems")
        object.__setattr__(self, "errors", errors)
        object.__setattr__(self, "error_message", _cut(self.error_message))
        object.__setattr__(self, "source_topic", _cut(self.source_topic))

    @property
    def truncated(self) -> bool:
        """Whether ``original`` is only a prefix of what was received."""
        return self.original is not None and self.original_size > len(self.original)

    def to_avro(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "original_size": self.original_size,
            "original_sha256": self.original_sha256,
            "key": self.key,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "stage": self.stage,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "errors": list(self.errors),
            "failed_ms": to_ms(self.failed_at),
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> DeadLetter:
        return cls(
            original=data["original"],
            original_size=data.get("original_size", -1),
            original_sha256=data.get("original_sha256"),
            key=data.get("key"),
            source_topic=data["source_topic"],
            source_partition=data["source_partition"],
            source_offset=data["source_offset"],
            stage=data["stage"],
            error_code=data["error_code"],
            error_message=data["error_message"],
            errors=tuple(data["errors"]),
            failed_at=from_ms(ms_of(data["failed_ms"])),
        )
