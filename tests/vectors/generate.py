"""Generate the ledger test vectors of ``docs/spec/ledger.md`` with Bilat's own code.

    python -m tests.vectors.generate            # (re)write every file under tests/vectors/
    python -m tests.vectors.generate --check    # exit 1 if a committed file differs

Deterministic: keys come from fixed seeds, times are fixed, Ed25519 signs deterministically
and every file is written by one ``json.dumps`` call (ASCII, two-space indent, keys in the
order built here), so running it again gives byte-identical files.
``tests/unit/ledger/test_vectors.py`` regenerates in memory and compares with the committed files;
``tests/independent/`` checks every file with a verifier written from the spec alone.

Each mutation states the findings (or the proof error) it is meant to cause; the generator
asks Bilat's checks and refuses to write a vector whose result differs, so a vector is both
the record of what Bilat does and a claim someone checked. ``tests/vectors/README.md``
describes every file's fields.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.agreement.loader import load_book
from streams.agreement.model import AgreementBook
from streams.agreement.signing import book_hash, book_versions, sign_agreement
from streams.agreement.trust import TrustedKeys, TrustError
from streams.contract.records import RatedUsage
from streams.core.canonical import (
    LEAF_DOMAIN,
    canonical_json,
    decimal_text,
    leaf_data,
    leaf_fields,
    leaf_hash,
    tagged,
)
from streams.core.clock import to_ms
from streams.core.keys import SMALL_ORDER_ENCODINGS, KeyPair, is_small_order, key_id_of
from streams.core.units import UNITS
from streams.ledger.anchoring import anchor_entry, digest_hash, digest_record, leaves_record
from streams.ledger.audit import build_bundle, entry_to_json, verify_bundle
from streams.ledger.batch_check import check_batches
from streams.ledger.batching import Batch, Batcher, Leaf
from streams.ledger.chain import ChainTip
from streams.ledger.check import Finding, check_ledger
from streams.ledger.entries import LedgerEntry, make_entry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import (
    anchor_payload,
    countersignature_payload,
    rotation_message,
    rotation_payload,
    statement_payload,
)
from streams.merkle.batchtree import BatchTree, RecordProof, bucket_of, verify_record
from streams.merkle.rfc9162 import ProofError, RootMismatchError, inclusion_proof, root_from_hashes
from streams.merkle.rfc9162 import leaf_hash as rfc_leaf_hash
from streams.reconcile.correlation import CorrelationError, correlation_key, normalise_number
from streams.reconcile.exchange import (
    Digest,
    bucket_members,
    make_answer,
    make_request,
    open_answer,
    request_id,
)
from streams.reconcile.witness import witness_findings, witnessed
from tests.vectors.settlement import settlement_vectors
from tests.vectors.statement import statement_vectors

__all__ = [
    "HERE",
    "build",
    "distinct_findings",
    "failed_checks",
    "main",
    "proof_error",
    "seed_of",
    "unhex_all",
    "written",
]

HERE = Path(__file__).resolve().parent
AGREEMENT = HERE / "agreement.yaml"
ROTATION_AGREEMENT = HERE / "agreement-rotation.yaml"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
"""When hgc-next may start signing for hgc under the rotation agreement."""

T0 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
"""Time of the genesis entry; entry n is appended n minutes later."""
W1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
W2 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BUCKET_SALT = bytes(range(32))
"""The salt of buckets/buckets.json (the chains use the genesis book hash, as Bilat does)."""


def seed_of(name: str) -> bytes:
    """The Ed25519 seed (RFC 8032 private key) of a vector key: SHA-256 of its label."""
    return hashlib.sha256(f"bilat test vector key: {name}".encode()).digest()


KEYS = {name: KeyPair.from_seed(seed_of(name)) for name in ("hgc", "dcc", "stranger", "hgc-next")}
"""hgc and dcc sign the vectors' agreement; hgc-next is hgc's next key in the rotation
agreement; the stranger is listed nowhere."""


# --- output --------------------------------------------------------------------------------


def _dump(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def _hex(value: Any) -> Any:
    """Avro-shaped values as JSON: bytes as lowercase hex, recursively."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {k: _hex(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hex(v) for v in value]
    return value


def distinct_findings(found: Sequence[Finding]) -> list[dict[str, Any]]:
    """Distinct (kind, sequence) pairs, sorted: what a vector pins (not the wording)."""
    pairs = sorted(
        {(f.kind, f.sequence) for f in found},
        key=lambda p: (p[1] is not None, p[1] or 0, p[0]),
    )
    return [{"kind": kind, "sequence": sequence} for kind, sequence in pairs]


# --- records -------------------------------------------------------------------------------


def _rated(
    source: str,
    record_id: str,
    start: datetime,
    quantity: str,
    unit: str,
    amount: str,
    *,
    window: datetime = W1,
    version: str = "1",
) -> RatedUsage:
    product = UNITS[unit].product
    return RatedUsage(
        source=source,
        record_id=record_id,
        agreement_id="vec-2026",
        agreement_version=version,
        rate_id=f"{product}-any",
        product=product,
        start=start,
        quantity=Decimal(quantity),
        unit=unit,
        billed_quantity=Decimal(quantity),
        billed_unit=unit,
        amount=Decimal(amount),
        currency="EUR",
        direction="inbound",
        window_start=window,
        window_end=window + timedelta(hours=1),
        rated_at=T0,
    )


def _record_json(record: RatedUsage) -> dict[str, Any]:
    """The inputs of a leaf as a vector states them (amount and quantity as written)."""
    start = record.start.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "source": record.source,
        "record_id": record.record_id,
        "start": start,
        "quantity": str(record.quantity),
        "unit": record.unit,
        "amount": str(record.amount),
        "currency": record.currency,
        "agreement_id": record.agreement_id,
        "agreement_version": record.agreement_version,
    }


def _at(window: datetime, seconds: float) -> datetime:
    return window + timedelta(seconds=seconds)


WINDOW_1 = [
    _rated("ix-fra-01", "cdr-0001", _at(W1, 5), "125", "second", "0.03150"),
    _rated("ix-fra-01", "cdr-0002", _at(W1, 61.25), "61", "second", "0.0153"),
    _rated("ix-fra-01", "cdr-0003", _at(W1, 300), "1", "message", "0.0040"),
    _rated("ix-fra-01", "cdr-0004", _at(W1, 1800), "2.5", "megabyte", "0.00625"),
    _rated("sw-zürich", "7", _at(W1, 3599.999), "30", "second", "0.0075"),
    *(
        _rated("ix-fra-01", f"cdr-002{n}", _at(W1, 2000 + n), str(60 * n + 1), "second", "0.0150")
        for n in range(5)
    ),
]
LATE = _rated("ix-fra-01", "cdr-0005", _at(W1, 900), "12", "second", "0.0030")
WINDOW_2 = [
    _rated("ix-fra-01", f"cdr-01{n}", _at(W2, 60 * n), str(30 + n), "second", "0.01", window=W2)
    for n in range(3)
]


# --- canonical JSON and decimals -----------------------------------------------------------

JSON_CASES = [
    ("members sorted by key", '{"b": 1, "a": 2}'),
    ("no whitespace", '{ "a" : [ 1 , 2 ] , "b" : { } }'),
    ("literals and empty containers", '[true, false, null, {}, [], ""]'),
    ("integers at the limits", "[9007199254740991, -9007199254740991, 0, -0, 10]"),
    ("escapes: the seven short forms", '"\\" \\\\ \\b \\t \\n \\f \\r"'),
    ("escapes: other controls as lowercase \\u00xx", '"\\u0000\\u0001\\u000b\\u001F"'),
    ("not escaped: solidus, DEL, U+2028, non-ASCII", '"\\/ \\u007f \\u2028 \\u00e9 \\u20AC"'),
    ("a surrogate pair is one character (4 UTF-8 bytes)", '"\\ud83d\\ude00"'),
    (
        "keys sorted by UTF-16 code units, not code points",
        '{"\\ue000": 1, "\\ud83d\\ude00": 2, "a": 3}',
    ),
    ("ASCII keys: plain byte order", '{"a": 1, "B": 2, "_": 3, "a\\u0000": 4, "": 5}'),
    ("nesting", '{"z": [{"y": 1, "x": [2, {"w": null}]}], "a": "\\u00e9t\\u00e9"}'),
]

JSON_REFUSED = [
    ("a number with a fraction", "1.5", "type"),
    ("an integral number with a fraction", "1.0", "type"),
    ("an exponent", "1e3", "type"),
    ("an integer above 2^53-1", "9007199254740992", "value"),
    ("an integer below -(2^53-1)", "[-9007199254740992]", "value"),
    ("a lone high surrogate", '"\\ud800"', "value"),
    ("a lone low surrogate in a member", '{"a": "\\udc00"}', "value"),
    ("a lone surrogate in a key", '{"\\ud800": 1}', "value"),
]

DECIMAL_CASES = [
    "0.0230",
    "1E+2",
    "-1.50",
    "-0",
    "0.000",
    "0E-7",
    "-0.00",
    "1.000E-3",
    "123.4500",
    "5E+3",
    "1e-7",
    "100",
    "-0.0010",
    ".5",
    "5.",
    "+7.10",
    "12345678901234567890.123456789012345678900",
    "1E+30",
]
DECIMAL_REFUSED = ["NaN", "-Infinity", "Infinity", "sNaN"]


def _canonical_vectors() -> dict[str, Any]:
    cases = []
    for desc, text in JSON_CASES:
        out = canonical_json(json.loads(text))
        cases.append({"desc": desc, "input": text, "canonical_hex": out.hex()})
    refused = []
    for desc, text, error in JSON_REFUSED:
        try:
            canonical_json(json.loads(text))
        except TypeError:
            got = "type"
        except ValueError:
            got = "value"
        else:
            raise AssertionError(f"canonical_json accepted {text}")
        assert got == error, (text, got)
        refused.append({"desc": desc, "input": text, "want_error": error})
    decimals = [{"input": text, "text": decimal_text(Decimal(text))} for text in DECIMAL_CASES]
    for text in DECIMAL_REFUSED:
        try:
            decimal_text(Decimal(text))
        except ValueError:
            continue
        raise AssertionError(f"decimal_text accepted {text}")
    return {
        "canonical/json.json": {
            "desc": "canonical JSON: JSON text in, canonical bytes out (spec: Canonical JSON)",
            "cases": cases,
        },
        "canonical/refused.json": {
            "desc": "JSON values with no canonical form: the encoder refuses them",
            "cases": refused,
        },
        "canonical/decimals.json": {
            "desc": "decimal text: any decimal in, its one canonical text out (spec: Decimals)",
            "cases": decimals,
            "refused": DECIMAL_REFUSED,
        },
    }


# --- leaves, buckets, Merkle trees ---------------------------------------------------------

