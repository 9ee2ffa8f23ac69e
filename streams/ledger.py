"""Ledger entries and the rules of a party's hash-chained, signed ledger (pure: no Kafka).

Each party keeps one append-only chain per agreement (the ``ledger.anchors`` topic, mirrored to
the partner). Entry ``n`` commits to entry ``n-1`` through ``prev_hash``, and is signed by its
party's Ed25519 key, so the partner can check the whole history it mirrored:

* **signed bytes** (:meth:`LedgerEntry.signed_bytes`):
  ``tagged("ledger-entry.v1", canonical_json({"agreement_id", "key_id", "kind", "party",
  "payload_hash": hex, "prev_hash": hex, "sequence", "time_ms"}))`` (see :mod:`streams.canonical`).
  The payload is covered through ``payload_hash = SHA-256(payload)``; the payload itself is the
  canonical JSON of a kind-specific object.
* **signature**: Ed25519 over the signed bytes, by the key ``key_id`` names.
* **entry hash** (:meth:`LedgerEntry.entry_hash`, what the next ``prev_hash`` holds):
  ``SHA-256(tagged("ledger-hash.v1", signed_bytes || signature))``. The signed bytes are one
  complete JSON object, so where they end and the 64-byte signature begins is unambiguous.
  Genesis (sequence 0) has ``prev_hash`` = 32 zero bytes.

The **genesis** entry of *each* party's chain carries the agreement both parties signed: the
book hash (:func:`book_hash`) over every version's canonical hash, each party's public key, and
both signature documents (:func:`sign_agreement`); its payload is byte-identical on the two
chains. Keys for checking the rest of a chain come from its genesis entry.

:func:`check_ledger` reports every problem of a mirrored chain as :class:`Finding` values
(errors as data); :class:`ChainTip` appends to one's own chain, idempotently for anchors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.agreement import AgreementBook
from streams.canonical import canonical_json, decimal_text, tagged
from streams.clock import from_ms, to_ms
from streams.errors import BilatError
from streams.keys import KeyFileError, PublicKey, Signer, key_id_of
from streams.records import ms_of

__all__ = [
    "FINDING_KINDS",
    "KINDS",
    "ZERO_HASH",
    "ChainTip",
    "Finding",
    "LedgerEntry",
    "LedgerError",
    "anchor_payload",
    "book_hash",
    "book_versions",
    "check_ledger",
    "genesis_payload",
    "make_entry",
    "sign_agreement",
    "verify_agreement_signature",
]

KINDS = ("genesis", "anchor", "countersignature", "dispute", "resolution", "statement")
"""Entry kinds, as in ``schemas/ledger_entry``; the kind fixes the payload's shape."""

FINDING_KINDS = (
    "bad-signature",
    "chain-break",
    "gap",
    "equivocation",
    "duplicate-window",
    "bad-payload",
    "unknown-key",
    "no-genesis",
    "wrong-party",
)

ZERO_HASH = bytes(32)
"""``prev_hash`` of the genesis entry."""

ENTRY_DOMAIN = "ledger-entry.v1"
HASH_DOMAIN = "ledger-hash.v1"
BOOK_DOMAIN = "agreement-book.v1"
AGREEMENT_SIGNATURE_DOMAIN = "agreement-signature.v1"

_SIGNATURE_FIELDS = ("agreement_id", "book_hash", "party", "key_id", "public_key", "signature")


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


def _is_hex(value: Any, digits: int = 64) -> bool:
    """``value`` is exactly ``digits`` lowercase hex digits (the one spelling of bytes)."""
    return (
        isinstance(value, str)
        and len(value) == digits
        and all(c in "0123456789abcdef" for c in value)
    )


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
            ("sequence", type(self.sequence) is int and self.sequence >= 0, "an int >= 0"),
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


# --- the agreement: both parties sign its book hash ----------------------------------------


def book_versions(book: AgreementBook) -> list[dict[str, Any]]:
    """Each version as ``{"version", "effective_from_ms", "hash": hex}``, in force order."""
    return [
        {
            "version": v.version,
            "effective_from_ms": to_ms(v.effective_from),
            "hash": v.canonical_hash().hex(),
        }
        for v in book.versions
    ]


