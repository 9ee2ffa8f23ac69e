"""Countersignatures: a party witnesses the partner's anchors it agrees with. Pure.

When both anchors of a window have one root, the reconciler has its own chain writer append a
``countersignature`` entry (in the style of C2SP tlog-cosignature: the witness signs what it
saw of the other log): it names the partner's anchor entry by sequence and entry hash, the
window, revision and root, and this party's own anchor with that root. Signed by this party as
an ordinary entry of its chain, mirrored to the partner: each party then holds both signatures
over the agreed root, and an auditor can check either.

The witness record also catches a partner that later drops or rewrites what it showed
(:func:`witness_findings`): an entry countersigned here must stay in the partner's chain with
the same hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.ledger.entries import LedgerEntry
from streams.ledger.payloads import (
    COUNTERSIGNATURE_FIELDS,
    countersignature_payload,
    countersignature_problems,
)

__all__ = [
    "COUNTERSIGNATURE_FIELDS",
    "countersignature_payload",
    "countersignature_problems",
    "witness_findings",
    "witnessed",
]


def witnessed(own: Iterable[LedgerEntry], partner: str) -> dict[int, tuple[bytes, int]]:
    """What this party's chain has witnessed of ``partner``'s: partner sequence → (partner
    entry hash, sequence of our countersignature entry). Misshapen entries are skipped."""
    seen: dict[int, tuple[bytes, int]] = {}
    for entry in own:
        if entry.kind != "countersignature":
            continue
        try:
            payload = entry.payload_json()
        except ValueError:
            continue
        if countersignature_problems(payload) or payload["partner"] != partner:
            continue
        seen.setdefault(
            payload["partner_sequence"],
            (bytes.fromhex(payload["partner_entry_hash"]), entry.sequence),
        )
    return seen


def witness_findings(
    seen: Mapping[int, tuple[bytes, int]], partner_entries: Iterable[LedgerEntry]
) -> list[tuple[str, int, str]]:
    """``(kind, partner sequence, detail)`` for each witnessed entry the partner's chain no
    longer shows as witnessed: ``truncation`` (no entry at that sequence any more) or ``fork``
    (only other entries there)."""
    at: dict[int, set[bytes]] = {}
    for entry in partner_entries:
        at.setdefault(entry.sequence, set()).add(entry.entry_hash())
    findings = []
    for sequence, (entry_hash, ours) in sorted(seen.items()):
        hashes = at.get(sequence)
        if not hashes:
            findings.append(
                (
                    "truncation",
                    sequence,
                    f"entry #{sequence} (hash {entry_hash.hex()[:16]}…), countersigned here at "
                    f"our #{ours}, is gone from the partner's chain",
                )
            )
        elif entry_hash not in hashes:
            findings.append(
                (
                    "fork",
                    sequence,
                    f"entry #{sequence} was {entry_hash.hex()[:16]}… when countersigned here at "
                    f"our #{ours}; the partner's chain now shows another entry there",
                )
            )
    return findings