LEAF_RECORDS = [
    ("the worked example of streams/core/canonical.py", WINDOW_1[0]),
    (
        "sub-millisecond start truncated; quantity with trailing zeros",
        _rated(
            "ix-fra-01",
            "cdr-0010",
            datetime(2026, 3, 2, 9, 15, 0, 250999, tzinfo=UTC),
            "125.000",
            "second",
            "0.0300",
        ),
    ),
    ("a message", WINDOW_1[2]),
    ("megabytes to bytes (x 10^6)", WINDOW_1[3]),
    (
        "kilobytes to bytes (x 10^3)",
        _rated("ix-fra-01", "cdr-0011", _at(W1, 10), "1.5", "kilobyte", "0.0001"),
    ),
    (
        "gigabytes to bytes (x 10^9): 1E-9 GB is one byte",
        _rated("ix-fra-01", "cdr-0012", _at(W1, 11), "0.000000001", "gigabyte", "0"),
    ),
    ("bytes as they are", _rated("ix-fra-01", "cdr-0013", _at(W1, 12), "1E+3", "byte", "1E+2")),
    ("a non-ASCII usage key, written as UTF-8", WINDOW_1[4]),
    (
        "a usage key with a quote and a backslash",
        _rated('pbx "7"', "a\\b", _at(W1, 13), "1", "second", "0.0001"),
    ),
]


def _leaf_vectors() -> dict[str, Any]:
    cases = []
    for desc, record in LEAF_RECORDS:
        cases.append(
            {
                "desc": desc,
                "record": _record_json(record),
                "leaf_fields": leaf_fields(record),
                "leaf_data_hex": leaf_data(record).hex(),
                "leaf_hash": leaf_hash(record).hex(),
            }
        )
    return {
        "leaves/leaves.json": {
            "desc": "rated records: leaf fields, leaf data and leaf hash (spec: Leaves)",
            "domain": LEAF_DOMAIN,
            "cases": cases,
        }
    }


BUCKET_KEYS = [
    "ix-fra-01/cdr-0001",
    "a/1",
    "sw-zürich/7",
    "x/" + "y" * 126,  # 128 bytes: one BLAKE2b block after the key block
    "x/" + "y" * 127,  # 129 bytes: two blocks
    "long/" + "0123456789" * 30,  # 305 bytes
    "4930123456>442071234567|1772442900000",  # correlated by numbers: the pair chooses
    "4930123456>442071234567|1772442903000",  # the bucket, not the start
]
DEPTHS = [0, 1, 2, 4, 8, 16]


def _bucket_vectors() -> dict[str, Any]:
    cases = []
    for key in BUCKET_KEYS:
        chooser = key.partition("|")[0]
        digest = hashlib.blake2b(chooser.encode(), key=BUCKET_SALT, digest_size=8).digest()
        cases.append(
            {
                "usage_key": key,
                "bucket_key": chooser,
                "usage_key_utf8_bytes": len(key.encode()),
                "blake2b_hex": digest.hex(),
                "bucket_at_depth": {str(d): bucket_of(key, d, BUCKET_SALT) for d in DEPTHS},
            }
        )
    return {
        "buckets/buckets.json": {
            "desc": "bucket of a usage key: keyed BLAKE2b of the key up to its first '|', "
            "8-byte digest, leading bits",
            "salt": BUCKET_SALT.hex(),
            "cases": cases,
        }
    }


RFC_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]


def _merkle_vectors() -> dict[str, Any]:
    hashes = [rfc_leaf_hash(bytes.fromhex(d)) for d in RFC_LEAVES]
    trees = []
    for size in range(len(hashes) + 1):
        prefix = hashes[:size]
        trees.append(
            {
                "size": size,
                "root": root_from_hashes(prefix).hex(),
                "inclusion": [
                    {"index": i, "path": [h.hex() for h in inclusion_proof(i, prefix)]}
                    for i in range(size)
                ],
            }
        )
    return {
        "merkle/rfc9162.json": {
            "desc": "RFC 9162 trees over the first n leaves of the CT reference data",
            "leaf_data_hex": RFC_LEAVES,
            "leaf_hashes": [h.hex() for h in hashes],
            "trees": trees,
        }
    }


# --- agreement, keys, chain ----------------------------------------------------------------


@dataclasses.dataclass
class World:
    """The valid chain of party hgc and what was built with it."""

    book: AgreementBook
    docs: list[dict[str, Any]]
    entries: list[LedgerEntry]
    batches: list[Batch]
    """The batch of each anchor, in chain order (anchor i + 1 is entries[i + 1])."""
    digests: list[dict[str, Any]]
    leaf_stores: list[dict[str, Any]]

    @property
    def salt(self) -> bytes:
        return book_hash(self.book)


def _world() -> World:
    book = load_book(AGREEMENT)
    docs = [sign_agreement(book, KEYS[p], p) for p in ("hgc", "dcc")]
    tip = ChainTip("hgc", book.id)
    tip.append("genesis", genesis_payload(book, docs), KEYS["hgc"], T0)
    batcher = Batcher(book.id, book.latest.grace_seconds, book.latest.digest_depth, book_hash(book))
    offset = 0

    def feed(records: Sequence[RatedUsage]) -> None:
        nonlocal offset
        for record in records:
            batcher.add(record, 0, offset)
            offset += 1

    batches: list[Batch] = []
    entries = [tip.last] if tip.last else []
    digests, stores = [], []

    def anchor(now: datetime) -> None:
        for batch in batcher.due(now):
            time = T0 + timedelta(minutes=tip.next_sequence)
            entry = anchor_entry(batch, tip, "hgc", KEYS["hgc"], time)
            tip.advance(entry)
            batcher.anchored(batch)
            entries.append(entry)
            batches.append(batch)
            digests.append(_hex(digest_record(batch, "hgc", entry.sequence)))
            stores.append(_hex(leaves_record(batch, "hgc", entry.sequence)))

    feed(WINDOW_1)
    feed(WINDOW_2)
    anchor(T0)
    feed([LATE])
    anchor(T0 + timedelta(hours=1))
    assert [e.sequence for e in entries] == [0, 1, 2, 3], entries
    return World(book, docs, entries, batches, digests, stores)


def _keys_vector() -> dict[str, Any]:
    return {
        "keys.json": {
            "desc": "the Ed25519 keys of the vectors: seed = SHA-256('bilat test vector key: ' "
            "+ name); key id = 'ed25519:' + hex of the first 8 bytes of SHA-256(public key). "
            "agreement.yaml lists hgc and dcc, agreement-rotation.yaml hgc, hgc-next and dcc; "
            "the stranger is listed nowhere",
            "keys": [
                {
                    "name": name,
                    "seed": seed_of(name).hex(),
                    "public_key": key.public.raw.hex(),
                    "key_id": key.key_id,
                }
                for name, key in KEYS.items()
            ],
        }
    }


def _agreement_vector(world: World) -> dict[str, Any]:
    book = world.book
    versions = book_versions(book)
    body = canonical_json({"agreement_id": book.id, "versions": versions})
    for version, content in zip(versions, book.versions, strict=True):
        data = tagged("agreement.v1", canonical_json(content.canonical()))
        assert hashlib.sha256(data).hexdigest() == version["hash"]
    signatures = []
    for doc in world.docs:
        fields = {k: doc[k] for k in ("agreement_id", "book_hash", "party", "key_id")}
        message = tagged("agreement-signature.v1", canonical_json(fields))
        assert KEYS[doc["party"]].public.verify(message, bytes.fromhex(doc["signature"]))
        signatures.append({"message_hex": message.hex(), "document": doc})
    return {
        "agreement/book.json": {
            "desc": "the agreement book hash and both parties' signature documents",
            "agreement_id": book.id,
            "versions": versions,
            "version_contents": [canonical_json(v.canonical()).decode() for v in book.versions],
            "book_data_hex": tagged("agreement-book.v1", body).hex(),
            "book_hash": book_hash(book).hex(),
            "signatures": signatures,
        }
    }


def _entry_vector(entry: LedgerEntry, desc: str) -> dict[str, Any]:
    signed_object = json.loads(entry.signed_bytes()[len(b"bilat.ledger-entry.v1\x00") :])
    return {
        "desc": desc,
        "entry": entry_to_json(entry),
        "public_key": KEYS[entry.party].public.raw.hex(),
        "payload_hash": hashlib.sha256(entry.payload).hexdigest(),
        "signed_object": signed_object,
        "signed_bytes_hex": entry.signed_bytes().hex(),
        "signature": entry.signature.hex(),
        "entry_hash": entry.entry_hash().hex(),
    }


def _entry_vectors(world: World) -> dict[str, Any]:
    genesis, first, _, revision = world.entries
    return {
        "entries/genesis.json": _entry_vector(genesis, "the genesis entry of hgc's chain"),
        "entries/anchor.json": _entry_vector(first, "an anchor: window 1, revision 0"),
        "entries/anchor-revision.json": _entry_vector(
            revision, "an anchor of a revision: window 1, revision 1, superseding revision 0"
        ),
    }


# --- batches and proofs --------------------------------------------------------------------


def _batch_vector(desc: str, records: Sequence[RatedUsage], depth: int, salt: bytes) -> Any:
    ordered = sorted(records, key=lambda r: r.key)
    tree = BatchTree.build([(r.key, leaf_hash(r)) for r in ordered], depth, salt)
    buckets = []
    for b, bucket_hash in enumerate(tree.bucket_hashes):
        buckets.append(
            {
                "bucket": b,
                "leaf_hashes": [h.hex() for _, h in tree.bucket_leaves(b)],
                "bucket_hash": bucket_hash.hex(),
                "top_leaf_hash": rfc_leaf_hash(bucket_hash).hex(),
            }
        )
    return {
        "desc": desc,
        "salt": salt.hex(),
        "depth": depth,
        "leaves": [
            {
                "leaf_fields": leaf_fields(r),
                "leaf_hash": leaf_hash(r).hex(),
                "bucket": bucket_of(r.key, depth, salt),
            }
            for r in ordered
        ],
        "buckets": buckets,
        "root": tree.root.hex(),
        "proofs": [p.to_json() for p in tree.proofs(r.key for r in ordered)],
    }


def _batch_vectors(world: World) -> dict[str, Any]:
    salt, depth = world.salt, world.book.latest.digest_depth
    batch = world.batches[0]
    digest = {k: v for k, v in world.digests[0].items() if k != "anchor_sequence"}
    first = _batch_vector(
        "window 1, revision 0 of the chain vectors (salt: the genesis book hash)",
        WINDOW_1,
        depth,
        salt,
    )
    assert first["root"] == batch.root.hex()
    first["digest"] = digest
    first["digest_hash"] = digest_hash(batch, "hgc").hex()
    return {
        "batch/window-1.json": first,
        "batch/depth-0.json": _batch_vector(
            "the same leaves at depth 0: one bucket; the root is still its top-tree leaf hash",
            WINDOW_1,
            0,
            salt,
        ),
        "batch/empty.json": _batch_vector(
            "no leaves at depth 2: four empty buckets", [], depth, salt
        ),
    }


def proof_error(vector: Mapping[str, Any]) -> str | None:
    """What Bilat makes of a proof vector: the error code of docs/spec/ledger.md, or None."""
    record = vector["record"]
    try:
        proof = RecordProof.from_json(vector["proof"])
    except ProofError:
        return "malformed-proof"
    if rfc_leaf_hash(tagged(LEAF_DOMAIN, canonical_json(record))) != proof.leaf_hash:
        return "leaf-mismatch"
    if record.get("key") != proof.usage_key:
        return "key-mismatch"
    try:
        verify_record(
            proof, bytes.fromhex(vector["root"]), vector["depth"], bytes.fromhex(vector["salt"])
        )
    except RootMismatchError:
        return "root-mismatch"
    except ProofError as exc:
        return "wrong-bucket" if str(exc).startswith("bucket of") else "malformed-proof"
    return None