def _book_hash(agreement_id: str, versions: Any) -> bytes:
    body = canonical_json({"agreement_id": agreement_id, "versions": versions})
    return hashlib.sha256(tagged(BOOK_DOMAIN, body)).digest()


def book_hash(book: AgreementBook) -> bytes:
    """``SHA-256(tagged("agreement-book.v1", canonical_json({"agreement_id", "versions":
    book_versions(book)})))``: what both parties sign, covering every version."""
    return _book_hash(book.id, book_versions(book))


def _roles(book: AgreementBook) -> dict[str, str]:
    return {book.latest.seller.id: "seller", book.latest.buyer.id: "buyer"}


def _agreement_message(agreement_id: str, book_hash_hex: str, party: str, key_id: str) -> bytes:
    fields = {
        "agreement_id": agreement_id,
        "book_hash": book_hash_hex,
        "party": party,
        "key_id": key_id,
    }
    return tagged(AGREEMENT_SIGNATURE_DOMAIN, canonical_json(fields))


def sign_agreement(book: AgreementBook, keypair: Signer, party: str) -> dict[str, Any]:
    """``party``'s signature document over ``book``: ``{agreement_id, book_hash, party, key_id,
    public_key, signature}`` (hex strings), JSON-ready.

    The signature is Ed25519 over ``tagged("agreement-signature.v1", canonical_json(
    {agreement_id, book_hash, party, key_id}))``, so it names the party it speaks for. Raises
    :class:`LedgerError` if ``party`` is neither the seller nor the buyer.
    """
    roles = _roles(book)
    if party not in roles:
        raise LedgerError(
            f"agreement {book.id}: party: got {party!r}, want one of {', '.join(roles)}"
        )
    book_hex = book_hash(book).hex()
    key_id = keypair.key_id
    message = _agreement_message(book.id, book_hex, party, key_id)
    return {
        "agreement_id": book.id,
        "book_hash": book_hex,
        "party": party,
        "key_id": key_id,
        "public_key": keypair.public.raw.hex(),
        "signature": keypair.sign(message).hex(),
    }


def _signature_problems(
    doc: Any, agreement_id: str, book_hash_hex: str, parties: Iterable[str]
) -> list[str]:
    """Every problem of a signature document against an agreement id, book hash and parties."""
    if not isinstance(doc, Mapping):
        return [f"got {type(doc).__name__}, want a JSON object"]
    problems = []
    missing = [f for f in _SIGNATURE_FIELDS if not isinstance(doc.get(f), str)]
    if missing:
        return [f"field {f!r}: got {doc.get(f)!r}, want a string" for f in missing]
    if doc["agreement_id"] != agreement_id:
        problems.append(f"agreement_id: got {doc['agreement_id']!r}, want {agreement_id!r}")
    if doc["book_hash"] != book_hash_hex:
        problems.append(
            f"book_hash: got {doc['book_hash']}, want {book_hash_hex} (signed another "
            "agreement or another set of versions)"
        )
    allowed = list(parties)
    if doc["party"] not in allowed:
        problems.append(f"party: got {doc['party']!r}, want one of {', '.join(allowed)}")
    for name, digits in (("public_key", 64), ("signature", 128)):
        if not _is_hex(doc[name], digits):
            problems.append(f"{name}: got {doc[name]!r}, want {digits} lowercase hex digits")
    if problems:
        return problems
    key = PublicKey.from_hex(doc["public_key"])
    signature = bytes.fromhex(doc["signature"])
    if doc["key_id"] != key.key_id:
        problems.append(f"key_id: got {doc['key_id']!r}, want {key.key_id!r} (the key's id)")
    message = _agreement_message(doc["agreement_id"], doc["book_hash"], doc["party"], key.key_id)
    if not key.verify(message, signature):
        problems.append(f"signature: does not verify with key {key.key_id}")
    return problems


def verify_agreement_signature(book: AgreementBook, doc: Mapping[str, Any]) -> list[str]:
    """Every problem of signature document ``doc`` as a signature over ``book``; [] if valid.

    Checks the agreement id, that the book hash is this book's (all versions), that the party
    is the seller or the buyer, that ``key_id`` is the public key's, and the signature.
    Which key *should* sign for a party is the caller's knowledge (see
    :func:`genesis_payload`'s ``keys``).
    """
    return _signature_problems(doc, book.id, book_hash(book).hex(), _roles(book))


