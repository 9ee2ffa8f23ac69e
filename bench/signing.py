"""Benchmark of signing: Ed25519 signs and verifies per second of anchor-sized ledger entries.

Baseline, in the same run on the same bytes: SHA-256 over each entry's signed bytes (~300 B),
the cheapest thing any integrity check does. Also measured: building a whole entry
(canonical payload, hashes, signature), checking a chain with :func:`check_ledger`, and the
Merkle leaf hash of a rated record (the only per-record cost of signing; signatures are per
batch, off the hot path).

    python -m bench.signing [--entries 2000] [--records 50000] [--repeat 5]
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend

from bench.common import arguments, best_of, report
from streams.agreement.loader import load_book
from streams.agreement.signing import sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core import resources
from streams.core.canonical import leaf_hash
from streams.core.keys import demo_keypair
from streams.ledger.chain import ChainTip
from streams.ledger.check import check_ledger
from streams.ledger.entries import make_entry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import anchor_payload

HOUR_MS = 3_600_000


def anchor(window: int, agreement_id: str) -> dict[str, object]:
    start = 1_772_409_600_000 + window * HOUR_MS
    return anchor_payload(
        agreement_id=agreement_id,
        window_start_ms=start,
        window_end_ms=start + HOUR_MS,
        revision=0,
        leaf_count=48_211,
        totals={"EUR": Decimal("1234.5678"), "USD": Decimal("17.01")},
        root=hashlib.sha256(b"root %d" % window).digest(),
        digest_depth=10,
        digest_hash=hashlib.sha256(b"digest %d" % window).digest(),
        agreement_versions=["1"],
        supersedes=None,
    )


def record(index: int, now: datetime) -> RatedUsage:
    return RatedUsage(
        source="hgc-msc-01",
        record_id=f"cdr-{index:09d}",
        agreement_id="hgc-dcc-2026",
        agreement_version="1",
        rate_id="voice-de-mobile@peak",
        product="voice",
        start=now + timedelta(milliseconds=index * 37),
        quantity=Decimal(60 + index % 900),
        unit="second",
        billed_quantity=Decimal(60 + index % 900),
        billed_unit="second",
        amount=Decimal(index % 5000).scaleb(-4),
        currency="EUR",
        direction="outbound",
        window_start=now,
        window_end=now + timedelta(hours=1),
        rated_at=now,
    )


def main() -> None:
    parser = arguments(__doc__, repeat=5)
    parser.add_argument("--entries", type=int, default=2_000, help="anchors per case (2,000)")
    parser.add_argument("--records", type=int, default=50_000, help="leaves hashed (50,000)")
    args = parser.parse_args()

    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    book = load_book(resources.example_agreement())
    hgc, dcc = demo_keypair("hgc"), demo_keypair("dcc")  # the keys the example lists
    trusted = TrustedKeys.of_book(book)
    genesis = genesis_payload(
        book, [sign_agreement(book, hgc, "hgc"), sign_agreement(book, dcc, "dcc")]
    )
    tip = ChainTip("hgc", book.id)
    chain = [tip.append("genesis", genesis, hgc, now)]
    payloads = [anchor(w, book.id) for w in range(args.entries)]
    chain += [
        tip.append("anchor", p, hgc, now + timedelta(hours=i)) for i, p in enumerate(payloads)
    ]
    anchors = chain[1:]
    messages = [e.signed_bytes() for e in anchors]
    signatures = [e.signature for e in anchors]
    public = hgc.public
    size = sum(map(len, messages)) / len(messages)
    records = [record(i, now) for i in range(args.records)]
    n = len(messages)

    def build() -> object:
        return [
            make_entry(chain[0], party="hgc", agreement_id=book.id, kind="anchor",
                       payload=p, signer=hgc, time=now)
            for p in payloads
        ]  # fmt: skip

    rows = [
        sha := best_of("baseline: SHA-256 of the signed bytes", n,
                       lambda: [hashlib.sha256(m).digest() for m in messages], args.repeat),
        sign := best_of("Ed25519 sign", n, lambda: [hgc.sign(m) for m in messages], args.repeat),
        verify := best_of("Ed25519 verify", n,
                          lambda: [public.verify(m, s) for m, s in zip(messages, signatures,
                                                                        strict=True)],
                          args.repeat),
        best_of("make_entry: canonical + hashes + sign", n, build, args.repeat),
        best_of("check_ledger, per entry of a clean chain", len(chain),
                lambda: check_ledger(chain, trusted=trusted), args.repeat),
        best_of("leaf_hash of a rated record", len(records),
                lambda: [leaf_hash(r) for r in records], args.repeat),
    ]  # fmt: skip
    report(
        f"Ed25519 over {n:,} anchor entries ({size:.0f} B signed bytes each), one core, "
        f"best of {args.repeat}",
        rows,
        sha,
        {
            "signed_bytes_avg": size,
            "cryptography": cryptography.__version__,
            "openssl": backend.openssl_version_text(),
            "sign_us": 1e6 / sign.rate,
            "verify_us": 1e6 / verify.rate,
        },
        "signing.json",
    )
    print(
        f"per entry: sign {1e6 / sign.rate:.1f} µs, verify {1e6 / verify.rate:.1f} µs, "
        f"SHA-256 {1e6 / sha.rate:.2f} µs (signing is per batch root, never per record)"
    )


if __name__ == "__main__":
    main()