def _flip(hex_text: str) -> str:
    """The hash with the lowest bit of its first byte flipped."""
    raw = bytearray.fromhex(hex_text)
    raw[0] ^= 1
    return raw.hex()


def _proof_vectors(world: World) -> dict[str, Any]:
    salt, depth = world.salt, world.book.latest.digest_depth
    tree = world.batches[0].tree
    records = {r.key: r for r in WINDOW_1}
    # The record with the longest bucket path, ties by key: every mutation has a node to hit.
    proofs = sorted(tree.proofs(sorted(records)), key=lambda p: (-len(p.bucket_path), p.usage_key))
    chosen = proofs[0]
    assert len(chosen.bucket_path) >= 1 and len(chosen.top_path) == depth
    other = next(p for p in proofs if p.bucket == chosen.bucket and p is not chosen)
    elsewhere = next(p for p in proofs if p.bucket != chosen.bucket)
    # The first salt of another agreement that puts the record in another bucket.
    candidates = (hashlib.sha256(b"agreement %d" % n).digest() for n in range(100))
    other_salt = next(
        c for c in candidates if bucket_of(chosen.usage_key, depth, c) != chosen.bucket
    )
    base = {
        "desc": "",
        "record": leaf_fields(records[chosen.usage_key]),
        "proof": chosen.to_json(),
        "depth": depth,
        "salt": salt.hex(),
        "root": tree.root.hex(),
        "want_error": None,
    }

    def variant(desc: str, want: str | None, change: Callable[[dict[str, Any]], None]) -> Any:
        vector = copy.deepcopy(base)
        vector["desc"] = desc
        vector["want_error"] = want
        change(vector)
        got = proof_error(vector)
        assert got == want, (desc, got, want)
        return vector

    def at(path: str, index: int, fn: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
        def change(v: dict[str, Any]) -> None:
            v["proof"][path][index] = fn(v["proof"][path][index])

        return change

    vectors = {
        "happy-path": variant("a record in a bucket of several leaves", None, lambda v: None),
        "happy-path-other-bucket": variant(
            "a record of another bucket",
            None,
            lambda v: v.update(
                record=leaf_fields(records[elsewhere.usage_key]), proof=elsewhere.to_json()
            ),
        ),
        "wrong-leaf": variant(
            "the record's amount changed: its leaf hash is not the proof's",
            "leaf-mismatch",
            lambda v: v["record"].update(amount="0.0316"),
        ),
        "relabelled-key": variant(
            "the proof relabelled with another usage key of the same bucket",
            "key-mismatch",
            lambda v: v["proof"].update(usage_key=other.usage_key),
        ),
        "wrong-bucket-path-node": variant(
            "one bit of the first bucket-path node flipped",
            "root-mismatch",
            at("bucket_path", 0, _flip),
        ),
        "wrong-top-path-node": variant(
            "one bit of the last top-path node flipped",
            "root-mismatch",
            at("top_path", -1, _flip),
        ),
        "truncated-bucket-path": variant(
            "the last bucket-path node removed",
            "malformed-proof",
            lambda v: v["proof"]["bucket_path"].pop(),
        ),
        "truncated-top-path": variant(
            "the last top-path node removed",
            "malformed-proof",
            lambda v: v["proof"]["top_path"].pop(),
        ),
        "extended-top-path": variant(
            "a node appended to the top path",
            "malformed-proof",
            lambda v: v["proof"]["top_path"].append(v["root"]),
        ),
        "short-node": variant(
            "a bucket-path node of 31 bytes",
            "malformed-proof",
            at("bucket_path", 0, lambda h: h[:62]),
        ),
        "swapped-bucket": variant(
            "the proof names the neighbouring bucket",
            "wrong-bucket",
            lambda v: v["proof"].update(bucket=v["proof"]["bucket"] ^ 1),
        ),
        "index-out-of-range": variant(
            "index equal to bucket_size",
            "malformed-proof",
            lambda v: v["proof"].update(index=v["proof"]["bucket_size"]),
        ),
        "wrong-index": variant(
            "the leaf's index changed (same path length)",
            "root-mismatch",
            lambda v: v["proof"].update(index=v["proof"]["index"] ^ 1),
        ),
        "wrong-root": variant(
            "the anchored root of another batch (window 2)",
            "root-mismatch",
            lambda v: v.update(root=world.batches[1].root.hex()),
        ),
        "wrong-salt": variant(
            "bucketed with a salt other than the book hash",
            "wrong-bucket",
            lambda v: v.update(salt=other_salt.hex()),
        ),
    }
    return {f"proofs/{name}.json": vector for name, vector in vectors.items()}


# --- chains and their mutations ------------------------------------------------------------


def _resign(entry: LedgerEntry, key: KeyPair | None = None, **changes: Any) -> LedgerEntry:
    """``entry`` with ``changes``, signed again (by ``key``, default the key that signed it)."""
    if "payload" in changes and "payload_hash" not in changes:
        changes["payload_hash"] = hashlib.sha256(changes["payload"]).digest()
    signer = key or next(k for k in KEYS.values() if k.key_id == entry.key_id)
    if key is not None:
        changes.setdefault("key_id", key.key_id)
    unsigned = dataclasses.replace(entry, **changes)
    return dataclasses.replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))


def _rechain(entries: list[LedgerEntry], start: int) -> list[LedgerEntry]:
    """Entries from index ``start`` on re-linked to the (changed) one before, re-signed."""
    out = list(entries)
    for i in range(start, len(out)):
        out[i] = _resign(out[i], prev_hash=out[i - 1].entry_hash())
    return out


def _payload(entry: LedgerEntry, change: Callable[[dict[str, Any]], None]) -> bytes:
    value = entry.payload_json()
    change(value)
    return canonical_json(value)


@dataclasses.dataclass
class Mutation:
    desc: str
    entries: list[LedgerEntry]
    chain: list[tuple[str, int | None]]
    """The findings of check_ledger it is meant to cause."""
    stored: list[tuple[str, int | None]] | None = None
    """The findings of check_batches, or None when the vector has no digests."""
    digests: list[dict[str, Any]] | None = None
    leaf_stores: list[dict[str, Any]] | None = None
    with_stored: bool = True
    trusted: TrustedKeys | None = None
    """The keys the chain is checked against; None: the vectors' agreement's."""


def _chain_vector(world: World, m: Mutation) -> dict[str, Any]:
    entries = m.entries
    trusted = m.trusted or TrustedKeys.of_book(world.book)
    chain_found = check_ledger(entries, "hgc", trusted=trusted)
    digests = m.digests if m.digests is not None else world.digests
    stores = m.leaf_stores if m.leaf_stores is not None else world.leaf_stores
    want_chain = distinct_findings([Finding(k, s, "") for k, s in m.chain])
    got_chain = distinct_findings(chain_found)
    assert got_chain == want_chain, (m.desc, got_chain, want_chain)
    vector: dict[str, Any] = {
        "desc": m.desc,
        "owner": "hgc",
        "trusted_keys": trusted.to_json(),
        "entries": [entry_to_json(e) for e in entries],
        "digests": None,
        "leaf_stores": None,
        "want_chain_findings": got_chain,
        "want_stored_findings": None,
    }
    if m.with_stored:
        mine = [entry for entry in entries if entry.party == "hgc"]  # as `bilat ledger check`
        found = check_batches(mine, unhex_all(digests), unhex_all(stores), world.salt)
        want = distinct_findings([Finding(k, s, "") for k, s in (m.stored or [])])
        assert distinct_findings(found) == want, (m.desc, distinct_findings(found), want)
        vector.update(digests=digests, leaf_stores=stores, want_stored_findings=want)
    return vector


HEX_FIELDS = ("root", "leaf_hash")


def _unhex(record: Mapping[str, Any]) -> dict[str, Any]:
    """A digest or leaf store from its JSON form back to Avro shape (hashes as bytes)."""
    out = dict(record)
    for name in HEX_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = bytes.fromhex(out[name])
    if "bucket_hashes" in out:
        out["bucket_hashes"] = [bytes.fromhex(h) for h in out["bucket_hashes"]]
    if "leaves" in out:
        out["leaves"] = [_unhex(leaf) for leaf in out["leaves"]]
    return out


def unhex_all(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_unhex(r) for r in records]


