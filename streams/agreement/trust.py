"""Trusted keys: which Ed25519 keys may sign for which party, and when. Pure.

Every signature check (both agreement signatures in a genesis entry, every ledger entry, the
chain in an audit bundle) is made against a :class:`TrustedKeys` value given by the checker,
never against keys a chain publishes about itself: a forger who rewrites a chain from its
genesis on, with fresh keys for both parties, publishes those keys too. Trust comes from:

* **the agreement** both parties signed (:meth:`TrustedKeys.of_book`): every key any version
  lists for a party, with its validity, plus the agreement's id and book hash, which the
  genesis entry of a chain under that agreement must carry;
* **a trusted-keys file** (:meth:`TrustedKeys.load`), for whoever checks without the agreement
  (an auditor); ``bilat keys trusted --agreement FILE`` writes the agreement's.

The trusted-keys file (version 1) is one JSON object (UTF-8, at most
:data:`MAX_TRUSTED_KEYS_BYTES`)::

    {
      "bilat_trusted_keys": 1,
      "agreement_id": "hgc-dcc-2026",        optional: the genesis must name this agreement
      "book_hash": "<64 lowercase hex>",      optional: the genesis must carry this book hash
      "parties": {
        "hgc": [{"public_key": "<64 lowercase hex>",
                 "key_id": "ed25519:<16 hex>",          optional; checked against the key
                 "valid_from": "2026-01-01T00:00:00Z",
                 "valid_until": "2027-01-01T00:00:00Z"}],  optional, null: no end
        "dcc": [...]
      }
    }

Times are ISO-8601 with a ``Z`` or ``±HH:MM`` offset; a key may sign at ``t`` iff
``valid_from <= t < valid_until``. Every party has at least one key; a key belongs to one
party and is listed once, and is never of small order (:func:`streams.core.keys.is_small_order`);
no other field is allowed (a misspelt field would be read by people but never applied), nor
is a member name repeated within an object. :meth:`TrustedKeys.to_json` writes exactly this
shape, times in UTC with ``Z``, ``agreement_id`` and ``book_hash`` always present (``null``
when unknown). ``docs/spec/ledger.md`` (*Trusted keys*) specifies it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.agreement.model import AgreementBook, PartyKey
from streams.agreement.signing import book_hash
from streams.core.errors import BilatError
from streams.core.keys import SMALL_ORDER_PROBLEM, is_small_order, key_id_of

__all__ = ["MAX_TRUSTED_KEYS_BYTES", "TRUSTED_KEYS_VERSION", "TrustError", "TrustedKeys"]

TRUSTED_KEYS_VERSION = 1
MAX_TRUSTED_KEYS_BYTES = 1 << 20
"""Largest trusted-keys file read (1 MiB); a real one is a few hundred bytes."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_TOP = {"bilat_trusted_keys", "agreement_id", "book_hash", "parties"}
_KEY_FIELDS = {"public_key", "key_id", "valid_from", "valid_until"}


