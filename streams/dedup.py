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

A crash after publishing but before claiming re-publishes an identical record on restart
(same key, same amount): the one case in which ``usage.rated`` holds a key twice, and the
Merkle batching downstream keeps one record per key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["Verdict", "claim_key", "judge", "origin_id"]

Verdict = Literal["fresh", "replay", "duplicate"]


def claim_key(deployment: str, agreement_id: str, usage_key: str) -> str:
    """The claim store key of one usage record in one deployment's pipeline.

    ``deployment`` is the worker's app id (party and topic prefix), so pipelines that share a
    Redis but not their topics (a demo run, a test) never see each other's claims.
    """
    return f"bilat:{deployment}:dedup:{agreement_id}:{usage_key}"


def origin_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


def judge(
    keys: Sequence[str], origins: Sequence[str], claims: Sequence[str | None]
) -> list[Verdict]:
    """The verdict of each record of a batch (see the module docstring).

    ``keys[i]`` was read at ``origins[i]``; ``claims[i]`` is the origin already claiming it,
    or ``None``. A key repeated inside the batch is a duplicate after its first occurrence.
    """
    if not len(keys) == len(origins) == len(claims):
        raise ValueError(f"got {len(keys)} keys, {len(origins)} origins, {len(claims)} claims")
    seen: set[str] = set()
    verdicts: list[Verdict] = []
    for key, origin, claim in zip(keys, origins, claims, strict=True):
        if claim == origin:
            verdicts.append("replay")
        elif claim is not None or key in seen:
            verdicts.append("duplicate")
        else:
            verdicts.append("fresh")
        seen.add(key)
    return verdicts
