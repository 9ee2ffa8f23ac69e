"""Benchmark of the Merkle batch: leaves per second on one core.

The leaves are real leaf data: the canonical leaf encoding v1 (``streams.core.canonical.leaf_data``)
of a million synthetic rated calls, about 200 bytes each (checked against ``canonical_json``
on a sample). Two builds are measured, each against its own baseline in the same run:

* **C build** (``streams/merkle/_batchhash.c``, what Bilat uses where it is compiled). Baseline: the
  bare cost of hashing every leaf, ``leaf_hashes(datas)`` (one C call, SHA-256 from OpenSSL,
  the same primitive the batch uses). Full batch: those leaf hashes, then
  ``BatchTree.from_columns`` (keyed BLAKE2b bucketing, per-bucket sort, every bucket's RFC 9162
  tree, the top tree: the root and the digest's bucket hashes).
* **Python build** (the fallback, the same trees byte for byte). Baseline:
  ``[leaf_hash(d) for d in datas]`` with hashlib; full batch as above with ``native=False``.

Also: the bare RFC 9162 root of the leaf hashes (no bucketing), and record proofs
(``BatchTree.proof`` then ``verify_record``) for a sample of keys.

Target (issue 4): the full batch within 2.5x its baseline's time, judged on the C build where it
is compiled (on the Python build otherwise).

    python -m bench.merkle [--leaves 1000000] [--repeat 3] [--depth 10]
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bench.common import Row, arguments, best_of, report
from streams.core.canonical import LEAF_DOMAIN, canonical_json, tagged
from streams.merkle.batchtree import NATIVE, BatchTree, verify_record
from streams.merkle.rfc9162 import leaf_hash, leaf_hashes, root_from_hashes

TARGET = 2.5
SALT = b"bench-agreement-salt"
PROOFS = 2_000
_PREFIX = tagged(LEAF_DOMAIN, b"")


def leaf_datas(count: int) -> tuple[list[str], list[bytes]]:
    """Usage keys and their canonical leaf data, the same for every run.

    Formatted directly (canonical_json of a million dicts would take most of a minute); the
    first thousand are checked against ``canonical_json`` so the bytes are the real encoding.
    """
    rnd = random.Random(20261125)
    keys: list[str] = []
    datas: list[bytes] = []
    for i in range(count):
        key = f"asterisk/{1764028800 + i // 10}.{i:07d}"
        fields = {
            "agreement_id": "hgc-dcc-2026",
            "agreement_version": rnd.choice(("v1", "v2")),
            "amount": f"{rnd.randrange(40)}.{rnd.randrange(10**4):04d}",
            "currency": rnd.choice(("EUR", "EUR", "EUR", "USD")),
            "key": key,
            "quantity": str(rnd.randrange(1, 7200)),
            "start_ms": 1764028800000 + 100 * i,
            "unit": "second",
        }
        data = _PREFIX + (
            '{{"agreement_id":"{agreement_id}","agreement_version":"{agreement_version}",'
            '"amount":"{amount}","currency":"{currency}","key":"{key}","quantity":"{quantity}",'
            '"start_ms":{start_ms},"unit":"{unit}"}}'.format(**fields).encode()
        )
        if i < 1_000 and data != tagged(LEAF_DOMAIN, canonical_json(fields)):
            raise AssertionError(f"leaf {i} is not the canonical encoding: {data!r}")
        keys.append(key)
        datas.append(data)
    return keys, datas


def python_leaf_hashes(datas: list[bytes]) -> list[bytes]:
    return [leaf_hash(d) for d in datas]


def main() -> None:
    parser = arguments(__doc__, repeat=3)
    parser.add_argument(
        "--leaves", type=int, default=1_000_000, help="leaves per batch (default 1,000,000)"
    )
    parser.add_argument("--depth", type=int, default=10, help="bucket depth (default 10)")
    args = parser.parse_args()
    depth, repeat = args.depth, args.repeat

    print(f"preparing {args.leaves:,} canonical leaves...", flush=True)
    keys, datas = leaf_datas(args.leaves)
    hashes = python_leaf_hashes(datas)
    mean_bytes = sum(map(len, datas)) / len(datas)
    tree = BatchTree.from_columns(keys, hashes, depth, SALT)
    sample = random.Random(1).sample(keys, min(PROOFS, len(keys)))

    def prove_and_verify() -> None:
        for key in sample:
            verify_record(tree.proof(key), tree.root, depth, SALT)

    Hashing = Callable[[list[bytes]], list[bytes]]

    def build(native: bool, hashing: Hashing) -> BatchTree:
        return BatchTree.from_columns(keys, hashing(datas), depth, SALT, native=native)

    results: dict[str, float] = {}

    def table(name: str, native: bool, hashing: Hashing, out: str) -> None:
        print(f"measuring the {name} build...", flush=True)
        baseline = best_of("baseline: hash every leaf", len(datas), lambda: hashing(datas), repeat)
        full = best_of(
            f"full batch: leaf hashes + build (depth {depth})",
            len(datas),
            lambda: build(native, hashing),
            repeat,
        )
        alone = best_of(
            "build alone (leaf hashes given)",
            len(datas),
            lambda: BatchTree.from_columns(keys, hashes, depth, SALT, native=native),
            repeat,
        )
        rows: list[Row] = [baseline, full, alone]
        if not native:
            plain = lambda: root_from_hashes(hashes)  # noqa: E731
            rows.append(best_of("plain RFC 9162 root, no buckets", len(hashes), plain, repeat))
        if native == NATIVE:  # proofs from the tree Bilat builds here
            rows.append(best_of("proof + verify_record", len(sample), prove_and_verify, repeat))
        ratio = full.seconds / baseline.seconds
        results[name] = ratio
        report(
            f"Merkle batch, {name} build: {len(datas):,} leaves of {mean_bytes:.0f} bytes on "
            f"average, {1 << depth:,} buckets, best of {repeat}",
            rows,
            baseline,
            {
                "build": name,
                "target_max_ratio": TARGET,
                "full_batch_ratio": ratio,
                "met": ratio <= TARGET,
                "depth": depth,
                "mean_leaf_bytes": mean_bytes,
            },
            out,
        )
        print(f"{name} build: full batch / baseline = {ratio:.2f}x")

    if NATIVE:
        table("C", True, leaf_hashes, "merkle.json")
    else:
        print("streams.merkle._batchhash is not compiled here: only the Python build is measured")
    table("Python", False, python_leaf_hashes, "merkle-python.json")
    judged = "C" if NATIVE else "Python"
    ratio = results[judged]
    verdict = "met" if ratio <= TARGET else "NOT met"
    goal = f"full batch within {TARGET}x its baseline ({judged} build)"
    print(f"target: {goal}: {ratio:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
