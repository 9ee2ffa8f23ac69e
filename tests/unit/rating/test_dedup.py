from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rating.dedup import (
    BatchItem,
    BatchPlan,
    claim_key,
    dead_letter_claim_key,
    lookups,
    origin_id,
    plan_batch,
)

DEP = "hgc"


def o(n: int) -> str:
    return origin_id("usage.cdr", 0, n)


def verdicts(plan: BatchPlan) -> list[str]:
    return [d.verdict for d in plan.decisions]


def test_rated_verdicts() -> None:
    items = [BatchItem(o(n), k) for n, k in enumerate(["a", "b", "c", "a", "d"])]
    found = {"b": o(1), "c": "usage.cdr/3/9"}
    plan = plan_batch(DEP, items, found)
    assert verdicts(plan) == ["fresh", "replay", "duplicate", "duplicate", "fresh"]
    assert plan.decisions[2].first == "usage.cdr/3/9"
    assert plan.decisions[3].first == o(0)  # earlier in the same batch, named
    assert plan.claims == (
        ("a", o(0)),
        (dead_letter_claim_key(DEP, o(2)), "1"),
        (dead_letter_claim_key(DEP, o(3)), "1"),
        ("d", o(4)),
    )


def test_dead_letters_are_claimed_by_origin_and_not_republished_on_replay() -> None:
    items = [BatchItem(o(0), None), BatchItem(o(1), "k"), BatchItem(o(2), None)]
    first = plan_batch(DEP, items, {})
    assert verdicts(first) == ["fresh", "fresh", "fresh"]
    # The run published everything and wrote its claims, then crashed before committing.
    replay = plan_batch(DEP, items, dict(first.claims))
    assert verdicts(replay) == ["replay", "replay", "replay"]
    assert replay.claims == ()


def test_a_mediation_duplicate_is_dead_lettered_once_across_replays() -> None:
    items = [BatchItem(o(5), "k")]
    found: dict[str, str | None] = {"k": o(1)}  # rated before, from another message
    first = plan_batch(DEP, items, found)
    assert verdicts(first) == ["duplicate"]
    found.update(first.claims)
    assert verdicts(plan_batch(DEP, items, found)) == ["replay"]


def test_lookups_cover_every_claim_once() -> None:
    items = [BatchItem(o(0), "k"), BatchItem(o(1), "k"), BatchItem(o(2), None)]
    keys = lookups(DEP, items)
    assert len(keys) == len(set(keys)) == 4
    assert "k" in keys and dead_letter_claim_key(DEP, o(2)) in keys


def test_claim_keys_are_per_party_and_agreement() -> None:
    assert claim_key("hgc", "a-1", "ix/1") != claim_key("dcc", "a-1", "ix/1")
    assert claim_key("hgc", "a-1", "ix/1") != claim_key("hgc", "a-2", "ix/1")
    assert dead_letter_claim_key("hgc", o(1)) != dead_letter_claim_key("dcc", o(1))


batches = st.lists(
    st.tuples(st.integers(0, 30), st.one_of(st.none(), st.sampled_from("abcdef"))),
    max_size=40,
    unique_by=lambda t: t[0],
)


@settings(max_examples=300, deadline=None)
@given(batches, st.integers(0, 40), st.data())
def test_crash_and_replay_publish_every_message_exactly_once(
    batch: list[tuple[int, str | None]], crash_after: int, data: st.DataObject
) -> None:
    """Whatever prefix of a batch's claims was written before a crash, the replay publishes
    exactly what the first run did not claim, and each origin ends published once overall."""
    items = [BatchItem(o(n), k) for n, k in batch]
    first = plan_batch(DEP, items, {})
    assert set(verdicts(first)) <= {"fresh", "duplicate"}  # nothing claimed: all published
    own = dict(zip(items, first.claims, strict=True))  # every published item claims one key
    written = dict(first.claims[:crash_after])
    replay = plan_batch(DEP, items, written)
    for before, after, item in zip(first.decisions, replay.decisions, items, strict=True):
        key, value = own[item]
        assert (after.verdict == "replay") == (written.get(key) == value)
        if after.verdict != "replay":
            assert after.verdict == before.verdict  # the same record again, never a new kind
    # Once every claim is written, a further replay publishes nothing.
    assert set(verdicts(plan_batch(DEP, items, dict(first.claims)))) == (
        {"replay"} if items else set()
    )
