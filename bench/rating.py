"""Benchmark of the pure rating core: CDRs rated per second on one core.

Baseline, in the same run on the same records: merely decoding the Avro messages (what any
consumer of ``usage.cdr`` must pay). Target (issue 3): rating >= 100,000 CDRs/s per core.

    python -m bench.rating [--records 50000] [--repeat 5]
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from bench.common import arguments, best_of, report
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.synth import synth_order, synth_pair
from streams.agreement.loader import load_book
from streams.core import resources
from streams.core.clock import ManualClock
from streams.core.errors import BilatError
from streams.rating.inventory import Inventory, OrderEvent
from streams.rating.pipeline import Origin, UsagePipeline
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage
from streams.runtime.registry import make_codec

TARGET = 100_000


def main() -> None:
    parser = arguments(__doc__, repeat=5)
    parser.add_argument(
        "--records", type=int, default=50_000, help="CDRs per case (default 50,000)"
    )
    args = parser.parse_args()

    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    seller, _ = synth_pair(args.records, now)
    fields = [
        line.fields for line in GenericCsv().lines(io.StringIO(seller.text), "bench") if line.fields
    ]
    codec = make_codec()
    messages = [codec.encode("usage_record", f) for f in fields]
    inventory = Inventory([OrderEvent.from_avro(synth_order(now))])
    rater = Rater(load_book(resources.example_agreement()), inventory)
    usages = []
    for f in fields:
        try:
            usage = parse_usage(f, now=now)
            rater.rate(usage, now)
            usages.append(usage)
        except BilatError:
            continue
    good = [codec.encode("usage_record", u.to_avro()) for u in usages]
    pipeline = UsagePipeline(codec, rater, ManualClock(now))
    origin = Origin("usage.cdr", 0, 0)
    banded = sum(1 for u in usages if "@" in rater.rate(u, now).rate_id)

    rows = [
        decode := best_of("baseline: Avro decode (single-object)", len(good),
                          lambda: [codec.decode("usage_record", m) for m in good], args.repeat),
        rate := best_of("rating core: Rater.rate", len(usages),
                        lambda: [rater.rate(u, now) for u in usages], args.repeat),
        best_of("validate + rate", len(usages),
                lambda: [rater.rate(parse_usage(u.to_avro(), now=now), now) for u in usages],
                args.repeat),
        best_of("pipeline: decode + validate + rate + encode", len(good),
                lambda: [pipeline.encode(pipeline.process(m, origin)) for m in good], args.repeat),
    ]  # fmt: skip
    report(
        f"rating core, {len(usages):,} CDRs ({banded:,} priced by time band), "
        f"best of {args.repeat}",
        rows,
        decode,
        {"target_cdrs_per_s": TARGET, "met": rate.rate >= TARGET, "messages": len(messages)},
        "rating.json",
    )
    verdict = "met" if rate.rate >= TARGET else "NOT met"
    print(f"target: rating >= {TARGET:,} CDRs/s per core: {verdict}")


if __name__ == "__main__":
    main()