def _mutations(world: World) -> dict[str, Mutation]:
    e = world.entries
    genesis, a1, a2, a3 = e
    stranger = KEYS["stranger"]

    def replace_at(index: int, entry: LedgerEntry, rechain: bool = True) -> list[LedgerEntry]:
        out = [*e[:index], entry, *e[index + 1 :]]
        return _rechain(out, index + 1) if rechain else out

    def flipped(sig: bytes) -> bytes:
        return bytes([sig[0] ^ 1]) + sig[1:]

    genesis_payload_now = genesis.payload_json()

    def genesis_with(change: Callable[[dict[str, Any]], None]) -> list[LedgerEntry]:
        value = copy.deepcopy(genesis_payload_now)
        change(value)
        return replace_at(0, _resign(genesis, payload=canonical_json(value)))

    def digest_change(index: int, change: Callable[[dict[str, Any]], None]) -> Any:
        digests = copy.deepcopy(world.digests)
        change(digests[index])
        return digests

    def store_change(index: int, change: Callable[[dict[str, Any]], None]) -> Any:
        stores = copy.deepcopy(world.leaf_stores)
        change(stores[index])
        return stores

    def swap_buckets(d: dict[str, Any]) -> None:
        h = d["bucket_hashes"]
        first = next(i for i in range(len(h)) if h[i] != h[0])
        h[0], h[first] = h[first], h[0]

    other_anchor = make_entry(
        a2,
        party="hgc",
        agreement_id=world.book.id,
        kind="anchor",
        payload=a3.payload_json() | {"root": "ab" * 32},
        signer=KEYS["hgc"],
        time=T0 + timedelta(minutes=3),
    )
    repeat_w2 = make_entry(
        a3,
        party="hgc",
        agreement_id=world.book.id,
        kind="anchor",
        payload=a2.payload_json() | {"root": "cd" * 32},
        signer=KEYS["hgc"],
        time=T0 + timedelta(minutes=4),
    )
    foreign = _resign(
        a3,
        agreement_id="another-agreement",
        sequence=4,
        kind="statement",
        payload=canonical_json({"note": "an entry of another chain"}),
        prev_hash=a3.entry_hash(),
        time=T0 + timedelta(minutes=4),
    )
    dcc_genesis = make_entry(
        None,
        party="dcc",
        agreement_id=world.book.id,
        kind="genesis",
        payload=genesis_payload_now,
        signer=KEYS["dcc"],
        time=T0,
    )
    late_genesis = _resign(
        genesis, sequence=4, prev_hash=a3.entry_hash(), time=T0 + timedelta(minutes=4)
    )
    non_canonical = json.dumps(a1.payload_json(), indent=1).encode()

    def drop_signature(p: dict[str, Any]) -> None:
        p["signatures"] = p["signatures"][:1]

    def forge_signature(p: dict[str, Any]) -> None:
        p["signatures"][1]["signature"] = _flip(p["signatures"][1]["signature"])

    def other_version(p: dict[str, Any]) -> None:
        p["versions"][1]["effective_from_ms"] += 1

    def stranger_party(p: dict[str, Any]) -> None:
        p["parties"]["hgc"] = stranger.public.to_json() | {"role": "seller"}

    def stranger_genesis(p: dict[str, Any]) -> None:
        p["parties"]["hgc"] = {"role": "seller"} | {
            k: v for k, v in stranger.public.to_json().items() if k != "algorithm"
        }
        p["signatures"][0] = signature_document(world.book, stranger, "hgc")

    resigned = [_resign(genesis, key=stranger, payload=_payload(genesis, stranger_genesis))]
    for entry in e[1:]:
        resigned.append(_resign(entry, key=stranger, prev_hash=resigned[-1].entry_hash()))

    def zero_key(p: dict[str, Any]) -> None:
        p["parties"]["hgc"] |= {"key_id": key_id_of(bytes(32)), "public_key": "00" * 32}

    # Of two anchors of one window revision at one sequence, the one with the smaller entry
    # hash is *the* anchor; a later replay of the other's root is then a duplicate-window.
    first_anchor, second_anchor = sorted((a3, other_anchor), key=lambda x: x.entry_hash())
    replay = make_entry(
        second_anchor,
        party="hgc",
        agreement_id=world.book.id,
        kind="anchor",
        payload=second_anchor.payload_json(),
        signer=KEYS["hgc"],
        time=T0 + timedelta(minutes=4),
    )

    stored_ok: list[tuple[str, int | None]] = []
    return {
        "equivocation-then-replay": Mutation(
            "two anchors of window 1 revision 1 at sequence 3 (an equivocation), given with the "
            "one of larger entry hash first, then that one's payload again at sequence 4: the "
            "anchor of the window revision is the one of smaller entry hash, whatever the "
            "input order, so sequence 4 anchors another root",
            [genesis, a1, a2, second_anchor, first_anchor, replay],
            [("equivocation", 3), ("duplicate-window", 4)],
            with_stored=False,
        ),
        "valid": Mutation("a valid chain: genesis and three anchors", e, [], stored_ok),
        "resigned-by-stranger": Mutation(
            "the whole chain re-signed from genesis on by the stranger's key, which the genesis "
            "names for hgc (with an agreement signature by it; dcc's is the real one): "
            "self-consistent, but the stranger's key is not trusted for hgc",
            resigned,
            [("unknown-key", n) for n in range(4)],
            stored_ok,
        ),
        "genesis-small-order-key": Mutation(
            "the genesis names the all-zero key (a point of small order) for hgc: it publishes "
            "no key of hgc, so nothing can be checked",
            genesis_with(zero_key),
            [("bad-payload", 0), ("no-genesis", 0)],
            stored_ok,
        ),
        "checked-against-another-agreement": Mutation(
            "the valid chain checked against the trusted keys of another agreement "
            "(agreement-rotation.yaml, which lists the same keys of hgc and dcc): its genesis "
            "names another agreement id and book hash",
            e,
            [("wrong-agreement", 0)],
            stored_ok,
            trusted=TrustedKeys.of_book(load_book(ROTATION_AGREEMENT)),
        ),
        "replayed-entry": Mutation(
            "a valid chain with an entry delivered twice (Kafka is at least once)",
            [*e, a2],
            [],
            stored_ok,
        ),
        "bad-signature": Mutation(
            "entry 2's signature has one bit flipped; entry 3 links to the original entry 2, "
            "whose hash covers the signature",
            replace_at(2, dataclasses.replace(a2, signature=flipped(a2.signature)), False),
            [("bad-signature", 2), ("chain-break", 3)],
            stored_ok,
        ),
        "bad-signature-last": Mutation(
            "the last entry's signature has one bit flipped",
            replace_at(3, dataclasses.replace(a3, signature=flipped(a3.signature)), False),
            [("bad-signature", 3)],
            stored_ok,
        ),
        "broken-link": Mutation(
            "entry 2 signed over a prev_hash that is genesis's hash, not entry 1's",
            replace_at(2, _resign(a2, prev_hash=genesis.entry_hash())),
            [("chain-break", 2)],
            stored_ok,
        ),
        "genesis-prev-hash": Mutation(
            "genesis signed over a prev_hash that is not 32 zero bytes",
            replace_at(0, _resign(genesis, prev_hash=b"\x01" * 32)),
            [("chain-break", 0)],
            stored_ok,
        ),
        "gap": Mutation(
            "entry 2 missing",
            [genesis, a1, a3],
            [("gap", 2)],
            [("orphan", None)],
        ),
        "payload-not-matching-hash": Mutation(
            "entry 1's payload changed after signing (totals), payload_hash and signature "
            "kept: the signature still verifies, since it covers payload_hash, not payload",
            replace_at(
                1,
                dataclasses.replace(
                    a1, payload=_payload(a1, lambda p: p["totals"].update(EUR="1"))
                ),
                False,
            ),
            [("bad-payload", 1)],
            [("total-mismatch", 1)],
        ),
        "non-canonical-payload": Mutation(
            "entry 1's payload is the same object with whitespace: hashed and signed, "
            "but not canonical JSON",
            replace_at(1, _resign(a1, payload=non_canonical)),
            [("bad-payload", 1)],
            stored_ok,
        ),
        "anchor-without-root": Mutation(
            "entry 2 is an anchor whose payload has no root (signed)",
            replace_at(2, _resign(a2, payload=_payload(a2, lambda p: p.pop("root")))),
            [("bad-payload", 2)],
            [("bad-batch", 2), ("bad-digest", 2)],
        ),
        "wrong-supersedes": Mutation(
            "the revision names a superseded root its window was not anchored with",
            replace_at(
                3,
                _resign(a3, payload=_payload(a3, lambda p: p["supersedes"].update(root="ef" * 32))),
            ),
            [("bad-payload", 3)],
            stored_ok,
        ),
        "equivocation": Mutation(
            "two different validly signed entries at sequence 3",
            [*e, other_anchor],
            [("equivocation", 3)],
            with_stored=False,
        ),
        "duplicate-window": Mutation(
            "window 2, revision 0 anchored again with another root at sequence 4",
            [*e, repeat_w2],
            [("duplicate-window", 4)],
            [("missing-batch", 4), ("missing-digest", 4)],
        ),
        "signed-by-unknown-key": Mutation(
            "the last entry signed (validly) by a key the genesis does not publish",
            replace_at(3, _resign(a3, key=stranger)),
            [("unknown-key", 3)],
            stored_ok,
        ),
        "signed-by-partner-key": Mutation(
            "the last entry signed (validly) by the partner's published key",
            replace_at(3, _resign(a3, key=KEYS["dcc"])),
            [("unknown-key", 3)],
            stored_ok,
        ),
        "wrong-agreement": Mutation(
            "an entry of the owner for another agreement, in the middle of its chain",
            [*e, foreign],
            [("wrong-party", 4)],
            stored_ok,
        ),
        "wrong-party": Mutation(
            "the partner's genesis entry among the owner's",
            [dcc_genesis, *e],
            [("wrong-party", 0)],
            stored_ok,
        ),
        "no-genesis": Mutation(
            "the genesis entry missing: keys unknown, nothing else can be checked",
            [a1, a2, a3],
            [("no-genesis", None)],
            with_stored=False,
        ),
        "late-genesis": Mutation(
            "a second genesis entry at sequence 4",
            [*e, late_genesis],
            [("bad-payload", 4)],
            stored_ok,
        ),
        "genesis-one-signature": Mutation(
            "the genesis carries only the seller's agreement signature",
            genesis_with(drop_signature),
            [("bad-payload", 0)],
            stored_ok,
        ),
        "genesis-forged-signature": Mutation(
            "the buyer's agreement signature in the genesis has one bit flipped",
            genesis_with(forge_signature),
            [("bad-payload", 0)],
            stored_ok,
        ),
        "genesis-book-hash": Mutation(
            "a version's effective_from_ms changed: the book hash no longer covers the versions",
            genesis_with(other_version),
            [("bad-payload", 0)],
            stored_ok,
        ),
        "genesis-key-not-signer": Mutation(
            "the genesis publishes another key for the owner than the one that signed the "
            "agreement (and the chain)",
            genesis_with(stranger_party),
            [("bad-payload", 0), *(("unknown-key", n) for n in range(4))],
            stored_ok,
        ),
        "digest-swapped-buckets": Mutation(
            "two bucket hashes of window 1's digest swapped",
            e,
            [],
            [("bad-digest", 1)],
            digests=digest_change(0, swap_buckets),
        ),
        "digest-leaf-count": Mutation(
            "window 1's digest claims one leaf more",
            e,
            [],
            [("bad-digest", 1)],
            digests=digest_change(0, lambda d: d.update(leaf_count=d["leaf_count"] + 1)),
        ),
        "digest-orphan": Mutation(
            "a digest naming an anchor sequence the chain does not have",
            e,
            [],
            [("orphan", None)],
            digests=[*world.digests, world.digests[0] | {"anchor_sequence": 9}],
        ),
        "missing-digest": Mutation(
            "no digest for the anchor at sequence 2",
            e,
            [],
            [("missing-digest", 2)],
            digests=[world.digests[0], world.digests[2]],
        ),
        "leaf-store-amount": Mutation(
            "a stored leaf's amount changed (its leaf hash kept)",
            e,
            [],
            [("total-mismatch", 1)],
            leaf_stores=store_change(0, lambda s: s["leaves"][0].update(amount="0.0316")),
        ),
        "leaf-store-missing-leaf": Mutation(
            "a leaf missing from window 1's leaf store",
            e,
            [],
            [("bad-batch", 1), ("total-mismatch", 1)],
            leaf_stores=store_change(0, lambda s: s["leaves"].pop(1)),
        ),
        "leaf-store-wrong-leaf-hash": Mutation(
            "a stored leaf hash with one bit flipped",
            e,
            [],
            [("bad-batch", 1)],
            leaf_stores=store_change(
                0, lambda s: s["leaves"][0].update(leaf_hash=_flip(s["leaves"][0]["leaf_hash"]))
            ),
        ),
    }


def signature_document(book: AgreementBook, key: KeyPair, party: str) -> dict[str, str]:
    """A party's signature document by any key (``sign_agreement`` refuses keys the agreement
    does not list): built from the spec's bytes."""
    fields = {
        "agreement_id": book.id,
        "book_hash": book_hash(book).hex(),
        "party": party,
        "key_id": key.key_id,
    }
    signature = key.sign(tagged("agreement-signature.v1", canonical_json(fields)))
    return {**fields, "public_key": key.public.raw.hex(), "signature": signature.hex()}


# --- trust: trusted keys, small-order keys, key rotation -----------------------------------


