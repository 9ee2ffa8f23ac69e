"""Event-time windows of rated usage, closed into Merkle batches. Pure: no Kafka, no clock calls.

Contract of :class:`Batcher`:

* a rated record belongs to the window its rating assigned (``window_start``..``window_end``);
  within a window the usage key is the identity: the same key with the same leaf again is a
  replay and changes nothing, with another leaf it replaces the earlier one (a re-rating);
* a window is *due* when ``now >= window_end + grace``; :meth:`Batcher.due` turns every due
  window into a :class:`Batch`: revision 0 with all its leaves;
* usage that arrives for a window already anchored is *late*: the next :meth:`due` makes a
  revision of that window holding its complete, updated set of leaves and naming the revision
  it supersedes, so the highest revision of a window is always the whole truth;
* nothing is forgotten until it is anchored: :meth:`Batcher.safe_offsets` gives, per input
  partition, the offset below which every record is in an anchored batch; committing only
  that far means a restart replays every record not yet anchored, and replays of anchored
  records are recognised (:meth:`Batcher.restore` reloads anchored batches' leaves).

Deterministic: a batch's root depends only on its set of leaves, never on arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from streams.contract.records import RatedUsage, totals_by_currency
from streams.core.canonical import decimal_text, leaf_fields, leaf_hash_of_fields
from streams.merkle.batchtree import BatchTree

__all__ = ["Batch", "Batcher", "Leaf"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """What a batch keeps of a rated record: enough for the tree, the totals, the proofs and
    the drill-down (the partner re-hashes :meth:`fields` to check a leaf it is sent).

    ``start_ms``, ``quantity``, ``unit`` and ``rate_id`` are None only for leaves read from a
    ``batch_leaves`` v1 record (stored before the drill-down existed): such a leaf can be
    proved, not opened to the partner.
    """

    usage_key: str
    leaf_hash: bytes
    amount: Decimal
    currency: str
    agreement_version: str
    start_ms: int | None = None
    """Event start, epoch ms UTC (the leaf's ``start_ms``)."""
    quantity: str | None = None
    """The quantity in the base unit, as the leaf holds it (decimal text)."""
    unit: str | None = None
    """The base unit: ``second``, ``message`` or ``byte``."""
    rate_id: str | None = None
    """The tariff line that priced it: told to the partner, not covered by the leaf hash."""
    product_id: str | None = None
    """The Sonata product the usage record named (None: it named none, or a leaf stored before
    ``batch_leaves`` v4). For the statement; not covered by the leaf hash."""
    direction: str | None = None
    """``outbound`` or ``inbound`` as this party saw the traffic (None: stored before v4). For
    the statement (who bills whom); not covered by the leaf hash."""

    @classmethod
    def of(cls, record: RatedUsage) -> Leaf:
        fields = leaf_fields(record)
        return cls(
            record.ledger_key,
            leaf_hash_of_fields(fields),
            record.amount,
            record.currency,
            record.agreement_version,
            fields["start_ms"],
            fields["quantity"],
            fields["unit"],
            record.rate_id,
            record.product_id,
            record.direction,
        )

    @property
    def detailed(self) -> bool:
        """Whether the leaf carries every field of its leaf data (not a v1 leaf)."""
        return self.start_ms is not None and self.quantity is not None and self.unit is not None

    def fields(self, agreement_id: str) -> dict[str, object]:
        """The leaf's canonical fields (:func:`streams.core.canonical.leaf_fields`), rebuilt;
        ``ValueError`` for a leaf that is not :attr:`detailed`."""
        if not self.detailed:
            raise ValueError(f"leaf {self.usage_key}: stored without its fields (batch_leaves v1)")
        return {
            "key": self.usage_key,
            "start_ms": self.start_ms,
            "quantity": self.quantity,
            "unit": self.unit,
            "amount": decimal_text(self.amount),
            "currency": self.currency,
            "agreement_id": agreement_id,
            "agreement_version": self.agreement_version,
        }

    def hash_ok(self, agreement_id: str) -> bool:
        """Whether :attr:`leaf_hash` is the hash of :meth:`fields` (False when not detailed)."""
        try:
            return leaf_hash_of_fields(self.fields(agreement_id)) == self.leaf_hash
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True, slots=True)
class Batch:
    """One closed window revision, ready to anchor."""

    agreement_id: str
    window_start: datetime
    window_end: datetime
    revision: int
    leaves: tuple[Leaf, ...]
    """Every leaf of the window, in usage-key order."""
    tree: BatchTree
    supersedes: tuple[int, bytes] | None
    """``(revision, root)`` of the revision this one replaces; None for revision 0."""

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def totals(self) -> dict[str, Decimal]:
        """Sum of amounts per currency."""
        return totals_by_currency((leaf.currency, leaf.amount) for leaf in self.leaves)

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(sorted({leaf.agreement_version for leaf in self.leaves}))


