"""Deduplication of rated usage by usage key: who saw a key first, and what a repeat is.

The claim store (Redis in production, a dict in tests) maps a usage key to the *origin* that
rated it first (``topic/partition/offset``). A key is claimed only after its rated record is
durably on Kafka, so a crash can never leave a claimed key without its record. Judging a
batch against the claims gives, per rated record:

* ``fresh``: no claim yet (or none earlier in this batch): publish it, then claim it;
* ``replay``: claimed by this very origin: a batch re-delivered after a crash whose records
  were already published and claimed: publish nothing again;
* ``duplicate``: claimed by another origin (mediation sent the same record twice): not
  revenue twice, but counted and reported as a dead letter (stage ``dedup``).

Dead letters are claimed the same way, by their origin (one message is dead-lettered once):
a batch replayed after a crash publishes no dead letter a second time, whether the message
failed validation or was a mediation duplicate. :func:`plan_batch` is the whole decision for
one batch, pure, so the worker only reads the claims, publishes and writes the claims back.

A crash after publishing but before claiming re-publishes the same record on restart (same
key, same amount; a dead letter with the same origin): the one case in which ``usage.rated``
holds a key twice or ``usage.dlq`` an origin twice. The Merkle batching downstream keeps one
record per key, and readers count dead letters by origin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BatchItem",
    "BatchPlan",
    "Decision",
    "Verdict",
    "claim_key",
    "dead_letter_claim_key",
    "lookups",
    "origin_id",
    "plan_batch",
]

Verdict = Literal["fresh", "replay", "duplicate"]


def claim_key(deployment: str, agreement_id: str, usage_key: str) -> str:
    """The claim store key of one usage record in one deployment's pipeline.

    ``deployment`` is the worker's app id (party and topic prefix), so pipelines that share a
    Redis but not their topics (a demo run, a test) never see each other's claims.
    """
    return f"bilat:{deployment}:dedup:{agreement_id}:{usage_key}"


def dead_letter_claim_key(deployment: str, origin: str) -> str:
    """The claim store key saying the message read at ``origin`` was dead-lettered already."""
    return f"bilat:{deployment}:dlq:{origin}"


def origin_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One message of a batch as dedup sees it: where it was read and what it became."""

    origin: str
    """``topic/partition/offset`` (:func:`origin_id`)."""
    claim: str | None
    """The usage key's claim key (:func:`claim_key`) if it was rated, ``None`` if refused."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one item: publish it (``fresh``), skip it (``replay``), or publish a
    ``dedup:duplicate`` dead letter instead (``duplicate``, rated first at ``first``)."""

    verdict: Verdict
    first: str | None = None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """A batch's decisions, and the claims to write once every publication is durable."""

    decisions: tuple[Decision, ...]
    claims: tuple[tuple[str, str], ...]
    """``(claim key, value)`` pairs for ``SET NX``: the origin claiming a usage key, or ``1``
    for a dead-lettered origin."""


def lookups(deployment: str, items: Sequence[BatchItem]) -> list[str]:
    """Every claim key :func:`plan_batch` needs read, each once, in a stable order."""
    keys: dict[str, None] = {}
    for item in items:
        if item.claim is not None:
            keys[item.claim] = None
        keys[dead_letter_claim_key(deployment, item.origin)] = None
    return list(keys)


def plan_batch(
    deployment: str, items: Sequence[BatchItem], found: Mapping[str, str | None]
) -> BatchPlan:
    """Decide a batch against the claims ``found`` (claim key → value, from :func:`lookups`).

    * a rated item: ``replay`` if its usage key is claimed by this very origin; ``duplicate``
      if claimed by another origin or by an earlier item of this batch (it then becomes a dead
      letter, and is judged as one); else ``fresh``;
    * a dead letter: ``replay`` if its origin is claimed as dead-lettered, else ``fresh``.

    Claims follow the decisions: a fresh rated item claims its usage key with its origin, every
    dead letter published claims its origin. Nothing here does I/O.
    """
    decisions: list[Decision] = []
    claims: list[tuple[str, str]] = []
    rated_by: dict[str, str] = {}
    for item in items:
        lettered = dead_letter_claim_key(deployment, item.origin)
        if item.claim is not None:
            claim = found.get(item.claim)
            if claim == item.origin:
                decisions.append(Decision("replay"))
                continue
            first = claim or rated_by.get(item.claim)
            if first is None:
                decisions.append(Decision("fresh"))
                claims.append((item.claim, item.origin))
                rated_by[item.claim] = item.origin
                continue
            decision = Decision("duplicate", first)
        else:
            decision = Decision("fresh")
        if found.get(lettered) is not None:
            decisions.append(Decision("replay"))
        else:
            decisions.append(decision)
            claims.append((lettered, "1"))
    return BatchPlan(tuple(decisions), tuple(claims))
