"""Two parties on two real Kafka clusters, mirrored by MirrorMaker 2: the reconciliation
scenario the end-to-end tests share.

Both parties take the same traffic except injected differences (as rated usage, on
``usage.rated``: rating itself is the worker's tests' business), sign the agreement, anchor
their windows with the real batcher, and reconcile with the real reconciler; requests, answers,
anchors and countersignatures cross between the clusters only through MirrorMaker 2.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.contract.records import RatedUsage
from streams.core.keys import demo_keypair
from streams.runtime.batcher import BatcherLoop, init_ledger
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.reader import read_records
from streams.runtime.reconciler import ReconcilerLoop
from streams.runtime.topics import ensure_topics
from tests.fakes.recon import SIGNATURES, call

PARTIES = ("hgc", "dcc")
HOURS = range(9, 19)


def traffic() -> dict[str, RatedUsage]:
    """The usage both parties see: 20 calls per hour-long window, 09:00 to 19:00."""
    return {
        f"{hour}-{n}": call(f"{hour}-{n}", hour, 60 * n + 5) for hour in HOURS for n in range(20)
    }


def injected() -> tuple[dict[str, RatedUsage], dict[str, RatedUsage], RatedUsage]:
    """hgc's and dcc's usage, and the late record hgc receives after anchoring 12:00."""
    shared = traffic()
    hgc, dcc = dict(shared), dict(shared)
    del dcc["9-3"]  # missing at dcc
    del hgc["9-7"]  # missing at hgc
    dcc["10-5"] = call("10-5", 10, 305, amount="0.0199", rate="voice-de-mobile@offpeak")
    dcc["11-2"] = call("11-2", 11, 125, seconds=61)  # within the 1 s tolerance
    dcc["11-4"] = call("11-4", 11, 245, amount="0.0300", seconds=75)  # outside it
    hgc["12-dup"] = call("12-dup", 12, 60 * 4 + 5)  # a second record of 12-4's call
    for n in range(20):  # dcc skips 13:00-14:00
        del dcc[f"13-{n}"]
    hgc["edge"] = call("edge", 14, 3599.8)  # hgc: 14:59:59.800
    dcc["edge"] = call("edge", 15, 0.3)  # dcc: 15:00:00.300, the next window
    late = call("12-late", 12, 1800)
    dcc["12-late"] = late
    return hgc, dcc, late


def expected_alerts(party: str) -> Counter[tuple[str, tuple[str, ...]]]:
    """The alerts each side must raise: exactly the injected differences."""
    mine, theirs = ("9-3", "9-7") if party == "hgc" else ("9-7", "9-3")
    key = "ix-fra-01/{}".format
    return Counter(
        {
            ("missing-at-partner", (key(mine),)): 1,
            ("missing-here", (key(theirs),)): 1,
            ("amount-mismatch", (key("10-5"),)): 1,
            ("within-tolerance", (key("11-2"),)): 1,
            ("quantity-mismatch", (key("11-4"),)): 1,
            ("duplicate", (key("12-4"), key("12-dup"))): 1,
            ("not-anchored" if party == "hgc" else "not-anchored-here", ()): 1,
            ("cross-window", (key("edge"),)): 1,
            ("revision", ()): 1,
        }
    )


@dataclass
class TwoParties:
    """Both parties' settings (same topic prefix, each on its own cluster)."""

    settings: Mapping[str, Settings]
    aliases: Mapping[str, str]
    """Party → the MirrorMaker 2 alias of its cluster (the prefix of its copies)."""

    def publish_rated(self, party: str, records: Iterable[RatedUsage]) -> None:
        publish(
            self.settings[party],
            "usage.rated",
            "rated_usage",
            [r.to_avro() for r in records],
            lambda r: f"{r['source']}/{r['record_id']}",
        )

    def anchor(self, party: str) -> int:
        """Run the party's batcher until caught up: anchors due windows, appends the
        countersignatures asked for. Returns the batches anchored."""
        loop = BatcherLoop(self.settings[party], demo_keypair(party))
        count = loop.run(once=True)
        return count + loop.countersigned

    def reconciler(self, party: str, say: Callable[[str], object] = print) -> ReconcilerLoop:
        partner = PARTIES[1] if party == PARTIES[0] else PARTIES[0]
        return ReconcilerLoop(self.settings[party], self.aliases[partner], say=say)

    def alerts(self, party: str) -> list[dict[str, Any]]:
        return list(read_records(self.settings[party], "recon.alerts"))

    def kinds(self, party: str) -> Counter[tuple[str, tuple[str, ...]]]:
        return Counter((a["kind"], tuple(a["record_keys"])) for a in self.alerts(party))


def set_up(
    kafka: Mapping[str, str], aliases: Mapping[str, str], prefix: str, redis: str, run_dir: Path
) -> TwoParties:
    """Both parties' topics, genesis entries (the agreement signed by both) and anchors."""
    settings = {
        party: Settings.from_env(
            {}, party=party, kafka=kafka[party], redis=redis, topic_prefix=prefix,
            run_dir=run_dir, partitions=1,
        )
        for party in PARTIES
    }  # fmt: skip
    pair = TwoParties(settings, aliases)
    hgc, dcc, late = injected()
    for party, records in (("hgc", hgc), ("dcc", dcc)):
        ensure_topics(settings[party])
        init_ledger(settings[party], SIGNATURES, demo_keypair(party))
        pair.publish_rated(party, records.values())
        pair.anchor(party)
    pair.publish_rated("hgc", [late])  # after hgc anchored 12:00: a revision
    pair.anchor("hgc")
    return pair


def reconcile_until_settled(
    pair: TwoParties,
    done: Callable[[TwoParties], bool],
    deadline: float = 180.0,
    between: Callable[[int], None] | None = None,
) -> int:
    """Alternate both reconcilers and batchers (the batchers append countersignatures) until
    ``done`` or the deadline; ``between`` runs after each round (outage tests). Returns the
    rounds taken."""
    started = time.monotonic()
    rounds = 0
    while time.monotonic() - started < deadline:
        rounds += 1
        with ThreadPoolExecutor(len(PARTIES)) as pool:  # both at once: each answers the other
            runs = [
                pool.submit(pair.reconciler(party).run, until_idle=3.0, max_seconds=40.0)
                for party in PARTIES
            ]
            for run in runs:
                run.result()
        for party in PARTIES:
            pair.anchor(party)
        if between is not None:
            between(rounds)
        if done(pair):
            return rounds
    raise AssertionError(f"not settled after {deadline:.0f} s ({rounds} rounds)")
