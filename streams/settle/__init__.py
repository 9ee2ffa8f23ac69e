"""Settlement of a billing period: from agreed anchors and the product inventory to the bill
both parties sign, its disputes and its MEF 141 form.

Pure: imports no Kafka, Faust, Redis or HTTP client.

* :mod:`~streams.settle.charges`: recurring and non-recurring charges of the product inventory
  for one billing period.
* :mod:`~streams.settle.tiers`: volume tiers over a period, as one adjustment to per-record
  amounts.
* :mod:`~streams.settle.statement`: the statement (one per agreement, period and currency),
  its canonical form and hash.
* :mod:`~streams.settle.period_close`: the statements of a period from the agreed windows.
* :mod:`~streams.settle.mef141`: a statement as MEF 141 ``CustomerBill`` and
  ``CustomerBillItem`` JSON; :mod:`~streams.settle.mef_schema` checks JSON against the spec.
* :mod:`~streams.settle.disputes`, :mod:`~streams.settle.evidence`,
  :mod:`~streams.settle.query`: a bill's state from both ledgers, dispute evidence, the
  billing API's queries.
"""
