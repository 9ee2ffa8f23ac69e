from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.agreement.loader import load_book
from streams.contract.records import MAX_ORIGINAL_BYTES, DeadLetter, RatedUsage
from streams.core.clock import ManualClock
from streams.core.errors import InvalidRecord
from streams.rating.pipeline import MAX_OUTPUT_BYTES, Origin, UsagePipeline
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage
from streams.runtime.registry import make_codec
from tests.fakes.usage import USAGE_FIELDS, usage
from tests.paths import REPO

CODEC = make_codec()
ORIGIN = Origin("usage.cdr", 3, 1234, b"ix/1")
SHARED = UsagePipeline(
    CODEC,
    Rater(load_book(REPO / "examples" / "agreement.yaml")),
    ManualClock(datetime(2026, 11, 25, 12, tzinfo=UTC)),
)
"""For property tests: the pipeline holds no state between messages."""


@pytest.fixture
def pipeline() -> UsagePipeline:
    clock = ManualClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    return UsagePipeline(CODEC, Rater(load_book(REPO / "examples" / "agreement.yaml")), clock)


def test_good_usage_is_rated(pipeline: UsagePipeline) -> None:
    outcome = pipeline.process(usage(), ORIGIN)
    assert isinstance(outcome, RatedUsage)
    assert outcome.amount == Decimal("0.0230")
    out = pipeline.encode(outcome)
    assert (out.topic, out.key) == ("usage.rated", b"ix/1")
    assert RatedUsage.from_avro(CODEC.decode("rated_usage", out.value)) == outcome


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
    out = pipeline.encode(outcome)
    assert (out.topic, out.key) == ("usage.dlq", b"ix/1")
    assert DeadLetter.from_avro(CODEC.decode("dead_letter", out.value)) == outcome


def test_all_validation_problems_travel_in_the_dead_letter(pipeline: UsagePipeline) -> None:
    outcome = pipeline.process(usage(quantity="-5", direction="up", unit="byte"), ORIGIN)
    assert isinstance(outcome, DeadLetter)
    assert len(outcome.errors) == 3
    assert outcome.error_message.endswith("(+2 more)")


def test_replay_gives_the_same_outcome(pipeline: UsagePipeline) -> None:
    value = usage()
    assert pipeline.process(value, ORIGIN) == pipeline.process(value, ORIGIN)


def test_a_tombstone_is_a_dead_letter_without_a_value(pipeline: UsagePipeline) -> None:
    out = pipeline.handle(None, ORIGIN)
    assert isinstance(out.outcome, DeadLetter)
    assert (out.outcome.stage, out.outcome.error_code) == ("decode", "no-value")
    assert out.outcome.original is None
    assert DeadLetter.from_avro(CODEC.decode("dead_letter", out.value)) == out.outcome


def test_an_oversize_value_is_kept_as_a_prefix_with_its_size_and_hash(
    pipeline: UsagePipeline,
) -> None:
    value = usage(raw_ref="x" * 2_000_000)
    out = pipeline.handle(value, ORIGIN)
    letter = out.outcome
    assert isinstance(letter, DeadLetter) and letter.truncated
    assert letter.original == value[:MAX_ORIGINAL_BYTES]
    assert letter.original_size == len(value)
    assert letter.original_sha256 == hashlib.sha256(value).digest()
    assert len(out.value) < 100_000
    assert DeadLetter.from_avro(CODEC.decode("dead_letter", out.value)) == letter


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"quantity": "1E+40"}, "field 'quantity': got '1E+40'"),
        ({"quantity": "9" * 5000}, "(5,002 characters)"),
        ({"start_ms": 2**62}, "field 'start_ms'"),
        ({"quantity": "6_0"}, "field 'quantity': got '6_0'"),
        ({"quantity": "\u0666\u0660"}, "field 'quantity'"),
        ({"record_id": "r1\n"}, "field 'record_id': got 'r1\\n'"),
    ],
)
def test_values_that_crashed_the_agent_are_dead_letters(
    pipeline: UsagePipeline, changes: dict[str, Any], needle: str
) -> None:
    out = pipeline.handle(usage(**changes), ORIGIN)
    assert isinstance(out.outcome, DeadLetter)
    assert out.outcome.stage == "validate", out.outcome.errors
    assert any(needle in e for e in out.outcome.errors), out.outcome.errors


class Exploding:
    """A rater with a bug that one message triggers."""

    def rate(self, usage: object, rated_at: object) -> RatedUsage:
        raise ZeroDivisionError("decimal division by zero")


def test_an_unexpected_exception_is_an_internal_dead_letter() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    pipeline = UsagePipeline(CODEC, Exploding(), clock)  # type: ignore[arg-type]
    out = pipeline.handle(usage(), ORIGIN)
    assert isinstance(out.outcome, DeadLetter)
    assert (out.outcome.stage, out.outcome.error_code) == ("internal", "internal-error")
    assert out.outcome.errors == ("ZeroDivisionError: decimal division by zero",)


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1E+40", "NaN", "-0", "6_0", "\u0666", "1.", ".5", "r1\n", "\x00", "\udcff"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.just("9" * 5000),
)
hostile_value = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), hostile_text
)
FIELDS = list(USAGE_FIELDS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), hostile_value, max_size=6))
def test_hostile_fields_never_raise_anything_but_invalid_record(changes: dict[str, Any]) -> None:
    fields = dict(CODEC.decode("usage_record", usage()))
    fields.update(changes)
    try:
        parse_usage(fields, now=datetime(2026, 11, 25, 12, tzinfo=UTC))
    except InvalidRecord as exc:
        assert exc.problems and all(len(p) < 1_000 for p in exc.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.builds(lambda head, body: head + body, st.just(usage()[:10]), st.binary(max_size=50)),
    )
)
def test_any_bytes_give_exactly_one_publishable_outcome(value: bytes | None) -> None:
    out = SHARED.handle(value, ORIGIN)
    assert out.topic in ("usage.rated", "usage.dlq")
    assert len(out.value) <= MAX_OUTPUT_BYTES
    if isinstance(out.outcome, DeadLetter):
        assert DeadLetter.from_avro(CODEC.decode("dead_letter", out.value)) == out.outcome
