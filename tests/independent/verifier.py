"""An independent verifier of the Bilat ledger, written from ``docs/spec/ledger.md`` alone.

It plays the outside auditor: the standard library and ``cryptography`` (for Ed25519) only,
nothing imported from Bilat (``streams``, ``connectors``), and no code copied from it. Every
function cites the section of the spec it implements; where the spec was not enough to get a
vector right, the spec was fixed, not this file (``tests/independent/README.md`` lists
where). Written for clarity, not speed: trees are built recursively, straight from RFC 9162.

The entry points an auditor uses: :func:`verify_record` (a record proof against an anchored
root), :func:`check_chain` (a party's chain, as findings) and :func:`check_stored` (digests
and leaf stores against the anchors).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Entry",
    "Finding",
    "NotCanonical",
    "VerifyError",
    "batch_root",
    "book_hash",
    "bucket_hashes",
    "bucket_of",
    "canonical_json",
    "check_chain",
    "check_stored",
    "decimal_text",
    "digest_hash",
    "is_canonical",
    "key_id",
    "leaf_data",
    "leaf_fields",
    "leaf_hash",
    "mth",
    "parse_json",
    "root_from_path",
    "signature_doc_problems",
    "verify_record",
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
    x = hashlib.blake2b(usage_key.encode("utf-8"), key=salt, digest_size=8).digest()
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
    if doc["key_id"] != key_id(public):
        return ["key_id is not the key's"]
    message = agreement_message(doc["agreement_id"], book, doc["party"], doc["key_id"])
    if not verify_signature(public, message, bytes.fromhex(doc["signature"])):
        return ["signature does not verify"]
    return []


# --- Ledger entries ------------------------------------------------------------------------

KINDS = ("genesis", "anchor", "countersignature", "dispute", "resolution", "statement")


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
    if info.get("algorithm", "Ed25519") != "Ed25519":
        return None
    if "key_id" in info and info["key_id"] != key_id(public):
        return None
    return public


def _most_frequent(values: Iterable[str]) -> str:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else ""


def check_chain(entries: Sequence[Entry], owner: str) -> list[Finding]:
    """Every finding of ``owner``'s chain (spec: Checking a chain, steps 1-9)."""
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
    # 3. Keys.
    keys: dict[str, tuple[str, bytes]] | None = None
    genesis_problems: dict[Entry, list[str]] = {}
    geneses = [e for e in variants.get(0, []) if e.kind == "genesis"]
    if not geneses:
        findings.append(Finding("no-genesis", 0 if 0 in variants else None))
    for genesis in sorted(geneses, key=Entry.entry_hash):
        published, problems = genesis_rules(genesis)
        genesis_problems[genesis] = problems
        if keys is None and any(party == owner for party, _ in published.values()):
            keys = published
    if geneses and keys is None:
        findings.append(Finding("no-genesis", 0))
    # 4. bad-payload.
    payload_ok: dict[Entry, bool] = {}
    for e in everything:
        problems = _payload_problems(e, agreement) + genesis_problems.get(e, [])
        findings += [Finding("bad-payload", e.sequence, p) for p in problems]
        payload_ok[e] = not problems
    # 5. unknown-key, bad-signature.
    valid: dict[Entry, bool] = {}
    for e in everything:
        valid[e] = True
        if keys is None:
            continue
        known = keys.get(e.key_id)
        if known is None or known[0] != owner:
            findings.append(Finding("unknown-key", e.sequence))
            valid[e] = False
        elif not verify_signature(known[1], e.signed_bytes(), e.signature):
            findings.append(Finding("bad-signature", e.sequence))
            valid[e] = False
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
    # 9. duplicate-window, supersedes.
    good = [e for e in everything if e.kind == "anchor" and valid[e] and payload_ok[e]]
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
    return []


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
