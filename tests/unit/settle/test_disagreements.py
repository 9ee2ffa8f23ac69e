"""Records agreed within tolerance, read from the reconciler's alerts for the statement."""

from __future__ import annotations

from decimal import Decimal

from streams.reconcile.alerts import Alert, make_alert
from streams.settle.period_close import Disagreement, disagreements


def alert(party: str, kind: str = "within-tolerance", **facts: str) -> Alert:
    here, there = ("0.0500", "0.0499") if party == "hgc" else ("0.0499", "0.0500")
    return make_alert(
        party=party,
        partner="dcc" if party == "hgc" else "hgc",
        agreement_id="a",
        window=(0, 3_600_000),
        revision=0,
        kind=kind,
        detail="",
        identity=["k"],
        record_keys=["ix/1"],
        here=Decimal(here),
        there=Decimal(there),
        facts=facts,
    )


def test_both_parties_read_the_same_seller_and_buyer_values() -> None:
    seller = disagreements(
        [alert("hgc", here_quantity="300 second", partner_quantity="301 second")], True
    )
    buyer = disagreements(
        [alert("dcc", here_quantity="301 second", partner_quantity="300 second")], False
    )
    want = Disagreement(Decimal("0.0500"), Decimal("0.0499"), "300", "301")
    assert seller == buyer == {(0, 3_600_000): {"ix/1": want}}


def test_other_alerts_and_alerts_without_values_are_not_disagreements() -> None:
    assert disagreements([alert("hgc", kind="amount-mismatch")], True) == {}
    found = disagreements([alert("hgc")], True)  # no quantity facts: amounts only
    assert found[(0, 3_600_000)]["ix/1"].seller_quantity is None