class TrustError(BilatError):
    """Trusted keys cannot be had: a trusted-keys file is unreadable or malformed (``problems``
    lists every problem), or a command was given no trust source at all."""

    def __init__(self, message: str, problems: tuple[str, ...] | list[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message + "".join(f"\n  - {p}" for p in self.problems))


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC as ISO-8601 with ``Z``: ``2026-01-01T00:00:00Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The keys that may sign for each party, and when; optionally the agreement they are for."""

    parties: Mapping[str, tuple[PartyKey, ...]]
    """Party id → its keys (each listed once, in ``valid_from`` order)."""
    agreement_id: str | None
    """When known: the agreement a genesis entry must name."""
    book_hash: str | None
    """When known: the book hash (64 lowercase hex) a genesis entry must carry."""
    source: str
    """Where the trust comes from, for messages: ``agreement examples/agreement.yaml``."""

    @classmethod
    def of_book(cls, book: AgreementBook, source: str | None = None) -> TrustedKeys:
        """The keys ``book`` lists for its seller and buyer (every version's), its id and book
        hash."""
        parties = {p: book.party_keys(p) for p in (book.latest.seller.id, book.latest.buyer.id)}
        return cls(parties, book.id, book_hash(book).hex(), source or f"agreement {book.id}")

    def of(self, party: str) -> tuple[PartyKey, ...]:
        """``party``'s keys; ``()`` for a party not trusted at all."""
        return self.parties.get(party, ())

    def owner_of(self, key_id: str) -> tuple[str, PartyKey] | None:
        """The party a key id belongs to, with its listing; None for a key not trusted."""
        for party, keys in self.parties.items():
            for key in keys:
                if key.key_id == key_id:
                    return party, key
        return None

    def listed(self, party: str) -> str:
        """``party``'s trusted keys for a message: ``ed25519:… (valid from …), …``."""
        keys = self.of(party)
        if not keys:
            return f"none (no key of {party} is trusted)"
        return ", ".join(f"{k.key_id} ({k.window()})" for k in keys)

    def key_problem(
        self, party: str, key_id: str, at: datetime | None = None, public_key: str | None = None
    ) -> str | None:
        """None when ``key_id`` is a trusted key of ``party`` (valid at ``at`` when given; with
        exactly the bytes ``public_key``, 64 lowercase hex, when given: a key id is a 64-bit
        name, not the key); else why not, naming the key and the trusted ones."""
        found = self.owner_of(key_id)
        if found is None or (public_key is not None and found[1].public_key != public_key):
            return (
                f"key {key_id} is not trusted for {party} ({self.source}); trusted for "
                f"{party}: {self.listed(party)}"
            )
        owner, key = found
        if owner != party:
            return (
                f"key {key_id} is {owner}'s, not {party}'s; trusted for {party}: "
                f"{self.listed(party)}"
            )
        if at is not None and not key.valid_at(at):
            return f"key {key_id} of {party} is {key.window()}, not at {at.isoformat()}"
        return None

    def to_json(self) -> dict[str, Any]:
        """The trusted-keys document of the module docstring."""
        return {
            "bilat_trusted_keys": TRUSTED_KEYS_VERSION,
            "agreement_id": self.agreement_id,
            "book_hash": self.book_hash,
            "parties": {
                party: [
                    {
                        "public_key": k.public_key,
                        "key_id": k.key_id,
                        "valid_from": utc_text(k.valid_from),
                        "valid_until": None if k.valid_until is None else utc_text(k.valid_until),
                    }
                    for k in keys
                ]
                for party, keys in sorted(self.parties.items())
            },
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "trusted keys") -> TrustedKeys:
        """The trusted keys of a document in the module docstring's format; raises
        :class:`TrustError` listing every problem."""
        if not isinstance(data, dict):
            raise TrustError(f"{source}: got JSON {type(data).__name__}, want an object")
        problems = [f"{k}: got an unknown field, want one of {sorted(_TOP)}" for k in data
                    if k not in _TOP]  # fmt: skip
        version = data.get("bilat_trusted_keys")
        if type(version) is not int or version != TRUSTED_KEYS_VERSION:
            problems.append(
                f"bilat_trusted_keys: got {data.get('bilat_trusted_keys')!r}, "
                f"want {TRUSTED_KEYS_VERSION}"
            )
        agreement_id = data.get("agreement_id")
        if agreement_id is not None and not (isinstance(agreement_id, str) and agreement_id):
            problems.append(f"agreement_id: got {agreement_id!r}, want an id or null")
        book = data.get("book_hash")
        if book is not None and not (isinstance(book, str) and _HEX64.fullmatch(book)):
            problems.append(f"book_hash: got {book!r}, want 64 lowercase hex digits or null")
        parties: dict[str, tuple[PartyKey, ...]] = {}
        raw_parties = data.get("parties")
        if not isinstance(raw_parties, dict) or not raw_parties:
            problems.append(f"parties: got {raw_parties!r}, want an object: party → keys")
            raw_parties = {}
        owners: dict[str, str] = {}
        for party, raw_keys in raw_parties.items():
            keys = _keys(party, raw_keys, problems)
            for key in keys:
                other = owners.setdefault(key.public_key, party)
                if other != party:
                    problems.append(
                        f"parties.{party}: key {key.key_id} is also {other}'s: want one party "
                        "per key"
                    )
            parties[party] = keys
        if problems:
            raise TrustError(f"{source}: not a trusted-keys document", problems)
        return cls(parties, agreement_id, book, source)

    @classmethod
    def load(cls, path: Path) -> TrustedKeys:
        """The trusted keys in JSON file ``path`` (at most :data:`MAX_TRUSTED_KEYS_BYTES`)."""
        path = Path(path)
        source = f"trusted keys {path}"
        try:
            with path.open("rb") as file:
                data = file.read(MAX_TRUSTED_KEYS_BYTES + 1)
        except OSError as exc:
            raise TrustError(f"{source}: cannot read ({exc.strerror})") from None
        if len(data) > MAX_TRUSTED_KEYS_BYTES:
            raise TrustError(
                f"{source}: got more than {MAX_TRUSTED_KEYS_BYTES:,} bytes, want a trusted-keys "
                "file (`bilat keys trusted --agreement FILE` writes one)"
            )
        try:
            document = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_members)
        except (UnicodeDecodeError, ValueError) as exc:
            raise TrustError(
                f"{source}: got unreadable JSON ({exc}), want a trusted-keys file "
                "(`bilat keys trusted --agreement FILE` writes one)"
            ) from None
        return cls.from_json(document, source)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose member names are unique: a file read by people must not hide a
    second ``public_key`` that the parser alone would keep."""
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"member {repeated[0]!r} given twice in one object")
    return dict(pairs)


def _keys(party: Any, raw_keys: Any, problems: list[str]) -> tuple[PartyKey, ...]:
    where = f"parties.{party}"
    if not isinstance(party, str) or not party:
        problems.append(f"parties: got party {party!r}, want a party id")
    if not isinstance(raw_keys, list) or not raw_keys:
        problems.append(f"{where}: got {raw_keys!r}, want a non-empty list of keys")
        return ()
    keys: dict[str, PartyKey] = {}
    for i, raw in enumerate(raw_keys):
        path = f"{where}[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{path}: got {raw!r}, want an object")
            continue
        before = len(problems)
        problems += [f"{path}.{k}: got an unknown field, want one of {sorted(_KEY_FIELDS)}"
                     for k in raw if k not in _KEY_FIELDS]  # fmt: skip
        public = raw.get("public_key")
        if not (isinstance(public, str) and _HEX64.fullmatch(public)):
            problems.append(f"{path}.public_key: got {public!r}, want 64 lowercase hex digits")
            public = None
        elif is_small_order(bytes.fromhex(public)):
            problems.append(f"{path}.public_key: {SMALL_ORDER_PROBLEM}")
            public = None
        elif "key_id" in raw and raw["key_id"] != key_id_of(bytes.fromhex(public)):
            problems.append(
                f"{path}.key_id: got {raw['key_id']!r}, want "
                f"{key_id_of(bytes.fromhex(public))!r} (the key's)"
            )
        valid_from = _moment(raw.get("valid_from"), f"{path}.valid_from", problems)
        until = raw.get("valid_until")
        valid_until = None if until is None else _moment(until, f"{path}.valid_until", problems)
        if valid_from and valid_until and valid_until <= valid_from:
            problems.append(f"{path}.valid_until: got {until!r}, want a time after valid_from")
        if public is not None and public in keys:
            problems.append(f"{path}.public_key: got {public} again, want each key once")
        if len(problems) == before and public is not None and valid_from is not None:
            keys[public] = PartyKey(public, valid_from, valid_until)
    return tuple(sorted(keys.values(), key=lambda k: (k.valid_from, k.public_key)))


def _moment(value: Any, path: str, problems: list[str]) -> datetime | None:
    want = "an ISO-8601 time with offset, e.g. 2026-01-01T00:00:00Z"
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    problems.append(f"{path}: got {value!r}, want {want}")
    return None
