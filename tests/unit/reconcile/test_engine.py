"""The reconciler's core against two in-memory ledgers: the alert set equals exactly the
injected differences, seen from each side; agreed windows are countersigned both ways."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from streams.contract.records import RatedUsage
from streams.reconcile.engine import Outcome
from tests.fakes.recon import Party, call, reconcile

HOURS = range(9, 19)


def traffic() -> dict[str, RatedUsage]:
    """The usage both parties see: 20 calls per hour-long window."""
    return {
        f"{hour}-{n}": call(f"{hour}-{n}", hour, 60 * n + 5) for hour in HOURS for n in range(20)
    }


def kinds(outcome: Outcome) -> Counter[tuple[str, tuple[str, ...]]]:
    return Counter((a.kind, a.record_keys) for a in outcome.alerts)


@pytest.fixture(scope="module")
def outcomes() -> tuple[Outcome, Outcome, Party, Party]:
    hgc, dcc = Party("hgc"), Party("dcc")
    shared = traffic()
    mine = dict(shared)
    yours = dict(shared)
    del yours["9-3"]  # missing at dcc
    del mine["9-7"]  # missing at hgc
    yours["10-5"] = call("10-5", 10, 305, amount="0.0199", rate="voice-de-mobile@offpeak")
    yours["11-2"] = call("11-2", 11, 125, seconds=61)  # within the 1 s tolerance
    yours["11-4"] = call("11-4", 11, 245, amount="0.0300", seconds=75)
    mine["12-dup"] = call("12-dup", 12, 60 * 4 + 5)  # a second record of 12-4's call
    for n in range(20):  # dcc never anchors 13:00-14:00
        del yours[f"13-{n}"]
    mine["edge"] = call("edge", 14, 3599.8)  # hgc: 14:59:59.800
    yours["edge"] = call("edge", 15, 0.3)  # dcc: 15:00:00.300, the next window
    late = call("12-late", 12, 1800)
    yours["12-late"] = late
    hgc.ingest(mine.values())
    dcc.ingest(yours.values())
    hgc.close()
    dcc.close()
    hgc.ingest([late])  # after hgc anchored 12:00: a revision
    hgc.close()
    here, there, _ = reconcile(hgc, dcc)
    return here, there, hgc, dcc


def test_alerts_are_exactly_the_injected_differences_from_each_side(
    outcomes: tuple[Outcome, Outcome, Party, Party],
) -> None:
    here, there, _, _ = outcomes
    assert kinds(here) == Counter(
        {
            ("missing-at-partner", ("ix-fra-01/9-3",)): 1,
            ("missing-here", ("ix-fra-01/9-7",)): 1,
            ("amount-mismatch", ("ix-fra-01/10-5",)): 1,
            ("within-tolerance", ("ix-fra-01/11-2",)): 1,
            ("quantity-mismatch", ("ix-fra-01/11-4",)): 1,
            ("duplicate", ("ix-fra-01/12-4", "ix-fra-01/12-dup")): 1,
            ("not-anchored", ()): 1,
            ("cross-window", ("ix-fra-01/edge",)): 1,
            ("revision", ()): 1,
        }
    )
    assert kinds(there) == Counter(
        {
            ("missing-here", ("ix-fra-01/9-3",)): 1,
            ("missing-at-partner", ("ix-fra-01/9-7",)): 1,
            ("amount-mismatch", ("ix-fra-01/10-5",)): 1,
            ("within-tolerance", ("ix-fra-01/11-2",)): 1,
            ("quantity-mismatch", ("ix-fra-01/11-4",)): 1,
            ("duplicate", ("ix-fra-01/12-4", "ix-fra-01/12-dup")): 1,
            ("not-anchored-here", ()): 1,
            ("cross-window", ("ix-fra-01/edge",)): 1,
            ("revision", ()): 1,
        }
    )


def test_window_states_and_countersignatures(
    outcomes: tuple[Outcome, Outcome, Party, Party],
) -> None:
    here, there, hgc, dcc = outcomes
    by_hour = {(w.window[0] // 3_600_000) % 24: w for w in here.windows}
    assert {hour: w.state for hour, w in by_hour.items()} == {
        9: "diverged",
        10: "diverged",
        11: "diverged",
        12: "diverged",  # the duplicate; the late record is in both after hgc's revision
        13: "not-anchored",
        14: "agreed-within-tolerance",  # the record straddling 15:00
        15: "agreed-within-tolerance",
        16: "agreed",
        17: "agreed",
        18: "agreed",
    }
    assert by_hour[12].here_revision == 1 and by_hour[12].partner_revision == 0
    assert by_hour[11].counts == {"exact": 18, "within-tolerance": 1, "quantity-mismatch": 1}
    assert by_hour[10].at_stake == Decimal("0.0057")
    assert by_hour[13].at_stake == Decimal("0.2840")
    for status in (*here.windows, *there.windows):
        if status.state == "agreed":
            assert status.countersigned_here and status.countersigned_by_partner
    assert sum(e.kind == "countersignature" for e in hgc.entries) == 3
    assert sum(e.kind == "countersignature" for e in dcc.entries) == 3


def test_nothing_is_asked_again_once_answered(
    outcomes: tuple[Outcome, Outcome, Party, Party],
) -> None:
    here, there, _, _ = outcomes
    assert here.requests == () and there.requests == ()
    assert here.cosigns == () and there.cosigns == ()