def genesis_payload(
    book: AgreementBook,
    signatures: Sequence[Mapping[str, Any]],
    keys: Mapping[str, PublicKey] | None = None,
) -> dict[str, Any]:
    """The genesis payload of ``book``, signed by both parties.

    ``{"agreement_id", "book_hash", "versions": book_versions(book), "parties": {id: {"role",
    "key_id", "public_key"}}, "signatures": [seller's doc, buyer's doc]}``; every party builds the
    same bytes from the same two documents. ``keys`` (party → key), when known out of band,
    pins which key must sign for each party.

    Raises :class:`LedgerError` listing every problem: an invalid document, a party with no
    valid signature or with two different keys, both parties using one key, a key other than
    the pinned one.
    """
    roles = _roles(book)
    book_hex = book_hash(book).hex()
    problems = []
    valid: dict[str, dict[str, Any]] = {}
    for index, doc in enumerate(signatures):
        who = doc.get("party") if isinstance(doc, Mapping) else None
        found = _signature_problems(doc, book.id, book_hex, roles)
        problems += [f"signatures[{index}] (party {who!r}): {p}" for p in found]
        if found:
            continue
        clean = {f: doc[f] for f in _SIGNATURE_FIELDS}
        party = clean["party"]
        if party in valid and valid[party]["public_key"] != clean["public_key"]:
            problems.append(
                f"party {party}: signed with two keys, {valid[party]['key_id']} and "
                f"{clean['key_id']}; want one"
            )
        valid.setdefault(party, clean)
    for party, role in roles.items():
        if party not in valid:
            problems.append(f"missing a valid signature by the {role} {party}")
        elif (
            keys is not None
            and party in keys
            and valid[party]["public_key"] != keys[party].raw.hex()
        ):
            problems.append(
                f"party {party}: signed by key {valid[party]['key_id']}, want its key "
                f"{keys[party].key_id}"
            )
    key_owners = Counter(doc["public_key"] for doc in valid.values())
    for public, count in key_owners.items():
        if count > 1:
            owners = sorted(p for p, d in valid.items() if d["public_key"] == public)
            problems.append(
                f"parties {' and '.join(owners)} signed with the same key "
                f"{key_id_of(bytes.fromhex(public))}: want one key per party"
            )
    if problems:
        raise LedgerError(f"agreement {book.id}: cannot build the genesis payload", problems)
    return {
        "agreement_id": book.id,
        "book_hash": book_hex,
        "versions": book_versions(book),
        "parties": {
            party: {
                "role": role,
                "key_id": valid[party]["key_id"],
                "public_key": valid[party]["public_key"],
            }
            for party, role in roles.items()
        },
        "signatures": [valid[party] for party in roles],
    }


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


_WindowKey = tuple[int, int, int]
"""(window_start_ms, window_end_ms, revision)."""


def _anchor_problems(payload: Mapping[str, Any], agreement_id: str) -> list[str]:
    """What makes an anchor payload unusable for matching (the fields reconciliation needs)."""
    problems = []
    if payload.get("agreement_id") != agreement_id:
        problems.append(f"agreement_id: got {payload.get('agreement_id')!r}, want {agreement_id!r}")
    for name in ("window_start_ms", "window_end_ms", "revision", "leaf_count"):
        if not _is_int(payload.get(name)):
            problems.append(f"{name}: got {payload.get(name)!r}, want an integer")
    if not problems and payload["window_end_ms"] <= payload["window_start_ms"]:
        problems.append("window: want end > start")
    if not _is_hex(payload.get("root")):
        problems.append(f"root: got {payload.get('root')!r}, want 64 lowercase hex digits")
    if not isinstance(payload.get("totals"), dict):
        problems.append(f"totals: got {payload.get('totals')!r}, want an object")
    supersedes = payload.get("supersedes")
    if supersedes is not None and not (
        isinstance(supersedes, dict)
        and _is_int(supersedes.get("revision"))
        and _is_hex(supersedes.get("root"))
    ):
        problems.append(f"supersedes: got {supersedes!r}, want null or {{revision, root}}")
    return problems


def _window_key(payload: Mapping[str, Any]) -> _WindowKey:
    return (payload["window_start_ms"], payload["window_end_ms"], payload["revision"])


