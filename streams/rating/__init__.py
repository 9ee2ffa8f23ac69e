"""Rating: usage validated at the boundary, priced under the agreement, deduplicated.

Pure: imports no Kafka, Faust, Redis or HTTP client; :mod:`streams.runtime.worker` feeds it
messages and writes what it returns, and the claim store of deduplication is a protocol
(Redis in production, a dict in tests).

* :mod:`~streams.rating.validation`: raw usage fields into a
  :class:`~streams.contract.records.UsageRecord`, or every problem.
* :mod:`~streams.rating.rater`: a valid usage record priced under the agreement version in force.
* :mod:`~streams.rating.pipeline`: one usage message in, one outcome out (decode, validate,
  rate), every failure as a dead letter.
* :mod:`~streams.rating.dedup`: who claimed a usage key first, and what a repeat is.
* :mod:`~streams.rating.inventory`: the product inventory, folded from Sonata order item events.
* :mod:`~streams.rating.rerate`: re-rating a window as a new, complete run under a chosen version.
"""
