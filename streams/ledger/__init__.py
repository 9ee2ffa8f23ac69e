"""Each party's ledger: a hash-chained, signed chain of entries anchoring Merkle batches.

Pure: imports no Kafka, Faust, Redis or HTTP client; :mod:`streams.runtime.batcher` publishes
what it builds.

* :mod:`~streams.ledger.entries`: what one ledger entry is, its signed bytes and hashes.
* :mod:`~streams.ledger.payloads`: kind-specific payloads: anchors, key rotations and their
  proof of possession.
* :mod:`~streams.ledger.genesis`: the genesis payload, both parties' agreement signatures that
  open each chain.
* :mod:`~streams.ledger.chain`: one's own chain: the tip that builds the next entry, replayed
  anchors recognised.
* :mod:`~streams.ledger.batching`: event-time windows of rated usage closed into Merkle batches.
* :mod:`~streams.ledger.anchoring`: a closed batch into its anchor entry, digest and leaf store.
* :mod:`~streams.ledger.check`: checking a stored chain; every problem as a finding.
* :mod:`~streams.ledger.key_check`: a chain's keys: those its genesis publishes, trust and
  signatures held against the trusted keys, key rotations.
* :mod:`~streams.ledger.findings`: one problem of a chain, as data.
* :mod:`~streams.ledger.batch_check`: checking stored digests and leaf batches against their
  anchors.
* :mod:`~streams.ledger.audit`: audit bundles (a record, its proof, the anchor, the chain),
  checkable offline.
* :mod:`~streams.ledger.bundle_format`: an audit bundle's layout: versions, entries as JSON,
  layout problems.
"""
