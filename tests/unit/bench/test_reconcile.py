"""``bench.reconcile`` at tiny sizes: what each exchange finds is exactly what was injected (a
real outcome; times are never asserted), and the JSON it writes has the documented shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import reconcile
from bench.reconcile import HERE, SALT, THERE, Side, diverge, drill_down, naive, window_leaves
from streams.contract.codec import SingleObjectCodec
from streams.merkle.buckets import bucket_of


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
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(("records", "rate"), [(1_000_000, 1e-6), (1_000_000, 1e-3), (10_000, 0.1)])
def test_recommended_depth_is_the_cheapest_in_bytes(records: int, rate: float) -> None:
    for deepest in (reconcile.KAFKA_DEPTH, 16):
        depth = reconcile.recommended_depth(records, rate, deepest=deepest)

        assert 4 <= depth <= deepest
        cost = reconcile.predicted_bytes(records, rate * records, depth)
        for other in range(4, deepest + 1):
            assert cost <= reconcile.predicted_bytes(records, rate * records, other)