def _trust_vectors(world: World) -> dict[str, Any]:
    trusted = TrustedKeys.of_book(world.book)
    document = trusted.to_json()
    hgc = document["parties"]["hgc"][0]
    zero = "00" * 32
    order8 = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"

    def with_hgc(**changes: Any) -> dict[str, Any]:
        changed = copy.deepcopy(document)
        changed["parties"]["hgc"][0].update(changes)
        for name, value in list(changes.items()):
            if value is None and name != "valid_until":
                del changed["parties"]["hgc"][0][name]
        return changed

    minimal = {
        "bilat_trusted_keys": 1,
        "parties": {"hgc": [{"public_key": hgc["public_key"], "valid_from": hgc["valid_from"]}]},
    }
    cases: list[tuple[str, Any, bool]] = [
        ("the vectors' agreement's trusted keys (`bilat keys trusted`)", document, True),
        ("minimal: no agreement id, book hash, key id or valid_until", minimal, True),
        (
            "times with an offset and with fractional seconds",
            with_hgc(valid_from="2026-01-01T01:00:00+01:00", valid_until="2027-01-01T00:00:00.5Z"),
            True,
        ),
        ("agreement_id and book_hash null: unknown", document | {"agreement_id": None,
                                                                 "book_hash": None}, True),
        ("bilat_trusted_keys 2", document | {"bilat_trusted_keys": 2}, False),
        ("bilat_trusted_keys true, not 1", document | {"bilat_trusted_keys": True}, False),
        ("bilat_trusted_keys missing", {k: v for k, v in document.items()
                                        if k != "bilat_trusted_keys"}, False),
        ("an unknown top-level field", document | {"note": "x"}, False),
        ("an unknown field of a key", with_hgc(note="x"), False),
        ("agreement_id empty", document | {"agreement_id": ""}, False),
        ("agreement_id not a string", document | {"agreement_id": 7}, False),
        ("book_hash in uppercase", document | {"book_hash": document["book_hash"].upper()}, False),
        ("public_key in uppercase",
         with_hgc(public_key=hgc["public_key"].upper(), key_id=None), False),
        ("public_key of 31 bytes", with_hgc(public_key=hgc["public_key"][:62], key_id=None), False),
        ("public_key all zero: a point of small order",
         with_hgc(public_key=zero, key_id=None), False),
        ("public_key of a point of order 8", with_hgc(public_key=order8, key_id=None), False),
        ("key_id not the key's", with_hgc(key_id=document["parties"]["dcc"][0]["key_id"]), False),
        ("valid_from missing", with_hgc(valid_from=None), False),
        ("valid_from without an offset", with_hgc(valid_from="2026-01-01T00:00:00"), False),
        ("valid_from without seconds", with_hgc(valid_from="2026-01-01T00:00Z"), False),
        ("valid_from not a date", with_hgc(valid_from="2026-02-30T00:00:00Z"), False),
        ("valid_until equal to valid_from", with_hgc(valid_until=hgc["valid_from"]), False),
        ("parties empty", document | {"parties": {}}, False),
        ("a party with no key", document | {"parties": document["parties"] | {"dcc": []}}, False),
        (
            "one key listed twice for a party",
            document | {"parties": document["parties"] | {"hgc": [hgc, hgc]}},
            False,
        ),
        (
            "one key listed for two parties",
            document | {"parties": document["parties"] | {"dcc": [hgc]}},
            False,
        ),
    ]  # fmt: skip
    checked = []
    for desc, value, valid in cases:
        try:
            TrustedKeys.from_json(value)
            accepted = True
        except TrustError:
            accepted = False
        assert accepted == valid, desc
        checked.append({"desc": desc, "document": value, "want_valid": valid})
    refused = sorted(e[:31] + bytes([e[31] | sign]) for e in SMALL_ORDER_ENCODINGS
                     for sign in (0, 0x80))  # fmt: skip
    assert all(is_small_order(key) for key in refused)
    accepted_keys = [k.public.raw.hex() for k in KEYS.values()]
    assert not any(is_small_order(bytes.fromhex(k)) for k in accepted_keys)
    return {
        "trust/trusted-keys.json": {
            "desc": "the trusted keys of the vectors' agreement: every key any version lists "
            "for each party (see agreement/book.json, version_contents), its id and book hash",
            "agreement_id": world.book.id,
            "book_hash": book_hash(world.book).hex(),
            "document": document,
        },
        "trust/files.json": {
            "desc": "trusted-keys documents: valid ones, and one refusal per rule",
            "cases": checked,
        },
        "trust/small-order.json": {
            "desc": "public keys refused everywhere (points of small order, with either sign "
            "bit: 8 canonical and 6 non-canonical encodings), and keys accepted",
            "refused": [key.hex() for key in refused],
            "accepted": accepted_keys,
        },
    }


def _made_up_anchor(book: AgreementBook, n: int) -> dict[str, Any]:
    """An anchor of window ``n`` of a made-up batch: the rotation chains are checked as chains
    only (no digests, no leaves)."""
    start = to_ms(W1) + n * 3_600_000
    return anchor_payload(
        agreement_id=book.id,
        window_start_ms=start,
        window_end_ms=start + 3_600_000,
        revision=0,
        leaf_count=1,
        totals={"EUR": Decimal("0.01")},
        root=hashlib.sha256(b"made-up root %d" % n).digest(),
        digest_depth=2,
        digest_hash=hashlib.sha256(b"made-up digest %d" % n).digest(),
        agreement_versions=["1"],
        supersedes=None,
    )


def _rotation(
    book: AgreementBook, new: KeyPair, valid_from: datetime = MARCH, old: str = "hgc", **kw: Any
) -> dict[str, Any]:
    fields = {"agreement_id": book.id, "party": "hgc", "old_key_id": KEYS[old].key_id} | kw
    return rotation_payload(new, valid_from, **fields)


