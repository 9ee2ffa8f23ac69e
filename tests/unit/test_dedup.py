from __future__ import annotations

import pytest

from streams.dedup import claim_key, judge, origin_id


def test_verdicts() -> None:
    keys = ["a", "b", "c", "a", "d"]
    origins = [origin_id("usage.cdr", 0, n) for n in range(5)]
    claims = [None, "usage.cdr/0/1", "usage.cdr/3/9", None, None]
    assert judge(keys, origins, claims) == ["fresh", "replay", "duplicate", "duplicate", "fresh"]


def test_claim_keys_are_per_party_and_agreement() -> None:
    assert claim_key("hgc", "a-1", "ix/1") != claim_key("dcc", "a-1", "ix/1")
    assert claim_key("hgc", "a-1", "ix/1") != claim_key("hgc", "a-2", "ix/1")


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="got 2 keys, 1 origins, 1 claims"):
        judge(["a", "b"], ["o"], [None])
