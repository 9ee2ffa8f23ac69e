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
signed, :mod:`streams.agreement.signing`), :mod:`streams.ledger.check` (every problem of a
mirrored chain, as findings) and :mod:`streams.ledger.chain` (appending to one's own chain).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.contract.records import ms_of
from streams.core.canonical import MAX_SAFE_INT, canonical_json, decimal_text, is_hex, tagged
from streams.core.clock import from_ms, to_ms
from streams.core.errors import BilatError
from streams.core.keys import SMALL_ORDER_PROBLEM, PublicKey, Signer, is_small_order, key_id_of

__all__ = [
    "KINDS",
    "ZERO_HASH",
    "LedgerEntry",
    "LedgerError",
    "WindowKey",
    "anchor_payload",
    "anchor_problems",
    "make_entry",
    "rotation_message",
    "rotation_payload",
    "rotation_problems",
    "rotation_proof_ok",
    "window_key",
]

KINDS = (
    "genesis",
    "anchor",
    "key-rotation",
    "countersignature",
    "dispute",
    "resolution",
    "statement",
)
"""Entry kinds; the kind fixes the payload's shape: genesis
(:func:`streams.ledger.genesis.genesis_payload`), anchor (:func:`anchor_payload`),
key-rotation (:func:`rotation_payload`). ``schemas/ledger_entry/v1.avsc`` (``kind`` is a
string) lists all but ``key-rotation``, added later: a published schema never changes, and a
version differing in docs only would have the same fingerprint, so the next real change of
the schema lists it."""

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


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _is_int(value: Any) -> bool:
    return type(value) is int


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
            ("time", _is_aware(self.time), "a timezone-aware datetime"),
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


# --- anchors -------------------------------------------------------------------------------


def anchor_payload(
    *,
    agreement_id: str,
    window_start_ms: int,
    window_end_ms: int,
    revision: int,
    leaf_count: int,
    totals: Mapping[str, Decimal],
    root: bytes,
    digest_depth: int,
    digest_hash: bytes,
    agreement_versions: Sequence[str],
    supersedes: tuple[int, bytes] | None,
) -> dict[str, Any]:
    """The payload of an anchor: one batch (window, revision) of one agreement.

    ``{"agreement_id", "window_start_ms", "window_end_ms", "revision", "leaf_count", "totals":
    {currency: decimal text}, "root": hex, "digest": {"depth", "hash": hex},
    "agreement_versions": sorted distinct, "supersedes": null | {"revision", "root": hex}}``.
    ``supersedes`` names the revision this one replaces and its root; revision 0 supersedes
    nothing, a later revision must supersede an earlier one. Raises :class:`LedgerError`
    listing every problem.
    """
    problems = []
    if window_end_ms <= window_start_ms:
        problems.append(f"window: got [{window_start_ms}, {window_end_ms}), want end > start")
    if revision < 0:
        problems.append(f"revision: got {revision}, want >= 0")
    if leaf_count < 0:
        problems.append(f"leaf_count: got {leaf_count}, want >= 0")
    for name, value in (("root", root), ("digest_hash", digest_hash)):
        if not isinstance(value, bytes) or len(value) != 32:
            problems.append(f"{name}: got {value!r}, want 32 bytes")
    if digest_depth < 0:
        problems.append(f"digest_depth: got {digest_depth}, want >= 0")
    for currency, total in totals.items():
        if not (len(currency) == 3 and currency.isascii() and currency.isupper()):
            problems.append(f"totals: got currency {currency!r}, want an ISO 4217 code")
        if not isinstance(total, Decimal) or not total.is_finite():
            problems.append(f"totals[{currency}]: got {total!r}, want a finite Decimal")
    if supersedes is None and revision > 0:
        problems.append(f"supersedes: got None for revision {revision}, want (revision, root)")
    if supersedes is not None:
        previous, previous_root = supersedes
        if not 0 <= previous < revision:
            problems.append(f"supersedes: got revision {previous}, want 0 <= it < {revision}")
        if not isinstance(previous_root, bytes) or len(previous_root) != 32:
            problems.append(f"supersedes: got root {previous_root!r}, want 32 bytes")
    if problems:
        raise LedgerError(f"anchor of {agreement_id} window {window_start_ms}", problems)
    return {
        "agreement_id": agreement_id,
        "window_start_ms": window_start_ms,
        "window_end_ms": window_end_ms,
        "revision": revision,
        "leaf_count": leaf_count,
        "totals": {currency: decimal_text(total) for currency, total in totals.items()},
        "root": root.hex(),
        "digest": {"depth": digest_depth, "hash": digest_hash.hex()},
        "agreement_versions": sorted(set(agreement_versions)),
        "supersedes": None
        if supersedes is None
        else {"revision": supersedes[0], "root": supersedes[1].hex()},
    }


WindowKey = tuple[int, int, int]
"""(window_start_ms, window_end_ms, revision)."""


def anchor_problems(payload: Mapping[str, Any], agreement_id: str) -> list[str]:
    """What makes an anchor payload unusable for matching (the fields reconciliation needs)."""
    problems = []
    if payload.get("agreement_id") != agreement_id:
        problems.append(f"agreement_id: got {payload.get('agreement_id')!r}, want {agreement_id!r}")
    for name in ("window_start_ms", "window_end_ms", "revision", "leaf_count"):
        if not _is_int(payload.get(name)):
            problems.append(f"{name}: got {payload.get(name)!r}, want an integer")
    if not problems and payload["window_end_ms"] <= payload["window_start_ms"]:
        problems.append("window: want end > start")
    if not is_hex(payload.get("root")):
        problems.append(f"root: got {payload.get('root')!r}, want 64 lowercase hex digits")
    if not isinstance(payload.get("totals"), dict):
        problems.append(f"totals: got {payload.get('totals')!r}, want an object")
    supersedes = payload.get("supersedes")
    if supersedes is not None and not (
        isinstance(supersedes, dict)
        and _is_int(supersedes.get("revision"))
        and is_hex(supersedes.get("root"))
    ):
        problems.append(f"supersedes: got {supersedes!r}, want null or {{revision, root}}")
    return problems


def window_key(payload: Mapping[str, Any]) -> WindowKey:
    return (payload["window_start_ms"], payload["window_end_ms"], payload["revision"])


# --- key rotation --------------------------------------------------------------------------

ROTATION_DOMAIN = "key-rotation.v1"
"""The domain of what the *new* key signs in a rotation (:func:`rotation_message`)."""

ROTATION_FIELDS = ("new_key_id", "public_key", "valid_from_ms", "new_key_signature")


def rotation_message(
    agreement_id: str, party: str, old_key_id: str, new_key_id: str, valid_from_ms: int
) -> bytes:
    """What the new key signs to prove it is held by the party rotating to it:
    ``tagged("key-rotation.v1", canonical_json({"agreement_id", "party", "old_key_id",
    "new_key_id", "valid_from_ms"}))``. It names the chain (agreement, party), the key handing
    over and the listing taken over, so the proof cannot be replayed into another chain."""
    return tagged(
        ROTATION_DOMAIN,
        canonical_json(
            {
                "agreement_id": agreement_id,
                "party": party,
                "old_key_id": old_key_id,
                "new_key_id": new_key_id,
                "valid_from_ms": valid_from_ms,
            }
        ),
    )


def rotation_payload(
    new_key: Signer, valid_from: datetime, *, agreement_id: str, party: str, old_key_id: str
) -> dict[str, Any]:
    """The payload of a ``key-rotation`` entry: from the next entry on, ``party``'s chain of
    ``agreement_id`` is signed by ``new_key`` instead of ``old_key_id``, the key that signs this
    entry (the chain's current key).

    ``{"new_key_id": key_id_of(new key), "public_key": <64 lowercase hex>, "valid_from_ms":
    <int>, "new_key_signature": <128 lowercase hex>}``, where ``valid_from_ms`` is the new
    key's ``valid_from`` as the agreement lists it (UTC epoch milliseconds), so the entry names
    which listing it relies on, and ``new_key_signature`` is the new key's Ed25519 signature of
    :func:`rotation_message`: proof that whoever rotates holds the new private key, so a chain
    is never handed to a key no one (or someone else) holds. Hence ``new_key`` is a signer,
    not a public key.

    The entry itself is an ordinary entry (:func:`make_entry`), signed by the party's *current*
    key. What :func:`streams.ledger.check.check_ledger` requires of it: signed by the current
    key, valid at the entry's time; the new key listed for the party by the trusted keys with
    exactly this ``valid_from``, valid at the entry's time, not the current key, and the proof
    verifying with it. Checking those is the caller's (it needs the trusted keys); this builds
    the shape only.
    """
    if not _is_aware(valid_from):
        raise LedgerError(f"key rotation: valid_from: got {valid_from!r}, want an aware time")
    valid_from_ms = to_ms(valid_from)
    message = rotation_message(agreement_id, party, old_key_id, new_key.key_id, valid_from_ms)
    return {
        "new_key_id": new_key.key_id,
        "public_key": new_key.public.raw.hex(),
        "valid_from_ms": valid_from_ms,
        "new_key_signature": new_key.sign(message).hex(),
    }


def rotation_problems(payload: Mapping[str, Any]) -> list[str]:
    """What makes a ``key-rotation`` payload misshapen (every problem; [] when well formed):
    exactly the four fields of :func:`rotation_payload`, a public key that is not of small
    order, its key id, an integer ``valid_from_ms`` and a signature of 128 lowercase hex
    digits. Whether the signature verifies is :func:`rotation_proof_ok`'s question."""
    problems = []
    extra = sorted(set(payload) - set(ROTATION_FIELDS))
    if extra:
        problems.append(f"fields: got {extra}, want only {', '.join(ROTATION_FIELDS)}")
    public = payload.get("public_key")
    if not is_hex(public):
        problems.append(f"public_key: got {public!r}, want 64 lowercase hex digits")
    elif is_small_order(bytes.fromhex(public)):
        problems.append(f"public_key: {SMALL_ORDER_PROBLEM}")
    elif payload.get("new_key_id") != key_id_of(bytes.fromhex(public)):
        problems.append(
            f"new_key_id: got {payload.get('new_key_id')!r}, want "
            f"{key_id_of(bytes.fromhex(public))!r} (the key's id)"
        )
    if not _is_int(payload.get("valid_from_ms")):
        problems.append(f"valid_from_ms: got {payload.get('valid_from_ms')!r}, want an integer")
    signature = payload.get("new_key_signature")
    if not is_hex(signature, 128):
        shown = signature if not isinstance(signature, str) or len(signature) < 40 else "…"
        problems.append(
            f"new_key_signature: got {shown!r}, want 128 lowercase hex digits (the new key's "
            "signature: proof of possession)"
        )
    return problems


def rotation_proof_ok(
    payload: Mapping[str, Any], agreement_id: str, party: str, old_key_id: str
) -> bool:
    """Whether a well-formed rotation payload's ``new_key_signature`` verifies with its
    ``public_key`` over :func:`rotation_message` of this chain and its current key."""
    message = rotation_message(
        agreement_id, party, old_key_id, payload["new_key_id"], payload["valid_from_ms"]
    )
    return PublicKey(bytes.fromhex(payload["public_key"])).verify(
        message, bytes.fromhex(payload["new_key_signature"])
    )
