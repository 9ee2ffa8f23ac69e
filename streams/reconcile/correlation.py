"""Correlating records without a shared call reference: by normalised numbers and start. Pure.

Many interconnects carry no shared usage key: each switch numbers its own calls. Then the
agreement says ``reconciliation: {correlation: numbers}`` and each party's rater gives every
record a *correlation key* (:func:`correlation_key`), ``<A>><B>|<start_ms>``: the normalised
A and B numbers, then the start. It is the record's key in the ledger (the leaf's ``key``), and
its bucket is chosen by the part before ``|`` alone (:func:`streams.merkle.buckets.bucket_key`),
so both parties put every call between one pair of numbers in the same bucket, whatever
either switch's clock said. When both clocks agree to the millisecond the leaves are equal
and nothing is exchanged; a call whose starts differ makes its bucket differ, and inside it
the reconciler pairs calls by number pair and nearest start within
``start_tolerance_seconds`` (:func:`streams.reconcile.classify.pair_leaves` with
:func:`pair_of`).

What it costs against a shared key: a differing bucket carries the calls of every number pair
in it, as with a shared key; but a start-time difference alone now makes a bucket differ, so
the bytes exchanged grow with the share of calls whose two starts differ (``bench.reconcile``
measures both).
"""

from __future__ import annotations

import re

__all__ = ["CorrelationError", "correlation_key", "normalise_number", "pair_of"]

_DIGITS = re.compile(r"[0-9]{1,15}")
_SEPARATORS = re.compile(r"[\s().-]")


class CorrelationError(ValueError):
    """A number that cannot be normalised (the record cannot be correlated)."""


def normalise_number(number: str) -> str:
    """E.164 digits without ``+``: ``"+49 (30) 1234-567"``, ``"004930 1234567"`` and
    ``"49301234567"`` are all ``"49301234567"``. Spaces, dots, dashes and brackets are
    dropped, a leading ``+`` or international ``00`` removed. Raises
    :class:`CorrelationError` for anything else (letters, a national number's leading 0 is
    kept as is: mediation reports numbers in international form)."""
    text = _SEPARATORS.sub("", number)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not _DIGITS.fullmatch(text):
        raise CorrelationError(f"number {number!r}: want E.164 digits, optionally '+' or '00'")
    return text


def correlation_key(a_number: str, b_number: str, start_ms: int) -> str:
    """``<A>><B>|<start_ms>`` of normalised numbers: the ledger key of a record correlated by
    numbers. ``|`` never occurs in a usage key, so the bucket is chosen by the number pair."""
    return f"{normalise_number(a_number)}>{normalise_number(b_number)}|{start_ms}"


def pair_of(key: str) -> str:
    """The number pair of a correlation key (the whole key for a usage key)."""
    return key.partition("|")[0]