# --- checking a chain ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of a ledger chain, as data (it becomes a ``ReconAlert``)."""

    kind: str
    """One of :data:`FINDING_KINDS`."""
    sequence: int | None
    """The entry concerned; None when it concerns the chain as a whole."""
    detail: str

    def __str__(self) -> str:
        where = "ledger" if self.sequence is None else f"sequence {self.sequence}"
        return f"{self.kind} at {where}: {self.detail}"


def _owner(entries: Sequence[LedgerEntry], party: str | None) -> tuple[str, str]:
    """The chain's (party, agreement): ``party`` or the most common party; the agreement of its
    genesis entry, else its most common agreement. Ties break by name, never by input order."""

    def most_common(counts: Counter[str]) -> str:
        return min(counts.items(), key=lambda item: (-item[1], item[0]))[0] if counts else ""

    owner = party if party is not None else most_common(Counter(e.party for e in entries))
    mine = [e for e in entries if e.party == owner]
    geneses = [e for e in mine if e.sequence == 0 and e.kind == "genesis"]
    if geneses:
        return owner, min(geneses, key=lambda e: e.entry_hash()).agreement_id
    return owner, most_common(Counter(e.agreement_id for e in mine))


def _genesis_keys(entry: LedgerEntry) -> tuple[dict[str, tuple[str, PublicKey]], list[str]]:
    """Keys published by a genesis entry (key id → (party, key)), and its payload's problems.
    A payload that does not match its hash publishes nothing (``bad-payload`` says why)."""
    if hashlib.sha256(entry.payload).digest() != entry.payload_hash:
        return {}, []
    try:
        payload = entry.payload_json()
    except LedgerError as exc:
        return {}, [str(exc)]
    problems = []
    parties = payload.get("parties")
    keys: dict[str, tuple[str, PublicKey]] = {}
    if not isinstance(parties, dict):
        return {}, [f"parties: got {parties!r}, want an object"]
    for party, info in parties.items():
        try:
            key = PublicKey.from_json(info if isinstance(info, dict) else {})
        except KeyFileError as exc:
            problems.append(f"parties.{party}: {exc}")
            continue
        keys[key.key_id] = (party, key)
    if entry.party not in parties:
        problems.append(f"parties: got {sorted(parties)}, want the chain's party {entry.party}")
    if payload.get("agreement_id") != entry.agreement_id:
        problems.append(
            f"agreement_id: got {payload.get('agreement_id')!r}, want {entry.agreement_id!r}"
        )
    versions = payload.get("versions")
    try:
        expected = _book_hash(entry.agreement_id, versions).hex()
    except (TypeError, ValueError):
        problems.append(f"versions: got {versions!r}, want a list of version objects")
        expected = None
    if expected is not None and payload.get("book_hash") != expected:
        problems.append(f"book_hash: got {payload.get('book_hash')!r}, want {expected} (versions)")
    signatures = payload.get("signatures")
    signed: set[str] = set()
    for index, doc in enumerate(signatures if isinstance(signatures, list) else []):
        found = _signature_problems(doc, entry.agreement_id, expected or "", parties)
        published = keys.get(doc.get("key_id", "")) if not found else None
        if not found and (published is None or published[0] != doc["party"]):
            found = [f"key {doc['key_id']}: not the key parties.{doc['party']} publishes"]
        problems += [f"signatures[{index}]: {p}" for p in found]
        if not found:
            signed.add(doc["party"])
    for party in parties:
        if party not in signed:
            problems.append(f"signatures: missing a valid agreement signature by {party}")
    return keys, problems


