"""Ledger entries: what one entry of a party's hash-chained, signed ledger is (pure).

Each party keeps one append-only chain per agreement (the ``ledger.anchors`` topic, mirrored to
the partner). Entry ``n`` commits to entry ``n-1`` through ``prev_hash``, and is signed by its
party's Ed25519 key, so the partner can check the whole history it mirrored:

* **signed bytes** (:meth:`LedgerEntry.signed_bytes`):
  ``tagged("ledger-entry.v1", canonical_json({"agreement_id", "key_id", "kind", "party",
  "payload_hash": hex, "prev_hash": hex, "sequence", "time_ms"}))`` (see
  :mod:`streams.core.canonical`). The payload is covered through ``payload_hash =
  SHA-256(payload)``; the payload itself is the canonical JSON of a kind-specific object.
* **signature**: Ed25519 over the signed bytes, by the key ``key_id`` names.
* **entry hash** (:meth:`LedgerEntry.entry_hash`, what the next ``prev_hash`` holds):
  ``SHA-256(tagged("ledger-hash.v1", signed_bytes || signature))``. The signed bytes are one
  complete JSON object, so where they end and the 64-byte signature begins is unambiguous.
  Genesis (sequence 0) has ``prev_hash`` = 32 zero bytes.

Related modules: :mod:`streams.ledger.genesis` (the genesis: the agreement both parties
signed, :mod:`streams.agreement.signing`), :mod:`streams.ledger.payloads` (anchor,
countersignature and key-rotation payloads), :mod:`streams.ledger.settlement` (a bill's
settlement payloads), :mod:`streams.ledger.check` (every problem of a
mirrored chain, as findings) and :mod:`streams.ledger.chain` (appending to one's own chain).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.contract.records import ms_of
from streams.core.canonical import MAX_SAFE_INT, canonical_json, tagged
from streams.core.clock import from_ms, to_ms
from streams.core.errors import BilatError
from streams.core.keys import Signer

__all__ = [
    "KINDS",
    "ZERO_HASH",
    "LedgerEntry",
    "LedgerError",
    "make_entry",
]

KINDS = (
    "genesis",
    "anchor",
    "key-rotation",
    "countersignature",
    "dispute",
    "resolution",
    "statement",
    "acceptance",
    "payment",
)
"""Entry kinds; the kind fixes the payload's shape: genesis
(:func:`streams.ledger.genesis.genesis_payload`), anchor
(:func:`streams.ledger.payloads.anchor_payload`), key-rotation
(:func:`streams.ledger.payloads.rotation_payload`), countersignature
(:func:`streams.ledger.payloads.countersignature_payload`), and a bill's settlement: statement,
acceptance, dispute, resolution, payment (:mod:`streams.ledger.settlement`).
``schemas/ledger_entry/v1.avsc`` (``kind`` is a string) lists all but ``key-rotation``,
``acceptance`` and ``payment``, added later: a published schema never changes, and a version
differing in docs only would have the same fingerprint, so the next real change of the schema
lists them."""

ZERO_HASH = bytes(32)
"""``prev_hash`` of the genesis entry."""

ENTRY_DOMAIN = "ledger-entry.v1"
HASH_DOMAIN = "ledger-hash.v1"


class LedgerError(BilatError):
    """A ledger rule would be broken: an entry that cannot be built or appended, agreement
    signatures that do not cover both parties, or a chain with findings. ``problems`` lists
    every problem found."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        lines = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(message + lines)


# --- entries -------------------------------------------------------------------------------


