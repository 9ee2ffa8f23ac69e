"""Two parties meet: two Kafka clusters, MirrorMaker 2 both ways, both parties' real batchers
and reconcilers. The alert set equals exactly the injected differences on each side; agreed
windows are countersigned on both ledgers; tampering is caught and never countersigned; a
mirror outage and a killed reconciler only delay, to the same final state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.core.keys import KeyPair
from streams.ledger.entries import LedgerEntry
from streams.reconcile.mirroring import mirrored_topic
from streams.runtime.batcher import read_chain
from streams.runtime.reader import read_records
from streams.runtime.reconciler import alerts_stream_key
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config
from tests.e2e.two_party import (
    PARTIES,
    TwoParties,
    expected_alerts,
    reconcile_until_settled,
    set_up,
)
from tests.mirror_pair import MirroredPair
from tests.paths import REPO

AGREED_HOURS = (16, 17, 18)


def new_pair(mirrored_pair: MirroredPair, redis_url: str, tmp: Path) -> TwoParties:
    prefix = f"t-{uuid.uuid4().hex[:10]}."
    kafka = {party: mirrored_pair.bootstrap(party) for party in PARTIES}
    return set_up(kafka, {p: p for p in PARTIES}, prefix, redis_url, tmp)


def cosigned_hours(pair: TwoParties, party: str) -> list[int]:
    """Hours (UTC) of the partner anchors ``party``'s chain countersigns."""
    chain = read_chain(pair.settings[party], make_codec(), party)
    payloads = [e.payload_json() for e in chain if e.kind == "countersignature"]
    return sorted((p["window_start_ms"] // 3_600_000) % 24 for p in payloads)


def settled(pair: TwoParties) -> bool:
    return all(
        pair.kinds(party) == expected_alerts(party)
        and cosigned_hours(pair, party) == list(AGREED_HOURS)
        for party in PARTIES
    )


def no_duplicates(pair: TwoParties) -> None:
    for party in PARTIES:
        ids = [a["alert_id"] for a in pair.alerts(party)]
        assert len(ids) == len(set(ids)), f"{party}: an alert published twice"
        chain = read_chain(pair.settings[party], make_codec(), party)
        cosigned = [
            e.payload_json()["partner_sequence"] for e in chain if e.kind == "countersignature"
        ]
        assert len(cosigned) == len(set(cosigned)), f"{party}: a partner entry countersigned twice"


@pytest.fixture(scope="module")
def reconciled(
    mirrored_pair: MirroredPair, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> TwoParties:
    pair = new_pair(mirrored_pair, redis_url, tmp_path_factory.mktemp("recon"))
    reconcile_until_settled(pair, settled)
    return pair


def test_alerts_are_exactly_the_injected_differences_on_both_sides(reconciled: TwoParties) -> None:
    for party in PARTIES:
        assert reconciled.kinds(party) == expected_alerts(party)
    no_duplicates(reconciled)


def test_agreed_windows_are_countersigned_on_both_ledgers(reconciled: TwoParties) -> None:
    for party in PARTIES:
        assert cosigned_hours(reconciled, party) == list(AGREED_HOURS)


def test_alerts_carry_what_an_operator_needs(reconciled: TwoParties) -> None:
    alerts = {a["kind"]: a for a in reconciled.alerts("hgc")}
    price = alerts["amount-mismatch"]
    assert price["facts"]["here_rate_id"] == "voice-de-mobile@peak"
    assert price["facts"]["partner_rate_id"] == "voice-de-mobile@offpeak"
    assert (price["here_value"], price["partner_value"], price["delta"]) == (
        "0.0142",
        "0.0199",
        "-0.0057",
    )
    assert price["at_stake"] == "0.0057" and price["currency"] == "EUR"
    here, there = json.loads(price["here_proof"]), json.loads(price["partner_proof"])
    assert here["proof"]["usage_key"] == there["proof"]["usage_key"] == "ix-fra-01/10-5"
    assert here["root"] != there["root"]  # each side's record, proven in its own batch


def test_redis_stream_holds_each_alert_once(reconciled: TwoParties) -> None:
    settings = reconciled.settings["hgc"]
    client = redis.Redis.from_url(settings.redis)
    entries = client.xrange(alerts_stream_key(settings))
    ids = [fields[b"alert_id"].decode() for _id, fields in entries]
    assert sorted(ids) == sorted(a["alert_id"] for a in reconciled.alerts("hgc"))


def test_recon_status_cli(reconciled: TwoParties) -> None:
    settings = reconciled.settings["dcc"]
    result = subprocess.run(
        [
            sys.executable, "-m", "streams.cli.main", "recon", "status", "--party", "dcc",
            "--kafka", settings.kafka, "--topic-prefix", settings.topic_prefix, "--json",
        ],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # some windows diverged
    status = json.loads(result.stdout)
    states = {(w["window_start_ms"] // 3_600_000) % 24: w["state"] for w in status["windows"]}
    assert states == {
        9: "diverged", 10: "diverged", 11: "diverged", 12: "diverged",
        13: "not-anchored-here", 14: "agreed-within-tolerance", 15: "agreed-within-tolerance",
        16: "agreed", 17: "agreed", 18: "agreed",
    }  # fmt: skip
    agreed = [w for w in status["windows"] if w["state"] == "agreed"]
    assert all(w["countersigned_here"] and w["countersigned_by_partner"] for w in agreed)


# --- tampering --------------------------------------------------------------------------------


def forge(pair: TwoParties, hour: int) -> LedgerEntry:
    """An entry appended to hgc's chain *as mirrored on dcc's cluster*: hgc's anchor of
    ``hour`` re-issued as a revision with dcc's root (so the roots would agree), not signed by
    hgc's key (hgc's key id, a stranger's signature)."""
    dcc = pair.settings["dcc"]
    codec = make_codec()
    copy = mirrored_topic("hgc", pair.settings["hgc"].topic("ledger.anchors"))
    theirs = sorted(read_records(dcc, "ledger.anchors", topic=copy), key=lambda e: e.sequence)
    ours = read_chain(dcc, codec, "dcc")

    def anchor_of(chain: list[LedgerEntry]) -> dict[str, Any]:
        return next(
            p for e in chain if e.kind == "anchor"
            for p in [e.payload_json()] if (p["window_start_ms"] // 3_600_000) % 24 == hour
        )  # fmt: skip

    payload = dict(anchor_of(theirs))
    payload.update(
        revision=payload["revision"] + 1,
        supersedes={"revision": payload["revision"], "root": payload["root"]},
        root=anchor_of(ours)["root"],
    )
    from streams.ledger.entries import make_entry

    stranger = KeyPair.generate()
    forged = make_entry(
        theirs[-1], party="hgc", agreement_id=theirs[-1].agreement_id, kind="anchor",
        payload=payload, signer=stranger, time=theirs[-1].time,
    )  # fmt: skip
    import dataclasses

    forged = dataclasses.replace(forged, key_id=theirs[-1].key_id)  # claims to be hgc's
    from confluent_kafka import Producer

    producer = Producer(kafka_config(dcc))
    producer.produce(copy, key=b"hgc", value=codec.encode("ledger_entry", forged.to_avro()))
    producer.flush(10)
    return forged


def copy_chain_under(
    pair: TwoParties, alias: str, keep_below: int, drop: frozenset[int] = frozenset()
) -> None:
    """hgc's mirrored topics on dcc's cluster copied under another alias, the chain cut to the
    entries below ``keep_below`` and without the sequences in ``drop``: what dcc sees of a
    partner that truncated its chain, or of a copy with a hole (source retention)."""
    from confluent_kafka import Producer

    from streams.reconcile.mirroring import MIRRORED
    from streams.runtime.readback import read_messages

    dcc, hgc = pair.settings["dcc"], pair.settings["hgc"]
    codec = make_codec()
    producer = Producer(kafka_config(dcc))
    for logical in MIRRORED:
        source = mirrored_topic("hgc", hgc.topic(logical))
        for message in read_messages(dcc, source):
            value = message.value or b""
            if logical == "ledger.anchors":
                entry = LedgerEntry.from_avro(codec.decode("ledger_entry", value))
                if entry.sequence >= keep_below or entry.sequence in drop:
                    continue
            producer.produce(
                mirrored_topic(alias, hgc.topic(logical)), key=message.key, value=value
            )
    producer.flush(10)


def test_tampering_is_alerted_and_never_countersigned(
    mirrored_pair: MirroredPair, redis_url: str, tmp_path: Path
) -> None:
    pair = new_pair(mirrored_pair, redis_url, tmp_path)
    reconcile_until_settled(pair, settled)
    before = cosigned_hours(pair, "dcc")

    forged = forge(pair, 10)
    pair.reconciler("dcc").run(until_idle=2.0, max_seconds=30.0)
    pair.anchor("dcc")
    alerts = [a for a in pair.alerts("dcc") if a["kind"] == "bad-signature"]
    assert [a["facts"]["partner_sequence"] for a in alerts] == [str(forged.sequence)]
    assert cosigned_hours(pair, "dcc") == before  # the forged "agreement" is not witnessed

    # dcc witnessed hgc's anchors of 16:00-18:00; a copy of hgc's chain without them:
    chain = read_chain(pair.settings["dcc"], make_codec(), "dcc")
    witnessed = sorted(
        e.payload_json()["partner_sequence"] for e in chain if e.kind == "countersignature"
    )
    copy_chain_under(pair, "hgcx", keep_below=witnessed[0])
    pair.reconciler("dcc").__class__(pair.settings["dcc"], "hgcx", say=print).run(
        until_idle=2.0, max_seconds=30.0
    )
    truncations = sorted(
        int(a["facts"]["partner_sequence"]) for a in pair.alerts("dcc") if a["kind"] == "truncation"
    )
    assert truncations == witnessed

    # a copy with a hole (what source retention would leave): the sequence numbers show it
    copy_chain_under(pair, "hgcy", keep_below=witnessed[0], drop=frozenset({3}))
    pair.reconciler("dcc").__class__(pair.settings["dcc"], "hgcy", say=print).run(
        until_idle=2.0, max_seconds=30.0
    )
    gaps = [a for a in pair.alerts("dcc") if a["kind"] == "gap"]
    assert len(gaps) == 1 and "3" in gaps[0]["detail"], gaps


# --- outages ----------------------------------------------------------------------------------


def test_a_mirror_outage_only_delays(
    mirrored_pair: MirroredPair, local_stack: Any, redis_url: str, tmp_path: Path
) -> None:
    link = mirrored_pair.links[0]  # hgc -> dcc: dcc sees nothing of hgc while it is down
    local_stack.mirror_down(link.name)
    try:
        pair = new_pair(mirrored_pair, redis_url, tmp_path)
        for party in PARTIES:
            pair.reconciler(party).run(until_idle=2.0, max_seconds=15.0)
        for party in PARTIES:  # nothing alerted for want of data
            assert set(pair.kinds(party)) <= set(expected_alerts(party))
        status = pair.reconciler("dcc").snapshot()
        assert {w.state for w in status.windows} == {"waiting"}
    finally:
        local_stack.mirror_up(link)
    reconcile_until_settled(pair, settled)
    no_duplicates(pair)


def test_a_killed_reconciler_restarts_to_the_same_state(
    mirrored_pair: MirroredPair, redis_url: str, tmp_path: Path
) -> None:
    pair = new_pair(mirrored_pair, redis_url, tmp_path)
    dcc = pair.settings["dcc"]
    env = {**os.environ, "BILAT_REDIS": redis_url}
    command = [
        sys.executable, "-m", "streams.cli.main", "reconcile", "--party", "dcc",
        "--kafka", dcc.kafka, "--topic-prefix", dcc.topic_prefix,
    ]  # fmt: skip
    hgc_loop = pair.reconciler("hgc")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        hgc_run = pool.submit(hgc_loop.run, until_idle=5.0, max_seconds=60.0)
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while not pair.alerts("dcc") and time.monotonic() < deadline:
            time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)  # mid-run: some alerts out, others not yet
        proc.wait(10)
        killed_with = len(pair.alerts("dcc"))
        hgc_run.result()
    assert killed_with > 0
    reconcile_until_settled(pair, settled)
    no_duplicates(pair)
