"""The reconciler's core: both ledgers in, findings, drill-down requests and countersignatures
out. Pure: :class:`Engine` is fed records the runtime read (:mod:`streams.runtime.reconciler`)
and :meth:`Engine.evaluate` says what to do; evaluating again with nothing new gives the same
outcome, so the shell may crash and restart anywhere.

Per window (the latest revision on each side, from this party's own chain and the partner's
mirrored chain, verified against the agreement's keys):

* **equal roots** → ``agreed``: countersign the partner's anchor (once);
* **different roots** → check the partner's digest against its anchor, list the differing
  buckets, ask the partner to open them (one request per question, answered from its leaf
  store), check the answer against the digest, pair and classify every record of those
  buckets (:mod:`streams.reconcile.classify`); a record with no partner gets a cross-window
  pass (near an edge, in the adjacent window) and a duplicate pass before it is called missing;
* **one side only** → ``waiting`` until the other side's chain has anchored a window starting
  ``anchor_deadline`` after this one's end (measured on that chain, so a mirror outage only
  delays), then ``not-anchored`` (or ``not-anchored-here``).

The partner's chain is checked as a whole (:func:`streams.ledger.check.check_ledger`): from the
first entry with a finding on, nothing of it is used or countersigned, and each finding is an
alert. What this party has witnessed (:mod:`streams.reconcile.witness`) must stay in the
partner's chain: a dropped or replaced entry is a ``truncation`` or ``fork`` alert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from streams.agreement.model import Agreement
from streams.agreement.trust import TrustedKeys
from streams.core.canonical import decimal_text
from streams.core.clock import from_ms
from streams.ledger.batching import Leaf
from streams.ledger.check import check_ledger
from streams.ledger.entries import LedgerEntry
from streams.ledger.payloads import anchor_problems, countersignature_payload
from streams.merkle.buckets import bucket_root
from streams.merkle.rfc9162 import EMPTY_ROOT
from streams.reconcile.alerts import Alert, make_alert
from streams.reconcile.classify import Tolerance
from streams.reconcile.correlation import pair_of
from streams.reconcile.exchange import (
    Digest,
    bucket_members,
    digest_problems,
    join_parts,
    make_answer,
    make_request,
    open_answer,
)
from streams.reconcile.records import WindowRecords
from streams.reconcile.status import Anchor, Outcome, Window, WindowStatus
from streams.reconcile.witness import witness_findings, witnessed

__all__ = ["Anchor", "Engine", "Outcome", "WindowStatus"]  # the status types re-exported

_LEDGER_KIND = {
    "bad-signature": "bad-signature",
    "chain-break": "chain-break",
    "gap": "gap",
    "equivocation": "equivocation",
    "duplicate-window": "equivocation",
}


class Engine:
    """The state of one party's reconciliation with one partner under one agreement."""

    def __init__(
        self,
        *,
        party: str,
        partner: str,
        agreement: Agreement,
        salt: bytes,
        trusted: TrustedKeys,
    ) -> None:
        self.party = party
        self.partner = partner
        self.agreement = agreement
        self.salt = salt
        self.trusted = trusted
        self.tolerance = Tolerance.of(agreement.tolerances)
        self.by_numbers = agreement.recon.correlation == "numbers"
        if self.by_numbers:  # starts are how calls pair: the agreement's start tolerance
            start_ms = agreement.recon.start_tolerance_seconds * 1000
            self.tolerance = dataclasses.replace(self.tolerance, start_ms=start_ms)
        self.depth = agreement.digest_depth
        self.own_entries: dict[tuple[int, bytes], LedgerEntry] = {}
        self.partner_entries: dict[tuple[int, bytes], LedgerEntry] = {}
        self.own_leaves: dict[tuple[int, int, int], tuple[Leaf, ...]] = {}
        self.partner_digests: dict[tuple[int, int, int], list[Digest]] = {}
        self.answers: dict[str, Mapping[str, Any]] = {}
        self._parts: dict[str, list[Mapping[str, Any]]] = {}
        self._bucket_cache: dict[tuple[int, int, int], tuple[dict[int, list[Leaf]], list[bytes]]]
        self._bucket_cache = {}

    # --- feeding -------------------------------------------------------------------------

    def add_own_entry(self, entry: LedgerEntry) -> None:
        if entry.party == self.party and entry.agreement_id == self.agreement.id:
            self.own_entries[(entry.sequence, entry.entry_hash())] = entry

    def add_partner_entry(self, entry: LedgerEntry) -> None:
        """An entry read from the partner's mirrored chain (anything: it is checked)."""
        if entry.agreement_id == self.agreement.id:
            self.partner_entries[(entry.sequence, entry.entry_hash())] = entry

    def add_own_leaves(self, window: Window, revision: int, leaves: Iterable[Leaf]) -> None:
        key = (*window, revision)
        self.own_leaves[key] = tuple(leaves)
        self._bucket_cache.pop(key, None)

    def add_partner_digest(self, digest: Digest) -> None:
        if digest.party == self.partner and digest.agreement_id == self.agreement.id:
            known = self.partner_digests.setdefault(digest.key, [])
            if digest not in known:
                known.append(digest)

    def add_answer(self, answer: Mapping[str, Any]) -> None:
        """One answer (or one part of an answer) from the partner; a split answer counts once
        all its parts are in (:func:`~streams.reconcile.exchange.join_parts`)."""
        if answer.get("party") != self.partner or answer.get("partner") != self.party:
            return
        request_id = answer["request_id"]
        if request_id in self.answers:
            return
        parts = self._parts.setdefault(request_id, [])
        parts.append(answer)
        whole = join_parts(parts)
        if whole is not None:
            self.answers[request_id] = whole
            del self._parts[request_id]

    def answer(self, request: Mapping[str, Any], now_ms: int) -> dict[str, Any] | None:
        """The answer to one of the partner's requests, from this party's leaf store; None
        when it is not addressed to this party."""
        if request.get("partner") != self.party or request.get("party") != self.partner:
            return None
        key = (request["window_start_ms"], request["window_end_ms"], request["revision"])
        own = self._own_anchors().get(key)
        members = None
        if own is not None and own.root == bytes(request["root"]) and key in self.own_leaves:
            members = self.members(own.key)[0]
        return make_answer(request, members, party=self.party, depth=self.depth, now_ms=now_ms)

    def members(self, key: tuple[int, int, int]) -> tuple[dict[int, list[Leaf]], list[bytes]]:
        """Our leaves per bucket and our bucket hashes of one of our batches (built once)."""
        cached = self._bucket_cache.get(key)
        if cached is None:
            members = bucket_members(self.own_leaves.get(key, ()), self.depth, self.salt)
            hashes = [
                bucket_root(leaf.leaf_hash for leaf in members[b]) if b in members else EMPTY_ROOT
                for b in range(1 << self.depth)
            ]
            cached = self._bucket_cache[key] = (members, hashes)
        return cached

    # --- evaluating ----------------------------------------------------------------------

    def _own_anchors(self) -> dict[tuple[int, int, int], Anchor]:
        anchors = {}
        for entry in self.own_entries.values():
            if entry.kind == "anchor":
                payload = entry.payload_json()
                if not anchor_problems(payload, self.agreement.id):
                    anchor = Anchor(entry, payload)
                    anchors[anchor.key] = anchor
        return anchors

    def evaluate(self, now_ms: int) -> Outcome:
        """Everything found so far and what to ask for next (see the module docstring)."""
        run = _Run(self, now_ms)
        return run.outcome()


