"""Classifying the records of differing buckets, as carrier reconciliation tools do. Pure.

Both parties' leaves of one bucket are paired (:func:`pair_leaves`): by usage key when the
agreement correlates by a shared key; by normalised number pair and start time within a
tolerance when it correlates by numbers (:mod:`streams.reconcile.correlation`). Each pair is
then one class (:func:`classify_pair`), checked in this order:

=====================  ========================================================================
``exact``              same leaf hash
``version-mismatch``   rated under different agreement versions
``start-mismatch``     starts further apart than the duration tolerance
``quantity-mismatch``  quantities further apart than the tolerance (seconds: the duration
                       tolerance; messages and bytes: none)
``amount-mismatch``    quantities within tolerance, amounts further apart than the amount
                       tolerance (a different price: the alert names both rate ids)
``within-tolerance``   every difference within the agreement's tolerances
=====================  ========================================================================

A leaf with no partner is *missing*: at the partner (ours only) or here (theirs only), unless
the engine finds it in an adjacent window (``cross-window``) or as a second record of a usage
already paired (``duplicate``), see :mod:`streams.reconcile.engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from streams.agreement.model import Tolerances
from streams.ledger.batching import Leaf

__all__ = [
    "Pairing",
    "Tolerance",
    "classify_pair",
    "fingerprint",
    "pair_leaves",
]


@dataclass(frozen=True, slots=True)
class Tolerance:
    """The agreement's tolerances, as reconciliation applies them."""

    start_ms: int
    """How far apart two starts may be (the duration tolerance, in ms)."""
    seconds: Decimal
    """How far apart two durations may be, in seconds."""
    amount: Decimal
    """How far apart two amounts may be."""

    @classmethod
    def of(cls, tolerances: Tolerances) -> Tolerance:
        seconds = tolerances.duration_seconds
        return cls(int(seconds * 1000), seconds, tolerances.amount)


@dataclass(frozen=True, slots=True)
class Pairing:
    """The leaves of one bucket on both sides, paired."""

    pairs: tuple[tuple[Leaf, Leaf], ...]
    """(ours, theirs) of one usage."""
    ours_only: tuple[Leaf, ...]
    theirs_only: tuple[Leaf, ...]


def _quantity(leaf: Leaf) -> Decimal:
    return Decimal(leaf.quantity or "0")


def classify_pair(here: Leaf, there: Leaf, tolerance: Tolerance) -> str:
    """The class of two leaves of one usage (see the module docstring)."""
    if here.leaf_hash == there.leaf_hash and here.leaf_hash:
        return "exact"
    if here.agreement_version != there.agreement_version:
        return "version-mismatch"
    if abs((here.start_ms or 0) - (there.start_ms or 0)) > tolerance.start_ms:
        return "start-mismatch"
    allowed = tolerance.seconds if here.unit == "second" == there.unit else Decimal(0)
    if here.unit != there.unit or abs(_quantity(here) - _quantity(there)) > allowed:
        return "quantity-mismatch"
    if here.currency != there.currency or abs(here.amount - there.amount) > tolerance.amount:
        return "amount-mismatch"
    return "within-tolerance"


def pair_leaves(
    ours: Sequence[Leaf],
    theirs: Sequence[Leaf],
    correlate: Callable[[str], str] | None = None,
    start_ms: int = 0,
) -> Pairing:
    """Pair two sides' leaves of one bucket: first by usage key; then, when ``correlate``
    is given (correlation by numbers: it maps a key to its number pair), the leaves left over
    by number pair with starts at most ``start_ms`` apart, nearest first. Deterministic: the
    result does not depend on the order of either input."""
    by_key = {leaf.usage_key: leaf for leaf in theirs}
    pairs: list[tuple[Leaf, Leaf]] = []
    left_ours: list[Leaf] = []
    for leaf in sorted(ours, key=lambda item: item.usage_key):
        other = by_key.pop(leaf.usage_key, None)
        if other is None:
            left_ours.append(leaf)
        else:
            pairs.append((leaf, other))
    left_theirs = sorted(by_key.values(), key=lambda item: item.usage_key)
    if correlate is not None and left_ours and left_theirs:
        candidates = sorted(
            (
                abs((a.start_ms or 0) - (b.start_ms or 0)),
                a.usage_key,
                b.usage_key,
            )
            for a in left_ours
            for b in left_theirs
            if correlate(a.usage_key) == correlate(b.usage_key)
            and abs((a.start_ms or 0) - (b.start_ms or 0)) <= start_ms
        )
        mine = {leaf.usage_key: leaf for leaf in left_ours}
        yours = {leaf.usage_key: leaf for leaf in left_theirs}
        for _gap, a_key, b_key in candidates:
            if a_key in mine and b_key in yours:
                pairs.append((mine.pop(a_key), yours.pop(b_key)))
        left_ours = sorted(mine.values(), key=lambda item: item.usage_key)
        left_theirs = sorted(yours.values(), key=lambda item: item.usage_key)
    pairs.sort(key=lambda pair: pair[0].usage_key)
    return Pairing(tuple(pairs), tuple(left_ours), tuple(left_theirs))


def fingerprint(leaf: Leaf) -> tuple[object, ...]:
    """What two records of one usage share even under different keys: start, quantity, unit,
    amount, currency, version. Two leaves of one side with one fingerprint are a duplicate."""
    return (
        leaf.start_ms,
        leaf.quantity,
        leaf.unit,
        leaf.amount.normalize(),
        leaf.currency,
        leaf.agreement_version,
    )
