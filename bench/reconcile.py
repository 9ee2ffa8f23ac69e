"""Benchmark of reconciliation (issue 11): the bucket drill-down against the naive exchange of
the two full leaf lists, on one window, in the same run on the same data.

The window holds a million rated calls (every leaf field, real leaf hashes: the first thousand
are checked with ``Leaf.hash_ok``). Party B is party A with k divergences, the kinds in turn: an
amount 0.01 higher, a quantity 120 s longer, a record B lacks, a record only B has. Both
exchanges must find exactly those k records, each in its class, or the run fails.

* **Drill-down**, measured from B's digest to the classification: B's ``batch_digest``
  Avro-encoded; A decodes it, checks it against B's anchor (:func:`digest_problems`: digest hash,
  bucket hashes against the root), lists the :func:`differing_buckets` and makes the
  ``recon_request``; B decodes it and answers from its bucket index (:func:`make_answer`); A
  decodes the ``recon_answer``, re-hashes every opened leaf and checks each bucket against B's
  digest (:func:`open_answer`), then pairs and classifies (:func:`pair_leaves`,
  :func:`classify_pair`). Bytes: the three Avro messages (single-object encoding).
* **Naive**, the baseline: B sends its whole leaf list, each leaf encoded as an answer opens it
  (one ``recon_answer`` from :func:`make_answer`); A decodes it, pairs it with its own by usage
  key and classifies the records whose fields differ. It favours naive: nothing is hashed or
  checked against B's anchor, and ``batch_leaves`` v2 (which carries leaf hashes) is larger.

Not measured, paid at anchoring anyway (printed for context): each party's ``BatchTree`` (C
build) and its ``bucket_members`` index, built once per batch. Each k runs at depths 8 (the
agreement's default), 10, 12, 14, 16 and both rules' picks below; then a window of 250,000 at
the first k. Target (issue 11): at 10 divergences, >= 100x fewer bytes and >= 10x less time.

Choosing the digest depth
-------------------------
A drill-down at depth d, for k divergences among n records, sends about

    33 * 2^d  +  2^d (1 - e^(-k/2^d)) * (n / 2^d) * 70   bytes:

the digest (33 bytes a bucket hash, published every window whatever k) plus the leaves of the
differing buckets (about k buckets of n/2^d leaves, 70 bytes an opened leaf). The sum is least
near ``2^d = sqrt(70 k n / 33) ≈ 1.5 sqrt(k n)``, where it is ``2 sqrt(33 * 70 * k n)``: it grows
with the square root of k and of n, naive with n. :func:`recommended_depth` picks the depth, for
k = the expected divergence rate r x n; at d = ceil(log2(10 r n)) (the rule first proposed,
:func:`simple_rule`) buckets stay so large at small k that 10 divergences in a million records
cost 14x less than naive, not 100x. For a window of 1,000,000 records:

    expected k    2^d >= 10k   recommended   predicted bytes   digest (2^d x 32 B)
         1             4           11             102 kB          64 KiB
        10             7           12             306 kB         128 KiB
       100            10           14             967 kB         512 KiB
     1,000            14           14           4,685 kB         512 KiB  (15: 3,185 kB)
    (at the default depth 8: 281 kB, 2,690 kB, 22.6 MB, 68.6 MB; naive: 70.1 MB)

The digest is kept per window and party and mirrored every window: 2^d x 32 bytes (2 MiB at
d = 16). Depths above 14 are left out of the recommendation: the ``batch_digest`` of depth 15
(1.08 MB) exceeds Kafka's default message size (the broker's ``message.max.bytes``, 1,048,588).
An answer is sent in parts of at most about 512 KiB of leaves each
(:func:`~streams.reconcile.exchange.split_answer`), so only a digest can exceed the limit: a
case whose ``batch_digest`` is over 1 MB is starred in the table.

Correlation by numbers
----------------------
Where the agreement correlates by numbers (no shared call reference), a leaf's key is its
correlation key ``<A>><B>|<start_ms>`` and its bucket is chosen by the number pair
(:mod:`streams.reconcile.correlation`); each party's own switch times the call, in whole
seconds. A call whose two starts differ (clock skew, within the start tolerance) has a
different key and leaf on each side, so its bucket differs though nothing is wrong: for k
divergences and a share s of n calls skewed, about

    2^d (1 - e^(-(k + s n) / 2^d))   buckets differ,

the cost of k + s n divergences. At s = 0.1% of a million calls (1,000 skewed) numbers mode
costs like 1,000 divergences; at 1% it opens most of the window. And a leaf is larger (the
key, ``49305000123>447000012345|1764028812000``, is 38 characters against 15), and a number
pair's calls share one bucket, so bucket sizes vary more and a divergence, which falls on a
call, tends to fall in a larger bucket.

Measured (``--numbers-records``, default 1,000,000; :func:`numbers_calls`): the same calls keyed
both ways, A uniform among 2,000 numbers, B one of its 20 regular destinations (Zipf) for 70%
of its calls, else any of 50,000: 339,391 number pairs, 2.9 calls a pair, 58% of the calls in
pairs of 10 or more; starts in whole seconds. B has the k = 10 divergences above (a call only B
has goes to a new number) and, in numbers mode, a share s of calls 1 s off; at the depth
recommended for 10 divergences (12), drill-down bytes (digest, request, answer parts):

    skew s   skewed  buckets (expected)  shared key   numbers mode   ratio   shared key, same skew
      0          0       10 (10)            306 kB        468 kB       1.5x        306 kB
      0.01%    100      110 (109)           306 kB      2,991 kB       9.8x      2,010 kB
      0.1%   1,000      881 (895)           306 kB     22,205 kB      72.5x     15,738 kB
      1%    10,000    3,642 (3,740)         306 kB     85,097 kB       278x     64,147 kB

Every exchange finds exactly the injected differences (skewed calls paired within tolerance by
number pair and nearest start, none missing). With no skew numbers mode costs 1.5x: 93 bytes
an opened leaf against 70, and 3,573 leaves opened against 2,439 (the 10 calls fall in
buckets of their number pairs, larger than average). The skew is what costs: its bytes grow as
k + s n divergences would, and at 1% the drill-down sends 85 MB, about what the whole leaf list
would (1,000,000 x 93 bytes). Last column: under a shared key the same skew would change the
leaves' ``start_ms`` and cost as much in buckets (the shared-key mode is cheaper because its
parties report one start, not because of its key): numbers mode costs 1.3x to 1.5x of that. A
deeper digest helps when skew is expected: :func:`recommended_depth` for k + s n = 1,010 is 14,
predicted 6.1 MB instead of 20.5 MB at 12.

    python -m bench.reconcile [--records 1000000] [--divergences 10,100,1000]
                              [--depths 8,10,12,14,16] [--scale-records 250000] [--repeat 3]
                              [--numbers-records 1000000] [--skews 0,0.0001,0.001,0.01]
                              [--quick] [--out reconcile.json]
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from bench.common import RESULTS, arguments, best_of
from streams.contract.codec import SingleObjectCodec
from streams.core.canonical import LEAF_DOMAIN, canonical_json, decimal_text, tagged
from streams.ledger.anchoring import digest_hash_of
from streams.ledger.batching import Leaf
from streams.merkle.batchtree import MAX_DEPTH, NATIVE, BatchTree, differing_buckets
from streams.merkle.rfc9162 import leaf_hash, leaf_hashes
from streams.reconcile.classify import Tolerance, classify_pair, pair_leaves
from streams.reconcile.correlation import correlation_key, normalise_number, pair_of
from streams.reconcile.exchange import (
    Digest,
    bucket_members,
    digest_problems,
    join_parts,
    make_answer,
    make_request,
    open_answer,
    split_answer,
)

AGREEMENT = "hgc-dcc-2026"
HERE, THERE = "hgc", "dcc"
"""The requester (party A, who drills down) and the answerer (party B, who diverges)."""
WINDOW = (1_764_028_800_000, 1_764_032_400_000)
"""One hour of event time, epoch ms."""
NOW_MS = WINDOW[1] + 7_200_000
SALT = b"bench-agreement-salt"
TOLERANCE = Tolerance(start_ms=1_000, seconds=Decimal(1), amount=Decimal("0.0001"))
"""Tighter than every injected change: each divergence is a mismatch, none within tolerance."""
DEFAULT_DEPTH = 8
"""The agreement's ``window.digest_depth`` when it names none (streams/agreement/loader.py)."""
MIN_DEPTH = 4
HASH_BYTES = 33
"""One bucket hash in an Avro ``batch_digest``: a length byte and 32 bytes."""
LEAF_BYTES = 70
"""One opened leaf in an Avro ``recon_answer`` (measured here: ``answer_bytes_per_opened_leaf``)."""
HEAVY = 200_000
"""Above this many leaves opened, a drill-down runs once, without warm-up (it takes seconds)."""
KAFKA_MESSAGE = 1_000_000
"""librdkafka's default ``message.max.bytes``: a bigger record is refused when produced."""
KAFKA_DEPTH = 14
"""The deepest digest that fits a Kafka message by default: 2^14 x 33 B = 541 kB (2^15: 1.08 MB)."""
TARGET_BYTES, TARGET_TIME, TARGET_K = 100.0, 10.0, 10
"""Issue 11: at 10 divergences, at least 100x fewer bytes and 10x less time than naive."""

