"""Merkle trees: RFC 9162 trees and proofs, and the bucketed batch one anchor commits to.

Pure: imports no Kafka, Faust, Redis or HTTP client; hashlib (and an optional C build of the
batch) only.

* :mod:`~streams.merkle.rfc9162`: RFC 9162 roots, inclusion and consistency proofs, and their
  verification.
* :mod:`~streams.merkle.batchtree`: building the bucketed batch of one window and its record
  proofs (in C where compiled, ``_batchhash.c``); re-exports the two below.
* :mod:`~streams.merkle.buckets`: a usage key's bucket, bucket and batch roots, differing
  buckets.
* :mod:`~streams.merkle.recordproof`: a record's proof through its bucket and the top tree, and
  its offline check.
"""
