"""Benchmark of the rating worker's per-record code: CDRs per second on one core.

Baseline, in the same run on the same records: merely decoding the Avro messages (what any
consumer of ``usage.cdr`` must pay, with the codec as it is). Targets: the per-record pipeline
(decode + validate + rate + encode, what :meth:`UsagePipeline.handle` does for each message)
>= 60,000 records/s per core (issue 12); the rating core >= 100,000 CDRs/s (issue 3).

The rows below the pipeline show where its time goes: fastavro's generic reader (how the codec
decoded before issue 12), validation of a decoded record, the two ways to encode a rated record
(the record's own writer, and the validating ``encode`` of ``to_avro()``), and the pipeline
again with the pure-Python flat codec where the C build (``streams.contract._flatavro``) is in
use. Every timed case keeps its results in a list, so the collector's passes over them count.

    python -m bench.rating [--records 50000] [--repeat 5]
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import fastavro

from bench.common import arguments, best_of, report
from connectors.mediation.generic_csv import GenericCsv
from connectors.mediation.synth import synth_order, synth_pair
from streams.agreement.loader import load_book
from streams.contract import flat
from streams.core import resources
from streams.core.clock import ManualClock
from streams.core.errors import BilatError
from streams.rating.inventory import Inventory, OrderEvent
from streams.rating.pipeline import Origin, UsagePipeline
from streams.rating.rater import Rater
from streams.rating.validation import parse_usage
from streams.runtime.registry import make_codec

TARGET = 100_000
"""Rating core, CDRs/s per core (issue 3)."""
PIPELINE_TARGET = 60_000
"""Decode + validate + rate + encode, records/s per core (issue 12)."""


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

    def pipeline_run() -> list[object]:
        return [pipeline.encode(pipeline.process(m, origin)) for m in good]

    rows = [
        decode := best_of("baseline: Avro decode (single-object)", len(good),
                          lambda: [codec.decode("usage_record", m) for m in good], args.repeat),
        rate := best_of("rating core: Rater.rate", len(usages),
                        lambda: [rater.rate(u, now) for u in usages], args.repeat),
        best_of("validate + rate", len(usages),
                lambda: [rater.rate(parse_usage(u.to_avro(), now=now), now) for u in usages],
                args.repeat),
        whole := best_of("pipeline: decode + validate + rate + encode", len(good), pipeline_run,
                         args.repeat),
    ]  # fmt: skip
    # Where the time goes (inputs built only now, so the cases above run on the same heap).
    decoded = [codec.decode("usage_record", m) for m in good]
    rated = [rater.rate(u, now) for u in usages]
    usage_schema = codec.store.latest("usage_record").parsed  # type: ignore[attr-defined]
    header = len(good[0]) - len(fastavro_body(usage_schema, decoded[0]))
    rows += [
        best_of("decode: fastavro's generic reader", len(good),
                lambda: [fastavro.schemaless_reader(io.BytesIO(m[header:]), usage_schema, None)
                         for m in good], args.repeat),
        best_of("validate: parse_usage of a decoded record", len(decoded),
                lambda: [parse_usage(d, now=now) for d in decoded], args.repeat),
        best_of("encode: Codec.encode_rated", len(rated),
                lambda: [codec.encode_rated(r) for r in rated], args.repeat),
        best_of("encode: Codec.encode of to_avro()", len(rated),
                lambda: [codec.encode("rated_usage", r.to_avro()) for r in rated], args.repeat),
    ]  # fmt: skip
    if flat.NATIVE:  # the same pipeline where the C module could not be built
        native, flat._native = flat._native, None  # type: ignore[attr-defined,assignment]
        try:
            rows.append(best_of("pipeline, pure-Python flat codec", len(good), pipeline_run,
                                args.repeat))  # fmt: skip
        finally:
            flat._native = native  # type: ignore[attr-defined]
    build = "C build" if flat.NATIVE else "Python build (no C compiler found)"
    report(
        f"rating worker per record, {len(usages):,} CDRs ({banded:,} priced by time band), "
        f"{build}, best of {args.repeat}",
        rows,
        decode,
        {
            "target_cdrs_per_s": TARGET,
            "met": rate.rate >= TARGET,
            "pipeline_target_per_s": PIPELINE_TARGET,
            "pipeline_met": whole.rate >= PIPELINE_TARGET,
            "native": flat.NATIVE,
            "messages": len(messages),
        },
        "rating.json",
    )
    verdict = "met" if whole.rate >= PIPELINE_TARGET else "NOT met"
    print(f"target: pipeline >= {PIPELINE_TARGET:,} records/s per core: {verdict}")
    verdict = "met" if rate.rate >= TARGET else "NOT met"
    print(f"target: rating core >= {TARGET:,} CDRs/s per core: {verdict}")


def fastavro_body(schema: dict[str, object], record: dict[str, object]) -> bytes:
    """The Avro body alone of ``record``: what follows a message's header."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


if __name__ == "__main__":
    main()