def _is32(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


def is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry of a party's chain; maps 1:1 onto ``schemas/ledger_entry/v1.avsc``.

    Construction checks the shape (a known kind, 32-byte hashes, sequence >= 0, aware time) and
    raises :class:`LedgerError`; whether the entry is *valid* (signature, hashes, links) is
    :func:`check_ledger`'s question, answered with findings.
    """

    party: str
    """Owner of the chain and signer of the entry."""
    agreement_id: str
    sequence: int
    """0 for genesis, then +1 per entry."""
    kind: str
    """One of :data:`KINDS`."""
    prev_hash: bytes
    """:meth:`entry_hash` of the entry before; :data:`ZERO_HASH` for genesis."""
    payload: bytes
    """Canonical JSON of the kind's payload object."""
    payload_hash: bytes
    """SHA-256 of ``payload``: what the signature covers."""
    key_id: str
    signature: bytes
    """Ed25519 over :meth:`signed_bytes`, 64 bytes."""
    time: datetime
    """When the party appended it (signed, at millisecond precision; not used for ordering)."""

    def __post_init__(self) -> None:
        checks = (
            (
                "sequence",
                type(self.sequence) is int and 0 <= self.sequence <= MAX_SAFE_INT,
                "an int from 0 to 2**53-1 (it is signed as canonical JSON)",
            ),
            ("kind", self.kind in KINDS, f"one of {', '.join(KINDS)}"),
            ("prev_hash", _is32(self.prev_hash), "32 bytes"),
            ("payload_hash", _is32(self.payload_hash), "32 bytes"),
            ("payload", isinstance(self.payload, bytes), "bytes"),
            ("signature", isinstance(self.signature, bytes), "bytes"),
            ("party", isinstance(self.party, str) and self.party, "a non-empty string"),
            ("agreement_id", isinstance(self.agreement_id, str) and self.agreement_id, "text"),
            ("key_id", isinstance(self.key_id, str) and self.key_id, "a non-empty string"),
            ("time", is_aware(self.time), "a timezone-aware datetime"),
        )
        problems = [f"{n}: got {getattr(self, n)!r}, want {w}" for n, ok, w in checks if not ok]
        if problems:
            raise LedgerError(f"ledger entry {self.party}/{self.agreement_id}", problems)

    @property
    def time_ms(self) -> int:
        return to_ms(self.time)

    def signed_bytes(self) -> bytes:
        """The domain-tagged canonical bytes the signature covers (every field but the
        payload, covered by its hash, and the signature itself)."""
        return tagged(
            ENTRY_DOMAIN,
            canonical_json(
                {
                    "party": self.party,
                    "agreement_id": self.agreement_id,
                    "sequence": self.sequence,
                    "kind": self.kind,
                    "prev_hash": self.prev_hash.hex(),
                    "payload_hash": self.payload_hash.hex(),
                    "key_id": self.key_id,
                    "time_ms": self.time_ms,
                }
            ),
        )

    def entry_hash(self) -> bytes:
        """``SHA-256(tagged("ledger-hash.v1", signed_bytes || signature))``: the next
        entry's ``prev_hash``."""
        return hashlib.sha256(tagged(HASH_DOMAIN, self.signed_bytes() + self.signature)).digest()

    def payload_json(self) -> dict[str, Any]:
        """The payload object; raises :class:`LedgerError` if it is not a JSON object."""
        try:
            value = json.loads(self.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LedgerError(f"entry #{self.sequence}: payload is not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise LedgerError(
                f"entry #{self.sequence}: payload: got {type(value).__name__}, want an object"
            )
        return value

    def to_avro(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "agreement_id": self.agreement_id,
            "sequence": self.sequence,
            "kind": self.kind,
            "prev_hash": self.prev_hash,
            "payload": self.payload,
            "payload_hash": self.payload_hash,
            "key_id": self.key_id,
            "signature": self.signature,
            "time_ms": self.time_ms,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """The entry of a decoded ``ledger_entry`` record; :class:`LedgerError` if misshapen."""
        return cls(
            party=data["party"],
            agreement_id=data["agreement_id"],
            sequence=data["sequence"],
            kind=data["kind"],
            prev_hash=bytes(data["prev_hash"]),
            payload=bytes(data["payload"]),
            payload_hash=bytes(data["payload_hash"]),
            key_id=data["key_id"],
            signature=bytes(data["signature"]),
            time=from_ms(ms_of(data["time_ms"])),
        )


def make_entry(
    prev: LedgerEntry | None,
    *,
    party: str,
    agreement_id: str,
    kind: str,
    payload: Mapping[str, Any],
    signer: Signer,
    time: datetime,
) -> LedgerEntry:
    """The signed entry that follows ``prev`` (or the genesis entry when ``prev`` is None).

    ``sequence`` and ``prev_hash`` follow from ``prev``; the payload is encoded canonically and
    hashed; ``time`` is kept at millisecond precision (what is signed). Raises
    :class:`LedgerError` when genesis is not first (or not only first), or ``prev`` belongs to
    another chain; ``TypeError``/``ValueError`` from :func:`canonical_json` for a payload value
    without a canonical form (a caller bug: convert decimals, bytes, times first).
    """
    problems = []
    if kind not in KINDS:
        problems.append(f"kind: got {kind!r}, want one of {', '.join(KINDS)}")
    if prev is None and kind != "genesis":
        problems.append(f"sequence 0: got kind {kind!r}, want 'genesis' (the chain is empty)")
    if prev is not None:
        if kind == "genesis":
            problems.append(f"kind 'genesis': got sequence {prev.sequence + 1}, want only 0")
        if (prev.party, prev.agreement_id) != (party, agreement_id):
            problems.append(
                f"prev: got an entry of {prev.party}/{prev.agreement_id}, "
                f"want {party}/{agreement_id}"
            )
    if time.utcoffset() is None:
        problems.append(f"time: got naive {time.isoformat()}, want timezone-aware")
    if problems:
        raise LedgerError(f"cannot append a {kind} entry to {party}/{agreement_id}", problems)
    body = canonical_json(payload)
    unsigned = LedgerEntry(
        party=party,
        agreement_id=agreement_id,
        sequence=0 if prev is None else prev.sequence + 1,
        kind=kind,
        prev_hash=ZERO_HASH if prev is None else prev.entry_hash(),
        payload=body,
        payload_hash=hashlib.sha256(body).digest(),
        key_id=signer.key_id,
        signature=b"",
        time=from_ms(to_ms(time)),
    )
    return dataclasses.replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))