def _latest(anchors: Iterable[Anchor]) -> dict[Window, Anchor]:
    latest: dict[Window, Anchor] = {}
    for anchor in anchors:
        held = latest.get(anchor.window)
        if held is None or anchor.revision > held.revision:
            latest[anchor.window] = anchor
    return latest


class _Run:
    """One evaluation: the engine's records, read once, and what they give."""

    def __init__(self, engine: Engine, now_ms: int) -> None:
        self.e = engine
        self.now_ms = now_ms
        self.alerts: dict[str, Alert] = {}
        self.requests: dict[str, dict[str, Any]] = {}
        self.cosigns: list[dict[str, Any]] = []
        self.windows: list[WindowStatus] = []
        self.pending = False
        self.witnessed = witnessed(engine.own_entries.values(), engine.partner)
        """What our chain countersigns of the partner's: partner sequence → (hash, ours)."""
        self.cosigned_by_partner = witnessed(engine.partner_entries.values(), engine.party)
        """What the partner's chain countersigns of ours, likewise."""
        self._digests: dict[tuple[int, int, int], Digest | str | None] = {}
        self._opened: dict[str, tuple[dict[int, list[Leaf]], list[str]]] = {}
        self.own_all = engine._own_anchors()
        self.ours = _latest(self.own_all.values())
        self.partner_usable = self._check_partner()
        self.theirs = _latest(self.partner_usable)
        self.edge_ms = engine.agreement.recon.edge_seconds * 1000
        self.deadline_ms = engine.agreement.recon.anchor_deadline * 1000

    # --- shared pieces -------------------------------------------------------------------

    def alert(self, window: Window, revision: int, kind: str, detail: str, **kw: Any) -> None:
        e = self.e
        made = make_alert(
            party=e.party,
            partner=e.partner,
            agreement_id=e.agreement.id,
            window=window,
            revision=revision,
            kind=kind,
            detail=detail,
            **kw,
        )
        self.alerts.setdefault(made.alert_id, made)

    def _check_partner(self) -> list[Anchor]:
        """The partner's anchors usable for matching: those before its first finding."""
        e = self.e
        entries = list(e.partner_entries.values())
        if not entries:
            return []
        findings = check_ledger(entries, e.partner, trusted=e.trusted)
        cutoff = None
        for finding in findings:
            at = 0 if finding.sequence is None else finding.sequence
            cutoff = at if cutoff is None else min(cutoff, at)
            kind = _LEDGER_KIND.get(finding.kind, "bad-entry")
            self.alert(
                (0, 0),
                0,
                kind,
                f"{e.partner}'s ledger: {finding}",
                identity=(finding.kind, finding.sequence),
                facts={"partner_sequence": str(finding.sequence)},
            )
        for kind, sequence, detail in witness_findings(self.witnessed, entries):
            cutoff = sequence if cutoff is None else min(cutoff, sequence)
            self.alert(
                (0, 0),
                0,
                kind,
                f"{e.partner}'s ledger: {detail}",
                identity=(kind, sequence),
                facts={"partner_sequence": str(sequence)},
            )
        usable = []
        for entry in entries:
            if entry.kind != "anchor" or (cutoff is not None and entry.sequence >= cutoff):
                continue
            payload = entry.payload_json()
            if not anchor_problems(payload, e.agreement.id):
                usable.append(Anchor(entry, payload))
        return usable

    def own_buckets(self, anchor: Anchor) -> tuple[dict[int, list[Leaf]], list[bytes]]:
        """Our leaves per bucket and our bucket hashes for one of our anchors."""
        return self.e.members(anchor.key)

    def partner_digest(self, anchor: Anchor) -> Digest | str | None:
        """The partner's digest of ``anchor`` if it checks; a problem text if none does
        (checked once per evaluation)."""
        if anchor.key in self._digests:
            return self._digests[anchor.key]
        problems: list[str] = []
        found: Digest | str | None = None
        for digest in self.e.partner_digests.get(anchor.key, []):
            wrong = digest_problems(digest, anchor.payload)
            if not wrong:
                found = digest
                break
            problems.extend(wrong)
        if found is None and problems:
            found = "; ".join(problems)
        self._digests[anchor.key] = found
        return found

    def opened(
        self, answer: Mapping[str, Any], digest: Digest
    ) -> tuple[dict[int, list[Leaf]], list[str]]:
        """:func:`open_answer` of one answer, checked once per evaluation."""
        request_id = answer["request_id"]
        if request_id not in self._opened:
            self._opened[request_id] = open_answer(answer, digest, self.e.salt)
        return self._opened[request_id]

    def partner_bucket(self, window: Window, bucket: int) -> list[Leaf] | None:
        """The partner's leaves of ``bucket`` in ``window`` if known ([] when the partner did
        not anchor the window); None while they are still to be drilled."""
        theirs = self.theirs.get(window)
        if theirs is None:
            return []
        ours = self.ours.get(window)
        if ours is not None:
            members, hashes = self.own_buckets(ours)
            digest = self.partner_digest(theirs)
            same = ours.root == theirs.root or (
                isinstance(digest, Digest) and digest.bucket_hashes[bucket] == hashes[bucket]
            )
            if same:
                return members.get(bucket, [])
        for answer in self.e.answers.values():
            if (
                (answer["window_start_ms"], answer["window_end_ms"]) == window
                and answer["revision"] == theirs.revision
                and bytes(answer["root"]) == theirs.root
                and any(item["bucket"] == bucket for item in answer.get("buckets", []))
            ):
                digest = self.partner_digest(theirs)
                if isinstance(digest, Digest):
                    opened, _ = self.opened(answer, digest)
                    if bucket in opened:
                        return opened[bucket]
        return None

    def same_usage(self, one: Leaf, other: Leaf) -> bool:
        """Whether two sides' leaves are records of one usage: one key, or (correlating by
        numbers) one number pair with starts within the start tolerance."""
        if one.usage_key == other.usage_key:
            return True
        return (
            self.e.by_numbers
            and pair_of(one.usage_key) == pair_of(other.usage_key)
            and abs((one.start_ms or 0) - (other.start_ms or 0)) <= self.e.tolerance.start_ms
        )

    def adjacent(self, window: Window, start_ms: int | None) -> Window | None:
        """The window next to ``window`` that a record starting at ``start_ms`` might have
        been put in by the other side: None unless it starts within the edge of ``window``."""
        if start_ms is None:
            return None
        size = window[1] - window[0]
        if start_ms - window[0] < self.edge_ms:
            return (window[0] - size, window[0])
        if window[1] - start_ms <= self.edge_ms:
            return (window[1], window[1] + size)
        return None

    # --- the outcome ---------------------------------------------------------------------

    def outcome(self) -> Outcome:
        self._revisions()
        for window in sorted(set(self.ours) | set(self.theirs)):
            self.windows.append(self._window(window))
        return Outcome(
            tuple(
                sorted(self.alerts.values(), key=lambda a: (a.window_start_ms, a.kind, a.alert_id))
            ),
            tuple(self.requests.values()),
            tuple(self.cosigns),
            tuple(self.windows),
        )

    def _revisions(self) -> None:
        """A ``revision`` alert per anchor superseding another (warning if it was agreed)."""
        own = list(self.own_all.values())
        sides = [
            ("here", self.e.party, own, self.partner_usable),
            ("partner", self.e.partner, self.partner_usable, own),
        ]
        for side, who, anchors, others in sides:
            for anchor in anchors:
                superseded = anchor.payload.get("supersedes")
                if not superseded:
                    continue
                agreed = any(
                    o.window == anchor.window and o.payload["root"] == superseded["root"]
                    for o in others
                )
                self.alert(
                    anchor.window,
                    anchor.revision,
                    "revision",
                    f"{who} revised the window to revision {anchor.revision} (late usage), "
                    f"superseding revision {superseded['revision']}"
                    + (", which both parties had agreed" if agreed else ""),
                    identity=(side, anchor.entry.sequence),
                    severity="warning" if agreed else "info",
                    facts={"side": side, "sequence": str(anchor.entry.sequence)},
                )

    def _window(self, window: Window) -> WindowStatus:
        ours, theirs = self.ours.get(window), self.theirs.get(window)
        currency = self.e.agreement.currency
        here_total = ours.totals().get(currency, Decimal(0)) if ours else Decimal(0)
        partner_total = theirs.totals().get(currency, Decimal(0)) if theirs else Decimal(0)
        base: dict[str, Any] = {
            "window": window,
            "here_revision": ours.revision if ours else None,
            "partner_revision": theirs.revision if theirs else None,
            "here_total": here_total,
            "partner_total": partner_total,
            "currency": currency,
        }
        if ours is None or theirs is None:
            return self._one_sided(window, ours, theirs, base)
        cosigned_by_partner = self._partner_countersigned(ours)
        if ours.root == theirs.root:
            witnessed_here = self._request_cosign(ours, theirs)
            return WindowStatus(
                state="agreed",
                counts={"exact": int(ours.payload["leaf_count"])},
                money_agreed=here_total,
                countersigned_here=witnessed_here,
                countersigned_by_partner=cosigned_by_partner,
                **base,
            )
        digest = self.partner_digest(theirs)
        if not isinstance(digest, Digest):
            if isinstance(digest, str):
                self.alert(
                    window,
                    theirs.revision,
                    "bad-digest",
                    f"{self.e.partner}'s digest does not match its anchor "
                    f"#{theirs.entry.sequence}: {digest}",
                    identity=(theirs.entry.sequence,),
                )
            return WindowStatus(state="waiting", waiting_for="partner digest", **base)
        members, hashes = self.own_buckets(ours)
        differing = [b for b, h in enumerate(hashes) if digest.bucket_hashes[b] != h]
        request = make_request(
            party=self.e.party,
            partner=self.e.partner,
            agreement_id=self.e.agreement.id,
            window=window,
            revision=theirs.revision,
            root=theirs.root,
            buckets=differing,
            now_ms=self.now_ms,
        )
        answer = self.e.answers.get(request["request_id"])
        if answer is None:
            self.requests[request["request_id"]] = request
            return WindowStatus(state="drilling", waiting_for="partner answer", **base)
        opened, problems = self.opened(answer, digest)
        if problems:
            self.alert(
                window,
                theirs.revision,
                "bad-answer",
                f"{self.e.partner}'s answer {request['request_id'][:16]}… fails its digest: "
                + "; ".join(problems[:5]),
                identity=(request["request_id"],),
            )
        return WindowRecords(self).classify(
            window, ours, theirs, digest, members, differing, opened, base
        )

    def _one_sided(
        self, window: Window, ours: Anchor | None, theirs: Anchor | None, base: dict[str, Any]
    ) -> WindowStatus:
        """A window only one side anchored: waiting, or past the deadline not anchored."""
        present = ours or theirs
        assert present is not None
        other = self.theirs if ours is not None else self.ours
        progress = max((w[0] for w in other), default=None)
        due = window[1] + self.deadline_ms
        if progress is None or progress < due:
            who = "partner" if ours is not None else "this party"
            return WindowStatus(state="waiting", waiting_for=f"{who}'s anchor", **base)
        kind = "not-anchored" if ours is not None else "not-anchored-here"
        total = base["here_total"] if ours is not None else base["partner_total"]
        who = self.e.partner if ours is not None else self.e.party
        self.alert(
            window,
            present.revision,
            kind,
            f"{who} anchored windows up to {from_ms(progress).isoformat()} but never this one "
            f"({present.payload['leaf_count']} records, {decimal_text(total)} "
            f"{base['currency']} on the other side)",
            identity=(window[0],),
            currency=base["currency"],
            at_stake=total,
        )
        return WindowStatus(state=kind, at_stake=total, **base)

    def _partner_countersigned(self, ours: Anchor) -> bool:
        """Whether the partner's chain countersigns our anchor ``ours`` (this very entry)."""
        witnessed_there = self.cosigned_by_partner.get(ours.entry.sequence)
        return witnessed_there is not None and witnessed_there[0] == ours.entry.entry_hash()

    def _request_cosign(self, ours: Anchor, theirs: Anchor) -> bool:
        """Whether our chain already countersigns ``theirs``; else asks for it."""
        if theirs.entry.sequence in self.witnessed:
            return True
        payload = countersignature_payload(
            partner=self.e.partner,
            partner_sequence=theirs.entry.sequence,
            partner_entry_hash=theirs.entry.entry_hash(),
            window_start_ms=theirs.window[0],
            window_end_ms=theirs.window[1],
            revision=theirs.revision,
            root=theirs.root,
            anchor_sequence=ours.entry.sequence,
        )
        self.cosigns.append(
            {
                "party": self.e.party,
                "agreement_id": self.e.agreement.id,
                **{k: v for k, v in payload.items() if k not in ("partner_entry_hash", "root")},
                "partner_entry_hash": theirs.entry.entry_hash(),
                "root": theirs.root,
                "requested_ms": self.now_ms,
            }
        )
        return False