@dataclass
class _Window:
    start: datetime
    end: datetime
    leaves: dict[str, Leaf] = field(default_factory=dict)
    """Anchored leaves plus pending changes."""
    anchored: tuple[int, bytes] | None = None
    """``(revision, root)`` of the latest anchored revision."""
    dirty: bool = True
    """Has leaves not in an anchored batch yet."""
    held: dict[int, int] = field(default_factory=dict)
    """Input partition → lowest offset of a record not yet anchored."""


class Batcher:
    """Open and anchored windows of one agreement (see the module docstring)."""

    def __init__(self, agreement_id: str, grace_seconds: int, depth: int, salt: bytes) -> None:
        self.agreement_id = agreement_id
        self.grace = timedelta(seconds=grace_seconds)
        self.depth = depth
        self.salt = salt
        self._windows: dict[datetime, _Window] = {}
        self._seen: dict[int, int] = {}

    def add(self, record: RatedUsage, partition: int, offset: int) -> str:
        """Take one rated record read at ``partition``/``offset``.

        Returns ``"new"`` (joined an open window), ``"late"`` (changes an anchored window: a
        revision will follow), ``"known"`` (a replay of a leaf already held) or
        ``"foreign"`` (another agreement's record: ignored).
        """
        self._seen[partition] = max(self._seen.get(partition, -1), offset)
        if record.agreement_id != self.agreement_id:
            return "foreign"
        window = self._windows.get(record.window_start)
        if window is None:
            window = self._windows[record.window_start] = _Window(
                record.window_start, record.window_end
            )
        leaf = Leaf.of(record)
        if window.leaves.get(leaf.usage_key) == leaf:
            return "known"
        window.leaves[leaf.usage_key] = leaf
        window.dirty = True
        window.held[partition] = min(window.held.get(partition, offset), offset)
        return "late" if window.anchored is not None else "new"

    def due(self, now: datetime) -> list[Batch]:
        """Batches to anchor now: due windows never anchored, and anchored windows with changes.

        Calling it again before :meth:`anchored` returns the same batches (same roots).
        """
        batches = []
        for start in sorted(self._windows):
            window = self._windows[start]
            if not window.dirty or (window.anchored is None and now < window.end + self.grace):
                continue
            revision = 0 if window.anchored is None else window.anchored[0] + 1
            leaves = tuple(window.leaves[k] for k in sorted(window.leaves))
            tree = BatchTree.from_columns(
                [leaf.usage_key for leaf in leaves],
                [leaf.leaf_hash for leaf in leaves],
                self.depth,
                self.salt,
            )
            batches.append(
                Batch(
                    self.agreement_id,
                    window.start,
                    window.end,
                    revision,
                    leaves,
                    tree,
                    window.anchored,
                )
            )
        return batches

    def anchored(self, batch: Batch) -> None:
        """Record that ``batch`` is durably anchored: its leaves stop holding offsets back."""
        window = self._windows[batch.window_start]
        if window.leaves != {leaf.usage_key: leaf for leaf in batch.leaves}:
            raise ValueError(f"window {batch.window_start.isoformat()} changed since due()")
        window.anchored = (batch.revision, batch.root)
        window.dirty = False
        window.held.clear()

    def restore(
        self,
        window_start: datetime,
        window_end: datetime,
        revision: int,
        root: bytes,
        leaves: Iterable[Leaf],
    ) -> None:
        """Reload an anchored batch (from the leaf store) at start-up; the highest revision wins."""
        window = self._windows.get(window_start)
        if window is not None and window.anchored is not None and window.anchored[0] >= revision:
            return
        self._windows[window_start] = _Window(
            window_start,
            window_end,
            {leaf.usage_key: leaf for leaf in leaves},
            anchored=(revision, root),
            dirty=False,
        )

    def safe_offsets(self) -> dict[int, int]:
        """Per input partition, the next offset it is safe to commit (see module docstring)."""
        safe = {partition: last + 1 for partition, last in self._seen.items()}
        for window in self._windows.values():
            for partition, offset in window.held.items():
                safe[partition] = min(safe.get(partition, offset), offset)
        return safe

    def open_windows(self) -> int:
        return sum(1 for w in self._windows.values() if w.dirty)

    def anchored_revisions(self) -> Mapping[datetime, tuple[int, bytes]]:
        return {s: w.anchored for s, w in self._windows.items() if w.anchored is not None}
