"""Dead letters stay bounded and encodable whatever came in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.records import (
    MAX_ERROR_CHARS,
    MAX_ERRORS,
    MAX_KEY_BYTES,
    MAX_ORIGINAL_BYTES,
    DeadLetter,
)
from streams.runtime.registry import make_codec

CODEC = make_codec()
AT = datetime(2026, 11, 25, tzinfo=UTC)


def letter(**changes: object) -> DeadLetter:
    fields: dict[str, object] = {
        "original": b"x",
        "source_topic": "usage.cdr",
        "source_partition": 0,
        "source_offset": 7,
        "stage": "validate",
        "error_code": "invalid-usage",
        "error_message": "validate failed",
        "errors": ("field 'x': got 1, want 2",),
        "failed_at": AT,
    }
    fields.update(changes)
    return DeadLetter(**fields)  # type: ignore[arg-type]


def round_trip(dead: DeadLetter) -> DeadLetter:
    return DeadLetter.from_avro(
        CODEC.decode("dead_letter", CODEC.encode("dead_letter", dead.to_avro()))
    )


def test_a_whole_original_keeps_its_size_and_hash() -> None:
    dead = letter(original=b"abc")
    assert (dead.original, dead.original_size, dead.truncated) == (b"abc", 3, False)
    assert dead.original_sha256 == hashlib.sha256(b"abc").digest()
    assert round_trip(dead) == dead


def test_key_errors_and_message_are_bounded() -> None:
    dead = letter(
        key=b"k" * 5000,
        errors=tuple(f"problem {n}: " + "y" * 5000 for n in range(500)),
        error_message="m" * 10_000,
    )
    assert dead.key is not None and len(dead.key) == MAX_KEY_BYTES
    assert len(dead.errors) == MAX_ERRORS
    assert dead.errors[-1] == "… and 401 more problems"
    assert all(len(e) <= MAX_ERROR_CHARS for e in dead.errors)
    assert len(dead.error_message) <= MAX_ERROR_CHARS
    assert round_trip(dead) == dead


def test_undecodable_bytes_in_messages_still_encode() -> None:
    dead = letter(errors=("got 'a\udcffb'",), source_topic="file:/tmp/\udcfe.csv")
    assert dead.errors == ("got 'a\\udcffb'",)
    assert round_trip(dead) == dead


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.none(), st.binary(max_size=MAX_ORIGINAL_BYTES * 2)),
    st.one_of(st.none(), st.binary(max_size=2 * MAX_KEY_BYTES)),
    st.lists(st.text(max_size=2000), min_size=1, max_size=120),
)
def test_any_dead_letter_encodes_within_bounds(
    original: bytes | None, key: bytes | None, errors: list[str]
) -> None:
    dead = letter(original=original, key=key, errors=tuple(errors))
    encoded = CODEC.encode("dead_letter", dead.to_avro())
    assert (
        len(encoded) < MAX_ORIGINAL_BYTES + MAX_KEY_BYTES + MAX_ERRORS * MAX_ERROR_CHARS * 4 + 4096
    )
    assert round_trip(dead) == dead