def check_ledger(
    entries: Iterable[LedgerEntry],
    party: str | None = None,
    trusted: Mapping[str, PublicKey] | None = None,
) -> list[Finding]:
    """Every problem of one party's chain as stored (any order, duplicates allowed).

    The chain's owner is ``party`` (default: the party of the genesis entry), its agreement
    that of the genesis entry; keys come from the genesis payload, and only the owner's key may
    sign. ``trusted`` (party → key, known out of band, e.g. from the signature documents
    exchanged before genesis) pins the owner's key: a genesis publishing another key is an
    ``unknown-key`` finding and the trusted key is used instead. Reported, all at once, sorted
    by sequence:

    * ``wrong-party`` — an entry of another party or agreement (then ignored);
    * ``no-genesis`` — no genesis entry at sequence 0 (signatures cannot be checked then);
    * ``bad-payload`` — payload not matching ``payload_hash``, not canonical JSON, or not the
      kind's shape (genesis: keys, book hash, both agreement signatures; anchor: window,
      revision, root; a revision superseding a root its window was not anchored with);
    * ``unknown-key`` — signed by a key other than the owner's published key;
    * ``bad-signature`` — the signature does not verify;
    * ``chain-break`` — ``prev_hash`` is not the hash of the entry before (or not zero for
      genesis);
    * ``gap`` — missing sequences below the highest one;
    * ``equivocation`` — two entries with one sequence, both validly signed, signing different
      content (identical copies are fine: Kafka delivers at least once; a corrupted copy is a
      ``bad-signature`` or ``bad-payload``, never the party's equivocation);
    * ``duplicate-window`` — a (window, revision) anchored again with a different root.

    A clean chain gives ``[]``; an empty one a ``no-genesis`` finding.
    """
    items = list(entries)
    findings: list[Finding] = []
    owner, agreement = _owner(items, party)
    by_sequence: dict[int, list[LedgerEntry]] = {}
    for entry in items:
        if (entry.party, entry.agreement_id) != (owner, agreement):
            findings.append(
                Finding(
                    "wrong-party",
                    entry.sequence,
                    f"entry of {entry.party}/{entry.agreement_id}, want {owner}/{agreement}",
                )
            )
            continue
        variants = by_sequence.setdefault(entry.sequence, [])
        if entry not in variants:
            variants.append(entry)

    keys: dict[str, tuple[str, PublicKey]] | None = None
    geneses = [e for e in by_sequence.get(0, []) if e.kind == "genesis"]
    if not geneses:
        at_zero = by_sequence.get(0)
        detail = (
            f"sequence 0 is a {at_zero[0].kind} entry, want genesis"
            if at_zero
            else "no entry at sequence 0: keys unknown, signatures not checked"
        )
        findings.append(Finding("no-genesis", 0 if at_zero else None, detail))
    genesis_problems: dict[int, list[str]] = {}
    for genesis in sorted(geneses, key=lambda e: e.entry_hash()):
        published, problems = _genesis_keys(genesis)
        genesis_problems[id(genesis)] = problems
        if keys is None and any(p == owner for p, _ in published.values()):
            keys = published
    if geneses and keys is None:
        findings.append(
            Finding(
                "no-genesis",
                0,
                f"no genesis entry publishes a usable key of {owner}: signatures not checked",
            )
        )
    elif keys is not None and trusted is not None and owner in trusted:
        published_ids = [k for k, (p, _) in keys.items() if p == owner]
        if trusted[owner].key_id not in published_ids:
            findings.append(
                Finding(
                    "unknown-key",
                    0,
                    f"genesis publishes {owner}'s key {', '.join(published_ids)}, want the "
                    f"trusted key {trusted[owner].key_id}",
                )
            )
            keys = {trusted[owner].key_id: (owner, trusted[owner])}

    hashes: dict[int, set[bytes]] = {}
    signed_ok: dict[int, list[LedgerEntry]] = {}
    anchors: list[tuple[int, dict[str, Any]]] = []
    for sequence in sorted(by_sequence):
        for entry in by_sequence[sequence]:
            hashes.setdefault(sequence, set()).add(entry.entry_hash())
            payload, problems = _payload_problems(entry, agreement)
            problems += genesis_problems.get(id(entry), [])
            findings += [Finding("bad-payload", sequence, p) for p in problems]
            signature_ok = _signature_finding(entry, keys, owner, findings)
            if signature_ok:
                signed_ok.setdefault(sequence, []).append(entry)
                if entry.kind == "anchor" and payload is not None and not problems:
                    anchors.append((sequence, payload))

    for sequence in sorted(by_sequence):
        for entry in by_sequence[sequence]:
            link = _link_finding(entry, hashes)
            if link is not None:
                findings.append(link)
        variants = signed_ok.get(sequence, [])
        if len({e.signed_bytes() for e in variants}) > 1:
            detail = ", ".join(f"{e.kind} payload {e.payload_hash.hex()[:16]}…" for e in variants)
            findings.append(
                Finding(
                    "equivocation",
                    sequence,
                    f"{len(variants)} different validly signed entries: {detail}",
                )
            )
    findings += _gaps(by_sequence)
    findings += _window_findings(anchors)
    return sorted(
        findings, key=lambda f: (-1 if f.sequence is None else f.sequence, f.kind, f.detail)
    )


