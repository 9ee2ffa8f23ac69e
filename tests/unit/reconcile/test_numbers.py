"""Correlation by numbers: no shared call reference, each switch numbers its own calls; records
pair by normalised A and B numbers with starts within the agreement's start tolerance."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter

import pytest

from streams.agreement.model import Reconciliation
from streams.contract.records import RatedUsage
from streams.core.clock import to_ms
from streams.merkle.batchtree import BatchTree
from streams.merkle.buckets import bucket_key, bucket_of
from streams.reconcile.correlation import (
    CorrelationError,
    correlation_key,
    normalise_number,
    pair_of,
)
from streams.reconcile.engine import Engine
from tests.fakes import recon
from tests.fakes.recon import BOOK, SALT, TRUSTED, Party, call

NUMBERS = dataclasses.replace(BOOK.latest, reconciliation=Reconciliation("numbers", 2, 5, 3600))


@pytest.mark.parametrize(
    "text", ["+49 (30) 1234-567", "0049301234567", "49301234567", "49.30.1234567"]
)
def test_numbers_normalise_to_e164_digits(text: str) -> None:
    assert normalise_number(text) == "49301234567"


@pytest.mark.parametrize("text", ["", "+", "49-30-ABC", "1" * 16, "++4930"])
def test_numbers_that_are_not_e164_are_refused(text: str) -> None:
    with pytest.raises(CorrelationError):
        normalise_number(text)


def test_a_call_between_one_pair_of_numbers_has_one_bucket_whatever_its_start() -> None:
    one, two = (
        correlation_key("+4930111", "4420222", 1000),
        correlation_key("004930111", "4420222", 2999),
    )
    assert pair_of(one) == pair_of(two) == bucket_key(one) == "4930111>4420222"
    assert bucket_of(one, 8, SALT) == bucket_of(two, 8, SALT)
    assert bucket_key("ix-fra-01/call@host") == "ix-fra-01/call@host"  # usage keys: all of it


def test_c_and_python_builds_bucket_correlation_keys_alike() -> None:
    keys = [correlation_key("4930111", f"44{n:06}", 1_000 * n) for n in range(200)]
    keys += [f"sw/{n}" for n in range(50)]
    hashes = [hashlib.sha256(k.encode()).digest() for k in keys]
    python = BatchTree.from_columns(keys, hashes, 6, SALT, native=False)
    try:
        native = BatchTree.from_columns(keys, hashes, 6, SALT, native=True)
    except RuntimeError:
        pytest.skip("the C build is not compiled here")
    assert native.root == python.root
    assert native.bucket_hashes == python.bucket_hashes


def numbered(party: str, n: int, hour: int, offset: float, seconds: int = 60) -> RatedUsage:
    record = call(f"{party}-{n}", hour, offset, seconds=seconds)
    record = dataclasses.replace(record, source=f"sw-{party}")
    key = correlation_key("4930100", f"4420{n:05}", to_ms(record.start))
    return dataclasses.replace(record, correlation_key=key)


def engine(party: Party, partner: Party) -> Engine:
    return Engine(
        party=party.name, partner=partner.name, agreement=NUMBERS, salt=SALT, trusted=TRUSTED
    )


def test_records_pair_by_numbers_and_start_within_tolerance() -> None:
    hgc, dcc = Party("hgc"), Party("dcc")
    hgc.ingest(numbered("hgc", n, 9, 60 * n + 5) for n in range(40))
    yours = [numbered("dcc", n, 9, 60 * n + 5) for n in range(40) if n != 7]  # 7 missing
    yours[3] = numbered("dcc", 3, 9, 60 * 3 + 6.5)  # this switch's clock: 1.5 s later
    yours[10] = numbered("dcc", 11, 9, 60 * 11 + 5, seconds=90)  # longer at dcc
    dcc.ingest(yours)
    hgc.close()
    dcc.close()
    here, there, _bytes = recon.reconcile(hgc, dcc, engines=(engine(hgc, dcc), engine(dcc, hgc)))
    kinds = Counter(a.kind for a in here.alerts)
    assert kinds == Counter(
        {"within-tolerance": 1, "missing-at-partner": 1, "quantity-mismatch": 1}
    )
    skewed = next(a for a in here.alerts if a.kind == "within-tolerance")
    assert skewed.facts["partner_start_ms"] != skewed.facts["here_start_ms"]
    assert Counter(a.kind for a in there.alerts) == Counter(
        {"within-tolerance": 1, "missing-here": 1, "quantity-mismatch": 1}
    )
