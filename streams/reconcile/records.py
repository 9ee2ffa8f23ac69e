"""The record pass of one diverged window: pair and classify the records of the differing
buckets, look for a record without a partner in the adjacent window and among duplicates, and
raise one alert per divergent record with both values, the money and both sides' proofs. Pure;
driven by :mod:`streams.reconcile.engine` for each window whose roots differ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from streams.core.canonical import decimal_text
from streams.ledger.batching import Leaf
from streams.merkle.buckets import bucket_of
from streams.reconcile.classify import classify_pair, fingerprint, pair_leaves
from streams.reconcile.correlation import pair_of
from streams.reconcile.exchange import Digest
from streams.reconcile.proofs import bucket_proof, proof_json
from streams.reconcile.status import Anchor, Window, WindowStatus

if TYPE_CHECKING:
    from streams.reconcile.engine import _Run

__all__ = ["WindowRecords", "here_total_of"]


def here_total_of(leaves: Iterable[Leaf]) -> Decimal:
    return sum((leaf.amount for leaf in leaves), Decimal(0))


class WindowRecords:
    """The record pass of one evaluation (``run``): :meth:`classify` one window at a time."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def classify(
        self,
        window: Window,
        ours: Anchor,
        theirs: Anchor,
        digest: Digest,
        members: Mapping[int, list[Leaf]],
        differing: Sequence[int],
        opened: Mapping[int, list[Leaf]],
        base: dict[str, Any],
    ) -> WindowStatus:
        e = self.run.e
        counts: dict[str, int] = {}
        at_stake = Decimal(0)
        waiting = False
        mine_only: list[Leaf] = []
        theirs_only: list[tuple[int, Leaf]] = []
        findings: list[tuple[str, Leaf | None, Leaf | None, int]] = []
        for bucket in differing:
            if bucket not in opened:
                waiting = True
                continue
            pairing = pair_leaves(
                members.get(bucket, []),
                opened[bucket],
                pair_of if e.by_numbers else None,
                e.tolerance.start_ms,
            )
            for mine, yours in pairing.pairs:
                findings.append(
                    (classify_pair(mine, yours, self.run.e.tolerance), mine, yours, bucket)
                )
            mine_only.extend(pairing.ours_only)
            theirs_only.extend((bucket, leaf) for leaf in pairing.theirs_only)
        own_window = e.own_leaves.get(ours.key, ())
        unpaired = {leaf.usage_key for leaf in mine_only}
        by_print: dict[tuple[object, ...], list[Leaf]] = {}
        for leaf in own_window:
            by_print.setdefault(fingerprint(leaf), []).append(leaf)

        def twin_of(leaf: Leaf) -> Leaf | None:
            """Another record of this side with ``leaf``'s fingerprint that has a partner: the
            record ``leaf`` duplicates (None if there is none)."""
            return next(
                (
                    other
                    for other in by_print.get(fingerprint(leaf), [])
                    if other.usage_key != leaf.usage_key and other.usage_key not in unpaired
                ),
                None,
            )

        for leaf in mine_only:
            bucket = bucket_of(leaf.usage_key, e.depth, e.salt)
            found = self._cross_window(window, leaf, here_side=True, bucket=bucket)
            if found is None:
                waiting = True
                continue
            if found:
                findings.append(("cross-window", leaf, found[0], bucket))
                continue
            twin = twin_of(leaf)
            findings.append(("duplicate" if twin else "missing-at-partner", leaf, twin, bucket))
        for bucket, leaf in theirs_only:
            found = self._cross_window(window, leaf, here_side=False, bucket=bucket)
            if found is None:
                waiting = True
                continue
            if found:
                findings.append(("cross-window", found[0], leaf, bucket))
                continue
            twin = twin_of(leaf)
            findings.append(
                ("duplicate-at-partner" if twin else "missing-here", twin, leaf, bucket)
            )
        exact_outside = int(ours.payload["leaf_count"]) - sum(
            len(members.get(b, [])) for b in differing
        )
        counts["exact"] = exact_outside
        money_agreed = here_total_of(own_window) - sum(
            (leaf.amount for b in differing for leaf in members.get(b, [])), Decimal(0)
        )
        for kind, here, there, bucket in findings:
            name = "duplicate" if kind == "duplicate-at-partner" else kind
            counts[name] = counts.get(name, 0) + 1
            if kind == "exact":
                assert here is not None
                money_agreed += here.amount
                continue
            stake = self._record_alert(
                window, ours, theirs, digest, opened, kind, here, there, bucket
            )
            if kind == "within-tolerance" and here is not None:
                money_agreed += here.amount
            else:
                at_stake += stake
        if waiting:
            return WindowStatus(
                state="drilling", waiting_for="adjacent window", counts=counts, **base
            )
        agreed = all(k in ("exact", "within-tolerance", "cross-window") for k in counts)
        return WindowStatus(
            state="agreed-within-tolerance" if agreed else "diverged",
            counts=counts,
            money_agreed=money_agreed,
            at_stake=at_stake,
            **base,
        )

    def _cross_window(
        self, window: Window, leaf: Leaf, *, here_side: bool, bucket: int
    ) -> tuple[Leaf, Window] | tuple[()] | None:
        """The other side's record of ``leaf``'s usage in the adjacent window: ``(leaf,
        window)`` if there, ``()`` if not (or not near an edge), None if not known yet."""
        adjacent = self.run.adjacent(window, leaf.start_ms)
        if adjacent is None:
            return ()
        if here_side:
            others = self.run.partner_bucket(adjacent, bucket)
            if others is None:
                return None
        else:
            anchor = self.run.ours.get(adjacent)
            others = list(self.run.e.own_leaves.get(anchor.key, ())) if anchor else []
        match = next((o for o in others if self.run.same_usage(o, leaf)), None)
        return (match, adjacent) if match is not None else ()

    def _record_alert(
        self,
        window: Window,
        ours: Anchor,
        theirs: Anchor,
        digest: Digest,
        opened: Mapping[int, list[Leaf]],
        kind: str,
        here: Leaf | None,
        there: Leaf | None,
        bucket: int,
    ) -> Decimal:
        """Raise the alert of one record finding; returns the money it puts at stake."""
        e = self.run.e
        name = "duplicate" if kind == "duplicate-at-partner" else kind
        if kind == "duplicate":
            assert here is not None and there is not None
            keys = sorted([here.usage_key, there.usage_key])
            stake = here.amount
            detail = (
                f"{here.usage_key} duplicates {there.usage_key} here (same start, quantity and "
                f"amount); {e.partner} has only one"
            )
            here_v, there_v, there = here.amount, None, None
        elif kind == "duplicate-at-partner":
            assert here is not None and there is not None
            keys = sorted([here.usage_key, there.usage_key])
            stake = there.amount
            detail = (
                f"{there.usage_key} at {e.partner} duplicates {here.usage_key} (same start, "
                "quantity and amount); this party has only one"
            )
            here_v, there_v, here = None, there.amount, None
        else:
            key = (here or there).usage_key  # type: ignore[union-attr]
            keys = [key]
            here_v = here.amount if here else None
            there_v = there.amount if there else None
            stake = abs((here_v or Decimal(0)) - (there_v or Decimal(0)))
            detail = self._detail(kind, here, there)
        facts: dict[str, str] = {}
        for side, leaf in (("here", here), ("partner", there)):
            if leaf is not None:
                facts[f"{side}_start_ms"] = str(leaf.start_ms)
                facts[f"{side}_quantity"] = f"{leaf.quantity} {leaf.unit}"
                facts[f"{side}_amount"] = decimal_text(leaf.amount)
                facts[f"{side}_rate_id"] = leaf.rate_id or ""
                facts[f"{side}_version"] = leaf.agreement_version
        here_proof = self._own_proof(here) if here is not None and name != "cross-window" else None
        partner_proof = (
            self._partner_proof(theirs, digest, opened.get(bucket, []), there)
            if there is not None and name != "cross-window"
            else None
        )
        identity: tuple[object, ...] = (
            (*keys,)
            if name in ("cross-window", "duplicate")
            else (
                *keys,
                window[0],
            )
        )
        alert_window = window
        if name == "cross-window":
            size = window[1] - window[0]
            starts = [leaf.start_ms or 0 for leaf in (here, there) if leaf is not None]
            first = min(window[0], *[s - (s - window[0]) % size for s in starts])
            alert_window = (first, first + size)
        self.run.alert(
            alert_window,
            ours.revision,
            name,
            detail,
            identity=identity,
            record_keys=keys,
            here=here_v,
            there=there_v,
            currency=(here or there).currency if (here or there) else None,  # type: ignore[union-attr]
            at_stake=stake,
            facts=facts,
            here_proof=here_proof,
            partner_proof=partner_proof,
        )
        return stake

    def _detail(self, kind: str, here: Leaf | None, there: Leaf | None) -> str:
        partner = self.run.e.partner
        if here is None:
            assert there is not None
            return (
                f"{there.usage_key}: {partner} has it ({there.amount} {there.currency}), "
                "this party does not"
            )
        if there is None:
            return (
                f"{here.usage_key}: this party has it ({here.amount} {here.currency}), "
                f"{partner} does not"
            )
        what = {
            "within-tolerance": "differs within the agreement's tolerances",
            "quantity-mismatch": "quantity differs",
            "amount-mismatch": "same quantity, different amount",
            "start-mismatch": "start times differ beyond tolerance",
            "version-mismatch": "rated under different agreement versions",
            "cross-window": "the two sides put it in adjacent windows",
        }.get(kind, kind)
        return (
            f"{here.usage_key}: {what}: here {here.quantity} {here.unit}, {here.amount} "
            f"(rate {here.rate_id}, v{here.agreement_version}, start {here.start_ms}); at "
            f"{partner} {there.quantity} {there.unit}, {there.amount} (rate {there.rate_id}, "
            f"v{there.agreement_version}, start {there.start_ms})"
        )

    def _own_proof(self, leaf: Leaf) -> str | None:
        for anchor in self.run.ours.values():
            members, hashes = self.run.own_buckets(anchor)
            bucket = bucket_of(leaf.usage_key, self.run.e.depth, self.run.e.salt)
            if any(m.usage_key == leaf.usage_key for m in members.get(bucket, [])):
                proof = bucket_proof(hashes, members.get(bucket, []), bucket, leaf.usage_key)
                return proof_json(anchor, proof) if proof else None
        return None

    def _partner_proof(
        self, theirs: Anchor, digest: Digest, leaves: Sequence[Leaf], leaf: Leaf
    ) -> str | None:
        bucket = bucket_of(leaf.usage_key, self.run.e.depth, self.run.e.salt)
        proof = bucket_proof(list(digest.bucket_hashes), leaves, bucket, leaf.usage_key)
        return proof_json(theirs, proof) if proof else None