def _link_finding(entry: LedgerEntry, hashes: Mapping[int, set[bytes]]) -> Finding | None:
    """``chain-break`` if ``prev_hash`` is not the hash of (a copy of) the entry before; None
    also when that entry is missing (the gap is reported instead)."""
    if entry.sequence == 0:
        if entry.prev_hash == ZERO_HASH:
            return None
        want = "32 zero bytes (genesis)"
    else:
        before = hashes.get(entry.sequence - 1)
        if before is None or entry.prev_hash in before:
            return None
        want = f"{' or '.join(sorted(h.hex() for h in before))} (sequence {entry.sequence - 1})"
    return Finding(
        "chain-break", entry.sequence, f"prev_hash: got {entry.prev_hash.hex()}, want {want}"
    )


def _payload_problems(
    entry: LedgerEntry, agreement: str
) -> tuple[dict[str, Any] | None, list[str]]:
    digest = hashlib.sha256(entry.payload).digest()
    if digest != entry.payload_hash:
        return None, [
            f"payload: SHA-256 got {digest.hex()}, want payload_hash {entry.payload_hash.hex()}"
        ]
    try:
        payload = entry.payload_json()
    except LedgerError as exc:
        return None, [str(exc)]
    try:
        canonical = canonical_json(payload) == entry.payload
    except (TypeError, ValueError):  # floats, huge integers: no canonical form
        canonical = False
    if not canonical:
        return payload, ["payload: got non-canonical JSON, want canonical_json of the object"]
    if entry.kind == "genesis" and entry.sequence != 0:
        return payload, [f"kind genesis: got sequence {entry.sequence}, want only 0"]
    if entry.kind == "anchor":
        return payload, _anchor_problems(payload, agreement)
    return payload, []


def _signature_finding(
    entry: LedgerEntry,
    keys: Mapping[str, tuple[str, PublicKey]] | None,
    owner: str,
    findings: list[Finding],
) -> bool:
    """Whether ``entry`` is validly signed by the owner; adds the finding if not. Without keys
    (no genesis) nothing can be checked: True, the ``no-genesis`` finding says why."""
    if keys is None:
        return True
    known = keys.get(entry.key_id)
    if known is None or known[0] != owner:
        whose = f"{known[0]}'s key, not {owner}'s" if known else "not published in the genesis"
        owned = [k for k, (p, _) in keys.items() if p == owner]
        findings.append(
            Finding(
                "unknown-key",
                entry.sequence,
                f"key_id: got {entry.key_id} ({whose}), want {' or '.join(owned) or '?'}",
            )
        )
        return False
    if not known[1].verify(entry.signed_bytes(), entry.signature):
        findings.append(
            Finding(
                "bad-signature",
                entry.sequence,
                f"{entry.kind} signature does not verify with {entry.key_id}",
            )
        )
        return False
    return True


def _gaps(by_sequence: Mapping[int, object]) -> list[Finding]:
    """One ``gap`` finding per run of missing sequences in 1..max (0 is ``no-genesis``)."""
    findings = []
    present = sorted(by_sequence)
    previous = 0
    for sequence in present:
        if sequence > previous + 1:
            first, last = previous + 1, sequence - 1
            span = f"sequence {first}" if first == last else f"sequences {first}..{last}"
            findings.append(
                Finding("gap", first, f"{span} missing (the chain resumes at {sequence})")
            )
        previous = max(previous, sequence)
    return findings


