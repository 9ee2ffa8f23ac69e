"""Reconciliation between the two parties: where it will land (issue 11); no modules yet.

It will compare the partners' batch digests window by window (differing buckets first, see
:func:`streams.merkle.buckets.differing_buckets`), then the leaves of the buckets that differ,
and report every divergence as data. Pure like the rest of the core: it will import no Kafka,
Faust, Redis or HTTP client.
"""
