"""Whole-topic reads for the batch commands (``bilat rerate``, ``bilat charges``).

These read a topic from the beginning to its current end, outside any consumer group, and
hand plain values to the pure core.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash
from streams.contract.records import UsageRecord
from streams.core.canonical import leaf_hash
from streams.core.errors import BilatError, InvalidRecord
from streams.ledger.anchoring import join_leaf_parts, leaves_from_record
from streams.rating.inventory import Inventory
from streams.rating.rerate import RatingRun
from streams.rating.validation import parse_usage
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.reader import read_records
from streams.runtime.registry import make_codec

__all__ = ["load_inventory", "publish_run", "record_bundle", "valid_usage"]


def valid_usage(settings: Settings, now: datetime) -> Iterator[UsageRecord]:
    """Every valid usage record on ``usage.cdr``, in offset order per partition.

    Records that fail decoding or validation were dead-lettered by the worker; they are
    skipped here, not reported twice.
    """
    for fields in read_records(settings, "usage.cdr", skip_undecodable=True):
        try:
            yield parse_usage(fields, now=now)
        except InvalidRecord:
            continue


def load_inventory(settings: Settings) -> Inventory:
    """The product inventory folded from everything on ``sonata.orders``."""
    inventory = Inventory()
    for event in read_records(settings, "sonata.orders"):
        inventory.apply(event)
    return inventory


def publish_run(settings: Settings, run: RatingRun) -> int:
    """Append a re-rating run's records to ``usage.rated``, keyed by usage key."""
    return publish(
        settings,
        "usage.rated",
        "rated_usage",
        [r.to_avro() for r in run.records],
        lambda r: f"{r['source']}/{r['record_id']}",
    )


def record_bundle(settings: Settings, usage_key: str) -> dict[str, Any]:
    """The audit bundle of ``usage_key``: its latest rated record, its batch, proof and chain.

    Raises :class:`BilatError` saying what is missing (not rated, not anchored yet...).
    """
    from streams.ledger.audit import build_bundle
    from streams.merkle.batchtree import BatchTree
    from streams.runtime.batcher import read_chain

    codec = make_codec(settings.schema_registry)
    records = list(read_records(settings, "usage.rated", key=usage_key, codec=codec))
    if not records:
        raise BilatError(f"{usage_key}: not on {settings.topic('usage.rated')}; is it rated?")
    batch = None
    for data in join_leaf_parts(read_records(settings, "ledger.batches", codec=codec)):
        mine = data["party"] == settings.party
        newer = batch is None or data["revision"] > batch["revision"]
        if mine and newer and any(leaf["usage_key"] == usage_key for leaf in data["leaves"]):
            batch = data
    if batch is None:
        raise BilatError(f"{usage_key}: rated but in no anchored batch yet; run `bilat batcher`")
    _start, _end, _revision, _root, leaves = leaves_from_record(batch)
    salt = book_hash(load_book(settings.agreement))
    keys = [leaf.usage_key for leaf in leaves]
    tree = BatchTree.from_columns(keys, [leaf.leaf_hash for leaf in leaves], batch["depth"], salt)
    proof = tree.proof(usage_key)
    # The rated record the batch committed to (a re-rating run may have published others).
    record = next((r for r in reversed(records) if leaf_hash(r) == proof.leaf_hash), None)
    if record is None:
        raise BilatError(
            f"{usage_key}: none of its {len(records)} rated records is the leaf its newest "
            f"batch committed to (window {batch['window_start_ms']}, rev {batch['revision']})"
        )
    chain = sorted(read_chain(settings, codec, settings.party), key=lambda e: e.sequence)
    return build_bundle(record, proof, {**batch, "leaf_count": len(leaves)}, chain)
