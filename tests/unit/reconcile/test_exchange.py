"""The drill-down exchange: answers split into parts that each fit a Kafka message and join
back whole; an answer that does not hash to the partner's signed digest is refused."""

from __future__ import annotations

import copy
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from streams.reconcile.engine import Engine
from streams.reconcile.exchange import (
    MAX_PART_BYTES,
    Digest,
    join_parts,
    make_request,
    open_answer,
    split_answer,
)
from tests.fakes.recon import BOOK, SALT, TRUSTED, Party, call


def answer_of(leaves_per_bucket: list[int]) -> dict[str, object]:
    buckets = [
        {
            "bucket": b,
            "leaves": [{"usage_key": f"s/{b}-{n}", "amount": "0.01"} for n in range(count)],
        }
        for b, count in enumerate(leaves_per_bucket)
    ]
    return {"request_id": "r", "party": "hgc", "partner": "dcc", "buckets": buckets}


@given(st.lists(st.integers(0, 400), max_size=12), st.integers(40, 4000))
def test_parts_fit_and_join_back_to_the_whole_answer(counts: list[int], limit: int) -> None:
    answer = answer_of(counts)
    parts = split_answer(answer, limit)
    assert all(p["parts"] == len(parts) for p in parts)
    for part in parts:  # each part within the limit, unless one leaf alone is larger
        leaves = [leaf for item in part["buckets"] for leaf in item["leaves"]]
        size = sum(16 + sum(len(str(v)) for v in leaf.values()) for leaf in leaves)
        assert len(leaves) <= 1 or size <= limit
    joined = join_parts(list(reversed(parts)) + parts[:1])  # any order, repeats ignored
    assert joined is not None
    assert [(b["bucket"], b["leaves"]) for b in joined["buckets"]] == [
        (b["bucket"], b["leaves"])
        for b in answer["buckets"]  # type: ignore[attr-defined]
    ]
    if len(parts) > 1:
        assert join_parts(parts[1:]) is None  # a part missing: not yet


def window(party: Party) -> tuple[Engine, Digest]:
    engine = Engine(party="hgc", partner="dcc", agreement=BOOK.latest, salt=SALT, trusted=TRUSTED)
    for key, leaves in party.leaves.items():
        engine.add_own_leaves(key[:2], key[2], leaves)
    for entry in party.entries:
        engine.add_own_entry(entry)
    return engine, party.digests[0]


def test_a_large_answer_is_opened_the_same_from_parts() -> None:
    dcc = Party("hgc")
    dcc.ingest(call(f"9-{n}", 9, n * 0.5) for n in range(3000))
    dcc.close()
    engine, digest = window(dcc)
    request = make_request(
        party="dcc", partner="hgc", agreement_id=BOOK.id, window=digest.key[:2],
        revision=0, root=digest.root, buckets=range(256), now_ms=0,
    )  # fmt: skip
    whole = engine.answer(request, 0)
    assert whole is not None
    parts = split_answer(whole, MAX_PART_BYTES // 16)
    assert len(parts) > 1
    joined = join_parts(parts)
    assert joined is not None
    opened, problems = open_answer(joined, digest, SALT)
    assert problems == [] and sum(len(v) for v in opened.values()) == 3000


def test_an_altered_leaf_fails_its_bucket_and_only_it() -> None:
    party = Party("hgc")
    party.ingest(call(f"9-{n}", 9, n * 10) for n in range(300))
    party.close()
    engine, digest = window(party)
    request = make_request(
        party="dcc", partner="hgc", agreement_id=BOOK.id, window=digest.key[:2],
        revision=0, root=digest.root, buckets=range(256), now_ms=0,
    )  # fmt: skip
    answer = engine.answer(request, 0)
    assert answer is not None
    forged = copy.deepcopy(answer)
    target = next(item for item in forged["buckets"] if item["leaves"])
    target["leaves"][0]["amount"] = str(Decimal(target["leaves"][0]["amount"]) + 1)
    opened, problems = open_answer(forged, digest, SALT)
    assert target["bucket"] not in opened
    assert len(problems) == 1 and "signed digest" in problems[0]
    assert len(opened) == len([b for b in answer["buckets"] if True]) - 1