KINDS = ("amount", "quantity", "missing", "extra")
CLASS_OF = {
    "amount": "amount-mismatch",  # B priced it 0.01 higher
    "quantity": "quantity-mismatch",  # B counted 120 s more (same amount)
    "missing": "missing-at-partner",  # A has it, B has not
    "extra": "missing-here",  # B has it, A has not
}
_RATES = ("voice-de-mobile@peak", "voice-de-mobile@offpeak", "voice-de-fixed@peak")
_PREFIX = tagged(LEAF_DOMAIN, b"")
_DATA = (
    '{"agreement_id":"' + AGREEMENT + '","agreement_version":"1","amount":"%s",'
    '"currency":"EUR","key":"%s","quantity":"%d","start_ms":%d,"unit":"second"}'
)


# -- the window: records of A, and B's copy with k divergences --------------------------------


def window_leaves(count: int, seed: int = 20261125) -> list[Leaf]:
    """A's leaves of one window: ``count`` rated calls with every field and their real leaf hash.

    The leaf data is formatted directly (canonical_json of a million dicts takes most of a
    minute) and hashed in one C call; the first thousand are checked with ``Leaf.hash_ok``.
    """
    rnd = random.Random(seed)
    span = WINDOW[1] - WINDOW[0]
    keys, starts, seconds, amounts = [], [], [], []
    for i in range(count):
        keys.append(f"sw-{i % 16:02d}/c-{i:07d}")
        starts.append(WINDOW[0] + i * span // count)
        seconds.append(rnd.randrange(1, 3_600))
        amounts.append(Decimal(rnd.randrange(1, 400_000)).scaleb(-4))
    return leaves_of(keys, starts, seconds, amounts, [rnd.choice(_RATES) for _ in keys])


def leaves_of(
    keys: Sequence[str],
    starts: Sequence[int],
    seconds: Sequence[int],
    amounts: Sequence[Decimal],
    rates: Sequence[str],
) -> list[Leaf]:
    """Leaves with these fields (``seconds``: the quantity) and their real leaf hashes."""
    datas = [
        _PREFIX + (_DATA % (decimal_text(amount), key, quantity, start)).encode()
        for key, start, quantity, amount in zip(keys, starts, seconds, amounts, strict=True)
    ]
    hashes = leaf_hashes(datas)
    leaves = [
        Leaf(key, hashed, amount, "EUR", "1", start, str(quantity), "second", rate)
        for key, hashed, amount, start, quantity, rate in zip(
            keys, hashes, amounts, starts, seconds, rates, strict=True
        )
    ]
    for leaf in leaves[:1_000]:
        if not leaf.hash_ok(AGREEMENT):
            raise AssertionError(f"leaf {leaf.usage_key}: not the canonical leaf encoding")
    return leaves


def rehashed(leaf: Leaf) -> Leaf:
    data = tagged(LEAF_DOMAIN, canonical_json(leaf.fields(AGREEMENT)))
    return replace(leaf, leaf_hash=leaf_hash(data))


def diverge(leaves: Sequence[Leaf], k: int, seed: int = 11) -> tuple[list[Leaf], dict[str, str]]:
    """B's leaves: A's with ``k`` divergences at random records, the kinds in turn (changed
    amount, changed quantity, missing at B, extra at B); and the class each must be found as."""
    picks = divergence_picks(len(leaves), k, seed)
    return diverged(leaves, picks, lambda j, i: f"sw-99/x-{j:07d}")


def divergence_picks(count: int, k: int, seed: int = 11) -> list[tuple[int, str]]:
    """``k`` records of ``count`` at random, each with its kind of divergence, in turn."""
    rnd = random.Random(seed * 1_000_003 + k)
    return [(i, KINDS[j % len(KINDS)]) for j, i in enumerate(rnd.sample(range(count), k))]


def diverged(
    leaves: Sequence[Leaf],
    picks: Iterable[tuple[int, str]],
    extra_key: Callable[[int, int], str],
    changed: Mapping[int, Leaf] | None = None,
) -> tuple[list[Leaf], dict[str, str]]:
    """``leaves`` with the divergences ``picks`` (record, kind); the j-th, if ``extra``, is a
    record only B has, a copy of record i keyed ``extra_key(j, i)``. ``changed``: more leaves
    B has instead of A's (record → B's leaf). Returns B's leaves, and the class each divergence
    must be found as."""
    theirs = list(leaves)
    expected: dict[str, str] = {}
    dropped: set[int] = set()
    extras: list[Leaf] = []
    for i, leaf in (changed or {}).items():
        theirs[i] = leaf
    for j, (i, kind) in enumerate(picks):
        leaf = leaves[i]
        if kind == "amount":
            theirs[i] = rehashed(replace(leaf, amount=leaf.amount + Decimal("0.01")))
        elif kind == "quantity":
            theirs[i] = rehashed(replace(leaf, quantity=str(int(leaf.quantity or 0) + 120)))
        elif kind == "missing":
            dropped.add(i)
        else:
            leaf = rehashed(replace(leaf, usage_key=extra_key(j, i)))
            extras.append(leaf)
        expected[leaf.usage_key] = CLASS_OF[kind]
    return [leaf for i, leaf in enumerate(theirs) if i not in dropped] + extras, expected


# -- one party's batch: anchoring and the answering index, paid anyway (setup) -----------------


@dataclass(frozen=True)
class Side:
    """One party's batch of the window at one depth."""

    party: str
    leaves: Sequence[Leaf]
    depth: int
    tree: BatchTree
    members: Mapping[int, Sequence[Leaf]]
    """:func:`bucket_members`: the per-bucket index, built once per batch."""
    tree_s: float
    members_s: float

    @classmethod
    def build(cls, party: str, leaves: Sequence[Leaf], depth: int) -> Side:
        started = time.perf_counter()
        tree = BatchTree.from_columns(
            [leaf.usage_key for leaf in leaves], [leaf.leaf_hash for leaf in leaves], depth, SALT
        )
        built = time.perf_counter()
        members = bucket_members(leaves, depth, SALT)
        indexed = time.perf_counter()
        return cls(party, leaves, depth, tree, members, built - started, indexed - built)

    def digest_record(self) -> dict[str, Any]:
        """Its ``batch_digest`` record, as published (and mirrored) for every window."""
        return {
            "party": self.party,
            "agreement_id": AGREEMENT,
            "window_start_ms": WINDOW[0],
            "window_end_ms": WINDOW[1],
            "revision": 0,
            "depth": self.depth,
            "bucket_hashes": list(self.tree.bucket_hashes),
            "leaf_count": self.tree.leaf_count,
            "root": self.tree.root,
            "anchor_sequence": 1,
        }

    def anchor(self) -> dict[str, Any]:
        """What its signed anchor payload says of the batch (what the digest is checked with)."""
        committed = digest_hash_of(
            self.party,
            AGREEMENT,
            WINDOW[0],
            WINDOW[1],
            0,
            self.depth,
            self.tree.bucket_hashes,
            self.tree.leaf_count,
            self.tree.root,
        )
        return {
            "digest": {"hash": committed.hex(), "depth": self.depth},
            "root": self.tree.root.hex(),
            "leaf_count": self.tree.leaf_count,
        }


# -- the two exchanges (measured) ---------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """What one exchange sent and found."""

    sent: dict[str, int]
    """Bytes of each Avro message, by subject."""
    classes: dict[str, str]
    """Usage key → class, every record that is not ``exact``."""
    buckets: int = 0
    """Differing buckets (drill-down)."""
    opened: int = 0
    """Leaves sent (the answer's, or the whole list)."""

    @property
    def bytes(self) -> int:
        return sum(self.sent.values())


def classify_bucket(
    ours: Sequence[Leaf],
    theirs: Sequence[Leaf],
    into: dict[str, str],
    correlate: Callable[[str], str] | None = None,
) -> None:
    """Pair one bucket's leaves (by usage key; with ``correlate``, the rest by number pair and
    start within the start tolerance) and note every record that is not ``exact``."""
    pairing = pair_leaves(ours, theirs, correlate, TOLERANCE.start_ms)
    for here, there in pairing.pairs:
        found = classify_pair(here, there, TOLERANCE)
        if found != "exact":
            into[here.usage_key] = found
    into.update((leaf.usage_key, "missing-at-partner") for leaf in pairing.ours_only)
    into.update((leaf.usage_key, "missing-here") for leaf in pairing.theirs_only)


def drill_down(
    here: Side,
    there: Side,
    anchor: Mapping[str, Any],
    codec: SingleObjectCodec,
    correlate: Callable[[str], str] | None = None,
) -> Exchange:
    """B publishes its digest; A checks it against B's anchor, lists the differing buckets and
    asks for them; B answers from its bucket index; A re-hashes every opened leaf, checks each
    bucket against B's digest, pairs and classifies (``correlate``: by numbers, with
    :func:`~streams.reconcile.correlation.pair_of`). Every message Avro-encoded and decoded."""
    digest_bytes = codec.encode("batch_digest", there.digest_record())
    digest = Digest.from_avro(codec.decode("batch_digest", digest_bytes))
    problems = digest_problems(digest, anchor)
    differing = differing_buckets(here.tree.bucket_hashes, digest.bucket_hashes)
    request = make_request(
        party=here.party,
        partner=there.party,
        agreement_id=AGREEMENT,
        window=WINDOW,
        revision=0,
        root=digest.root,
        buckets=differing,
        now_ms=NOW_MS,
    )
    request_bytes = codec.encode("recon_request", request)
    asked = codec.decode("recon_request", request_bytes)
    answer = make_answer(asked, there.members, party=there.party, depth=there.depth, now_ms=NOW_MS)
    # As the reconciler sends it: in parts that each fit a Kafka message, joined on arrival.
    sent = [codec.encode("recon_answer", part) for part in split_answer(answer)]
    answer_bytes = b"".join(sent)
    joined = join_parts([codec.decode("recon_answer", part) for part in sent])
    assert joined is not None
    opened, refused = open_answer(joined, digest, SALT)
    if problems or refused:
        raise AssertionError(f"drill-down refused: {(problems + refused)[:3]}")
    classes: dict[str, str] = {}
    for bucket in differing:
        classify_bucket(here.members.get(bucket, ()), opened[bucket], classes, correlate)
    return Exchange(
        {
            "batch_digest": len(digest_bytes),
            "recon_request": len(request_bytes),
            "recon_answer": len(answer_bytes),
        },
        classes,
        len(differing),
        sum(len(leaves) for leaves in opened.values()),
    )


def naive(here: Sequence[Leaf], there: Sequence[Leaf], codec: SingleObjectCodec) -> Exchange:
    """B sends its whole leaf list, encoded leaf by leaf as an answer opens them (the
    ``recon_answer`` of :func:`make_answer` for a batch of one bucket); A decodes it, pairs it
    with its own by usage key and classifies the records whose fields differ.

    The cheapest honest baseline: no leaf hash is sent or recomputed (A compares fields and
    trusts B's list; checking it against B's anchored root would re-hash every leaf)."""
    everything = make_request(
        party=HERE,
        partner=THERE,
        agreement_id=AGREEMENT,
        window=WINDOW,
        revision=0,
        root=bytes(32),
        buckets=[0],
        now_ms=NOW_MS,
    )
    whole = make_answer(everything, {0: there}, party=THERE, depth=0, now_ms=NOW_MS)
    data = codec.encode("recon_answer", whole)
    received = codec.decode("recon_answer", data)["buckets"][0]["leaves"]
    theirs = {item["usage_key"]: item for item in received}
    classes: dict[str, str] = {}
    for leaf in here:
        item = theirs.pop(leaf.usage_key, None)
        if item is None:
            classes[leaf.usage_key] = "missing-at-partner"
        elif (
            Decimal(item["amount"]) != leaf.amount
            or item["quantity"] != leaf.quantity
            or item["start_ms"] != leaf.start_ms
            or item["unit"] != leaf.unit
            or item["currency"] != leaf.currency
            or item["agreement_version"] != leaf.agreement_version
        ):
            other = Leaf(
                item["usage_key"],
                b"",
                Decimal(item["amount"]),
                item["currency"],
                item["agreement_version"],
                item["start_ms"],
                item["quantity"],
                item["unit"],
                item["rate_id"],
            )
            classes[leaf.usage_key] = classify_pair(leaf, other, TOLERANCE)
    classes.update((key, "missing-here") for key in theirs)
    return Exchange({"recon_answer": len(data)}, classes, opened=len(received))


# -- depth: expected differing buckets, predicted bytes, the recommendation --------------------


def expected_buckets(k: float, depth: int) -> float:
    """Differing buckets expected when ``k`` divergences fall at random: ``2^d(1-e^(-k/2^d))``."""
    count = 1 << depth
    return count * -math.expm1(-k / count)


def predicted_bytes(records: int, k: float, depth: int, leaf_bytes: float = LEAF_BYTES) -> float:
    """Drill-down bytes: the digest (``2^d`` hashes) plus the opened buckets' leaves."""
    return HASH_BYTES * (1 << depth) + expected_buckets(k, depth) * records / (1 << depth) * (
        leaf_bytes
    )


def recommended_depth(
    records: int, rate: float, leaf_bytes: float = LEAF_BYTES, deepest: int = KAFKA_DEPTH
) -> int:
    """The depth that sends the fewest bytes for ``rate`` divergences per record expected in a
    window of ``records``: the digest (paid every window) against the opened buckets (paid per
    divergence). About ``log2(1.5 * sqrt(k * records))`` for k expected divergences, within
    [4, ``deepest``] (by default the deepest digest that fits a default Kafka message)."""
    k = rate * records
    return min(
        range(MIN_DEPTH, deepest + 1), key=lambda d: predicted_bytes(records, k, d, leaf_bytes)
    )


def simple_rule(k: float) -> int:
    """The rule first proposed: ``2^d >= 10 x expected divergences``, within [4, 16]."""
    return min(MAX_DEPTH, max(MIN_DEPTH, math.ceil(math.log2(max(10 * k, 1)))))


# -- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    records: int
    k: int
    depth: int
    drill: Exchange
    drill_s: float
    naive: Exchange
    naive_s: float
    found_exactly: bool
    """Both exchanges found exactly the injected divergences, each in its injected class."""

    @property
    def bytes_ratio(self) -> float:
        return self.naive.bytes / self.drill.bytes

    @property
    def time_ratio(self) -> float:
        return self.naive_s / self.drill_s

    @property
    def met(self) -> bool:
        return self.bytes_ratio >= TARGET_BYTES and self.time_ratio >= TARGET_TIME

    def row(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "divergences": self.k,
            "depth": self.depth,
            "differing_buckets": self.drill.buckets,
            "expected_differing_buckets": expected_buckets(self.k, self.depth),
            "opened_leaves": self.drill.opened,
            "drill_down_bytes": self.drill.bytes,
            "drill_down_messages": self.drill.sent,
            "predicted_drill_down_bytes": predicted_bytes(self.records, self.k, self.depth),
            "largest_message_bytes": max(self.drill.sent.values()),
            "naive_bytes": self.naive.bytes,
            "bytes_ratio": self.bytes_ratio,
            "drill_down_seconds": self.drill_s,
            "naive_seconds": self.naive_s,
            "time_ratio": self.time_ratio,
            "target_met": self.met,
            "found_exactly": self.found_exactly,
            "classes": dict(sorted(Counter(self.drill.classes.values()).items())),
        }


def timed(
    name: str, items: int, run: Callable[[], Exchange], repeat: int
) -> tuple[Exchange, float]:
    """``best_of`` a run (``repeat`` 0: one run, no warm-up, for runs of many seconds), keeping
    what the runs found (every run finds the same). The setup's millions of objects are frozen
    out of the cyclic GC first (``gc.freeze``; ``timeit`` disables the GC): otherwise a run
    pays for collections of the benchmark's own heap, several copies of both windows."""
    found: list[Exchange] = []
    gc.collect()
    gc.freeze()
    try:
        if repeat:
            row = best_of(name, items, lambda: found.append(run()), repeat)
            return found[-1], row.seconds
        started = time.perf_counter()
        found.append(run())
        return found[-1], time.perf_counter() - started
    finally:
        gc.unfreeze()


def print_header() -> None:
    print(
        f"{'records':>9} {'k':>5} {'d':>3} {'buckets (exp)':>15} {'opened':>9}"
        f" {'drill B':>11} {'naive B':>12} {'B ratio':>8}"
        f" {'drill s':>8} {'naive s':>8} {'t ratio':>8}  target"
    )


def print_case(case: Case) -> None:
    expected = f"{case.drill.buckets:,} ({expected_buckets(case.k, case.depth):,.0f})"
    big = "*" if case.drill.sent["batch_digest"] > KAFKA_MESSAGE else " "
    print(
        f"{case.records:>9,} {case.k:>5,} {case.depth:>3} {expected:>15} {case.drill.opened:>9,}"
        f" {case.drill.bytes:>10,}{big} {case.naive.bytes:>12,} {case.bytes_ratio:>7,.0f}x"
        f" {case.drill_s:>8.4f} {case.naive_s:>8.3f} {case.time_ratio:>7,.1f}x"
        f"  {'met' if case.met else '-'}"
        + ("" if case.found_exactly else "  WRONG: found differs from injected"),
        flush=True,
    )


def run_records(
    records: int,
    ks: Iterable[int],
    depths: Callable[[int], Iterable[int]],
    repeat: int,
    codec: SingleObjectCodec,
    setup: dict[str, float],
) -> list[Case]:
    """Every case of one window size: A's window, then per k B's and the naive exchange, then
    per depth both batches (setup) and the drill-down."""
    started = time.perf_counter()
    ours = window_leaves(records)
    setup[f"generate {records:,} leaves"] = time.perf_counter() - started
    mine: dict[int, Side] = {}
    cases = []
    for k in ks:
        theirs, injected = diverge(ours, k)
        plain, plain_s = timed("naive", records, partial(naive, ours, theirs, codec), repeat)
        for depth in depths(k):
            if depth not in mine:
                mine[depth] = Side.build(HERE, ours, depth)
            here, there = mine[depth], Side.build(THERE, theirs, depth)
            setup[f"BatchTree.from_columns, {records:,} leaves"] = here.tree_s
            setup[f"bucket_members, {records:,} leaves"] = here.members_s
            heavy = expected_buckets(k, depth) * records / (1 << depth) > HEAVY
            drill, drill_s = timed(
                "drill-down",
                records,
                partial(drill_down, here, there, there.anchor(), codec),
                0 if heavy else repeat,
            )
            found = drill.classes == injected == plain.classes
            case = Case(records, k, depth, drill, drill_s, plain, plain_s, found)
            print_case(case)
            cases.append(case)
    return cases


# -- correlation by numbers (issue 11): the same calls keyed by numbers or by a shared key -----

SUBSCRIBERS, DESTINATIONS = 2_000, 50_000
"""A numbers (party A's subscribers) and B numbers (destinations) of the calls."""
CONTACTS, REGULAR = 20, 0.7
"""Each A number's regular destinations, and the share of its calls that go to them (Zipf: the
r-th is called 1/r as often as the first); the other calls go to any destination, uniformly."""
SKEWS = (0.0, 0.0001, 0.001, 0.01)
"""Shares of calls whose start B's switch reports 1 s off A's (clock skew within tolerance)."""
SKEW_MS = 1_000
NUMBERS_K = TARGET_K


def a_number(i: int) -> str:
    """The i-th A number as party A's switch reports it."""
    return f"+49 30 {5_000_000 + i:07d}"


def b_number(i: int) -> str:
    """The i-th B number as party A's switch reports it."""
    return f"+44 7{i:09d}"


def fresh_number(j: int) -> str:
    """A B number no call of the window has: the destination of the j-th call only B has."""
    return f"+44 8{j:09d}"


def as_partner_reports(number: str) -> str:
    """The same number as party B's switch reports it: international ``00`` form, no spaces."""
    return "00" + normalise_number(number)


@dataclass(frozen=True)
class Calls:
    """One window of calls between number pairs, as columns (numbers as A's switch reports
    them), with both keys of each: the correlation key and the shared ``sw/<id>`` key."""

    a: list[str]
    b: list[str]
    starts: list[int]
    seconds: list[int]
    amounts: list[Decimal]
    rates: list[str]
    numbers_keys: list[str]
    shared_keys: list[str]

    def __len__(self) -> int:
        return len(self.starts)

    def pair(self, i: int) -> str:
        return pair_of(self.numbers_keys[i])

    def leaves(self, numbers: bool) -> list[Leaf]:
        keys = self.numbers_keys if numbers else self.shared_keys
        return leaves_of(keys, self.starts, self.seconds, self.amounts, self.rates)

    def traffic(self) -> dict[str, Any]:
        calls = Counter(self.pair(i) for i in range(len(self)))
        return {
            "calls": len(self),
            "a_numbers": len(set(self.a)),
            "b_numbers": len(set(self.b)),
            "number_pairs": len(calls),
            "calls_per_pair_mean": len(self) / len(calls),
            "calls_per_pair_max": max(calls.values()),
            "calls_in_pairs_of_10_or_more": sum(c for c in calls.values() if c >= 10) / len(self),
        }


def numbers_calls(count: int, seed: int = 20261126) -> Calls:
    """``count`` calls of one window: A uniform among :data:`SUBSCRIBERS` numbers; B one of
    A's :data:`CONTACTS` regular destinations (Zipf) for a share :data:`REGULAR`, else any of
    :data:`DESTINATIONS`; the start a whole second of the window, as switches report it (no
    two calls between the same numbers in the same second: one would be the other)."""
    rnd = random.Random(seed)
    contacts = [rnd.sample(range(DESTINATIONS), CONTACTS) for _ in range(SUBSCRIBERS)]
    weights = [1 / rank for rank in range(1, CONTACTS + 1)]
    seconds_in_window = (WINDOW[1] - WINDOW[0]) // 1_000
    calls = Calls([], [], [], [], [], [], [], [])
    taken: set[str] = set()
    for i in range(count):
        who = rnd.randrange(SUBSCRIBERS)
        if rnd.random() < REGULAR:
            whom = rnd.choices(contacts[who], weights)[0]
        else:
            whom = rnd.randrange(DESTINATIONS)
        a, b = a_number(who), b_number(whom)
        key = ""
        while not key or key in taken:
            start = WINDOW[0] + rnd.randrange(seconds_in_window) * 1_000
            key = correlation_key(a, b, start)
        taken.add(key)
        calls.a.append(a)
        calls.b.append(b)
        calls.starts.append(start)
        calls.seconds.append(rnd.randrange(1, 3_600))
        calls.amounts.append(Decimal(rnd.randrange(1, 400_000)).scaleb(-4))
        calls.rates.append(rnd.choice(_RATES))
        calls.numbers_keys.append(key)
        calls.shared_keys.append(f"sw-{i % 16:02d}/c-{i:07d}")
    for i in range(min(count, 1_000)):  # B's switch writes the numbers otherwise: the same key
        there = correlation_key(
            as_partner_reports(calls.a[i]), as_partner_reports(calls.b[i]), calls.starts[i]
        )
        if there != calls.numbers_keys[i]:
            raise AssertionError(f"call {i}: correlation keys differ: {there!r}")
    return calls


@dataclass(frozen=True)
class Injected:
    """What B's copy of the calls changes: ``k`` divergences (call index, kind), the kinds in
    turn, and the calls whose start B's switch saw off by :data:`SKEW_MS` (index → B's start)."""

    picks: list[tuple[int, str]]
    skewed: dict[int, int]


def inject(calls: Calls, k: int, skewed: int, seed: int = 11) -> Injected:
    """``k`` divergences at random calls (the same for every ``skewed``) and ``skewed`` calls
    1 s off, each 1 s earlier or later at random (inside the window).

    A skewed call has no other call between the same numbers within 2 s and no divergence in
    its number pair, so exactly one pairing is right and the check below can be exact (which
    pairing ``pair_leaves`` chooses among near calls is its own tests' business)."""
    if skewed > len(calls) // 10:
        raise ValueError(f"skewed calls: got {skewed:,}, want at most a tenth of the calls")
    picks = divergence_picks(len(calls), k, seed)
    avoid = {calls.pair(i) for i, _ in picks}
    picked = {i for i, _ in picks}
    known = set(calls.numbers_keys)
    chosen: dict[int, int] = {}
    skew = random.Random(seed * 1_000_003 + skewed)
    while len(chosen) < skewed:
        i = skew.randrange(len(calls))
        pair, start = calls.pair(i), calls.starts[i]
        if i in picked or i in chosen or pair in avoid:
            continue
        if any(f"{pair}|{start + step * SKEW_MS}" in known for step in (-2, -1, 1, 2)):
            continue
        moved = start + skew.choice((-SKEW_MS, SKEW_MS))
        if not WINDOW[0] <= moved < WINDOW[1]:
            moved = 2 * start - moved
        chosen[i] = moved
    return Injected(picks, chosen)


def party_b(
    calls: Calls, ours: Sequence[Leaf], injected: Injected, numbers: bool, skew: bool
) -> tuple[list[Leaf], dict[str, str]]:
    """B's leaves (keyed by numbers or by the shared key, like ``ours``) and the class each
    differing record must be found as: the divergences as :func:`diverge` makes them (a call
    only B has goes to a number no other call has), and with ``skew`` the skewed calls, found
    ``within-tolerance`` (under a shared key the start changes, the key does not)."""

    def extra_key(j: int, i: int) -> str:
        if numbers:
            return correlation_key(calls.a[i], fresh_number(j), calls.starts[i])
        return f"sw-99/x-{j:07d}"

    changed = {
        i: rehashed(
            replace(
                ours[i],
                usage_key=correlation_key(calls.a[i], calls.b[i], start)
                if numbers
                else ours[i].usage_key,
                start_ms=start,
            )
        )
        for i, start in (injected.skewed.items() if skew else ())
    }
    theirs, expected = diverged(ours, injected.picks, extra_key, changed)
    expected.update((ours[i].usage_key, "within-tolerance") for i in changed)
    return theirs, expected


@dataclass(frozen=True)
class NumbersCase:
    """One skew share: the same calls and divergences reconciled in both modes."""

    skew: float
    skewed: int
    depth: int
    shared: Exchange
    """Shared key, no skew (B's switch reports the same start: one record, one source)."""
    numbers: Exchange
    numbers_s: float
    shared_skewed: Exchange
    """Shared key with the same skewed calls: their start changes the leaf as well."""
    found_exactly: bool
    """Each exchange found exactly what was injected, each record in its class."""

    @property
    def expected(self) -> float:
        return expected_buckets(NUMBERS_K + self.skewed, self.depth)

    @property
    def ratio(self) -> float:
        return self.numbers.bytes / self.shared.bytes

    @property
    def ratio_same_skew(self) -> float:
        return self.numbers.bytes / self.shared_skewed.bytes

    def row(self) -> dict[str, Any]:
        def of(exchange: Exchange) -> dict[str, Any]:
            return {
                "differing_buckets": exchange.buckets,
                "opened_leaves": exchange.opened,
                "drill_down_bytes": exchange.bytes,
                "drill_down_messages": exchange.sent,
            }

        return {
            "skew_fraction": self.skew,
            "skewed_calls": self.skewed,
            "depth": self.depth,
            "expected_differing_buckets": self.expected,
            "shared_key": of(self.shared),
            "numbers": of(self.numbers),
            "shared_key_same_skew": of(self.shared_skewed),
            "bytes_ratio": self.ratio,
            "bytes_ratio_same_skew": self.ratio_same_skew,
            "numbers_seconds": self.numbers_s,
            "found_exactly": self.found_exactly,
            "classes": dict(sorted(Counter(self.numbers.classes.values()).items())),
        }


def native_agrees(leaves: Sequence[Leaf], depth: int) -> bool:
    """Whether the C build buckets correlation keys as :func:`bucket_of` does (by the part
    before ``|``): the same bucket hashes as the Python build, on these leaves."""
    keys, hashes = [leaf.usage_key for leaf in leaves], [leaf.leaf_hash for leaf in leaves]
    trees = [BatchTree.from_columns(keys, hashes, depth, SALT, native=c) for c in (True, False)]
    return trees[0].bucket_hashes == trees[1].bucket_hashes


def run_numbers(
    records: int,
    skews: Sequence[float],
    depth: int,
    codec: SingleObjectCodec,
    setup: dict[str, float],
) -> tuple[list[NumbersCase], dict[str, Any]]:
    """The calls, keyed both ways; per skew share, B's copy in both modes and the drill-downs
    (shared key without skew once: its B does not change with the skew)."""
    started = time.perf_counter()
    calls = numbers_calls(records)
    ours = {numbers: calls.leaves(numbers) for numbers in (False, True)}
    setup[f"generate {records:,} calls, keyed both ways"] = time.perf_counter() - started
    if NATIVE and not native_agrees(ours[True][:5_000], depth):
        raise AssertionError("the C build buckets correlation keys unlike bucket_of")
    here = {numbers: Side.build(HERE, ours[numbers], depth) for numbers in (False, True)}

    def exchange(numbers: bool, injected: Injected, skew: bool) -> tuple[Exchange, float, bool]:
        theirs, expected = party_b(calls, ours[numbers], injected, numbers, skew)
        there = Side.build(THERE, theirs, depth)
        correlate = pair_of if numbers else None
        run = partial(drill_down, here[numbers], there, there.anchor(), codec, correlate)
        found, seconds = timed("drill-down", records, run, 0)
        return found, seconds, found.classes == expected

    plain, _, plain_ok = exchange(False, inject(calls, NUMBERS_K, 0), skew=False)
    cases = []
    for share in skews:
        injected = inject(calls, NUMBERS_K, round(share * records))
        numbered, numbered_s, numbered_ok = exchange(True, injected, skew=True)
        skewed, skewed_ok = plain, plain_ok
        if injected.skewed:
            skewed, _, skewed_ok = exchange(False, injected, skew=True)
        ok = plain_ok and numbered_ok and skewed_ok
        case = NumbersCase(
            share, len(injected.skewed), depth, plain, numbered, numbered_s, skewed, ok
        )
        print_numbers_case(case)
        cases.append(case)
    sizes = {
        mode: [len(members) for members in here[numbers].members.values()]
        for mode, numbers in (("shared_key", False), ("numbers", True))
    }
    traffic = calls.traffic() | {
        "largest_bucket": {mode: max(counts) for mode, counts in sizes.items()},
        "mean_bucket": records / (1 << depth),
    }
    return cases, traffic


def print_numbers_header(records: int, depth: int) -> None:
    print(
        f"\nCorrelation by numbers vs a shared key: the same {records:,} calls, {NUMBERS_K} "
        f"divergences, depth {depth}, C build: {'yes' if NATIVE else 'no'}\n(skewed: calls "
        f"whose start B's switch saw {SKEW_MS // 1000} s off, numbers mode only; buckets: "
        f"numbers mode, expected for k + skewed in brackets;\n shared+skew: the shared key if "
        f"the same starts differed; ratio: numbers-mode bytes / shared-key bytes)"
    )
    print(
        f"{'skew':>7} {'skewed':>7} {'buckets (exp)':>15} {'opened':>9} {'shared B':>10}"
        f" {'numbers B':>11} {'ratio':>7} {'shared+skew B':>14} {'ratio':>7} {'num s':>7}  found"
    )


def print_numbers_case(case: NumbersCase) -> None:
    buckets = f"{case.numbers.buckets:,} ({case.expected:,.0f})"
    print(
        f"{case.skew:>7.2%} {case.skewed:>7,} {buckets:>15} {case.numbers.opened:>9,}"
        f" {case.shared.bytes:>10,} {case.numbers.bytes:>11,} {case.ratio:>6,.1f}x"
        f" {case.shared_skewed.bytes:>14,} {case.ratio_same_skew:>6,.2f}x"
        f" {case.numbers_s:>7.2f}  {'exactly' if case.found_exactly else 'WRONG'}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = arguments(__doc__, repeat=3)
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="records in the window (default 1,000,000)"
    )
    parser.add_argument(
        "--divergences", default="10,100,1000", help="divergences injected (default 10,100,1000)"
    )
    parser.add_argument(
        "--depths",
        default="8,10,12,14,16",
        help="digest depths for every k (default 8,10,12,14,16), plus both rules' picks",
    )
    parser.add_argument(
        "--scale-records",
        type=int,
        default=250_000,
        help="a second window size, at the first k (default 250,000; 0: none)",
    )
    parser.add_argument(
        "--numbers-records",
        type=int,
        default=1_000_000,
        help="calls of the numbers-mode comparison (default 1,000,000; 0: none)",
    )
    parser.add_argument(
        "--skews",
        default=",".join(map(str, SKEWS)),
        help="shares of calls 1 s off in numbers mode (default 0,0.0001,0.001,0.01)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument(
        "--out", default="reconcile.json", help="JSON file, relative to bench/results/"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.scale_records, args.repeat = 4_000, 1_000, 1
        args.divergences, args.depths = "4,40", "4,8"
        args.numbers_records = 10_000
    ks = [int(k) for k in args.divergences.split(",")]
    sweep = {int(d) for d in args.depths.split(",")}
    records = args.records

    def depths(n: int) -> Callable[[int], list[int]]:
        if args.quick:
            return lambda k: sorted(sweep)
        return lambda k: sorted({*sweep, simple_rule(k), recommended_depth(n, k / n)})

    codec = SingleObjectCodec()
    setup: dict[str, float] = {}
    print(
        f"\nReconciliation of one window, drill-down by bucket vs naive exchange of the full "
        f"leaf lists, best of {args.repeat}\n(bytes: every Avro message; *: one over "
        f"librdkafka's 1 MB default; buckets: differing, expected in brackets)"
    )
    print_header()
    cases = run_records(records, ks, depths(records), args.repeat, codec, setup)
    if args.scale_records:
        scaled = args.scale_records
        first = [c for c in cases if c.k == ks[0]]
        best = min(first, key=lambda c: c.drill.bytes)
        shift = round(math.log2(records / scaled))
        picks = {DEFAULT_DEPTH, best.depth - shift, recommended_depth(scaled, ks[0] / scaled)}
        chosen = sorted(picks & set(range(MAX_DEPTH + 1)))
        cases += run_records(scaled, ks[:1], lambda k: chosen, args.repeat, codec, setup)

    print("\nsetup, paid at anchoring anyway, per party (not measured above):")
    for name, seconds in setup.items():
        print(f"  {name}: {seconds:.2f} s")
    verdict = judge([c for c in cases if c.records == records and c.k == TARGET_K])
    print(
        f"target: at {TARGET_K} divergences in {records:,} records, >= {TARGET_BYTES:.0f}x "
        f"fewer bytes and >= {TARGET_TIME:.0f}x less time than naive: {verdict}"
    )
    print(f"\ndepth by expected divergences k in the window (fewest bytes, at most {KAFKA_DEPTH}):")
    print(f"{'k':>7} {'2^d >= 10k':>11} {'fewest bytes':>13} {'measured: bytes':>16} {'time':>5}")
    chosen_depths: dict[str, dict[str, int]] = {}
    for k in ks:
        at_k = [c for c in cases if c.records == records and c.k == k]
        pick = {
            "rule_10k": simple_rule(k),
            "recommended": recommended_depth(records, k / records),
            "measured_fewest_bytes": min(at_k, key=lambda c: c.drill.bytes).depth,
            "measured_fastest": min(at_k, key=lambda c: c.drill_s).depth,
        }
        chosen_depths[str(k)] = pick
        print(
            f"{k:>7,} {pick['rule_10k']:>11} {pick['recommended']:>13}"
            f" {pick['measured_fewest_bytes']:>16} {pick['measured_fastest']:>5}"
        )
    numbers_mode = None
    if args.numbers_records:
        numbers_mode = numbers_section(
            args.numbers_records, [float(s) for s in args.skews.split(",")], codec, setup
        )
    opened = [c for c in cases if c.drill.opened]
    leaf_bytes = sum(c.drill.sent["recon_answer"] for c in opened) / sum(
        c.drill.opened for c in opened
    )

    RESULTS.mkdir(exist_ok=True)
    payload = {
        "title": f"reconciliation of one window of {records:,} records: drill-down vs naive",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "baseline": "naive: B's whole leaf list (recon_answer encoding), compared by usage key",
        "repeat": args.repeat,
        "target": {
            "divergences": TARGET_K,
            "min_bytes_ratio": TARGET_BYTES,
            "min_time_ratio": TARGET_TIME,
            "verdict": verdict,
        },
        "setup_seconds": setup,
        "answer_bytes_per_opened_leaf": leaf_bytes,
        "depths": chosen_depths,
        "rows": [case.row() for case in cases],
    }
    if numbers_mode is not None:
        payload["numbers_mode"] = numbers_mode
    path = RESULTS / args.out  # an absolute --out replaces RESULTS
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    if not all(case.found_exactly for case in cases):
        raise SystemExit("an exchange did not find exactly the injected divergences")
    if numbers_mode is not None and not all(row["found_exactly"] for row in numbers_mode["rows"]):
        raise SystemExit("a numbers-mode exchange did not find exactly the injected differences")


def numbers_section(
    records: int, skews: Sequence[float], codec: SingleObjectCodec, setup: dict[str, float]
) -> dict[str, Any]:
    """The numbers-mode comparison at the depth recommended for :data:`NUMBERS_K`: its table
    printed, its JSON returned."""
    depth = recommended_depth(records, NUMBERS_K / records)
    print_numbers_header(records, depth)
    cases, traffic = run_numbers(records, skews, depth, codec, setup)
    print(
        f"calls: {traffic['a_numbers']:,} A numbers x {traffic['b_numbers']:,} B numbers, "
        f"{traffic['number_pairs']:,} number pairs, {traffic['calls_per_pair_mean']:.1f} calls "
        f"a pair on average, at most {traffic['calls_per_pair_max']:,}; largest bucket "
        f"{traffic['largest_bucket']['numbers']:,} leaves by numbers, "
        f"{traffic['largest_bucket']['shared_key']:,} by shared key (mean "
        f"{traffic['mean_bucket']:,.0f})"
    )

    def per_leaf(exchanges: Iterable[Exchange]) -> float | None:
        opened = [e for e in exchanges if e.opened]
        if not opened:
            return None
        return sum(e.sent["recon_answer"] for e in opened) / sum(e.opened for e in opened)

    return {
        "title": (
            f"correlation by numbers vs a shared key: {records:,} calls, "
            f"{NUMBERS_K} divergences, depth {depth}"
        ),
        "records": records,
        "divergences": NUMBERS_K,
        "depth": depth,
        "native": NATIVE,
        "skew_ms": SKEW_MS,
        "start_tolerance_ms": TOLERANCE.start_ms,
        "traffic": traffic,
        "answer_bytes_per_opened_leaf": {
            "shared_key": per_leaf(c.shared_skewed for c in cases),
            "numbers": per_leaf(c.numbers for c in cases),
        },
        "rows": [case.row() for case in cases],
    }


def judge(at_target: Sequence[Case]) -> str:
    """The verdict on issue 11's target, from the cases at 10 divergences."""
    if not at_target:
        return f"not measured (no case with {TARGET_K} divergences)"
    best = max(
        at_target, key=lambda c: min(c.bytes_ratio / TARGET_BYTES, c.time_ratio / TARGET_TIME)
    )
    verdict = (
        f"{'met' if best.met else 'NOT met'} at depth {best.depth}"
        f" ({best.bytes_ratio:,.0f}x fewer bytes, {best.time_ratio:,.1f}x less time)"
    )
    met = [c.depth for c in at_target if c.met]
    if met:
        verdict += f"; met at depths {', '.join(map(str, met))}"
    default = next((c for c in at_target if c.depth == DEFAULT_DEPTH), None)
    if default is not None and not default.met:
        verdict += (
            f"; not at the default depth {DEFAULT_DEPTH}"
            f" ({default.bytes_ratio:,.0f}x, {default.time_ratio:,.1f}x)"
        )
    return verdict


if __name__ == "__main__":
    main()
