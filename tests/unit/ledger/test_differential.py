"""Bilat's checks and the independent verifier (tests/independent/, written from
docs/spec/ledger.md alone) give the same answers beyond the vectors: on seeded random mutations
of the trusted-keys, chain and bundle vectors, re-signed where a mutation would otherwise only
break a signature. A disagreement is a bug in Bilat, in the verifier or in the spec
(tests/independent/README.md lists those found so far)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from streams.agreement.trust import TrustedKeys, TrustError
from streams.core.canonical import canonical_json
from streams.core.clock import from_ms
from streams.core.keys import KeyPair
from streams.ledger.audit import entry_from_json, entry_to_json, verify_bundle
from streams.ledger.check import check_ledger
from streams.ledger.entries import LedgerEntry
from tests.independent import verifier as v
from tests.vectors import generate

VECTORS = generate.HERE
KEYS = {key.key_id: key for key in generate.KEYS.values()}
VALUES: list[Any] = [None, True, False, 0, 1, -1, 17, 1.5, "", "x", "00" * 32, "AB" * 32]
VALUES += [[], {}, ["1"], {"EUR": "1"}, "0.01", "-0", 2**60, "2026-01-01T00:00:00Z"]


def load_all(folder: str) -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted((VECTORS / folder).glob("*.json"))]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutate(document: Any, rng: random.Random) -> Any:
    """``document`` with one member deleted or added, or one value changed."""
    document = copy.deepcopy(document)
    where = rng.choice([p for p in paths(document) if p] or [()])
    if not where:
        return document
    parent = document
    for step in where[:-1]:
        parent = parent[step]
    last, roll = where[-1], rng.random()
    if roll < 0.15 and isinstance(parent, dict):
        del parent[last]
    elif roll < 0.2 and isinstance(parent, dict):
        parent["extra"] = 1
    elif roll < 0.5 and isinstance(parent[last], str) and parent[last]:
        text, at = parent[last], rng.randrange(len(parent[last]))
        parent[last] = text[:at] + rng.choice("0123456789abcdefA.-Z") + text[at + 1 :]
    elif roll < 0.6 and type(parent[last]) is int:
        parent[last] += rng.choice([-1, 1, 1000, 86_400_000])
    else:
        parent[last] = copy.deepcopy(rng.choice(VALUES))
    return document


def distinct(pairs: set[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    return sorted(pairs, key=lambda p: (p[1] is not None, p[1] or 0, p[0]))


@pytest.mark.parametrize("seed", range(4))
def test_trusted_keys_files(seed: int) -> None:
    rng = random.Random(seed)
    cases = json.loads((VECTORS / "trust" / "files.json").read_text())["cases"]
    for _ in range(150):
        document = mutate(rng.choice(cases)["document"], rng)
        try:
            TrustedKeys.from_json(copy.deepcopy(document))
            bilat = True
        except TrustError:
            bilat = False
        try:
            v.trusted_keys(copy.deepcopy(document))
            independent = True
        except ValueError:
            independent = False
        assert bilat == independent, json.dumps(document)


@pytest.mark.parametrize("seed", range(4))
def test_bundles(seed: int) -> None:
    rng = random.Random(seed)
    vectors = load_all("bundle")
    for _ in range(60):
        vector = rng.choice(vectors)
        bundle = mutate(vector["bundle"], rng)
        if rng.random() < 0.3:
            bundle = mutate(bundle, rng)
        trusted = vector["trusted_keys"]
        checks = verify_bundle(copy.deepcopy(bundle), TrustedKeys.from_json(trusted))
        bilat = [c.name for c in checks if not c.ok]
        results = v.verify_bundle(copy.deepcopy(bundle), v.trusted_keys(trusted))
        independent = [name for name, ok in results if not ok]
        assert bilat == independent, json.dumps(bundle)


def resign(entry: LedgerEntry, key: KeyPair | None = None) -> LedgerEntry:
    signer = key or KEYS.get(entry.key_id) or generate.KEYS["hgc"]
    unsigned = dataclasses.replace(entry, key_id=signer.key_id)
    return dataclasses.replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))


def mutate_chain(entries: list[LedgerEntry], rng: random.Random) -> list[LedgerEntry]:
    """One entry changed and signed again (payload, signer, time or kind), or one appended;
    the entries after it linked again, mostly."""
    entries = list(entries)
    index = rng.randrange(len(entries))
    entry, roll = entries[index], rng.random()
    if roll < 0.5:
        try:
            body = canonical_json(mutate(json.loads(entry.payload), rng))
        except (TypeError, ValueError):
            return entries
        entry = resign(
            dataclasses.replace(entry, payload=body, payload_hash=hashlib.sha256(body).digest())
        )
    elif roll < 0.65:
        entry = resign(entry, rng.choice(list(generate.KEYS.values())))
    elif roll < 0.75:
        shift = rng.choice([-1, 1]) * rng.choice([1, 86_400_000, 40 * 86_400_000])
        entry = resign(dataclasses.replace(entry, time=from_ms(entry.time_ms + shift)))
    elif roll < 0.85:
        kind = rng.choice(["anchor", "key-rotation", "genesis", "statement"])
        entry = resign(dataclasses.replace(entry, kind=kind))
    else:
        last = entries[-1]
        return [*entries, resign(dataclasses.replace(
            entry, sequence=last.sequence + 1, prev_hash=last.entry_hash()))]  # fmt: skip
    entries[index] = entry
    if rng.random() < 0.7:
        for later in range(index + 1, len(entries)):
            previous = entries[later - 1].entry_hash()
            entries[later] = resign(dataclasses.replace(entries[later], prev_hash=previous))
    return entries


@pytest.mark.parametrize("seed", range(4))
def test_chains(seed: int) -> None:
    rng = random.Random(seed)
    vectors = load_all("chain")
    for _ in range(40):
        vector = rng.choice(vectors)
        entries = [entry_from_json(e) for e in vector["entries"]]
        for _ in range(rng.choice([1, 1, 2])):
            entries = mutate_chain(entries, rng)
        rng.shuffle(entries)  # any order
        trusted = vector["trusted_keys"]
        found = check_ledger(entries, "hgc", trusted=TrustedKeys.from_json(trusted))
        bilat = distinct({(f.kind, f.sequence) for f in found})
        forms = [v.Entry.from_json(entry_to_json(e)) for e in entries]
        found_independently = v.check_chain(forms, "hgc", v.trusted_keys(trusted))
        independent = distinct({(f.kind, f.sequence) for f in found_independently})
        assert bilat == independent, [entry_to_json(e) for e in entries]
