"""Benchmark of the Merkle batch: leaves per second on one core.

Baseline, in the same run on the same leaf data: merely hashing every leaf,
``[leaf_hash(d) for d in leaf_datas]`` (what any Merkle commitment must pay). The leaf data are
deterministic canonical JSON records of about 120 bytes. Measured on the same data:

* ``root_from_hashes`` of the leaf hashes alone (the n - 1 node hashes of one RFC 9162 tree);
* the full batch: the leaf hashes, then ``BatchTree.build`` (bucketing by keyed BLAKE2b,
  sorting each bucket, the bucket trees and the top tree: the root and the digest's bucket
  hashes);
* ``BatchTree.build`` alone, from leaf hashes already computed;
* record proofs: ``BatchTree.proof`` then ``verify_record``, for a sample of keys.

Target: the full batch within 2.5x the baseline's time.

    python -m bench.merkle [--leaves 1000000] [--repeat 3] [--depth 10]
"""

from __future__ import annotations

import argparse
import random

from bench.common import best_of, report
from streams.batchtree import BatchTree, verify_record
from streams.merkle import leaf_hash, root_from_hashes

TARGET = 2.5
SALT = b"bench-agreement-salt"
PROOFS = 2_000


def leaf_datas(count: int) -> tuple[list[str], list[bytes]]:
    """Usage keys and canonical-JSON-like leaf data, the same for every run."""
    rnd = random.Random(20261125)
    keys = [f"ix-{i:07d}" for i in range(count)]
    datas = []
    for key in keys:
        amount = f"{rnd.randrange(50)}.{rnd.randrange(10**6):06d}"
        start = f"2026-11-25T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00Z"
        datas.append(
            f'{{"agr":"hgc-dcc-2026","amount":"{amount}","cur":"EUR",'
            f'"qty":"{rnd.randrange(1, 7200)}","start":"{start}","key":"{key}","v":1}}'.encode()
        )
    return keys, datas


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--leaves", type=int, default=1_000_000, help="leaves per batch (default 1,000,000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per case, best kept (default 3)"
    )
    parser.add_argument("--depth", type=int, default=10, help="bucket depth (default 10)")
    args = parser.parse_args()

    keys, datas = leaf_datas(args.leaves)
    hashes = [leaf_hash(d) for d in datas]
    tree = BatchTree.build(zip(keys, hashes, strict=True), args.depth, SALT)
    sample = random.Random(1).sample(keys, min(PROOFS, len(keys)))

    def full_batch() -> BatchTree:
        leaf_hashes = [leaf_hash(d) for d in datas]
        return BatchTree.build(zip(keys, leaf_hashes, strict=True), args.depth, SALT)

    def prove_and_verify() -> None:
        for key in sample:
            verify_record(tree.proof(key), tree.root, args.depth, SALT)

    rows = [
        baseline := best_of("baseline: leaf_hash of every leaf", len(datas),
                            lambda: [leaf_hash(d) for d in datas], args.repeat),
        best_of("root_from_hashes (leaf hashes given)", len(hashes),
                lambda: root_from_hashes(hashes), args.repeat),
        full := best_of(f"full batch: leaf hashes + build (depth {args.depth})", len(datas),
                        full_batch, args.repeat),
        best_of(f"BatchTree.build alone (depth {args.depth})", len(hashes),
                lambda: BatchTree.build(zip(keys, hashes, strict=True), args.depth, SALT),
                args.repeat),
        best_of("proof + verify_record", len(sample), prove_and_verify, args.repeat),
    ]  # fmt: skip
    ratio = full.seconds / baseline.seconds
    mean_bytes = sum(map(len, datas)) / len(datas)
    report(
        f"Merkle batch, {len(datas):,} leaves of {mean_bytes:.0f} bytes on average, "
        f"{1 << args.depth:,} buckets, best of {args.repeat}",
        rows,
        baseline,
        {
            "target_max_ratio": TARGET,
            "full_batch_ratio": ratio,
            "met": ratio <= TARGET,
            "depth": args.depth,
            "mean_leaf_bytes": mean_bytes,
        },
        "merkle.json",
    )
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"target: full batch within {TARGET}x the baseline's time: {ratio:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