def _rotation_mutations() -> dict[str, Mutation]:
    """hgc's chain under agreement-rotation.yaml: genesis and an anchor signed by hgc, a
    rotation to hgc-next signed by hgc, an anchor signed by hgc-next; then one file per
    mutation."""
    book = load_book(ROTATION_AGREEMENT)
    trusted = TrustedKeys.of_book(book)
    docs = [sign_agreement(book, KEYS[p], p) for p in ("hgc", "dcc")]
    tip = ChainTip("hgc", book.id)
    minute = timedelta(minutes=1)
    e = [
        tip.append("genesis", genesis_payload(book, docs), KEYS["hgc"], T0),
        tip.append("anchor", _made_up_anchor(book, 0), KEYS["hgc"], T0 + minute),
        tip.append("key-rotation", _rotation(book, KEYS["hgc-next"]), KEYS["hgc"], T0 + 2 * minute),
        tip.append("anchor", _made_up_anchor(book, 1), KEYS["hgc-next"], T0 + 3 * minute),
    ]
    hgc, following, stranger = KEYS["hgc"], KEYS["hgc-next"], KEYS["stranger"]

    def then(entries: list[LedgerEntry], kind: str, payload: Any, key: KeyPair,
             time: datetime | None = None) -> list[LedgerEntry]:  # fmt: skip
        """``entries`` and one more entry after them."""
        at = time or T0 + len(entries) * minute
        entry = make_entry(entries[-1], party="hgc", agreement_id=book.id, kind=kind,
                           payload=payload, signer=key, time=at)  # fmt: skip
        return [*entries, entry]

    def handover(payload: dict[str, Any], key: KeyPair = hgc, time: datetime | None = None,
                 next_key: KeyPair = following) -> list[LedgerEntry]:  # fmt: skip
        """Genesis, anchor, this rotation signed by ``key``, an anchor by ``next_key``."""
        rotated = then(e[:2], "key-rotation", payload, key, time)
        return then(rotated, "anchor", _made_up_anchor(book, 1), next_key)

    good = _rotation(book, following)
    message = rotation_message(book.id, "hgc", hgc.key_id, following.key_id, to_ms(MARCH))
    # The all-zero key accepts the all-zero signature on about one message in four: the first
    # valid_from_ms from March 1 on whose rotation message it accepts (OpenSSL's verify).
    zero = next(
        ms for ms in range(to_ms(MARCH), to_ms(MARCH) + 64)
        if _zero_signature_verifies(rotation_message(book.id, "hgc", hgc.key_id,
                                                     key_id_of(bytes(32)), ms))
    )  # fmt: skip
    weak = {"new_key_id": key_id_of(bytes(32)), "public_key": "00" * 32, "valid_from_ms": zero,
            "new_key_signature": "00" * 64}  # fmt: skip
    unproven = {k: v for k, v in good.items() if k != "new_key_signature"}
    key_not_current_after = [("key-not-current", 3)]
    return {
        "rotation-valid": Mutation(
            "a key rotation: hgc's chain handed from hgc to hgc-next (signed by hgc, with "
            "hgc-next's proof of possession), then signed by hgc-next",
            e, [], trusted=trusted, with_stored=False,
        ),
        "rotation-old-key-after": Mutation(
            "after the rotation, an entry signed by the old key (still trusted and valid)",
            then(e, "anchor", _made_up_anchor(book, 2), hgc),
            [("key-not-current", 4)], trusted=trusted, with_stored=False,
        ),
        "rotation-next-key-before": Mutation(
            "before the rotation, an entry signed by the next key (trusted and valid)",
            _rechain([e[0], _resign(e[1], key=following), e[2], e[3]], 2),
            [("key-not-current", 1)], trusted=trusted, with_stored=False,
        ),
        "rotation-to-unlisted-key": Mutation(
            "a rotation to the stranger's key (with its proof of possession), which the "
            "agreement does not list for hgc; the next entry signed by it",
            handover(_rotation(book, stranger), next_key=stranger),
            [("unknown-key", 2), ("unknown-key", 3)], trusted=trusted, with_stored=False,
        ),
        "rotation-signed-by-non-current-key": Mutation(
            "the rotation signed by the next key itself, not by the current one",
            handover(good, key=following),
            [("key-not-current", 2), *key_not_current_after], trusted=trusted,
            with_stored=False,
        ),
        "rotation-bad-proof-of-possession": Mutation(
            "the rotation's new_key_signature made by the old key, not the new one: no proof "
            "that hgc holds hgc-next; the rotation is refused and hgc-next's entry is not hgc's "
            "current key's",
            handover(good | {"new_key_signature": hgc.sign(message).hex()}),
            [("bad-payload", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-proof-for-another-agreement": Mutation(
            "the proof of possession is hgc-next's, but over the rotation message of another "
            "agreement (vec-2026): replayed, it does not verify here",
            handover(good | {"new_key_signature": _rotation(
                book, following, agreement_id="vec-2026")["new_key_signature"]}),
            [("bad-payload", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-without-proof": Mutation(
            "a rotation without new_key_signature (the payload before proofs of possession)",
            handover(unproven),
            [("bad-payload", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-wrong-valid-from": Mutation(
            "the rotation names a valid_from_ms one day after the agreement's listing of "
            "hgc-next (its proof signs that value)",
            handover(_rotation(book, following, MARCH + timedelta(days=1))),
            [("bad-payload", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-to-current-key": Mutation(
            "a rotation from hgc to hgc itself",
            handover(_rotation(book, hgc, datetime(2026, 1, 1, tzinfo=UTC))),
            [("bad-payload", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-before-valid": Mutation(
            "the rotation's time (2026-02-15) is before hgc-next's valid_from (2026-03-01)",
            handover(good, time=datetime(2026, 2, 15, tzinfo=UTC)),
            [("key-not-valid", 2), *key_not_current_after], trusted=trusted, with_stored=False,
        ),
        "rotation-small-order-key": Mutation(
            "a rotation to the all-zero key (a point of small order) whose new_key_signature is "
            "64 zero bytes, which OpenSSL accepts under that key for this message: refused for "
            "the key, before any signature is checked; hgc's key stays current",
            handover(weak, next_key=hgc),
            [("bad-payload", 2)], trusted=trusted, with_stored=False,
        ),
        "key-expired": Mutation(
            "no rotation: an entry signed by hgc at 2026-04-01T00:00:00Z, the end of its "
            "validity (valid_until is exclusive)",
            then(e[:2], "anchor", _made_up_anchor(book, 1), hgc, datetime(2026, 4, 1, tzinfo=UTC)),
            [("key-not-valid", 2)], trusted=trusted, with_stored=False,
        ),
    }  # fmt: skip


# --- audit bundles -------------------------------------------------------------------------

CHECKS = ("leaf", "inclusion", "chain", "anchor", "record", "revision", "salt")


def _batch_meta(batch: Batch, anchor: LedgerEntry) -> dict[str, Any]:
    return {
        "window_start_ms": to_ms(batch.window_start),
        "window_end_ms": to_ms(batch.window_end),
        "revision": batch.revision,
        "depth": batch.tree.depth,
        "root": batch.root,
        "leaf_count": batch.tree.leaf_count,
        "anchor_sequence": anchor.sequence,
    }


def _crafted(
    world: World, records: Sequence[RatedUsage], **signed: Any
) -> tuple[BatchTree, list[LedgerEntry], dict[str, Any]]:
    """A batch of window 1 holding ``records`` as they are (whatever their start, version or
    currency), anchored at sequence 1 of hgc's chain by hgc's key, the anchor signing
    ``signed`` where it differs from the batch: what a party that can sign, but lies, exports."""
    tree = BatchTree.build([(r.key, leaf_hash(r)) for r in records], 2, world.salt)
    fields: dict[str, Any] = {
        "agreement_id": world.book.id,
        "window_start_ms": to_ms(W1),
        "window_end_ms": to_ms(W1) + 3_600_000,
        "revision": 0,
        "leaf_count": tree.leaf_count,
        "totals": {"EUR": sum((r.amount for r in records), Decimal(0))},
        "root": tree.root,
        "digest_depth": 2,
        "digest_hash": hashlib.sha256(b"digest of a crafted batch").digest(),
        "agreement_versions": sorted({r.agreement_version for r in records}),
        "supersedes": None,
    } | signed
    genesis = world.entries[0]
    anchor = make_entry(genesis, party="hgc", agreement_id=world.book.id, kind="anchor",
                        payload=anchor_payload(**fields), signer=KEYS["hgc"],
                        time=T0 + timedelta(minutes=1))  # fmt: skip
    meta = {
        "window_start_ms": fields["window_start_ms"],
        "window_end_ms": fields["window_end_ms"],
        "revision": 0,
        "depth": 2,
        "root": tree.root,
        "leaf_count": fields["leaf_count"],
        "anchor_sequence": 1,
    }
    return tree, [genesis, anchor], meta


def failed_checks(bundle: Mapping[str, Any], trusted: TrustedKeys) -> list[str]:
    """The names of the checks of ``verify_bundle`` that fail, in their order."""
    return [c.name for c in verify_bundle(bundle, trusted) if not c.ok]


def _bundle_vectors(world: World) -> dict[str, Any]:
    trusted = TrustedKeys.of_book(world.book)
    e = world.entries
    w2 = WINDOW_2[1]
    valid = build_bundle(
        w2, world.batches[1].tree.proof(w2.key), _batch_meta(world.batches[1], e[2]), e
    )
    w1 = WINDOW_1[0]
    superseded = build_bundle(
        w1, world.batches[0].tree.proof(w1.key), _batch_meta(world.batches[0], e[1]), e
    )
    assert superseded["status"]["superseded_by"] == {"revision": 1, "sequence": 3}
    version_1 = copy.deepcopy(valid)
    version_1["bilat_bundle"] = 1
    del version_1["batch"]["anchor_sequence"], version_1["status"]
    version_1["chain"] = version_1["chain"][:3]

    stranger = KEYS["stranger"]
    forged_genesis = _resign(e[0], key=stranger, payload=_payload(e[0], lambda p: (
        p["parties"].update(hgc={"role": "seller", "key_id": stranger.key_id,
                                 "public_key": stranger.public.raw.hex()}),
        p["signatures"].__setitem__(0, signature_document(world.book, stranger, "hgc")),
    )))  # fmt: skip
    resigned = [forged_genesis]
    for entry in e[1:]:
        resigned.append(_resign(entry, key=stranger, prev_hash=resigned[-1].entry_hash()))

    def crafted(records: Sequence[RatedUsage], subject: RatedUsage, **signed: Any) -> Any:
        tree, chain, meta = _crafted(world, records, **signed)
        return build_bundle(subject, tree.proof(subject.key), meta, chain)

    late_record = _rated("ix-fra-01", "cdr-0900", W1 + timedelta(hours=1), "10", "second", "0.0025")
    version_2 = _rated("ix-fra-01", "cdr-0901", _at(W1, 30), "10", "second", "0.0024", version="2")
    dollars = dataclasses.replace(_rated("ix-fra-01", "cdr-0902", _at(W1, 40), "10", "second",
                                         "0.0030"), currency="USD")  # fmt: skip

    def change(document: Any, fn: Callable[[dict[str, Any]], Any]) -> Any:
        changed = copy.deepcopy(document)
        fn(changed)
        return changed

    def flip_top(b: dict[str, Any]) -> None:
        b["proof"]["top_path"][0] = _flip(b["proof"]["top_path"][0])

    cases: dict[str, tuple[str, Any, list[str]]] = {
        "valid": ("a record of window 2 (sequence 2), the chain to the tip (sequence 3): "
                  "current", valid, []),
        "superseded": ("a record of window 1 revision 0 (sequence 1), superseded by revision 1 "
                       "(sequence 3): valid, and status says so", superseded, []),
        "version-1": ("a version 1 bundle: no anchor_sequence or status; the chain ends at the "
                      "anchor", version_1, []),
        "leaf-amount-changed": ("the record's amount changed: it no longer hashes to the "
                                "proof's leaf", change(valid, lambda b: b["record"].update(
                                    amount="0.02")), ["leaf"]),
        "leaf-non-canonical-decimal": ("the record's amount written 0.010, not its canonical "
                                       "text 0.01", change(valid, lambda b: b["record"].update(
                                           amount="0.010")), ["leaf"]),
        "inclusion-path-node": ("one bit of the first top-path node flipped",
                                change(valid, flip_top), ["inclusion"]),
        "chain-resigned-by-stranger": ("the whole chain re-signed from genesis on by the "
                                       "stranger's key, which the genesis names for hgc: every "
                                       "signature verifies, none with a trusted key",
                                       change(valid, lambda b: b.update(chain=[
                                           entry_to_json(x) for x in resigned])), ["chain"]),
        "chain-without-genesis": ("the chain without its genesis entry: no salt, no keys",
                                  change(valid, lambda b: b["chain"].pop(0)),
                                  ["inclusion", "chain", "salt"]),
        "anchor-leaf-count": ("batch.leaf_count one more than the anchor signs",
                              change(valid, lambda b: b["batch"].update(
                                  leaf_count=b["batch"]["leaf_count"] + 1)), ["anchor"]),
        "anchor-depth": ("batch.depth 3, the anchor's digest.depth is 2 (the proof's top path "
                         "then fails too)", change(valid, lambda b: b["batch"].update(depth=3)),
                         ["inclusion", "anchor"]),
        "anchor-agreement-id": ("batch.agreement_id names another agreement than the anchor",
                                change(valid, lambda b: b["batch"].update(
                                    agreement_id="vec-2027")), ["anchor"]),
        "record-start-outside-window": ("the batch holds a record starting at the window's end "
                                        "(exclusive), anchored by hgc as window 1",
                                        crafted([*WINDOW_1[:3], late_record], late_record),
                                        ["record"]),
        "record-version-not-listed": ("the record was rated under version 2, the anchor lists "
                                      "only version 1", crafted([*WINDOW_1[:3], version_2],
                                      version_2, agreement_versions=["1"]), ["record"]),
        "record-currency-not-totalled": ("the record is in USD, the anchor totals only EUR",
                                         crafted([*WINDOW_1[:3], dollars], dollars,
                                                 totals={"EUR": Decimal("0.0547")}), ["record"]),
        "record-zero-leaf-count": ("the anchor (and the batch) say 0 leaves, yet the root holds "
                                   "the record", crafted(WINDOW_1[:3], WINDOW_1[0],
                                                         leaf_count=0), ["record"]),
        "revision-lying-status": ("the superseded record's bundle claims it is current",
                                  change(superseded, lambda b: b["status"].update(
                                      superseded_by=None)), ["revision"]),
        "format-unknown-field": ("a member the checks would not read: the whole bundle is "
                                 "refused", change(valid, lambda b: b.update(
                                     note="approved by hgc")), ["format"]),
    }  # fmt: skip
    files = {}
    for name, (desc, bundle, want) in cases.items():
        got = failed_checks(bundle, trusted)
        assert got == want, (name, got, want)
        checks = ["format"] if want == ["format"] else list(CHECKS)
        assert [c.name for c in verify_bundle(bundle, trusted)] == checks
        files[f"bundle/{name}.json"] = {
            "desc": desc,
            "trusted_keys": trusted.to_json(),
            "bundle": bundle,
            "want_failed": want,
        }
    return files


def _zero_signature_verifies(message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes(32)).verify(bytes(64), message)
    except InvalidSignature:
        return False
    return True


# --- countersignatures and reconciliation -------------------------------------------------


def _partner_chain(world: World) -> list[LedgerEntry]:
    """dcc's chain of the vectors' agreement: its genesis (the same payload as hgc's) and its
    anchors of the same three batches (the same roots as hgc's anchors 1 to 3)."""
    tip = ChainTip("dcc", world.book.id)
    entries = [tip.append("genesis", genesis_payload(world.book, world.docs), KEYS["dcc"], T0)]
    for batch in world.batches:
        time = T0 + timedelta(minutes=tip.next_sequence, seconds=30)
        entry = anchor_entry(batch, tip, "dcc", KEYS["dcc"], time)
        tip.advance(entry)
        entries.append(entry)
    return entries


def _cosignature_of(theirs: LedgerEntry, anchor_sequence: int) -> dict[str, Any]:
    """The countersignature payload witnessing the partner's anchor ``theirs``."""
    signed = theirs.payload_json()
    return countersignature_payload(
        partner=theirs.party,
        partner_sequence=theirs.sequence,
        partner_entry_hash=theirs.entry_hash(),
        window_start_ms=signed["window_start_ms"],
        window_end_ms=signed["window_end_ms"],
        revision=signed["revision"],
        root=bytes.fromhex(signed["root"]),
        anchor_sequence=anchor_sequence,
    )


def _then(entries: Sequence[LedgerEntry], kind: str, payload: Any) -> list[LedgerEntry]:
    """``entries`` of hgc's chain and one more entry signed by hgc, a minute later."""
    last = entries[-1]
    entry = make_entry(last, party="hgc", agreement_id=last.agreement_id, kind=kind,
                       payload=payload, signer=KEYS["hgc"],
                       time=T0 + timedelta(minutes=last.sequence + 1))  # fmt: skip
    return [*entries, entry]


def _countersignature_mutations(world: World) -> dict[str, Mutation]:
    """hgc's valid chain and a countersignature of dcc's anchor of window 1 revision 1 (dcc's
    sequence 3, the root of hgc's anchor at sequence 3); then one misshapen payload per file."""
    good = _cosignature_of(_partner_chain(world)[3], 3)

    def cosigned(payload: Any) -> list[LedgerEntry]:
        return _then(world.entries, "countersignature", payload)

    def without(name: str) -> dict[str, Any]:
        return {k: v for k, v in good.items() if k != name}

    stored_ok: list[tuple[str, int | None]] = []
    bad: list[tuple[str, int | None]] = [("bad-payload", 4)]
    return {
        "countersigned": Mutation(
            "the valid chain, then a countersignature (sequence 4) of dcc's anchor of window 1 "
            "revision 1 (dcc's sequence 3), whose root hgc anchored at sequence 3",
            cosigned(good), [], stored_ok,
        ),
        "countersignature-missing-member": Mutation(
            "a countersignature without anchor_sequence", cosigned(without("anchor_sequence")),
            bad, stored_ok,
        ),
        "countersignature-unknown-member": Mutation(
            "a countersignature with a ninth member", cosigned(good | {"note": "agreed"}),
            bad, stored_ok,
        ),
        "countersignature-wrong-type": Mutation(
            "a countersignature whose partner_sequence is a string, not an integer",
            cosigned(good | {"partner_sequence": "3"}), bad, stored_ok,
        ),
        "countersignature-boolean-revision": Mutation(
            "a countersignature whose revision is true (a boolean is not an integer)",
            cosigned(good | {"revision": True}), bad, stored_ok,
        ),
        "countersignature-uppercase-hash": Mutation(
            "a countersignature whose partner_entry_hash is in uppercase hex",
            cosigned(good | {"partner_entry_hash": good["partner_entry_hash"].upper()}),
            bad, stored_ok,
        ),
        "countersignature-short-root": Mutation(
            "a countersignature whose root is 31 bytes",
            cosigned(good | {"root": good["root"][:62]}), bad, stored_ok,
        ),
        "countersignature-empty-partner": Mutation(
            "a countersignature whose partner is the empty string",
            cosigned(good | {"partner": ""}), bad, stored_ok,
        ),
    }  # fmt: skip


def _settlement_mutations(world: World) -> dict[str, Mutation]:
    """hgc's valid chain, then a statement (sequence 4); then one misshapen settlement payload
    per file: ``bad-payload`` at 4 (docs/spec/ledger.md, Settlement payloads)."""
    good = statement_payload(
        agreement_id=world.book.id,
        bill_id=f"{world.book.id}-2026-02-EUR",
        currency="EUR",
        period_start=datetime(2026, 2, 1, tzinfo=UTC),
        period_end=datetime(2026, 3, 1, tzinfo=UTC),
        bill_date=datetime(2026, 3, 2, tzinfo=UTC),
        statement_hash=hashlib.sha256(b"s").digest(),
        amount_due=Decimal("148.75"),
        item_count=3,
    )
    reference = {"sequence": 3, "entry_hash": world.entries[3].entry_hash().hex()}
    dispute = {
        "agreement_id": world.book.id,
        "bill_id": good["bill_id"],
        "dispute_id": "d1",
        "statement_hash": good["statement_hash"],
        "statement_entry": reference,
        "items": ["b-0001", "b-0002"],
        "records": [],
        "alerts": [],
        "evidence_hash": "ab" * 32,
        "reason": "amounts differ",
    }
    resolution = {
        "agreement_id": world.book.id,
        "bill_id": good["bill_id"],
        "dispute_id": "d1",
        "dispute_entry": reference,
        "note": "",
        "outcomes": [{"item": "b-0002", "state": "withDrawn", "credit": "0"}],
    }
    payment = {
        "agreement_id": world.book.id,
        "bill_id": good["bill_id"],
        "payment_id": "p1",
        "amount": "148.75",
        "currency": "EUR",
        "paid_ms": 1772600000000,
    }

    def then(kind: str, payload: Any) -> list[LedgerEntry]:
        return _then(world.entries, kind, payload)

    bad: list[tuple[str, int | None]] = [("bad-payload", 4)]
    stored_ok: list[tuple[str, int | None]] = []
    cases = {
        "settlement-statement": ("a well-formed statement", then("statement", good), []),
        "settlement-statement-amount-not-canonical": (
            "a statement whose amount_due is '148.750'",
            then("statement", good | {"amount_due": "148.750"}),
            bad,
        ),
        "settlement-statement-bill-date-before-period-end": (
            "a statement whose bill date is before the period's end",
            then("statement", good | {"bill_date_ms": good["period_end_ms"] - 1}),
            bad,
        ),
        "settlement-statement-other-agreement": (
            "a statement naming another agreement than the chain's",
            then("statement", good | {"agreement_id": "another"}),
            bad,
        ),
        "settlement-acceptance-sequence-zero": (
            "an acceptance whose statement_entry names sequence 0 (a genesis)",
            then(
                "acceptance",
                {k: good[k] for k in ("agreement_id", "bill_id", "statement_hash")}
                | {"statement_entry": reference | {"sequence": 0}, "resolution_entry": None},
            ),
            bad,
        ),
        "settlement-dispute-items-unsorted": (
            "a dispute whose items are not in code point order",
            then("dispute", dispute | {"items": ["b-0002", "b-0001"]}),
            bad,
        ),
        "settlement-dispute-no-items": (
            "a dispute of no item",
            then("dispute", dispute | {"items": []}),
            bad,
        ),
        "settlement-resolution-withdrawn-with-credit": (
            "a resolution withdrawing an item with a credit other than '0'",
            then(
                "resolution",
                resolution
                | {"outcomes": [{"item": "b-0002", "state": "withdrawn", "credit": "1"}]},
            ),
            bad,
        ),
        "settlement-resolution-unknown-state": (
            "a resolution whose outcome state is 'rejected' (not a state it may give)",
            then(
                "resolution",
                resolution | {"outcomes": [{"item": "b-0002", "state": "rejected", "credit": "0"}]},
            ),
            bad,
        ),
        "settlement-payment-zero": (
            "a payment of 0",
            then("payment", payment | {"amount": "0"}),
            bad,
        ),
        "settlement-payment-currency-lowercase": (
            "a payment in 'eur'",
            then("payment", payment | {"currency": "eur"}),
            bad,
        ),
    }
    return {name: Mutation(desc, entries, found, stored_ok)
            for name, (desc, entries, found) in cases.items()}  # fmt: skip


REQUESTS = [
    ("dcc asks hgc for buckets 3, 1 and 3 again: sorted and distinct in the id", "dcc", "hgc",
     (1772442000000, 1772445600000), 0, [3, 1, 3]),
    ("the same question with the buckets in another order: the same id", "dcc", "hgc",
     (1772442000000, 1772445600000), 0, [1, 3]),
    ("the same buckets of revision 1", "dcc", "hgc", (1772442000000, 1772445600000), 1,
     [1, 3, 1]),
    ("hgc asks dcc: another question", "hgc", "dcc", (1772442000000, 1772445600000), 0,
     [200, 17, 0, 17, 65535]),
]  # fmt: skip


def _request_vectors(world: World) -> dict[str, Any]:
    root = world.batches[0].root
    cases = []
    for desc, party, partner, window, revision, buckets in REQUESTS:
        body = {"party": party, "partner": partner, "agreement_id": world.book.id,
                "window": list(window), "revision": revision, "root": root.hex(),
                "buckets": sorted(set(buckets))}  # fmt: skip
        made = make_request(party=party, partner=partner, agreement_id=world.book.id,
                            window=window, revision=revision, root=root, buckets=buckets,
                            now_ms=0)  # fmt: skip
        rid = request_id(party, partner, world.book.id, window, revision, root, buckets)
        data = tagged("recon-request.v1", canonical_json(body))
        assert made["request_id"] == rid == hashlib.sha256(data).hexdigest()
        cases.append({"desc": desc, "party": party, "partner": partner,
                      "agreement_id": world.book.id, "window": list(window),
                      "revision": revision, "root": root.hex(), "buckets": buckets,
                      "request_data_hex": data.hex(), "request_id": rid})  # fmt: skip
    assert cases[0]["request_id"] == cases[1]["request_id"] != cases[2]["request_id"]
    return {
        "recon/request-ids.json": {
            "desc": "drill-down request ids (spec: Drill-down requests and answers)",
            "cases": cases,
        }
    }


ANSWER_LEAVES = [
    ("ix-fra-01/cdr-0001", 5_000, "125", "second", "0.03150", "voice-in"),
    ("ix-fra-01/cdr-0002", 61_250, "61", "second", "0.0153", "voice-in"),
    ("ix-fra-01/cdr-0003", 300_000, "1", "message", "0.0040", "sms-in"),
    ("ix-fra-01/cdr-0004", 1_800_000, "2500000", "byte", "0.00625", "data-in"),
    ("sw-z\u00fcrich/7", 3_599_999, "30", "second", "0.0075", "voice-in"),
    ("4930123456>442071234567|1772442900000", 900_000, "60", "second", "1E+1", None),
    ("4930123456>442071234567|1772442903000", 903_000, "61", "second", "0.0153", None),
    ("ix-fra-01/cdr-0005", 900_000, "12", "second", "0.0030", "voice-in"),
    ("ix-fra-01/cdr-0006", 1_000_000, "7", "message", "0.028", "sms-in"),
]
"""(usage key, start in ms after W1, quantity, base unit, amount as the leaf store holds it,
rate id) of the batch whose buckets are opened in recon/answers.json."""


def _answer_leaf(key: str, start: int, quantity: str, unit: str, amount: str,
                 rate: str | None) -> Leaf:  # fmt: skip
    leaf = Leaf(key, b"", Decimal(amount), "EUR", "1",
                to_ms(W1) + start, quantity, unit, rate)  # fmt: skip
    hashed = rfc_leaf_hash(tagged(LEAF_DOMAIN, canonical_json(leaf.fields("vec-2026"))))
    return dataclasses.replace(leaf, leaf_hash=hashed)


def _answer_vectors() -> dict[str, Any]:
    depth, salt, agreement = 2, BUCKET_SALT, "vec-2026"
    window = (to_ms(W1), to_ms(W1) + 3_600_000)
    leaves = sorted((_answer_leaf(*item) for item in ANSWER_LEAVES), key=lambda x: x.usage_key)
    tree = BatchTree.build([(x.usage_key, x.leaf_hash) for x in leaves], depth, salt)
    members = bucket_members(leaves, depth, salt)
    # the two fullest buckets (ties: the lower index), so that one can lose a leaf
    first, second = sorted(sorted(members, key=lambda b: -len(members[b]))[:2])
    assert len(members[first]) >= 2 and len(members[second]) >= 2, members
    digest = {"party": "hgc", "agreement_id": agreement, "window_start_ms": window[0],
              "window_end_ms": window[1], "revision": 0, "depth": depth,
              "bucket_hashes": [h.hex() for h in tree.bucket_hashes],
              "leaf_count": tree.leaf_count, "root": tree.root.hex()}  # fmt: skip
    request = make_request(
        party="dcc",
        partner="hgc",
        agreement_id=agreement,
        window=window,
        revision=0,
        root=tree.root,
        buckets=[second, first],
        now_ms=window[1],
    )
    answered = _hex(make_answer(request, members, party="hgc", depth=depth,
                                now_ms=window[1] + 1000))  # fmt: skip
    checked = Digest.from_avro(_unhex(digest) | {"bucket_hashes": list(tree.bucket_hashes)})
    bucket_keys = {x.usage_key: bucket_of(x.usage_key, depth, salt) for x in leaves}
    invented = next(
        f"ix-fra-01/cdr-09{n:02d}" for n in range(100)
        if bucket_of(f"ix-fra-01/cdr-09{n:02d}", depth, salt) == first
    )  # fmt: skip

    def opened(answer: dict[str, Any], bucket: int) -> list[dict[str, Any]]:
        return next(b["leaves"] for b in answer["buckets"] if b["bucket"] == bucket)

    def respelled(leaf: dict[str, Any]) -> None:  # "0.0315" -> "0.03150", "1" -> "1.0"
        leaf["amount"] += "0" if "." in leaf["amount"] else ".0"

    def moved(answer: dict[str, Any]) -> None:
        opened(answer, second).append(opened(answer, first).pop(0))

    def invent(answer: dict[str, Any]) -> None:
        extra = dict(opened(answer, first)[0], usage_key=invented)
        opened(answer, first).append(extra)

    variants: list[tuple[str, Callable[[dict[str, Any]], Any], list[int]]] = [
        ("the answer as the owner wrote it (amounts in canonical text)", lambda a: None,
         [first, second]),
        ("an amount in another spelling of the same value: its canonical text is the leaf's",
         lambda a: respelled(opened(a, first)[0]), [first, second]),
        ("an amount with a '_' (not ASCII decimal notation): its bucket is refused",
         lambda a: opened(a, first)[0].update(amount="1_0"), [second]),
        ("a bucket's leaves in another order", lambda a: opened(a, first).reverse(),
         [first, second]),
        ("a rate_id changed: informative, not in the leaf hash",
         lambda a: opened(a, first)[0].update(rate_id="voice-other"), [first, second]),
        ("a leaf's amount altered", lambda a: opened(a, first)[0].update(amount="0.0316"),
         [second]),
        ("a leaf's quantity not in canonical text (125.0)",
         lambda a: next(x for x in opened(a, first) + opened(a, second)
                        if x["quantity"] == "125").update(quantity="125.0"),
         [b for b in (first, second) if bucket_keys["ix-fra-01/cdr-0001"] != b]),
        ("a leaf moved to the other requested bucket: neither bucket holds up", moved, []),
        ("a leaf dropped", lambda a: opened(a, second).pop(), [first]),
        ("a leaf invented, with a usage key of that bucket", invent, [second]),
        ("status unknown-batch: nothing to accept",
         lambda a: a.update(status="unknown-batch", buckets=[]), []),
    ]  # fmt: skip
    answers = []
    for desc, change, want in variants:
        answer = copy.deepcopy(answered)
        change(answer)
        got, _ = open_answer(_unhex(answer), checked, salt)
        assert sorted(got) == want, (desc, sorted(got), want)
        answers.append({"desc": desc, "answer": answer, "want_accepted": want})
    return {
        "recon/answers.json": {
            "desc": "a batch, its digest, a request for two of its buckets and answers to it: "
            "the buckets the requester accepts (spec: Drill-down requests and answers)",
            "salt": salt.hex(),
            "depth": depth,
            "leaves": [
                {"leaf_fields": x.fields(agreement), "leaf_hash": x.leaf_hash.hex(),
                 "bucket": bucket_keys[x.usage_key]} for x in leaves
            ],
            "digest": digest,
            "request": _hex(request),
            "answers": answers,
        }
    }  # fmt: skip


def _witness_vectors(world: World) -> dict[str, Any]:
    partner = _partner_chain(world)
    own = list(world.entries)
    for theirs, ours in zip(partner[1:], own[1:4], strict=True):
        own = _then(own, "countersignature", _cosignature_of(theirs, ours.sequence))
    misshapen = {k: v for k, v in _cosignature_of(partner[1], 1).items() if k != "revision"}
    own = _then(own, "countersignature", misshapen | {"partner_sequence": 0})
    own = _then(
        own,
        "countersignature",
        _cosignature_of(partner[2], 2) | {"partner": "xyz", "partner_sequence": 0},
    )
    seen = witnessed(own, "dcc")
    assert sorted(seen) == [1, 2, 3]

    def rewritten(entry: LedgerEntry, prev: LedgerEntry) -> LedgerEntry:
        return _resign(entry, prev_hash=prev.entry_hash(),
                       payload=_payload(entry, lambda p: p.update(root="ab" * 32)))  # fmt: skip

    other_2 = rewritten(partner[2], partner[1])
    other_3 = rewritten(partner[3], partner[2])
    after_other_2 = _resign(partner[3], prev_hash=other_2.entry_hash())
    cases: list[tuple[str, list[LedgerEntry], list[tuple[str, int]]]] = [
        ("dcc's chain as witnessed", partner, []),
        ("dcc's chain without its last entry", partner[:3], [("truncation", 3)]),
        ("dcc's entry 3 replaced by another anchor", [*partner[:3], other_3], [("fork", 3)]),
        ("dcc's chain rewritten from entry 2 on (entry 3 re-linked)",
         [*partner[:2], other_2, after_other_2], [("fork", 2), ("fork", 3)]),
        ("dcc's entry 2 replaced, entry 3 gone", [*partner[:2], other_2],
         [("fork", 2), ("truncation", 3)]),
        ("two entries at dcc's sequence 3, the witnessed one among them: no witness finding "
         "(the chain check reports the equivocation)", [*partner, other_3], []),
        ("nothing of dcc's chain", [], [("truncation", 1), ("truncation", 2),
                                        ("truncation", 3)]),
    ]  # fmt: skip
    out = []
    for desc, chain, want in cases:
        got = [(kind, sequence) for kind, sequence, _ in witness_findings(seen, chain)]
        assert got == want, (desc, got, want)
        out.append({
            "desc": desc,
            "partner_chain": [{"sequence": e.sequence, "entry_hash": e.entry_hash().hex()}
                              for e in chain],
            "want_findings": [{"kind": k, "sequence": s} for k, s in want],
        })  # fmt: skip
    countersignatures = [e for e in own if e.kind == "countersignature"]
    return {
        "recon/witness.json": {
            "desc": "the witness check: hgc's countersignatures of dcc's chain, what they "
            "witness, and the truncation and fork findings against versions of dcc's chain",
            "owner": "hgc",
            "partner": "dcc",
            "countersignatures": [entry_to_json(e) for e in countersignatures],
            "witnessed": [{"sequence": s, "entry_hash": h.hex()} for s, (h, _) in
                          sorted(seen.items())],
            "cases": out,
        }
    }  # fmt: skip


NUMBERS = [
    "+49 (30) 1234-567",
    "004930 1234567",
    "49301234567",
    "+44.20.7123.4567",
    "0049-30-1234567",
    "(+49) 30 1234567",
    "+0049301234567",
    "0030 1234567",
    "030 1234567",
    "4930\t1234567",
    "4930\u00a01234567",
    "4930\u20031234567",
    "4930\x1c1234567",
    "1",
    "+123456789012345",
    "+1234567890123456",
    "",
    "+",
    "00",
    "++49301234567",
    "+49 30 1234567 ext 5",
    "+49/30/1234567",
    "[49] 301234567",
    "+49 30 1234567\u0661",
]
"""Numbers as a record reports them."""

CORRELATIONS = [
    ("+49 30 123456", "+44 20 7123 4567", 1772442900000),
    ("004930123456", "00442071234567", 1772442903000),
    ("49 30 123456", "44 (20) 7123-4567", 1772442900000),
    ("+44 20 7123 4567", "+49 30 123456", 1772442900000),
    ("+1 212 555 0100", "+33 1 23 45 67 89", 1772446500123),
]


def _correlation_vectors() -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for number in NUMBERS:
        try:
            cases.append({"input": number, "digits": normalise_number(number)})
        except CorrelationError:
            cases.append({"input": number, "digits": None})
    keys = []
    for a, b, start in CORRELATIONS:
        key = correlation_key(a, b, start)
        keys.append({"a_number": a, "b_number": b, "start_ms": start, "key": key,
                     "bucket_key": key.partition("|")[0],
                     "bucket": bucket_of(key, 8, BUCKET_SALT)})  # fmt: skip
    assert keys[0]["bucket"] == keys[1]["bucket"] == keys[2]["bucket"]
    assert keys[0]["key"] == keys[2]["key"] != keys[1]["key"]
    return {
        "recon/correlation.json": {
            "desc": "correlation by numbers: numbers normalised to E.164 digits (null: refused, "
            "the record is not rated) and correlation keys with their bucket at depth 8 "
            "(spec: Correlation keys)",
            "salt": BUCKET_SALT.hex(),
            "depth": 8,
            "numbers": cases,
            "keys": keys,
        }
    }  # fmt: skip


def _recon_vectors(world: World) -> dict[str, Any]:
    return (
        _request_vectors(world)
        | _answer_vectors()
        | _witness_vectors(world)
        | _correlation_vectors()
    )


# --- all -----------------------------------------------------------------------------------


def build() -> dict[str, bytes]:
    """Every vector file: path relative to ``tests/vectors`` → its exact bytes."""
    world = _world()
    files: dict[str, Any] = {}
    files |= _keys_vector()
    files |= _canonical_vectors()
    files |= _leaf_vectors()
    files |= _bucket_vectors()
    files |= _merkle_vectors()
    files |= _agreement_vector(world)
    files |= _entry_vectors(world)
    files |= _batch_vectors(world)
    files |= _proof_vectors(world)
    files |= _trust_vectors(world)
    mutations = (
        _mutations(world)
        | _countersignature_mutations(world)
        | _rotation_mutations()
        | _settlement_mutations(world)
    )
    for name, mutation in mutations.items():
        files[f"chain/{name}.json"] = _chain_vector(world, mutation)
    files |= _bundle_vectors(world)
    files |= _recon_vectors(world)
    files |= settlement_vectors(
        agreement_id=world.book.id,
        dispute_days=world.book.latest.tolerances.dispute_days,
        keys=KEYS,
        hgc=world.entries,
        dcc=_partner_chain(world),
        batches=world.batches,
        salt=world.salt,
    )
    files |= statement_vectors()
    return {path: _dump(value) for path, value in sorted(files.items())}


def written() -> dict[str, bytes]:
    """The vector files on disk (every ``*.json`` below ``tests/vectors``)."""
    return {path.relative_to(HERE).as_posix(): path.read_bytes() for path in HERE.rglob("*.json")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        on_disk = written()
        stale = sorted(p for p in files.keys() | on_disk.keys() if files.get(p) != on_disk.get(p))
        for path in stale:
            print(f"differs: tests/vectors/{path}")
        return 1 if stale else 0
    for path in sorted(set(written()) - set(files)):
        (HERE / path).unlink()
        print(f"removed tests/vectors/{path}")
    for path, data in files.items():
        target = HERE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
            print(f"wrote tests/vectors/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
