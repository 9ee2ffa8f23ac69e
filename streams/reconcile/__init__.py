"""Reconciliation between the two parties (DESIGN §6). Pure: no Kafka, Faust, Redis or HTTP.

engine (per window: agree and countersign, drill down, classify, wait; the partner's chain
checked), status (anchors, window states, outcomes), records (the record pass of a diverged
window), classify (pairing and classes), exchange (digests, requests, answers checked against
the signed digest), correlation (records without a shared key), witness (countersignatures
and what they witnessed), proofs (both sides' record proofs in alerts), alerts (ReconAlert),
mirroring (what MirrorMaker 2 copies, and its settings). The shell is
:mod:`streams.runtime.reconciler`.
"""
