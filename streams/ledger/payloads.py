"""Kind-specific payloads of ledger entries: anchors (one batch of one agreement),
countersignatures and key rotations (the chain handed to a party's next key, with the new key's
proof of possession). Pure.

Each builder gives the payload object that :func:`streams.ledger.entries.make_entry` turns into
an entry's canonical payload bytes; each ``*_problems`` says what makes a stored payload
unusable. The genesis payload is :mod:`streams.ledger.genesis`'s; a bill's settlement payloads
(statement, acceptance, dispute, resolution, payment) are :mod:`streams.ledger.settlement`'s,
re-exported here so that every payload builder is importable from this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.core.canonical import canonical_json, decimal_text, is_hex, tagged
from streams.core.clock import to_ms
from streams.core.keys import SMALL_ORDER_PROBLEM, PublicKey, Signer, is_small_order, key_id_of
from streams.ledger.entries import LedgerError, is_aware
from streams.ledger.settlement import (
    SETTLEMENT_KINDS,
    acceptance_payload,
    acceptance_problems,
    dispute_payload,
    dispute_problems,
    entry_ref,
    payment_payload,
    payment_problems,
    resolution_payload,
    resolution_problems,
    settlement_problems,
    statement_payload,
    statement_problems,
)

__all__ = [
    "COUNTERSIGNATURE_FIELDS",
    "ROTATION_DOMAIN",
    "ROTATION_FIELDS",
    "SETTLEMENT_KINDS",
    "WindowKey",
    "acceptance_payload",
    "acceptance_problems",
    "anchor_payload",
    "anchor_problems",
    "countersignature_payload",
    "countersignature_problems",
    "dispute_payload",
    "dispute_problems",
    "entry_ref",
    "payment_payload",
    "payment_problems",
    "resolution_payload",
    "resolution_problems",
    "rotation_message",
    "rotation_payload",
    "rotation_problems",
    "rotation_proof_ok",
    "settlement_problems",
    "statement_payload",
    "statement_problems",
    "window_key",
]


def _is_int(value: Any) -> bool:
    return type(value) is int


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


# --- countersignatures (a witness's entry: streams.reconcile.witness) ------------------------

COUNTERSIGNATURE_FIELDS = (
    "partner",
    "partner_sequence",
    "partner_entry_hash",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "root",
    "anchor_sequence",
)


def countersignature_payload(
    *,
    partner: str,
    partner_sequence: int,
    partner_entry_hash: bytes,
    window_start_ms: int,
    window_end_ms: int,
    revision: int,
    root: bytes,
    anchor_sequence: int,
) -> dict[str, Any]:
    """The payload of a ``countersignature`` entry: ``{"partner", "partner_sequence",
    "partner_entry_hash": hex, "window_start_ms", "window_end_ms", "revision", "root": hex,
    "anchor_sequence"}`` (``anchor_sequence``: this party's own anchor with the same root)."""
    return {
        "partner": partner,
        "partner_sequence": partner_sequence,
        "partner_entry_hash": partner_entry_hash.hex(),
        "window_start_ms": window_start_ms,
        "window_end_ms": window_end_ms,
        "revision": revision,
        "root": root.hex(),
        "anchor_sequence": anchor_sequence,
    }


def countersignature_problems(payload: Mapping[str, Any]) -> list[str]:
    """What makes a countersignature payload misshapen; [] when well formed."""
    problems = []
    if set(payload) != set(COUNTERSIGNATURE_FIELDS):
        problems.append(f"fields: got {sorted(payload)}, want {sorted(COUNTERSIGNATURE_FIELDS)}")
    for name in ("partner_sequence", "window_start_ms", "window_end_ms", "revision"):
        if type(payload.get(name)) is not int:
            problems.append(f"{name}: got {payload.get(name)!r}, want an integer")
    if type(payload.get("anchor_sequence")) is not int:
        problems.append(f"anchor_sequence: got {payload.get('anchor_sequence')!r}, want an int")
    for name in ("partner_entry_hash", "root"):
        if not is_hex(payload.get(name)):
            problems.append(f"{name}: got {payload.get(name)!r}, want 64 lowercase hex digits")
    if not isinstance(payload.get("partner"), str) or not payload.get("partner"):
        problems.append(f"partner: got {payload.get('partner')!r}, want a party id")
    return problems


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

    The entry itself is an ordinary entry (:func:`~streams.ledger.entries.make_entry`), signed by
    the party's *current* key. What :func:`streams.ledger.check.check_ledger` requires of it:
    signed by the current key, valid at the entry's time; the new key listed for the party by the
    trusted keys with exactly this ``valid_from``, valid at the entry's time, not the current
    key, and the proof verifying with it. Checking those is the caller's (it needs the trusted
    keys); this builds the shape only.
    """
    if not is_aware(valid_from):
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
