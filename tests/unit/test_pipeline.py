from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.agreement_loader import load_book
from streams.clock import ManualClock
from streams.codec import make_codec
from streams.config import REPO
from streams.pipeline import Origin, UsagePipeline
from streams.rating import Rater
from streams.records import DeadLetter, RatedUsage

CODEC = make_codec()
ORIGIN = Origin("usage.cdr", 3, 1234, b"ix/1")


@pytest.fixture
def pipeline() -> UsagePipeline:
    clock = ManualClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    return UsagePipeline(CODEC, Rater(load_book(REPO / "examples" / "agreement.yaml")), clock)


def usage(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "source": "ix",
        "record_id": "1",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "voice",
        "product_id": None,
        "a_number": "4969",
        "b_number": "4930123",
        "start_ms": 1795514400000,
        "quantity": "61",
        "unit": "second",
        "direction": "outbound",
        "raw_ref": None,
    }
    fields.update(changes)
    return CODEC.encode("usage_record", fields)


def test_good_usage_is_rated(pipeline: UsagePipeline) -> None:
    outcome = pipeline.process(usage(), ORIGIN)
    assert isinstance(outcome, RatedUsage)
    assert outcome.amount == Decimal("0.0230")
    topic, key, value = pipeline.encode(outcome)
    assert (topic, key) == ("usage.rated", b"ix/1")
    assert RatedUsage.from_avro(CODEC.decode("rated_usage", value)) == outcome


@pytest.mark.parametrize(
    ("value", "stage", "code", "needle"),
    [
        (b"not avro at all", "decode", "corrupt-message", "c301"),
        (usage(quantity="-5"), "validate", "invalid-usage", "field 'quantity': got '-5'"),
        (usage(b_number="33123"), "rate", "no-tariff", "voice to 33123"),
    ],
)
def test_bad_usage_becomes_a_dead_letter_with_origin(
    pipeline: UsagePipeline, value: bytes, stage: str, code: str, needle: str
) -> None:
    outcome = pipeline.process(value, ORIGIN)
    assert isinstance(outcome, DeadLetter)
    assert (outcome.stage, outcome.error_code) == (stage, code)
    assert any(needle in e for e in outcome.errors), outcome.errors
    assert outcome.original == value
    assert (outcome.source_topic, outcome.source_partition, outcome.source_offset) == (
        "usage.cdr",
        3,
        1234,
    )
    topic, key, encoded = pipeline.encode(outcome)
    assert (topic, key) == ("usage.dlq", b"ix/1")
    assert DeadLetter.from_avro(CODEC.decode("dead_letter", encoded)) == outcome


def test_all_validation_problems_travel_in_the_dead_letter(pipeline: UsagePipeline) -> None:
    outcome = pipeline.process(usage(quantity="-5", direction="up", unit="byte"), ORIGIN)
    assert isinstance(outcome, DeadLetter)
    assert len(outcome.errors) == 3
    assert outcome.error_message.endswith("(+2 more)")


def test_replay_gives_the_same_outcome(pipeline: UsagePipeline) -> None:
    value = usage()
    assert pipeline.process(value, ORIGIN) == pipeline.process(value, ORIGIN)