def _window_findings(anchors: Sequence[tuple[int, Mapping[str, Any]]]) -> list[Finding]:
    """``duplicate-window`` for a (window, revision) anchored again with another root, and
    ``bad-payload`` for a revision superseding a root its window was not anchored with."""
    findings = []
    first: dict[_WindowKey, tuple[int, str]] = {}
    for sequence, payload in sorted(anchors, key=lambda a: a[0]):
        key = _window_key(payload)
        seen = first.setdefault(key, (sequence, payload["root"]))
        if seen[0] != sequence and seen[1] != payload["root"]:
            findings.append(
                Finding(
                    "duplicate-window",
                    sequence,
                    f"window [{key[0]}, {key[1]}) revision {key[2]}: root {payload['root']}, "
                    f"but sequence {seen[0]} anchored root {seen[1]}",
                )
            )
    for sequence, payload in anchors:
        supersedes = payload.get("supersedes")
        if supersedes is None:
            continue
        earlier = first.get(
            (payload["window_start_ms"], payload["window_end_ms"], supersedes["revision"])
        )
        if earlier is not None and earlier[1] != supersedes["root"]:
            findings.append(
                Finding(
                    "bad-payload",
                    sequence,
                    f"supersedes: got revision {supersedes['revision']} root "
                    f"{supersedes['root']}, want {earlier[1]} (anchored at sequence {earlier[0]})",
                )
            )
    return findings


# --- one's own chain -----------------------------------------------------------------------


class ChainTip:
    """The head of one's own chain: builds each next entry, and recognises replayed anchors.

    The writer's cycle is :meth:`next_entry` (build and sign; the tip stays), publish, then
    :meth:`advance`; after a failed publish the tip is unchanged, or rebuilt from the topic
    with :meth:`from_entries` after a crash. :meth:`append` does both steps at once. Only a tip
    built by :meth:`from_entries` (or from genesis on) knows the anchored windows; one
    constructed with just ``last`` cannot recognise a replayed anchor.
    """

    __slots__ = ("_anchors", "agreement_id", "last", "party")

    def __init__(self, party: str, agreement_id: str, last: LedgerEntry | None = None) -> None:
        self.party = party
        self.agreement_id = agreement_id
        self.last = last
        self._anchors: dict[_WindowKey, LedgerEntry] = {}

    @property
    def next_sequence(self) -> int:
        return 0 if self.last is None else self.last.sequence + 1

    def anchor_for(
        self, window_start_ms: int, window_end_ms: int, revision: int
    ) -> LedgerEntry | None:
        """The anchor entry of this (window, revision), if the chain has one."""
        return self._anchors.get((window_start_ms, window_end_ms, revision))

    def next_entry(
        self, kind: str, payload: Mapping[str, Any], signer: Signer, time: datetime
    ) -> LedgerEntry:
        """The signed entry that would follow the tip; the tip does not move (publish the
        entry, then :meth:`advance`).

        Anchors are idempotent: a (window, revision) already anchored with the same payload
        gives the existing entry (publishing it again is a harmless duplicate); with a
        different payload raises :class:`LedgerError` (that would be a ``duplicate-window``: a
        changed batch needs a new revision). A misshapen anchor payload raises too.
        """
        if kind == "anchor":
            problems = _anchor_problems(payload, self.agreement_id)
            if problems:
                raise LedgerError(f"{self.party}/{self.agreement_id}: bad anchor", problems)
            existing = self._anchors.get(_window_key(payload))
            if existing is not None:
                if existing.payload == canonical_json(payload):
                    return existing
                raise LedgerError(
                    f"{self.party}/{self.agreement_id}: window {_window_key(payload)[:2]} "
                    f"revision {payload['revision']} is already anchored at sequence "
                    f"{existing.sequence} with root {existing.payload_json().get('root')}; "
                    f"got root {payload.get('root')}: anchor a changed batch as a new revision"
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
            self._anchors[_window_key(entry.payload_json())] = entry

    @classmethod
    def from_entries(cls, entries: Iterable[LedgerEntry], party: str | None = None) -> ChainTip:
        """The tip of a stored chain, after :func:`check_ledger` found nothing wrong.

        Raises :class:`LedgerError` listing every finding (a chain with problems must be
        repaired, never extended), or when there are no entries.
        """
        items = list(entries)
        if not items:
            raise LedgerError(f"ledger of {party or '?'}: no entries, want at least genesis")
        findings = check_ledger(items, party)
        if findings:
            raise LedgerError(
                f"ledger of {items[0].party}: {len(findings)} problems", [str(f) for f in findings]
            )
        chain = {e.sequence: e for e in items}  # clean: one entry per sequence, no gaps
        tip = cls(chain[0].party, chain[0].agreement_id)
        for sequence in sorted(chain):
            tip._advance(chain[sequence])
        return tip
