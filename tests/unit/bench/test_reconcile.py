"""``bench.reconcile`` at tiny sizes: what each exchange finds is exactly what was injected (a
real outcome; times are never asserted), and the JSON it writes has the documented shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import reconcile
from bench.reconcile import (
    HERE,
    SALT,
    SKEW_MS,
    THERE,
    Side,
    diverge,
    drill_down,
    inject,
    naive,
    numbers_calls,
    party_b,
    window_leaves,
)
from streams.contract.codec import SingleObjectCodec
from streams.merkle.buckets import bucket_key, bucket_of
from streams.reconcile.correlation import pair_of


def test_both_exchanges_find_exactly_the_injected_divergences() -> None:
    ours = window_leaves(2_000)
    theirs, injected = diverge(ours, 12)
    assert Counter(injected.values()) == {
        "amount-mismatch": 3,
        "quantity-mismatch": 3,
        "missing-at-partner": 3,
        "missing-here": 3,
    }
    here, there = Side.build(HERE, ours, 6), Side.build(THERE, theirs, 6)
    codec = SingleObjectCodec()

    found = drill_down(here, there, there.anchor(), codec)

    assert found.classes == injected
    differing = {bucket_of(key, 6, SALT) for key in injected}
    assert found.buckets == len(differing)
    assert found.opened == sum(len(there.members.get(b, ())) for b in differing)
    assert set(found.sent) == {"batch_digest", "recon_request", "recon_answer"}
    plain = naive(ours, theirs, codec)
    assert plain.classes == injected
    assert plain.opened == len(theirs)


def test_equal_windows_open_nothing() -> None:
    ours = window_leaves(500)
    here, there = Side.build(HERE, ours, 4), Side.build(THERE, ours, 4)

    found = drill_down(here, there, there.anchor(), SingleObjectCodec())

    assert (found.classes, found.buckets, found.opened) == ({}, 0, 0)


def test_quick_run_writes_the_table_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reconcile.json"

    reconcile.main(["--quick", "--out", str(out)])

    payload = json.loads(out.read_text(encoding="utf-8"))
    assert {"title", "machine", "baseline", "target", "rows", "depths"} <= set(payload)
    assert set(payload["depths"]) == {"4", "40"}
    rows = payload["rows"]
    assert {(r["divergences"], r["depth"]) for r in rows if r["records"] == 4_000} == {
        (4, 4),
        (4, 8),
        (40, 4),
        (40, 8),
    }
    assert {r["divergences"] for r in rows if r["records"] == 1_000} == {4}  # the second size
    for row in rows:
        assert row["found_exactly"] is True
        assert sum(row["classes"].values()) == row["divergences"]
        assert 1 <= row["differing_buckets"] <= row["divergences"]
        assert row["drill_down_bytes"] == sum(row["drill_down_messages"].values())
        assert row["naive_bytes"] > 0 and row["bytes_ratio"] > 0
    numbers = payload["numbers_mode"]
    assert {"title", "records", "divergences", "depth", "native", "traffic", "rows"} <= set(numbers)
    assert numbers["records"] == 10_000 and numbers["divergences"] == 10
    assert [r["skew_fraction"] for r in numbers["rows"]] == [0.0, 0.0001, 0.001, 0.01]
    assert [r["skewed_calls"] for r in numbers["rows"]] == [0, 1, 10, 100]
    for row in numbers["rows"]:
        assert row["found_exactly"] is True
        assert row["classes"].get("within-tolerance", 0) == row["skewed_calls"]
        assert sum(row["classes"].values()) == 10 + row["skewed_calls"]
        for mode in ("shared_key", "numbers", "shared_key_same_skew"):
            exchange = row[mode]
            assert exchange["drill_down_bytes"] == sum(exchange["drill_down_messages"].values())
        assert 1 <= row["numbers"]["differing_buckets"] <= 10 + row["skewed_calls"]
        assert row["bytes_ratio"] == pytest.approx(
            row["numbers"]["drill_down_bytes"] / row["shared_key"]["drill_down_bytes"]
        )
    out_text = capsys.readouterr().out
    assert "wrote" in out_text and "Correlation by numbers" in out_text


def test_numbers_mode_finds_exactly_the_injected_differences() -> None:
    calls = numbers_calls(3_000)
    injected = inject(calls, 8, 30)
    ours = calls.leaves(numbers=True)
    theirs, expected = party_b(calls, ours, injected, numbers=True, skew=True)
    assert Counter(expected.values()) == {
        "amount-mismatch": 2,
        "quantity-mismatch": 2,
        "missing-at-partner": 2,
        "missing-here": 2,
        "within-tolerance": 30,
    }
    moved = {calls.numbers_keys[i]: start for i, start in injected.skewed.items()}
    assert all(abs(start - int(key.partition("|")[2])) == SKEW_MS for key, start in moved.items())
    here, there = Side.build(HERE, ours, 6), Side.build(THERE, theirs, 6)

    found = drill_down(here, there, there.anchor(), SingleObjectCodec(), pair_of)

    assert found.classes == expected  # skewed calls paired within tolerance, not missing
    assert found.buckets == len({bucket_of(key, 6, SALT) for key in expected})
    # Without pairing by numbers, a skewed call would be one missing on each side.
    unpaired = drill_down(here, there, there.anchor(), SingleObjectCodec())
    assert Counter(unpaired.classes.values())["missing-at-partner"] == 2 + 30


def test_numbers_mode_buckets_by_number_pair() -> None:
    calls = numbers_calls(2_000)
    for key in calls.numbers_keys[:200]:
        assert bucket_key(key) == pair_of(key)
        assert bucket_of(key, 10, SALT) == bucket_of(pair_of(key) + "|0", 10, SALT)
    assert len(set(calls.numbers_keys)) == len(calls)  # one call per numbers and second


@pytest.mark.parametrize(("records", "rate"), [(1_000_000, 1e-6), (1_000_000, 1e-3), (10_000, 0.1)])
def test_recommended_depth_is_the_cheapest_in_bytes(records: int, rate: float) -> None:
    for deepest in (reconcile.KAFKA_DEPTH, 16):
        depth = reconcile.recommended_depth(records, rate, deepest=deepest)

        assert 4 <= depth <= deepest
        cost = reconcile.predicted_bytes(records, rate * records, depth)
        for other in range(4, deepest + 1):
            assert cost <= reconcile.predicted_bytes(records, rate * records, other)
