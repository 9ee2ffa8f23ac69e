"""An independent verifier of the Bilat ledger, written from ``docs/spec/ledger.md`` alone.

It plays the outside auditor: the standard library and ``cryptography`` (for Ed25519) only,
nothing imported from Bilat (``streams``, ``connectors``), and no code copied from it. Every
function cites the section of the spec it implements; where the spec was not enough to get a
vector right, the spec was fixed, not this file (``tests/independent/README.md`` lists
where). Written for clarity, not speed: trees are built recursively, straight from RFC 9162.

The entry points an auditor uses: :func:`trusted_keys` (a trusted-keys file: the keys that may
sign, which never come from the chain), :func:`verify_record` (a record proof against an
anchored root), :func:`check_chain` (a party's chain against trusted keys, as findings, key
rotations included), :func:`check_stored` (digests and leaf stores against the anchors) and
:func:`verify_bundle` (an audit bundle, check by check).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "BUNDLE_CHECKS",
    "Entry",
    "Finding",
    "Listing",
    "NotCanonical",
    "Trusted",
    "VerifyError",
    "accepted_buckets",
    "batch_root",
    "book_hash",
    "bucket_hashes",
    "bucket_of",
    "canonical_json",
    "check_chain",
    "check_evidence",
    "check_stored",
    "correlation_key",
    "countersignature_problems",
    "decimal_text",
    "digest_hash",
    "evidence_hash",
    "is_canonical",
    "is_small_order",
    "key_id",
    "leaf_data",
    "leaf_fields",
    "leaf_hash",
    "mth",
    "normalise_number",
    "parse_json",
    "parse_time",
    "request_id",
    "root_from_path",
    "rotation_message",
    "settle_amount",
    "settlement_problems",
    "signature_doc_problems",
    "status",
    "trusted_keys",
    "trusted_keys_of_agreement",
    "verify_bundle",
    "verify_record",
    "version_hash",
    "witness_findings",
    "witnessed",
]


# --- Conventions ---------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tag(domain: str, body: bytes) -> bytes:
    """Domain separation: "bilat." || d || 0x00 || body."""
    return b"bilat." + domain.encode("ascii") + b"\x00" + body


_HEX = re.compile(r"[0-9a-f]*")


def is_hex(value: Any, size: int) -> bool:
    """Lowercase hex of exactly ``size`` bytes (Conventions: producers write lowercase)."""
    return isinstance(value, str) and len(value) == 2 * size and bool(_HEX.fullmatch(value))


def unhex(value: Any, size: int) -> bytes:
    if not is_hex(value, size):
        raise ValueError(f"got {value!r}, want {2 * size} lowercase hex digits")
    return bytes.fromhex(value)


# --- Canonical JSON ------------------------------------------------------------------------

MAX_INT = 2**53 - 1


class NotCanonical(ValueError):
    """A value with no canonical form. ``kind`` is ``"type"`` (not an encodable kind of value:
    a number with a fraction or exponent...) or ``"value"`` (an integer out of range, a lone
    surrogate)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Fraction:
    """A JSON number written with a fraction or exponent: kept as its text, never a float."""

    text: str


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Duplicates(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Duplicates("duplicate keys")
    return dict(pairs)


def parse_json(text: str) -> Any:
    """JSON text → value, integers as ``int``, other numbers as :class:`Fraction` (the spec:
    a parser that distinguishes integers from other numbers). Duplicate keys, NaN and
    Infinity are refused with ``ValueError``."""
    return json.loads(
        text, parse_float=Fraction, parse_constant=_no_constants, object_pairs_hook=_unique
    )


_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise NotCanonical("value", f"lone surrogate U+{ord(ch):04X}")
    out = []
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u00{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _utf16_units(key: str) -> list[int]:
    data = key.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise NotCanonical("value", f"integer {value} out of range")
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in value:
            _string(key)  # a lone surrogate in a key has no canonical form either
        keys = sorted(value, key=_utf16_units)
        return "{" + ",".join(_string(k) + ":" + _encode(value[k]) for k in keys) + "}"
    raise NotCanonical("type", f"{value!r} has no canonical form")


def canonical_json(value: Any) -> bytes:
    """The canonical JSON of ``value`` (spec: Canonical JSON); :class:`NotCanonical` if none."""
    return _encode(value).encode("utf-8")


def is_canonical(data: bytes) -> bool:
    """Whether ``data`` is the canonical JSON of the value it parses to."""
    try:
        return canonical_json(parse_json(data.decode("utf-8"))) == data
    except (ValueError, UnicodeDecodeError):  # NotCanonical and JSON errors are ValueErrors
        return False


# --- Decimals ------------------------------------------------------------------------------

_DECIMAL = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")


def decimal_text(text: str) -> str:
    """The canonical text of the decimal written ``text`` (spec: Decimals). ``ValueError`` for
    anything that is not a finite decimal number."""
    match = _DECIMAL.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise ValueError(f"{text!r} is not a decimal")
    sign, whole, fraction, exponent = match.groups()
    digits = whole + (fraction or "")
    point = len(whole) + int(exponent or 0)  # digits before the decimal point
    if point < 0:
        digits, point = "0" * -point + digits, 0
    if point > len(digits):
        digits += "0" * (point - len(digits))
    integer = digits[:point].lstrip("0") or "0"
    decimals = digits[point:].rstrip("0")
    if integer == "0" and not decimals:
        return "0"
    minus = "-" if sign == "-" else ""
    return minus + integer + ("." + decimals if decimals else "")


# --- Leaves --------------------------------------------------------------------------------

_BASE_UNITS = {
    "second": ("second", 0),
    "message": ("message", 0),
    "byte": ("byte", 0),
    "kilobyte": ("byte", 3),
    "megabyte": ("byte", 6),
    "gigabyte": ("byte", 9),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _shift(text: str, places: int) -> str:
    """``text`` times 10^places, exactly: the exponent moves, nothing is rounded."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a decimal")
    sign, whole, fraction, exponent = match.groups()
    point = f".{fraction}" if fraction is not None else ""
    return decimal_text(f"{sign}{whole}{point}e{int(exponent or 0) + places}")


def leaf_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The leaf fields of a rated record (spec: Leaves); ``ValueError`` for an unknown unit."""
    if record["unit"] not in _BASE_UNITS:
        raise ValueError(f"unit {record['unit']!r} has no base unit")
    unit, places = _BASE_UNITS[record["unit"]]
    start = datetime.fromisoformat(record["start"])
    return {
        "key": f"{record['source']}/{record['record_id']}",
        "start_ms": (start - _EPOCH) // timedelta(milliseconds=1),
        "quantity": _shift(record["quantity"], places),
        "unit": unit,
        "amount": decimal_text(record["amount"]),
        "currency": record["currency"],
        "agreement_id": record["agreement_id"],
        "agreement_version": record["agreement_version"],
    }


def leaf_data(fields: Mapping[str, Any]) -> bytes:
    return tag("leaf.v1", canonical_json(dict(fields)))


def leaf_hash(fields: Mapping[str, Any]) -> bytes:
    return sha256(b"\x00" + leaf_data(fields))


# --- Merkle trees --------------------------------------------------------------------------


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def mth(hashes: Sequence[bytes]) -> bytes:
    """T over leaf hashes, recursively, as RFC 9162 §2.1.1 writes it."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


class VerifyError(Exception):
    """A failed verification; ``code`` is one of the spec's codes (``malformed-proof``,
    ``leaf-mismatch``, ``key-mismatch``, ``wrong-bucket``, ``root-mismatch``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof proves (RFC 9162 §2.1.3.2, as the spec repeats it)."""
    if index >= size or index < 0:
        raise VerifyError("malformed-proof", f"index {index} not below size {size}")
    if len(leaf) != 32 or any(len(p) != 32 for p in path):
        raise VerifyError("malformed-proof", "a hash that is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerifyError("malformed-proof", "proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("malformed-proof", "proof too short")
    return r


# --- Batches -------------------------------------------------------------------------------


def bucket_of(usage_key: str, depth: int, salt: bytes) -> int:
    """Leading ``depth`` bits of keyed BLAKE2b (key = salt, digest length 8) of the UTF-8 key."""
    chooser = usage_key.split("|", 1)[0]  # the bucket key: up to the first "|"
    x = hashlib.blake2b(chooser.encode("utf-8"), key=salt, digest_size=8).digest()
    return int.from_bytes(x, "big") >> (64 - depth)


def bucket_hashes(leaves: Iterable[tuple[str, bytes]], depth: int, salt: bytes) -> list[bytes]:
    """Every bucket's hash for ``(usage_key, leaf_hash)`` leaves. ``ValueError`` for a bad
    depth, a repeated key or a hash that is not 32 bytes (not a valid batch)."""
    if not (isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth <= 16):
        raise ValueError(f"depth {depth!r}")
    buckets: list[list[tuple[bytes, bytes]]] = [[] for _ in range(2**depth)]
    seen = set()
    for key, hashed in leaves:
        if key in seen:
            raise ValueError(f"usage key {key!r} twice")
        if len(hashed) != 32:
            raise ValueError(f"leaf hash of {key!r} is not 32 bytes")
        seen.add(key)
        buckets[bucket_of(key, depth, salt)].append((hashed, key.encode("utf-8")))
    return [mth([h for h, _ in sorted(bucket)]) for bucket in buckets]


def batch_root(hashes: Sequence[bytes]) -> bytes:
    """The batch root over ``2^d`` bucket hashes; ``ValueError`` for any other shape."""
    n = len(hashes)
    if n not in {2**d for d in range(17)} or any(len(h) != 32 for h in hashes):
        raise ValueError(f"{n} bucket hashes: want 2^d of 32 bytes, 0 <= d <= 16")
    return mth([sha256(b"\x00" + h) for h in hashes])


_PROOF_FIELDS = {"usage_key", "leaf_hash", "bucket", "index", "bucket_size"}
_PROOF_PATHS = {"bucket_path", "top_path"}


def _natural(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _proof_shape(proof: Any) -> tuple[bytes, list[bytes], list[bytes]]:
    if not isinstance(proof, dict) or set(proof) != _PROOF_FIELDS | _PROOF_PATHS:
        raise VerifyError("malformed-proof", "not the record proof's fields")
    key = proof["usage_key"]
    ok = (
        isinstance(key, str)
        and key != ""
        and is_hex(proof["leaf_hash"], 32)
        and _natural(proof["bucket"], 0)
        and _natural(proof["index"], 0)
        and _natural(proof["bucket_size"], 1)
        and all(isinstance(proof[p], list) for p in _PROOF_PATHS)
        and all(is_hex(h, 32) for p in _PROOF_PATHS for h in proof[p])
    )
    if not ok or proof["index"] >= proof["bucket_size"]:
        raise VerifyError("malformed-proof", "a field of the wrong type or size")
    paths = [[bytes.fromhex(h) for h in proof[p]] for p in ("bucket_path", "top_path")]
    return bytes.fromhex(proof["leaf_hash"]), paths[0], paths[1]


def verify_record(
    fields: Mapping[str, Any], proof: Any, root: bytes, depth: int, salt: bytes
) -> None:
    """Steps 1-6 of the spec's record verification; the first failure raises
    :class:`VerifyError` with its code."""
    leaf, bucket_path, top_path = _proof_shape(proof)
    if leaf_hash(fields) != leaf:
        raise VerifyError("leaf-mismatch", "the record does not hash to the proof's leaf hash")
    if fields.get("key") != proof["usage_key"]:
        raise VerifyError("key-mismatch", "the record's key is not the proof's")
    if bucket_of(proof["usage_key"], depth, salt) != proof["bucket"]:
        raise VerifyError("wrong-bucket", "the usage key is in another bucket")
    bucket_hash = root_from_path(leaf, proof["index"], proof["bucket_size"], bucket_path)
    top_leaf = sha256(b"\x00" + bucket_hash)
    if root_from_path(top_leaf, proof["bucket"], 2**depth, top_path) != root:
        raise VerifyError("root-mismatch", "the proof leads to another root")


# --- The batch digest ----------------------------------------------------------------------

_DIGEST_FIELDS = (
    "party",
    "agreement_id",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "depth",
    "bucket_hashes",
    "leaf_count",
    "root",
)


def digest_hash(digest: Mapping[str, Any]) -> bytes:
    """SHA-256(tag("batch-digest.v1", canonical JSON of every field but anchor_sequence)),
    from the digest's JSON form (hashes already hex)."""
    return sha256(tag("batch-digest.v1", canonical_json({k: digest[k] for k in _DIGEST_FIELDS})))


# --- Keys and the agreement ----------------------------------------------------------------


def key_id(public_key: bytes) -> str:
    return "ed25519:" + sha256(public_key)[:8].hex()


_SMALL_ORDER_Y = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}


def is_small_order(public_key: bytes) -> bool:
    """Spec: Small-order keys. The 32 bytes with the high bit of the last byte cleared are one
    of the seven listed values."""
    if len(public_key) != 32:
        return False
    return (public_key[:31] + bytes([public_key[31] & 0x7F])).hex() in _SMALL_ORDER_Y


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def book_hash(agreement_id: str, versions: Any) -> bytes:
    body = canonical_json({"agreement_id": agreement_id, "versions": versions})
    return sha256(tag("agreement-book.v1", body))


_DOC_FIELDS = ("agreement_id", "book_hash", "party", "key_id", "public_key", "signature")


def agreement_message(agreement_id: str, book: str, party: str, kid: str) -> bytes:
    fields = {"agreement_id": agreement_id, "book_hash": book, "party": party, "key_id": kid}
    return tag("agreement-signature.v1", canonical_json(fields))


def signature_doc_problems(
    doc: Any, agreement_id: str, book: str, parties: Iterable[str]
) -> list[str]:
    """Every problem of an agreement signature document (spec: The agreement)."""
    if not isinstance(doc, dict):
        return ["not an object"]
    if any(not isinstance(doc.get(f), str) for f in _DOC_FIELDS):
        return ["a field missing or not a string"]
    problems = []
    if doc["agreement_id"] != agreement_id:
        problems.append("another agreement")
    if doc["book_hash"] != book:
        problems.append("another book hash")
    if doc["party"] not in set(parties):
        problems.append("not a party")
    if not is_hex(doc["public_key"], 32) or not is_hex(doc["signature"], 64):
        problems.append("public key or signature not lowercase hex of the right size")
    if problems:
        return problems
    public = bytes.fromhex(doc["public_key"])
    if is_small_order(public):
        return ["a public key of small order"]
    if doc["key_id"] != key_id(public):
        return ["key_id is not the key's"]
    message = agreement_message(doc["agreement_id"], book, doc["party"], doc["key_id"])
    if not verify_signature(public, message, bytes.fromhex(doc["signature"])):
        return ["signature does not verify"]
    return []


def version_hash(content: str) -> bytes:
    """SHA-256(tag("agreement.v1", canonical JSON of the version's content)), from the content
    as canonical JSON text."""
    data = content.encode("utf-8")
    if not is_canonical(data):
        raise ValueError("a version's content is not canonical JSON")
    return sha256(tag("agreement.v1", data))


# --- Trusted keys --------------------------------------------------------------------------

_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_time(text: Any) -> int:
    """A time of the spec (trusted-keys file, or a key in a version's content) as microseconds
    since the epoch: exact for up to six fractional digits. ``ValueError`` if it is none."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise ValueError(f"{text!r} is not a time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # ValueError: no such date
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Listing:
    """One trusted key: its bytes and validity, [valid_from, valid_until) in microseconds."""

    public_key: bytes
    valid_from_us: int
    valid_until_us: int | None

    def may_sign_at(self, time_ms: int) -> bool:
        t = time_ms * 1000
        return self.valid_from_us <= t and (self.valid_until_us is None or t < self.valid_until_us)


@dataclass(frozen=True)
class Trusted:
    """Trusted keys T (spec: Trusted keys)."""

    parties: dict[str, list[Listing]]
    agreement_id: str | None
    book_hash: str | None

    def listing(self, party: str, public_key: bytes) -> Listing | None:
        """The listing of exactly this key for ``party``, if T lists it."""
        return next((k for k in self.parties.get(party, []) if k.public_key == public_key), None)

    def lists_key_id(self, party: str, kid: str) -> bool:
        return any(key_id(k.public_key) == kid for k in self.parties.get(party, []))


_FILE_MEMBERS = {"bilat_trusted_keys", "agreement_id", "book_hash", "parties"}
_KEY_MEMBERS = {"public_key", "key_id", "valid_from", "valid_until"}


def trusted_keys(document: Any) -> Trusted:
    """The trusted keys of a trusted-keys file's (parsed) document; ``ValueError`` naming the
    first rule it breaks (spec: The trusted-keys file)."""
    if not isinstance(document, dict) or not set(document) <= _FILE_MEMBERS:
        raise ValueError("not an object of the file's members")
    version = document.get("bilat_trusted_keys")
    if not (_is_int(version) and version == 1):
        raise ValueError("bilat_trusted_keys is not the integer 1")
    agreement = document.get("agreement_id")
    if agreement is not None and not (isinstance(agreement, str) and agreement):
        raise ValueError("agreement_id")
    book = document.get("book_hash")
    if book is not None and not is_hex(book, 32):
        raise ValueError("book_hash")
    parties = document.get("parties")
    if not isinstance(parties, dict) or not parties:
        raise ValueError("parties is not a non-empty object")
    result: dict[str, list[Listing]] = {}
    owners: dict[bytes, str] = {}
    for party, keys in parties.items():
        if not party or not isinstance(keys, list) or not keys:
            raise ValueError(f"party {party!r}: not a non-empty array of keys")
        listings = []
        for key in keys:
            listing = _file_key(key)
            if any(k.public_key == listing.public_key for k in listings):
                raise ValueError("a key listed twice for one party")
            if owners.setdefault(listing.public_key, party) != party:
                raise ValueError("a key listed for two parties")
            listings.append(listing)
        result[party] = listings
    return Trusted(result, agreement, book)


def _file_key(key: Any) -> Listing:
    if not isinstance(key, dict) or not set(key) <= _KEY_MEMBERS or "public_key" not in key:
        raise ValueError("a key is not an object of the key members")
    if not is_hex(key["public_key"], 32):
        raise ValueError("public_key is not 64 lowercase hex digits")
    public = bytes.fromhex(key["public_key"])
    if is_small_order(public):
        raise ValueError("public_key is of small order")
    if "key_id" in key and key["key_id"] != key_id(public):
        raise ValueError("key_id is not the key's")
    start = parse_time(key.get("valid_from"))
    until = None if key.get("valid_until") is None else parse_time(key["valid_until"])
    if until is not None and until <= start:
        raise ValueError("valid_until is not after valid_from")
    return Listing(public, start, until)


def trusted_keys_of_agreement(agreement_id: str, book: str, contents: Sequence[str]) -> Trusted:
    """The trusted keys of an agreement, from its versions' contents (spec: Keys in the
    agreement, Trusted keys): every key any version lists for each party, once."""
    parties: dict[str, list[Listing]] = {}
    for content in contents:
        value = parse_json(content)
        for role in ("seller", "buyer"):
            party = value[role]
            for key in party["keys"]:
                public = unhex(key["public_key"], 32)
                until = key["valid_until"]
                listing = Listing(
                    public,
                    parse_time(key["valid_from"]),
                    None if until is None else parse_time(until),
                )
                listed = parties.setdefault(party["id"], [])
                if listing not in listed:
                    listed.append(listing)
    return Trusted(parties, agreement_id, book)


# --- Ledger entries ------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Entry:
    party: str
    agreement_id: str
    sequence: int
    kind: str
    prev_hash: bytes
    payload: bytes
    payload_hash: bytes
    key_id: str
    signature: bytes
    time_ms: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """An entry from its JSON form; ``ValueError`` for one that is not an entry."""
        if data["kind"] not in KINDS or not _natural(data["sequence"], 0):
            raise ValueError(f"not an entry: kind {data['kind']!r}, sequence {data['sequence']}")
        return cls(
            party=data["party"],
            agreement_id=data["agreement_id"],
            sequence=data["sequence"],
            kind=data["kind"],
            prev_hash=unhex(data["prev_hash"], 32),
            payload=data["payload"].encode("utf-8"),
            payload_hash=unhex(data["payload_hash"], 32),
            key_id=data["key_id"],
            signature=bytes.fromhex(data["signature"]),
            time_ms=data["time_ms"],
        )

    def signed_bytes(self) -> bytes:
        return tag(
            "ledger-entry.v1",
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
        return sha256(tag("ledger-hash.v1", self.signed_bytes() + self.signature))

    def payload_object(self) -> dict[str, Any] | None:
        """The payload as a JSON object, or None if it is not one."""
        try:
            value = parse_json(self.payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None


# --- Checking a chain ----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    sequence: int | None
    detail: str = ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def anchor_problems(payload: Mapping[str, Any], agreement: str) -> list[str]:
    """Spec: Well-formed anchors."""
    problems = []
    if payload.get("agreement_id") != agreement:
        problems.append("agreement_id")
    numbers = ("window_start_ms", "window_end_ms", "revision", "leaf_count")
    bad = [n for n in numbers if not _is_int(payload.get(n))]
    problems += bad
    if not problems and payload["window_end_ms"] <= payload["window_start_ms"]:
        problems.append("window end not after start")
    if not is_hex(payload.get("root"), 32):
        problems.append("root")
    if not isinstance(payload.get("totals"), dict):
        problems.append("totals")
    supersedes = payload.get("supersedes")
    if supersedes is not None and not (
        isinstance(supersedes, dict)
        and _is_int(supersedes.get("revision"))
        and is_hex(supersedes.get("root"), 32)
    ):
        problems.append("supersedes")
    return problems


def genesis_rules(entry: Entry) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """Spec: Genesis rules. The keys the genesis publishes (key id → (party, public key)) and
    its problems."""
    if sha256(entry.payload) != entry.payload_hash:
        return {}, []
    payload = entry.payload_object()
    if payload is None:
        return {}, ["payload is not a JSON object"]
    parties = payload.get("parties")
    if not isinstance(parties, dict):
        return {}, ["parties is not an object"]
    keys: dict[str, tuple[str, bytes]] = {}
    problems = []
    for party, info in parties.items():
        public = _published_key(info)
        if public is None:
            problems.append(f"parties.{party}: not a valid key")
        else:
            keys[key_id(public)] = (party, public)
    if entry.party not in parties:
        problems.append("the chain's party is not among the parties")
    if payload.get("agreement_id") != entry.agreement_id:
        problems.append("agreement_id")
    try:
        expected = book_hash(entry.agreement_id, payload.get("versions")).hex()
    except NotCanonical:
        problems.append("versions have no canonical form")
        expected = ""
    if payload.get("book_hash") != expected:
        problems.append("book_hash")
    signed = set()
    signatures = payload.get("signatures")
    for doc in signatures if isinstance(signatures, list) else []:
        found = signature_doc_problems(doc, entry.agreement_id, expected, parties)
        if not found and keys.get(doc["key_id"], ("",))[0] != doc["party"]:
            found = ["signed with a key the genesis does not publish for that party"]
        problems += found
        if not found:
            signed.add(doc["party"])
    problems += [f"no valid signature by {p}" for p in parties if p not in signed]
    return keys, problems


def _published_key(info: Any) -> bytes | None:
    if not isinstance(info, dict) or not is_hex(info.get("public_key"), 32):
        return None
    public = bytes.fromhex(info["public_key"])
    if is_small_order(public):
        return None
    if info.get("algorithm", "Ed25519") != "Ed25519":
        return None
    if "key_id" in info and info["key_id"] != key_id(public):
        return None
    return public


def _most_frequent(values: Iterable[str]) -> str:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else ""


def check_chain(entries: Sequence[Entry], owner: str, trusted: Trusted) -> list[Finding]:
    """Every finding of ``owner``'s chain against trusted keys ``trusted`` (spec: Checking a
    chain, steps 1-9)."""
    findings: list[Finding] = []
    # 1. Agreement.
    mine = [e for e in entries if e.party == owner]
    owned_geneses = [e for e in mine if e.sequence == 0 and e.kind == "genesis"]
    if owned_geneses:
        agreement = min(owned_geneses, key=Entry.entry_hash).agreement_id
    else:
        agreement = _most_frequent(e.agreement_id for e in mine)
    # 2. wrong-party; variants.
    variants: dict[int, list[Entry]] = {}
    for e in entries:
        if (e.party, e.agreement_id) != (owner, agreement):
            findings.append(Finding("wrong-party", e.sequence))
        elif e not in variants.setdefault(e.sequence, []):
            variants[e.sequence].append(e)
    everything = [e for s in sorted(variants) for e in variants[s]]
    # 3. Genesis, no-genesis, wrong-agreement; the first current key.
    current: bytes | None = None
    genesis_problems: dict[Entry, list[str]] = {}
    geneses = [e for e in variants.get(0, []) if e.kind == "genesis"]
    if not geneses:
        findings.append(Finding("no-genesis", 0 if 0 in variants else None))
    if trusted.agreement_id is not None and entries and agreement != trusted.agreement_id:
        findings.append(Finding("wrong-agreement", 0 if geneses else None))
    for genesis in sorted(geneses, key=Entry.entry_hash):
        published, problems = genesis_rules(genesis)
        genesis_problems[genesis] = problems
        if current is None:
            keys = [public for party, public in published.values() if party == owner]
            if keys:
                current = keys[0]
                findings += _genesis_trust(genesis, trusted)
    if geneses and current is None:
        findings.append(Finding("no-genesis", 0))
    # 4. bad-payload.
    payload_ok: dict[Entry, bool] = {}
    for e in everything:
        problems = _payload_problems(e, agreement) + genesis_problems.get(e, [])
        findings += [Finding("bad-payload", e.sequence, p) for p in problems]
        payload_ok[e] = not problems
    # 5. Signatures and rotations.
    valid: dict[Entry, bool] = {}
    for sequence in sorted(variants):
        accepted: bytes | None = None
        for e in sorted(variants[sequence], key=Entry.entry_hash):
            if current is None:
                valid[e] = True
                continue
            kind = _signature_finding(e, current, owner, trusted)
            valid[e] = kind is None
            if kind is not None:
                findings.append(Finding(kind, sequence))
            elif e.kind == "key-rotation" and payload_ok[e] and accepted is None:
                outcome = _rotation(e, current, owner, trusted)
                if isinstance(outcome, bytes):
                    accepted = outcome
                else:
                    findings.append(Finding(outcome, sequence))
        if accepted is not None:
            current = accepted
    # 6. chain-break.
    for e in everything:
        if e.sequence == 0:
            if e.prev_hash != bytes(32):
                findings.append(Finding("chain-break", 0))
        elif e.sequence - 1 in variants and e.prev_hash not in {
            p.entry_hash() for p in variants[e.sequence - 1]
        }:
            findings.append(Finding("chain-break", e.sequence))
    # 7. equivocation.
    for sequence, group in variants.items():
        if len({e.signed_bytes() for e in group if valid[e]}) > 1:
            findings.append(Finding("equivocation", sequence))
    # 8. gap.
    present = sorted(variants)
    previous = 0
    for sequence in present:
        if sequence > previous + 1:
            findings.append(Finding("gap", previous + 1))
        previous = max(previous, sequence)
    # 9. duplicate-window, supersedes: by sequence, then by entry hash.
    by_hash = sorted(everything, key=lambda e: (e.sequence, e.entry_hash()))
    good = [e for e in by_hash if e.kind == "anchor" and valid[e] and payload_ok[e]]
    first: dict[tuple[int, int, int], tuple[int, str]] = {}
    for e in good:
        p = e.payload_object() or {}
        window = (p["window_start_ms"], p["window_end_ms"], p["revision"])
        seen = first.setdefault(window, (e.sequence, p["root"]))
        if seen[0] != e.sequence and seen[1] != p["root"]:
            findings.append(Finding("duplicate-window", e.sequence))
    for e in good:
        p = e.payload_object() or {}
        s = p.get("supersedes")
        if s is None:
            continue
        earlier = first.get((p["window_start_ms"], p["window_end_ms"], s["revision"]))
        if earlier is not None and earlier[1] != s["root"]:
            findings.append(Finding("bad-payload", e.sequence, "supersedes another root"))
    return findings


def _genesis_trust(genesis: Entry, trusted: Trusted) -> list[Finding]:
    """Spec: Genesis trust."""
    payload = genesis.payload_object() or {}
    findings = []
    if trusted.book_hash is not None and payload.get("book_hash") != trusted.book_hash:
        findings.append(Finding("wrong-agreement", 0))
    signatures = payload.get("signatures")
    for doc in signatures if isinstance(signatures, list) else []:
        if not isinstance(doc, dict) or not isinstance(doc.get("party"), str):
            continue
        if not is_hex(doc.get("public_key"), 32):
            continue
        listing = trusted.listing(doc["party"], bytes.fromhex(doc["public_key"]))
        if listing is None:
            findings.append(Finding("unknown-key", 0))
        elif not listing.may_sign_at(genesis.time_ms):
            findings.append(Finding("key-not-valid", 0))
    return findings


def _signature_finding(e: Entry, current: bytes, owner: str, trusted: Trusted) -> str | None:
    """Spec: Checking a chain, step 5, 1-4: the finding of an entry under the current key."""
    listing = trusted.listing(owner, current)
    if listing is None:
        return "unknown-key"
    if e.key_id != key_id(current):
        return "key-not-current" if trusted.lists_key_id(owner, e.key_id) else "unknown-key"
    if not listing.may_sign_at(e.time_ms):
        return "key-not-valid"
    if not verify_signature(current, e.signed_bytes(), e.signature):
        return "bad-signature"
    return None


def rotation_message(
    agreement_id: str, party: str, old_key_id: str, new_key_id: str, valid_from_ms: int
) -> bytes:
    """Spec: Key rotation: what the new key signs."""
    fields = {
        "agreement_id": agreement_id,
        "party": party,
        "old_key_id": old_key_id,
        "new_key_id": new_key_id,
        "valid_from_ms": valid_from_ms,
    }
    return tag("key-rotation.v1", canonical_json(fields))


def _rotation(e: Entry, current: bytes, owner: str, trusted: Trusted) -> bytes | str:
    """Spec: Key rotation rules. The new key if the rotation is accepted, else the finding."""
    p = e.payload_object() or {}
    new = bytes.fromhex(p["public_key"])
    listing = trusted.listing(owner, new)
    if listing is None:
        return "unknown-key"
    if p["new_key_id"] == key_id(current):
        return "bad-payload"
    if p["valid_from_ms"] != listing.valid_from_us // 1000:
        return "bad-payload"
    if not listing.may_sign_at(e.time_ms):
        return "key-not-valid"
    message = rotation_message(
        e.agreement_id, owner, key_id(current), p["new_key_id"], p["valid_from_ms"]
    )
    if not verify_signature(new, message, bytes.fromhex(p["new_key_signature"])):
        return "bad-payload"
    return new


_ROTATION_MEMBERS = {"new_key_id", "public_key", "valid_from_ms", "new_key_signature"}


def rotation_problems(payload: Mapping[str, Any]) -> list[str]:
    """Spec: Well-formed key rotations."""
    if set(payload) != _ROTATION_MEMBERS:
        return ["not the rotation's members"]
    if not is_hex(payload["public_key"], 32):
        return ["public_key"]
    public = bytes.fromhex(payload["public_key"])
    problems = []
    if is_small_order(public):
        problems.append("public_key of small order")
    if payload["new_key_id"] != key_id(public):
        problems.append("new_key_id")
    if not _is_int(payload["valid_from_ms"]):
        problems.append("valid_from_ms")
    if not is_hex(payload["new_key_signature"], 64):
        problems.append("new_key_signature")
    return problems


def _payload_problems(e: Entry, agreement: str) -> list[str]:
    if sha256(e.payload) != e.payload_hash:
        return ["payload does not match payload_hash"]
    payload = e.payload_object()
    if payload is None:
        return ["payload is not a JSON object"]
    if not is_canonical(e.payload):
        return ["payload is not canonical JSON"]
    if e.kind == "genesis" and e.sequence != 0:
        return ["genesis at a sequence other than 0"]
    if e.kind == "anchor":
        return anchor_problems(payload, agreement)
    if e.kind == "key-rotation":
        return rotation_problems(payload)
    if e.kind == "countersignature":
        return countersignature_problems(payload)
    if e.kind in SETTLEMENT_MEMBERS:
        return settlement_problems(e.kind, payload, agreement)
    return []


_COUNTERSIGNATURE_MEMBERS = {
    "partner",
    "partner_sequence",
    "partner_entry_hash",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "root",
    "anchor_sequence",
}


def countersignature_problems(payload: Mapping[str, Any]) -> list[str]:
    """Spec: Payloads, Countersignature (a well-formed payload)."""
    if set(payload) != _COUNTERSIGNATURE_MEMBERS:
        return ["not the countersignature's members"]
    problems = []
    if not (isinstance(payload["partner"], str) and payload["partner"]):
        problems.append("partner")
    numbers = ("partner_sequence", "window_start_ms", "window_end_ms", "revision")
    problems += [n for n in (*numbers, "anchor_sequence") if not _is_int(payload[n])]
    problems += [n for n in ("partner_entry_hash", "root") if not is_hex(payload[n], 32)]
    return problems


# --- Settlement payloads ------------------------------------------------------------------

SETTLEMENT_MEMBERS = {
    "statement": {
        "agreement_id", "bill_id", "currency", "period_start_ms", "period_end_ms",
        "bill_date_ms", "statement_hash", "amount_due", "item_count",
    },
    "acceptance": {
        "agreement_id", "bill_id", "statement_hash", "statement_entry", "resolution_entry",
    },
    "dispute": {
        "agreement_id", "bill_id", "dispute_id", "statement_hash", "statement_entry", "items",
        "records", "alerts", "evidence_hash", "reason",
    },
    "resolution": {"agreement_id", "bill_id", "dispute_id", "dispute_entry", "outcomes", "note"},
    "payment": {"agreement_id", "bill_id", "payment_id", "amount", "currency", "paid_ms"},
}  # fmt: skip
_MAX_SAFE = 2**53 - 1


def settle_amount(value: Any, sign: str = "") -> bool:
    """Spec: Settlement payloads, *amount* (``sign``: "", ">=0" or ">0")."""
    if not (isinstance(value, str) and len(value) <= 64 and value != "-0"):
        return False
    if not _CANONICAL_DECIMAL.fullmatch(value):
        return False
    negative, zero = value.startswith("-"), value == "0"
    return not ((sign == ">=0" and negative) or (sign == ">0" and (negative or zero)))


def _settle_int(value: Any, low: int) -> bool:
    return _is_int(value) and low <= value <= _MAX_SAFE


def _currency(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch("[A-Z]{3}", value) is not None


def _reference(value: Any) -> bool:
    return (
        _exactly(value, ("sequence", "entry_hash"))
        and _settle_int(value["sequence"], 1)
        and is_hex(value["entry_hash"], 32)
    )


def _id_list(value: Any, at_least: int) -> bool:
    if not isinstance(value, list) or len(value) < at_least:
        return False
    if not all(_text(v) for v in value):
        return False
    return all(a < b for a, b in pairwise(value))


def settlement_problems(kind: str, payload: Mapping[str, Any], agreement: str) -> list[str]:
    """Spec: Payloads, Settlement payloads (a well-formed statement, acceptance, dispute,
    resolution or payment). Names the members that break a rule."""
    if set(payload) != SETTLEMENT_MEMBERS[kind]:
        return [f"not the {kind}'s members"]
    p = payload
    rules: dict[str, bool] = {
        "agreement_id": p["agreement_id"] == agreement,
        "bill_id": _text(p["bill_id"]),
    }
    if kind == "statement":
        times = [_settle_int(p[n], 0) for n in ("period_start_ms", "period_end_ms", "bill_date_ms")]
        rules["currency"] = _currency(p["currency"])
        rules["times"] = (
            all(times) and p["period_start_ms"] < p["period_end_ms"] <= p["bill_date_ms"]
        )
        rules["statement_hash"] = is_hex(p["statement_hash"], 32)
        rules["amount_due"] = settle_amount(p["amount_due"])
        rules["item_count"] = _settle_int(p["item_count"], 0)
    elif kind == "acceptance":
        rules["statement_hash"] = is_hex(p["statement_hash"], 32)
        rules["statement_entry"] = _reference(p["statement_entry"])
        rules["resolution_entry"] = p["resolution_entry"] is None or _reference(
            p["resolution_entry"]
        )
    elif kind == "dispute":
        rules["dispute_id"] = _text(p["dispute_id"])
        rules["statement_hash"] = is_hex(p["statement_hash"], 32)
        rules["statement_entry"] = _reference(p["statement_entry"])
        rules["items"] = _id_list(p["items"], 1)
        rules["records"] = _id_list(p["records"], 0)
        rules["alerts"] = _id_list(p["alerts"], 0)
        rules["evidence_hash"] = is_hex(p["evidence_hash"], 32)
        rules["reason"] = _text(p["reason"])
    elif kind == "resolution":
        rules["dispute_id"] = _text(p["dispute_id"])
        rules["dispute_entry"] = _reference(p["dispute_entry"])
        rules["note"] = isinstance(p["note"], str)
        rules["outcomes"] = _outcomes_ok(p["outcomes"])
    else:
        rules["payment_id"] = _text(p["payment_id"])
        rules["amount"] = settle_amount(p["amount"], ">0")
        rules["currency"] = _currency(p["currency"])
        rules["paid_ms"] = _settle_int(p["paid_ms"], 0)
    return [name for name, ok in rules.items() if not ok]


def _outcomes_ok(outcomes: Any) -> bool:
    """Spec: Settlement payloads, Resolution: ``outcomes``."""
    if not isinstance(outcomes, list) or not outcomes:
        return False
    items = []
    for o in outcomes:
        if not _exactly(o, ("item", "state", "credit")) or not _text(o["item"]):
            return False
        if o["state"] not in ("credit", "withDrawn", "withdrawn", "paymentDue"):
            return False
        if not settle_amount(o["credit"], ">=0"):
            return False
        if o["state"] != "credit" and o["credit"] != "0":
            return False
        items.append(o["item"])
    return _id_list(items, 1)


# --- Dispute evidence ----------------------------------------------------------------------

_EVIDENCE_MEMBERS = {
    "bilat_evidence", "agreement_id", "bill_id", "dispute_id", "statement_hash", "items",
    "records", "alerts",
}  # fmt: skip
_EVIDENCE_ANCHOR = (
    "party", "sequence", "entry_hash", "window_start_ms", "window_end_ms", "revision", "root",
    "depth",
)  # fmt: skip


def evidence_hash(document: Any) -> bytes:
    """Spec: Dispute evidence."""
    return sha256(tag("dispute-evidence.v1", canonical_json(document)))


def _evidence_layout(doc: Any) -> bool:
    """Spec: Dispute evidence, check 1."""
    if not _exactly(doc, _EVIDENCE_MEMBERS) or not (
        _is_int(doc["bilat_evidence"]) and doc["bilat_evidence"] == 1
    ):
        return False
    if not all(_text(doc[n]) for n in ("agreement_id", "bill_id", "dispute_id")):
        return False
    if not is_hex(doc["statement_hash"], 32) or not _id_list(doc["items"], 1):
        return False
    records, alerts = doc["records"], doc["alerts"]
    if not isinstance(records, list) or not isinstance(alerts, list):
        return False
    for r in records:
        if not (
            _exactly(r, ("fields", "anchor", "proof")) and _exactly(r["anchor"], _EVIDENCE_ANCHOR)
        ):
            return False
        if not _exactly(r["fields"], _LEAF_MEMBERS):
            return False
        if not (_text(r["fields"]["key"]) and _text(r["anchor"]["party"])):
            return False
        if not _is_int(r["anchor"]["sequence"]):
            return False
    order = [(r["fields"]["key"], r["anchor"]["party"], r["anchor"]["sequence"]) for r in records]
    if any(a >= b for a, b in pairwise(order)):
        return False
    if not all(isinstance(a, dict) and isinstance(a.get("alert_id"), str) for a in alerts):
        return False
    ids = [a["alert_id"] for a in alerts]
    if any(a >= b for a, b in pairwise(ids)):
        return False
    try:
        canonical_json(doc)
    except NotCanonical:
        return False
    return True


def check_evidence(
    doc: Any, anchors: Mapping[tuple[str, int], Entry], salt: bytes, dispute: Mapping[str, Any]
) -> set[str]:
    """Spec: Dispute evidence: the names of the checks that fail (empty: the document holds).
    ``anchors``: the anchor entries of checked chains by (party, sequence)."""
    if not _evidence_layout(doc):
        return {"layout"}
    failed = set()
    for r in doc["records"]:
        fields, named, proof = r["fields"], r["anchor"], r["proof"]
        # 2.1 leaf
        leaf_ok = all(settle_amount(fields[n]) for n in ("quantity", "amount")) and _is_int(
            fields["start_ms"]
        )
        try:
            proof_leaf, _, _ = _proof_shape(proof)
            leaf_ok = (
                leaf_ok and leaf_hash(fields) == proof_leaf and fields["key"] == proof["usage_key"]
            )
        except (VerifyError, NotCanonical):
            leaf_ok = False
        if not leaf_ok:
            failed.add("leaf")
        # 2.2 anchor
        entry = anchors.get((named["party"], named["sequence"]))
        payload = entry.payload_object() if entry is not None else None
        signed = None
        if entry is not None and payload is not None and entry.kind == "anchor":
            digest = payload.get("digest")
            signed = {
                "party": entry.party, "sequence": entry.sequence,
                "entry_hash": entry.entry_hash().hex(),
                "window_start_ms": payload.get("window_start_ms"),
                "window_end_ms": payload.get("window_end_ms"),
                "revision": payload.get("revision"), "root": payload.get("root"),
                "depth": digest.get("depth") if isinstance(digest, dict) else None,
            }  # fmt: skip
        if (
            signed is None
            or entry is None
            or entry.agreement_id != doc["agreement_id"]
            or canonical_json(signed) != canonical_json(dict(named))
        ):
            failed.add("anchor")
            continue
        assert payload is not None
        # 2.3 record
        start = fields["start_ms"]
        versions, totals = payload.get("agreement_versions"), payload.get("totals")
        if not (
            _is_int(start)
            and named["window_start_ms"] <= start < named["window_end_ms"]
            and fields["agreement_id"] == doc["agreement_id"]
            and isinstance(versions, list)
            and fields["agreement_version"] in versions
            and isinstance(totals, dict)
            and isinstance(fields["currency"], str)
            and fields["currency"] in totals
        ):
            failed.add("record")
        # 2.4 inclusion: steps 4 to 6 of Record proofs
        try:
            proof_leaf, bucket_path, top_path = _proof_shape(proof)
            depth = named["depth"]
            if bucket_of(proof["usage_key"], depth, salt) != proof["bucket"]:
                raise VerifyError("wrong-bucket", "")
            bucket = root_from_path(proof_leaf, proof["index"], proof["bucket_size"], bucket_path)
            top = root_from_path(sha256(b"\x00" + bucket), proof["bucket"], 2**depth, top_path)
            if top != bytes.fromhex(named["root"]):
                raise VerifyError("root-mismatch", "")
        except VerifyError:
            failed.add("inclusion")
    # 3. dispute
    want = {
        "agreement_id": doc["agreement_id"], "bill_id": doc["bill_id"],
        "dispute_id": doc["dispute_id"], "statement_hash": doc["statement_hash"],
        "items": doc["items"],
        "records": sorted({r["fields"]["key"] for r in doc["records"]}),
        "alerts": [a["alert_id"] for a in doc["alerts"]],
        "evidence_hash": evidence_hash(doc).hex(),
    }  # fmt: skip
    if any(dispute.get(k) != value for k, value in want.items()):
        failed.add("dispute")
    return failed


# --- Countersignature: the witness check ---------------------------------------------------


def witnessed(entries: Iterable[Entry], partner: str) -> set[tuple[int, bytes]]:
    """Spec: Countersignature. ``(partner_sequence, partner_entry_hash)`` of every
    countersignature among ``entries`` whose payload is well formed and names ``partner``."""
    seen = set()
    for e in entries:
        payload = e.payload_object() if e.kind == "countersignature" else None
        if payload is None or countersignature_problems(payload):
            continue
        if payload["partner"] == partner:
            seen.add((payload["partner_sequence"], bytes.fromhex(payload["partner_entry_hash"])))
    return seen


def witness_findings(
    seen: Iterable[tuple[int, bytes]], partner_chain: Iterable[tuple[int, bytes]]
) -> list[Finding]:
    """Spec: Countersignature. ``truncation`` (no entry of the partner at a witnessed sequence)
    or ``fork`` (entries there, none with the witnessed hash), given the partner's entries as
    ``(sequence, entry hash)``; distinct, by sequence."""
    at: dict[int, set[bytes]] = {}
    for sequence, entry_hash in partner_chain:
        at.setdefault(sequence, set()).add(entry_hash)
    found = set()
    for sequence, entry_hash in seen:
        if not at.get(sequence):
            found.add(Finding("truncation", sequence))
        elif entry_hash not in at[sequence]:
            found.add(Finding("fork", sequence))
    return sorted(found, key=lambda f: (f.sequence or 0, f.kind))


# --- Reconciliation: drill-down requests and answers ---------------------------------------


def request_id(
    party: str,
    partner: str,
    agreement_id: str,
    window: Sequence[int],
    revision: int,
    root: str,
    buckets: Iterable[int],
) -> str:
    """Spec: Drill-down requests and answers (``root`` in hex)."""
    question = {
        "party": party,
        "partner": partner,
        "agreement_id": agreement_id,
        "window": [window[0], window[1]],
        "revision": revision,
        "root": root,
        "buckets": sorted(set(buckets)),
    }
    return sha256(tag("recon-request.v1", canonical_json(question))).hex()


def _opened_leaf_hash(leaf: Mapping[str, Any], agreement_id: str) -> bytes:
    """Rule 1: the leaf hash of an answer's leaf; ValueError (or KeyError, TypeError) when its
    fields give no canonical leaf data."""
    fields = {
        "key": leaf["usage_key"],
        "start_ms": leaf["start_ms"],
        "quantity": leaf["quantity"],
        "unit": leaf["unit"],
        "amount": decimal_text(leaf["amount"]),
        "currency": leaf["currency"],
        "agreement_id": agreement_id,
        "agreement_version": leaf["agreement_version"],
    }
    return leaf_hash(fields)


def accepted_buckets(
    answer: Mapping[str, Any], digest: Mapping[str, Any], salt: bytes
) -> list[int]:
    """Spec: Drill-down requests and answers. The buckets of ``answer`` the requester accepts,
    against the owner's verified ``digest`` (JSON form): status ``ok``, an index below 2^d,
    and the three rules."""
    if answer.get("status") != "ok":
        return []
    depth = digest["depth"]
    hashes = [unhex(h, 32) for h in digest["bucket_hashes"]]
    accepted = set()
    for item in answer["buckets"]:
        bucket = item["bucket"]
        if not (_is_int(bucket) and 0 <= bucket < len(hashes)):
            continue
        leaf_hashes = []
        for leaf in item["leaves"]:
            try:
                hashed = _opened_leaf_hash(leaf, digest["agreement_id"])
            except (KeyError, TypeError, ValueError):
                break
            if bucket_of(leaf["usage_key"], depth, salt) != bucket:
                break
            leaf_hashes.append(hashed)
        else:
            if mth(sorted(leaf_hashes)) == hashes[bucket]:
                accepted.add(bucket)
    return sorted(accepted)


# --- Reconciliation: correlation keys -------------------------------------------------------

_WHITE_SPACE = {
    *map(chr, range(0x09, 0x0E)),
    *map(chr, range(0x1C, 0x21)),
    "\u0085",
    "\u00a0",
    "\u1680",
    *map(chr, range(0x2000, 0x200B)),
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
}
_REMOVED = _WHITE_SPACE | {".", "-", "(", ")"}
_E164 = re.compile(r"[0-9]{1,15}")


def normalise_number(number: str) -> str:
    """Spec: Correlation keys. The E.164 digits of a number; ValueError if it has none."""
    text = "".join(c for c in number if c not in _REMOVED)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not _E164.fullmatch(text):
        raise ValueError(f"{number!r} has no normal form")
    return text


def correlation_key(a_number: str, b_number: str, start_ms: int) -> str:
    """Spec: Correlation keys: ``<A>><B>|<start_ms>``."""
    return f"{normalise_number(a_number)}>{normalise_number(b_number)}|{start_ms}"


# --- Checking digests and leaf stores ------------------------------------------------------

_WINDOW = ("agreement_id", "window_start_ms", "window_end_ms", "revision")


def _parse_decimal(text: Any) -> tuple[int, int]:
    """A decimal string as (coefficient, exponent), exactly: value = coefficient * 10^exponent."""
    canonical = decimal_text(text) if isinstance(text, str) else None
    if canonical is None:
        raise ValueError(f"{text!r} is not a decimal")
    whole, _, fraction = canonical.partition(".")
    return int(whole.replace("-", "") + fraction) * (-1 if whole.startswith("-") else 1), -len(
        fraction
    )


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    exponent = min(a[1], b[1])
    return a[0] * 10 ** (a[1] - exponent) + b[0] * 10 ** (b[1] - exponent), exponent


def _equal(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return _add(a, (-b[0], b[1]))[0] == 0


def check_stored(
    entries: Sequence[Entry],
    owner: str,
    digests: Sequence[Mapping[str, Any]],
    stores: Sequence[Mapping[str, Any]] | None,
    salt: bytes,
) -> list[Finding]:
    """Spec: Checking digests and leaf stores. ``stores`` None when leaf stores are not
    checked."""
    anchors: dict[int, Entry] = {}
    for e in entries:
        if e.party == owner and e.kind == "anchor":
            anchors[e.sequence] = e
    findings: list[Finding] = []

    def named(records: Sequence[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
        by_anchor: dict[int, list[Mapping[str, Any]]] = {}
        for record in records:
            if record.get("party") != owner:
                continue
            sequence = record.get("anchor_sequence")
            if not _is_int(sequence) or sequence not in anchors:
                findings.append(Finding("orphan", None))
            else:
                by_anchor.setdefault(sequence, []).append(record)
        return by_anchor

    digests_of = named(digests)
    stores_of = None if stores is None else named(stores)
    for sequence in sorted(anchors):
        payload = anchors[sequence].payload_object()
        if payload is None:
            continue
        if not digests_of.get(sequence):
            findings.append(Finding("missing-digest", sequence))
        for digest in digests_of.get(sequence, []):
            findings += [
                Finding("bad-digest", sequence, p) for p in _digest_problems(digest, payload)
            ]
        if stores_of is None:
            continue
        if not stores_of.get(sequence):
            findings.append(Finding("missing-batch", sequence))
        for store in stores_of.get(sequence, []):
            findings += _store_findings(sequence, store, payload, salt)
    return findings


def _window_problems(record: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    return [f"{n} differs" for n in _WINDOW if record.get(n) != payload.get(n)]


def _digest_problems(digest: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    problems = _window_problems(digest, payload)
    signed = payload.get("digest")
    if not isinstance(signed, dict):
        signed = {}
    if digest.get("depth") != signed.get("depth"):
        problems.append("depth differs")
    if digest.get("leaf_count") != payload.get("leaf_count"):
        problems.append("leaf_count differs")
    try:
        root = batch_root([unhex(h, 32) for h in digest["bucket_hashes"]])
    except (KeyError, TypeError, ValueError):
        return [*problems, "bucket hashes malformed"]
    if root.hex() != payload.get("root"):
        problems.append("bucket hashes hash to another root")
    try:
        if digest_hash(digest).hex() != signed.get("hash"):
            problems.append("digest hash is not the signed one")
    except (KeyError, ValueError):
        problems.append("digest fields malformed")
    return problems


def _store_findings(
    sequence: int, store: Mapping[str, Any], payload: Mapping[str, Any], salt: bytes
) -> list[Finding]:
    problems = _window_problems(store, payload)
    leaves = store.get("leaves") or []
    if len(leaves) != payload.get("leaf_count"):
        problems.append("leaf count differs")
    try:
        pairs = [(leaf["usage_key"], bytes.fromhex(leaf["leaf_hash"])) for leaf in leaves]
        root = batch_root(bucket_hashes(pairs, store["depth"], salt))
    except (KeyError, TypeError, ValueError):
        problems.append("not a valid batch")
    else:
        if root.hex() != payload.get("root"):
            problems.append("leaves rebuild another root")
    findings = [Finding("bad-batch", sequence, p) for p in problems]
    try:
        sums: dict[str, tuple[int, int]] = {}
        for leaf in leaves:
            sums[leaf["currency"]] = _add(
                sums.get(leaf["currency"], (0, 0)), _parse_decimal(leaf["amount"])
            )
        totals = payload.get("totals") or {}
        signed = {c: _parse_decimal(t) for c, t in totals.items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return [*findings, Finding("total-mismatch", sequence, "an amount is not a decimal")]
    for currency in set(sums) | set(signed):
        if not _equal(sums.get(currency, (0, 0)), signed.get(currency, (0, 0))):
            findings.append(Finding("total-mismatch", sequence, currency))
    return findings


# --- Audit bundles -------------------------------------------------------------------------

BUNDLE_CHECKS = ("leaf", "inclusion", "chain", "anchor", "record", "revision", "salt")
_LEAF_MEMBERS = (
    "key",
    "start_ms",
    "quantity",
    "unit",
    "amount",
    "currency",
    "agreement_id",
    "agreement_version",
)
_BATCH_MEMBERS = (
    "agreement_id",
    "window_start_ms",
    "window_end_ms",
    "revision",
    "depth",
    "root",
    "leaf_count",
)
_ENTRY_MEMBERS = (
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
_LAST_TIME_MS = 253402300799999
_CANONICAL_DECIMAL = re.compile(r"0|-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")


def _exactly(value: Any, members: Iterable[str]) -> bool:
    return isinstance(value, dict) and set(value) == set(members)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _bundle_entry(data: Any) -> Entry:
    """An entry of a bundle's chain, checked as the bundle layout says; ``ValueError`` if not."""
    if not _exactly(data, _ENTRY_MEMBERS):
        raise ValueError("an entry has other members")
    signature = data["signature"]
    ok = (
        all(_text(data[m]) for m in ("party", "agreement_id", "key_id"))
        and _natural(data["sequence"], 0)
        and data["sequence"] <= MAX_INT
        and data["kind"] in KINDS
        and is_hex(data["prev_hash"], 32)
        and is_hex(data["payload_hash"], 32)
        and isinstance(signature, str)
        and len(signature) % 2 == 0
        and is_hex(signature, len(signature) // 2)
        and isinstance(data["payload"], str)
        and _is_int(data["time_ms"])
        and 0 <= data["time_ms"] <= _LAST_TIME_MS
    )
    if not ok:
        raise ValueError("an entry member of the wrong type")
    data["payload"].encode("utf-8")  # a lone surrogate: UnicodeEncodeError, a ValueError
    return Entry.from_json(data)


def _bundle_format(bundle: Any) -> tuple[int, list[Entry], Entry]:
    """Spec: Audit bundles, check 0 (format): the version, the chain and the anchor entry."""
    if not isinstance(bundle, dict):
        raise ValueError("not an object")
    version = bundle.get("bilat_bundle")
    if not (_is_int(version) and version in (1, 2)):
        raise ValueError("bilat_bundle")
    top = ["bilat_bundle", "record", "proof", "batch", "chain"] + (
        ["status"] if version == 2 else []
    )
    if not _exactly(bundle, top):
        raise ValueError("members")
    record = bundle["record"]
    if not _exactly(record, _LEAF_MEMBERS):
        raise ValueError("record members")
    if not all(
        _is_int(record[m]) if m == "start_ms" else isinstance(record[m], str) for m in _LEAF_MEMBERS
    ):
        raise ValueError("record types")
    try:
        _proof_shape(bundle["proof"])
    except VerifyError as exc:
        raise ValueError("proof") from exc
    batch = bundle["batch"]
    members = [*_BATCH_MEMBERS, "anchor_sequence"] if version == 2 else list(_BATCH_MEMBERS)
    if not _exactly(batch, members):
        raise ValueError("batch members")
    integers = [m for m in members if m not in ("agreement_id", "root")]
    if not (
        _text(batch["agreement_id"])
        and all(_is_int(batch[m]) for m in integers)
        and 0 <= batch["depth"] <= 16
        and is_hex(batch["root"], 32)
    ):
        raise ValueError("batch types")
    if not isinstance(bundle["chain"], list) or not bundle["chain"]:
        raise ValueError("chain")
    chain = [_bundle_entry(e) for e in bundle["chain"]]
    at = batch["anchor_sequence"] if version == 2 else chain[-1].sequence
    anchors = [e for e in chain if e.sequence == at]
    if len(anchors) != 1:
        raise ValueError("no single entry at the anchor sequence")
    return version, chain, anchors[0]


def _canonical_object(e: Entry) -> dict[str, Any] | None:
    return e.payload_object() if is_canonical(e.payload) else None


def _json_equal(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except NotCanonical:
        return False


def verify_bundle(bundle: Any, trusted: Trusted) -> list[tuple[str, bool]]:
    """Spec: Audit bundles, Checks: ``[("format", False)]``, or every check with its result."""
    try:
        version, chain, anchor = _bundle_format(bundle)
    except (ValueError, KeyError, TypeError):
        return [("format", False)]
    record, batch, proof = bundle["record"], bundle["batch"], bundle["proof"]
    payload = _canonical_object(anchor)
    first = _canonical_object(chain[0]) if chain[0].kind == "genesis" else None
    book = first.get("book_hash") if first is not None else None
    salt = bytes.fromhex(book) if is_hex(book, 32) else None
    results = {
        "leaf": _bundle_leaf(record, proof),
        "inclusion": salt is not None and _inclusion(proof, batch, salt),
        "chain": _bundle_chain(chain, trusted),
        "anchor": _bundle_anchor(anchor, payload, batch),
        "record": _bundle_record(record, anchor, payload, batch),
        "revision": version == 1 or _json_equal(bundle["status"], status(chain, anchor, payload)),
        "salt": salt is not None,
    }
    return [(name, results[name]) for name in BUNDLE_CHECKS]


def _bundle_leaf(record: dict[str, Any], proof: dict[str, Any]) -> bool:
    for name in ("quantity", "amount"):
        if not _CANONICAL_DECIMAL.fullmatch(record[name]) or record[name] == "-0":
            return False
    try:
        hashed = leaf_hash(record)
    except NotCanonical:
        return False
    return hashed.hex() == proof["leaf_hash"] and record["key"] == proof["usage_key"]


def _inclusion(proof: dict[str, Any], batch: dict[str, Any], salt: bytes) -> bool:
    """Steps 4-6 of the record verification."""
    leaf, bucket_path, top_path = _proof_shape(proof)
    depth = batch["depth"]
    if bucket_of(proof["usage_key"], depth, salt) != proof["bucket"]:
        return False
    try:
        bucket = root_from_path(leaf, proof["index"], proof["bucket_size"], bucket_path)
        root = root_from_path(sha256(b"\x00" + bucket), proof["bucket"], 2**depth, top_path)
    except VerifyError:
        return False
    return root.hex() == batch["root"]


def _bundle_chain(chain: list[Entry], trusted: Trusted) -> bool:
    owner = _most_frequent(e.party for e in chain)
    contiguous = [e.sequence for e in chain] == list(range(len(chain)))
    return contiguous and not check_chain(chain, owner, trusted)


def _bundle_anchor(anchor: Entry, payload: dict[str, Any] | None, batch: dict[str, Any]) -> bool:
    if anchor.kind != "anchor" or payload is None:
        return False
    digest = payload.get("digest")
    for name in _BATCH_MEMBERS:
        if name == "depth":
            signed = digest.get("depth") if isinstance(digest, dict) else None
        else:
            signed = payload.get(name)
        if not (type(signed) is type(batch[name]) and signed == batch[name]):
            return False
    return True


def _bundle_record(
    record: dict[str, Any], anchor: Entry, payload: dict[str, Any] | None, batch: dict[str, Any]
) -> bool:
    payload = payload or {}
    versions, totals = payload.get("agreement_versions"), payload.get("totals")
    return (
        batch["window_start_ms"] <= record["start_ms"] < batch["window_end_ms"]
        and isinstance(versions, list)
        and record["agreement_version"] in versions
        and record["agreement_id"] == anchor.agreement_id
        and isinstance(totals, dict)
        and record["currency"] in totals
        and batch["leaf_count"] > 0
    )


def status(chain: list[Entry], anchor: Entry, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The status of the anchor's batch as the chain says it (spec: Audit bundles, revision)."""
    mine = payload or {}
    revision = mine.get("revision")
    later = []
    for e in chain:
        other = (
            _canonical_object(e) if e.kind == "anchor" and e.sequence > anchor.sequence else None
        )
        if (
            other is not None
            and other.get("window_start_ms") == mine.get("window_start_ms")
            and other.get("window_end_ms") == mine.get("window_end_ms")
            and _is_int(other.get("revision"))
            and _is_int(revision)
            and other["revision"] > revision
        ):
            later.append((e.sequence, other["revision"]))
    last = max(later) if later else None
    return {
        "revision": revision,
        "tip_sequence": max(e.sequence for e in chain),
        "superseded_by": None if last is None else {"revision": last[1], "sequence": last[0]},
    }
