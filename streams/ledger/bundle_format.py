"""The layout of an audit bundle: its versions, the JSON form of a ledger entry, and every
problem of a bundle not laid out as its version says. Pure.

:func:`streams.ledger.audit.verify_bundle` reports these problems as its one failed ``format``
check before any other; ``docs/spec/ledger.md`` (*Audit bundles*) specifies the layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from streams.core.canonical import MAX_SAFE_INT, is_hex
from streams.core.clock import from_ms, to_ms
from streams.ledger.entries import KINDS, LedgerEntry

__all__ = [
    "BATCH_FIELDS",
    "BUNDLE_VERSION",
    "BUNDLE_VERSIONS",
    "MAX_TIME_MS",
    "entry_from_json",
    "entry_to_json",
    "is_int",
    "layout_problems",
]

BUNDLE_VERSION = 2
"""Written by :func:`~streams.ledger.audit.build_bundle`;
:func:`~streams.ledger.audit.verify_bundle` reads 1 and 2 (:mod:`streams.ledger.audit`)."""
BUNDLE_VERSIONS = (1, 2)


def entry_to_json(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as JSON: bytes as hex, the payload as its canonical JSON text."""
    return {
        "party": entry.party,
        "agreement_id": entry.agreement_id,
        "sequence": entry.sequence,
        "kind": entry.kind,
        "prev_hash": entry.prev_hash.hex(),
        "payload": entry.payload.decode("utf-8"),
        "payload_hash": entry.payload_hash.hex(),
        "key_id": entry.key_id,
        "signature": entry.signature.hex(),
        "time_ms": to_ms(entry.time),
    }


def entry_from_json(data: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        party=data["party"],
        agreement_id=data["agreement_id"],
        sequence=data["sequence"],
        kind=data["kind"],
        prev_hash=bytes.fromhex(data["prev_hash"]),
        payload=data["payload"].encode("utf-8"),
        payload_hash=bytes.fromhex(data["payload_hash"]),
        key_id=data["key_id"],
        signature=bytes.fromhex(data["signature"]),
        time=from_ms(data["time_ms"]),
    )


_LEAF_TYPES: Mapping[str, type] = {
    "key": str,
    "start_ms": int,
    "quantity": str,
    "unit": str,
    "amount": str,
    "currency": str,
    "agreement_id": str,
    "agreement_version": str,
}
BATCH_FIELDS = (
    "agreement_id",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "depth",
    "root",
    "leaf_count",
)
_ENTRY_FIELDS = (
    "party",
    "agreement_id",
    "sequence",
    "kind",
    "prev_hash",
    "payload",
    "payload_hash",
    "key_id",
    "signature",
    "time_ms",
)
MAX_TIME_MS = 253_402_300_799_999
"""The last millisecond before the year 10000: the latest ``time_ms`` a bundle may carry."""


def is_int(value: Any) -> bool:
    return type(value) is int


def _fields(
    value: Any, want: Sequence[str], where: str, problems: list[str]
) -> TypeGuard[dict[str, Any]]:
    """Whether ``value`` is an object with exactly the members ``want``; notes why not."""
    if not isinstance(value, dict):
        problems.append(f"{where}: got {type(value).__name__}, want an object")
        return False
    missing = [f for f in want if f not in value]
    extra = sorted(set(value) - set(want))
    if missing:
        problems.append(f"{where}: missing {missing}")
    if extra:
        problems.append(f"{where}: got unknown fields {extra}, want only {list(want)}")
    return not missing and not extra


def layout_problems(bundle: Mapping[str, Any]) -> list[str]:
    """Every problem of a bundle's layout (module docstring; docs/spec/ledger.md, *Audit
    bundles*): exactly the members of its version, each of its type, hex in lowercase, so that
    nothing in a bundle goes unchecked."""
    problems: list[str] = []
    version = bundle.get("bilat_bundle")
    if not (is_int(version) and version in BUNDLE_VERSIONS):
        return [f"bilat_bundle: got {version!r}, want one of {list(BUNDLE_VERSIONS)}"]
    top = ["bilat_bundle", "record", "proof", "batch", "chain"] + (
        ["status"] if version >= 2 else []
    )
    _fields(bundle, top, "bundle", problems)
    record = bundle.get("record")
    if _fields(record, list(_LEAF_TYPES), "record", problems):
        for name, kind in _LEAF_TYPES.items():
            if type(record[name]) is not kind:
                problems.append(f"record.{name}: got {record[name]!r}, want a {kind.__name__}")
    batch = bundle.get("batch")
    want = [*BATCH_FIELDS, "anchor_sequence"] if version >= 2 else list(BATCH_FIELDS)
    if _fields(batch, want, "batch", problems):
        if not (isinstance(batch["agreement_id"], str) and batch["agreement_id"]):
            problems.append(f"batch.agreement_id: got {batch['agreement_id']!r}, want an id")
        for name in (f for f in want if f not in ("agreement_id", "root")):
            if not is_int(batch[name]):
                problems.append(f"batch.{name}: got {batch[name]!r}, want an integer")
        if is_int(batch["depth"]) and not 0 <= batch["depth"] <= 16:
            problems.append(f"batch.depth: got {batch['depth']}, want 0 to 16")
        if not is_hex(batch["root"]):
            problems.append(f"batch.root: got {batch['root']!r}, want 64 lowercase hex digits")
    chain = bundle.get("chain")
    if not isinstance(chain, list) or not chain:
        problems.append("chain: want a non-empty list of entries, genesis first")
        chain = []
    for index, entry in enumerate(chain):
        problems += _entry_layout(entry, f"chain[{index}]")
    return problems


def _entry_layout(entry: Any, where: str) -> list[str]:
    problems: list[str] = []
    if not _fields(entry, _ENTRY_FIELDS, where, problems):
        return problems
    for name in ("party", "agreement_id", "key_id"):
        if not (isinstance(entry[name], str) and entry[name]):
            problems.append(f"{where}.{name}: got {entry[name]!r}, want a non-empty string")
    if not (is_int(entry["sequence"]) and 0 <= entry["sequence"] <= MAX_SAFE_INT):
        problems.append(
            f"{where}.sequence: got {entry['sequence']!r}, want an integer from 0 to 2**53-1"
        )
    if entry["kind"] not in KINDS:
        problems.append(f"{where}.kind: got {entry['kind']!r}, want one of {list(KINDS)}")
    for name in ("prev_hash", "payload_hash"):
        if not is_hex(entry[name]):
            problems.append(f"{where}.{name}: got {entry[name]!r}, want 64 lowercase hex digits")
    signature = entry["signature"]
    if not (
        isinstance(signature, str) and len(signature) % 2 == 0 and is_hex(signature, len(signature))
    ):
        problems.append(f"{where}.signature: got {signature!r}, want lowercase hex")
    if not isinstance(entry["payload"], str):
        problems.append(f"{where}.payload: got {entry['payload']!r}, want the payload's text")
    if not (is_int(entry["time_ms"]) and 0 <= entry["time_ms"] <= MAX_TIME_MS):
        problems.append(
            f"{where}.time_ms: got {entry['time_ms']!r}, want an integer from 0 to {MAX_TIME_MS}"
        )
    return problems
