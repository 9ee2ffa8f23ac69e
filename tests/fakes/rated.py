"""Rated usage for ledger tests: one hour-long window of agreement hgc-dcc-2026 version 1."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from streams.contract.records import RatedUsage


def rated_call(
    record_id: str,
    window: datetime,
    offset_seconds: int,
    amount: str,
    *,
    currency: str = "EUR",
    source: str = "ix-fra-01",
    seconds: int = 60,
) -> RatedUsage:
    """A voice call of ``seconds`` starting ``offset_seconds`` into the hour-long ``window``,
    priced ``amount`` in ``currency``, rated two days after the window opened."""
    return RatedUsage(
        source=source,
        record_id=record_id,
        agreement_id="hgc-dcc-2026",
        agreement_version="1",
        rate_id="voice-de-mobile@peak",
        product="voice",
        start=window + timedelta(seconds=offset_seconds),
        quantity=Decimal(seconds),
        unit="second",
        billed_quantity=Decimal(seconds),
        billed_unit="second",
        amount=Decimal(amount),
        currency=currency,
        direction="inbound",
        window_start=window,
        window_end=window + timedelta(hours=1),
        rated_at=window + timedelta(days=2),
    )
