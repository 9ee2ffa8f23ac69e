"""One's own chain: the tip that builds each next entry and recognises replayed anchors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from streams.agreement.trust import TrustedKeys
from streams.core.canonical import canonical_json
from streams.core.keys import Signer
from streams.ledger.check import check_ledger
from streams.ledger.entries import ZERO_HASH, LedgerEntry, LedgerError, make_entry
from streams.ledger.payloads import (
    WindowKey,
    anchor_problems,
    countersignature_problems,
    rotation_problems,
    rotation_proof_ok,
    window_key,
)

__all__ = ["ChainTip"]


class ChainTip:
    """The head of one's own chain: builds each next entry, and recognises replayed anchors.

    The writer's cycle is :meth:`next_entry` (build and sign; the tip stays), publish, then
    :meth:`advance`; after a failed publish the tip is unchanged, or rebuilt from the topic
    with :meth:`from_entries` after a crash. :meth:`append` does both steps at once. Only a tip
    built by :meth:`from_entries` (or from genesis on) knows the anchored windows; one
    constructed with just ``last`` cannot recognise a replayed anchor.
    """

    __slots__ = ("_anchors", "_cosigned", "agreement_id", "key_id", "last", "party")

    def __init__(self, party: str, agreement_id: str, last: LedgerEntry | None = None) -> None:
        self.party = party
        self.agreement_id = agreement_id
        self.last = last
        self._anchors: dict[WindowKey, LedgerEntry] = {}
        self._cosigned: dict[tuple[str, int], LedgerEntry] = {}
        self.key_id: str | None = None
        """The party's current key: the one the genesis names, then each key rotation's; None
        before genesis (or for a tip constructed with just ``last``)."""

    @property
    def next_sequence(self) -> int:
        return 0 if self.last is None else self.last.sequence + 1

    def anchor_for(
        self, window_start_ms: int, window_end_ms: int, revision: int
    ) -> LedgerEntry | None:
        """The anchor entry of this (window, revision), if the chain has one."""
        return self._anchors.get((window_start_ms, window_end_ms, revision))

    def countersigned(self, partner: str, partner_sequence: int) -> LedgerEntry | None:
        """Our countersignature of ``partner``'s entry ``partner_sequence``, if the chain has
        one (only a tip built by :meth:`from_entries` knows them)."""
        return self._cosigned.get((partner, partner_sequence))

    def next_entry(
        self, kind: str, payload: Mapping[str, Any], signer: Signer, time: datetime
    ) -> LedgerEntry:
        """The signed entry that would follow the tip; the tip does not move (publish the
        entry, then :meth:`advance`).

        Anchors are idempotent: a (window, revision) already anchored with the same payload
        gives the existing entry (publishing it again is a harmless duplicate); with a
        different payload raises :class:`LedgerError` (that would be a ``duplicate-window``: a
        changed batch needs a new revision). A misshapen anchor payload raises too, and so do a
        key rotation whose proof of possession does not verify for this chain and its current
        key, and a ``signer`` that is not the chain's current key (:attr:`key_id`; for genesis:
        the key the payload names for this party): what :func:`check_ledger` would report.
        """
        want = self.key_id
        if kind == "genesis":
            named = payload.get("parties")
            mine = named.get(self.party) if isinstance(named, Mapping) else None
            want = mine.get("key_id") if isinstance(mine, Mapping) else None
        if want is not None and signer.key_id != want:
            raise LedgerError(
                f"{self.party}/{self.agreement_id}: cannot sign a {kind} entry with key "
                f"{signer.key_id}: the chain's current key is {want}"
            )
        if kind == "key-rotation":
            problems = rotation_problems(payload)
            if (
                not problems
                and want is not None
                and not rotation_proof_ok(payload, self.agreement_id, self.party, want)
            ):
                problems = [
                    f"new_key_signature: does not verify with {payload['new_key_id']} over this "
                    f"chain's rotation from {want} (no proof of possession)"
                ]
            if problems:
                raise LedgerError(f"{self.party}/{self.agreement_id}: bad key rotation", problems)
        if kind == "anchor":
            problems = anchor_problems(payload, self.agreement_id)
            if problems:
                raise LedgerError(f"{self.party}/{self.agreement_id}: bad anchor", problems)
            existing = self._anchors.get(window_key(payload))
            if existing is not None:
                if existing.payload == canonical_json(payload):
                    return existing
                raise LedgerError(
                    f"{self.party}/{self.agreement_id}: window {window_key(payload)[:2]} "
                    f"revision {payload['revision']} is already anchored at sequence "
                    f"{existing.sequence} with root {existing.payload_json().get('root')}; "
                    f"got root {payload.get('root')}: anchor a changed batch as a new revision"
                )
        if kind == "countersignature":
            problems = countersignature_problems(payload)
            if problems:
                raise LedgerError(
                    f"{self.party}/{self.agreement_id}: bad countersignature", problems
                )
            existing = self._cosigned.get((payload["partner"], payload["partner_sequence"]))
            if existing is not None:
                if existing.payload == canonical_json(payload):
                    return existing
                raise LedgerError(
                    f"{self.party}/{self.agreement_id}: {payload['partner']}'s entry "
                    f"#{payload['partner_sequence']} is already countersigned at sequence "
                    f"{existing.sequence} with other content: a witness signs an entry once"
                )
        return make_entry(
            self.last,
            party=self.party,
            agreement_id=self.agreement_id,
            kind=kind,
            payload=payload,
            signer=signer,
            time=time,
        )

    def advance(self, entry: LedgerEntry) -> None:
        """Move the tip to ``entry``, once it is durably published.

        An anchor already in the chain (a replay :meth:`next_entry` recognised) leaves the tip
        where it is. Anything else must follow the tip exactly (same chain, next sequence,
        ``prev_hash`` = the tip's hash), else :class:`LedgerError`: advancing past an entry
        that was never built on this tip would fork the chain.
        """
        if entry.kind == "anchor" and entry in self._anchors.values():
            return
        if entry.kind == "countersignature" and entry in self._cosigned.values():
            return
        want_prev = ZERO_HASH if self.last is None else self.last.entry_hash()
        checks = (
            ("chain", (entry.party, entry.agreement_id), (self.party, self.agreement_id)),
            ("sequence", entry.sequence, self.next_sequence),
            ("prev_hash", entry.prev_hash.hex(), want_prev.hex()),
        )
        problems = [f"{name}: got {got}, want {want}" for name, got, want in checks if got != want]
        if problems:
            raise LedgerError(
                f"{self.party}/{self.agreement_id}: entry does not follow the tip", problems
            )
        self._advance(entry)

    def append(
        self, kind: str, payload: Mapping[str, Any], signer: Signer, time: datetime
    ) -> LedgerEntry:
        """:meth:`next_entry`, then :meth:`advance` to it: for callers that publish nothing
        (tests, tools) or that rebuild the tip after a failed publish."""
        entry = self.next_entry(kind, payload, signer, time)
        self.advance(entry)
        return entry

    def _advance(self, entry: LedgerEntry) -> None:
        self.last = entry
        if entry.kind == "anchor":
            self._anchors[window_key(entry.payload_json())] = entry
        elif entry.kind == "countersignature":
            payload = entry.payload_json()
            self._cosigned[(payload["partner"], payload["partner_sequence"])] = entry
        elif entry.kind == "genesis":
            self.key_id = entry.payload_json()["parties"][self.party]["key_id"]
        elif entry.kind == "key-rotation":
            self.key_id = entry.payload_json()["new_key_id"]

    @classmethod
    def from_entries(
        cls, entries: Iterable[LedgerEntry], party: str | None = None, *, trusted: TrustedKeys
    ) -> ChainTip:
        """The tip of a stored chain, after :func:`check_ledger` against ``trusted`` found
        nothing wrong.

        Raises :class:`LedgerError` listing every finding (a chain with problems must be
        repaired, never extended), or when there are no entries.
        """
        items = list(entries)
        if not items:
            raise LedgerError(f"ledger of {party or '?'}: no entries, want at least genesis")
        findings = check_ledger(items, party, trusted=trusted)
        if findings:
            raise LedgerError(
                f"ledger of {items[0].party}: {len(findings)} problems", [str(f) for f in findings]
            )
        chain = {e.sequence: e for e in items}  # clean: one entry per sequence, no gaps
        tip = cls(chain[0].party, chain[0].agreement_id)
        for sequence in sorted(chain):
            tip._advance(chain[sequence])
        return tip
