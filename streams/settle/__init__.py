"""Settlement of a billing period: what a period's statement adds to per-record rating.

Pure: imports no Kafka, Faust, Redis or HTTP client.

* :mod:`~streams.settle.charges`: recurring and non-recurring charges of the product inventory
  for one billing period.
* :mod:`~streams.settle.tiers`: volume tiers over a period, as one adjustment to per-record
  amounts.
"""
