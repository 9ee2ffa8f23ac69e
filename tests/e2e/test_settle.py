"""Settlement end to end: two parties on two real Kafka clusters mirrored by MirrorMaker 2, the
CLI as a user runs it (``bilat settle …``), the real batchers signing every entry.

The story (November 2026, Europe/Berlin; every amount hand-computed below):

* inventory on both sides: ``PRD-VOICE-1`` (order ``PO-1`` item ``1``, offering
  ``voice-interconnect``, which the agreement names for voice usage without a product id),
  active since 2026-10-01, with an accepted recurring Sonata charge of 100 USD a month;
* 09:00 on the 20th: 5 calls the Seller (hgc) terminated, 0.0142 EUR each (dcc has one of them
  at 61 s and 0.0143 EUR: within the agreement's tolerances, billed at the Seller's values);
* 10:00: 3 calls the Buyer (dcc) terminated, 0.0142 EUR each (two-way traffic: netted);
* 11:00: 4 calls, one of which dcc never saw: that window diverges and is not billed.

So the EUR bill is 5 x 0.0142 = 0.0710 minus 3 x 0.0142 = 0.0426: 0.0284 EUR, and the USD bill
is the month's 100 USD charge. Then the round trip through both ledgers: dcc disputes the EUR
usage item it owes (evidence: a record with its proof) and the USD charge; hgc credits 0.0100
EUR of the first and withdraws the second; dcc accepts both resolutions; hgc records the
payment of what remains. The bills' states are checked after every step, on both sides.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.contract.records import RatedUsage
from streams.core.clock import to_ms
from streams.core.keys import demo_keypair
from streams.runtime.batcher import init_ledger
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.settler import bills_key, events_key
from streams.runtime.topics import ensure_topics
from streams.settle.mef_schema import problems
from tests.e2e.two_party import PARTIES, TwoParties, reconcile_until_settled
from tests.fakes.recon import SIGNATURES, call
from tests.mirror_pair import MirroredPair
from tests.paths import REPO

DAY = datetime(2026, 11, 20, tzinfo=UTC)
ACTIVE = datetime(2026, 10, 1, tzinfo=UTC)
SELLER, BUYER = "hgc", "dcc"
EUR_BILL = "hgc-dcc-2026-2026-11-EUR"
USD_BILL = "hgc-dcc-2026-2026-11-USD"


def order_event() -> dict[str, Any]:
    """The completed order item of the voice interconnect, with its accepted USD charge."""
    return {
        "event_id": "e-PRD-VOICE-1",
        "event_type": "productOrderItemStateChangeEvent",
        "event_time_ms": to_ms(ACTIVE),
        "order_id": "PO-1",
        "order_item_id": "1",
        "state": "completed",
        "action": "add",
        "product_id": "PRD-VOICE-1",
        "product_offering_id": "voice-interconnect",
        "completion_date_ms": to_ms(ACTIVE),
        "buyer_id": BUYER,
        "seller_id": SELLER,
        "charge_items": [
            {
                "charge_id": "CHG-1",
                "charge_item_id": "1",
                "state": "acceptedByBuyer",
                "price_type": "recurring",
                "recurring_charge_period": "month",
                "price_category": "other",
                "amount": "100",
                "currency": "USD",
            }
        ],
    }


def traffic(party: str) -> list[RatedUsage]:
    """``party``'s rated usage: directions as that party saw them."""
    flip = {"inbound": "outbound", "outbound": "inbound"}

    def seen(record: RatedUsage, seller_direction: str) -> RatedUsage:
        direction = seller_direction if party == SELLER else flip[seller_direction]
        return dataclasses.replace(record, direction=direction)

    records = [seen(call(f"9-{n}", 9, 60 * n + 5), "inbound") for n in range(5)]
    if party == BUYER:  # within the agreement's tolerances: billed at the Seller's values
        records[4] = dataclasses.replace(records[4], amount=Decimal("0.0143"), quantity=Decimal(61))
    records += [seen(call(f"10-{n}", 10, 60 * n + 5), "outbound") for n in range(3)]
    records += [seen(call(f"11-{n}", 11, 60 * n + 5), "inbound") for n in range(4)]
    if party == BUYER:
        records = [r for r in records if r.record_id != "11-3"]  # dcc never saw it
    return records


@pytest.fixture(scope="module")
def pair(
    mirrored_pair: MirroredPair, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> TwoParties:
    prefix = f"t-{uuid.uuid4().hex[:10]}."  # the prefix the session's mirrors copy
    run_dir = tmp_path_factory.mktemp("settle")
    settings = {
        party: Settings.from_env(
            {},
            party=party,
            kafka=mirrored_pair.bootstrap(party),
            redis=redis_url,
            topic_prefix=prefix,
            run_dir=run_dir,
            partitions=1,
        )
        for party in PARTIES
    }
    two = TwoParties(settings, {p: p for p in PARTIES})
    for party in PARTIES:
        ensure_topics(settings[party])
        init_ledger(settings[party], SIGNATURES, demo_keypair(party))
        publish(
            settings[party],
            "sonata.orders",
            "sonata_order_event",
            [order_event()],
            lambda r: r["order_id"],
        )
        two.publish_rated(party, traffic(party))
        two.anchor(party)
    reconcile_until_settled(two, reconciled)
    return two


def reconciled(pair: TwoParties) -> bool:
    """Both sides know where each of the three windows stands."""
    for party in PARTIES:
        windows = pair.reconciler(party, say=lambda _m: None).snapshot().windows
        if len(windows) != 3 or any(w.state in ("waiting", "drilling") for w in windows):
            return False
    return True


def bilat(
    pair: TwoParties, party: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``bilat <args> --party <party>`` as a user runs it, against the pair's clusters."""
    env = environment(pair, party)
    alias = pair.aliases[BUYER if party == SELLER else SELLER]
    command = [sys.executable, "-m", "streams.cli", *args]
    if args[0] == "settle":
        command += ["--partner-alias", alias]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(
            f"bilat {' '.join(args)} ({party}) exited {done.returncode}:\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done


API_TOKEN, NOTIFY_TOKEN = "seller-api-token", "buyer-listener-token"


def environment(pair: TwoParties, party: str) -> dict[str, str]:
    settings = pair.settings[party]
    return {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "BILAT_KAFKA": settings.kafka,
        "BILAT_TOPIC_PREFIX": settings.topic_prefix,
        "BILAT_REDIS": settings.redis,
        "BILAT_RUN_DIR": str(settings.run_dir),
        "BILAT_PARTY": party,
        "HOME": str(settings.run_dir),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(pair: TwoParties, party: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A long-running ``bilat <args>`` of ``party``, once its port answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        env={**environment(pair, party), **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    port = int(args[args.index("--port") + 1])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    f"bilat {' '.join(args)}: {process.communicate()[1]}"
                ) from None
            time.sleep(0.2)


def http(method: str, url: str, body: Any = None) -> Any:
    """One call to the Seller's billing API with its bearer token; the JSON answer."""
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {API_TOKEN}",
            "Content-Type": "application/json;charset=utf-8",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def views(pair: TwoParties, party: str) -> dict[str, dict[str, Any]]:
    out = bilat(pair, party, "settle", "status", "--json").stdout
    return {v["bill"]["id"]: v for v in json.loads(out)}


def until(
    pair: TwoParties,
    party: str,
    test: Callable[[dict[str, dict[str, Any]]], bool],
    what: str,
    deadline: float = 90.0,
) -> dict[str, dict[str, Any]]:
    """``party``'s bills once ``test`` holds (mirroring takes a few seconds)."""
    started = time.monotonic()
    while True:
        seen = views(pair, party)
        if test(seen):
            return seen
        if time.monotonic() - started > deadline:
            raise AssertionError(
                f"{party}: not {what} after {deadline:.0f} s: "
                f"{json.dumps(seen, indent=1, default=str)[:3000]}"
            )
        time.sleep(2)


def item_states(view: dict[str, Any]) -> dict[str, str]:
    return {i["id"]: i["state"] for i in view["items"]}


def test_a_period_settles_through_both_ledgers(pair: TwoParties) -> None:
    # --- the Seller closes November: one bill per currency, amounts as hand-computed -------
    closed = bilat(pair, SELLER, "settle", "--period", "2026-11", "--json", "--wait", "0")
    statements = {s["id"]: s for s in json.loads(closed.stdout)}
    assert sorted(statements) == [EUR_BILL, USD_BILL]
    eur, usd = statements[EUR_BILL], statements[USD_BILL]
    assert eur["amount_due"] == "0.0284"  # 5 x 0.0142 billed, 3 x 0.0142 credited back
    usage = {i["direction"]: i for i in eur["items"] if i["kind"] == "usageBased"}
    assert usage["inbound"]["amount"] == "0.071" and usage["outbound"]["amount"] == "-0.0426"
    assert usage["inbound"]["billed_by"] == "seller"  # 9-4: the agreement's within-tolerance rule
    assert {i["product_id"] for i in eur["items"]} == {"PRD-VOICE-1"}
    assert usd["amount_due"] == "100" and [i["kind"] for i in usd["items"]] == ["recurring"]
    assert any("diverged" in f["message"] for f in eur["findings"])  # 11:00 is not billed
    pair.anchor(SELLER)  # the batcher signs both statement entries

    # The Seller serves its bills (MEF 141 API) and notifies the Buyer's listener, subscribed
    # before the settlement agent publishes anything.
    api, listener, scraped = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{api}/mefApi/sonata/customerBillManagement/v2"
    seller_env = {"BILAT_API_TOKEN": API_TOKEN, "BILAT_BILLING_NOTIFY_TOKEN": NOTIFY_TOKEN}
    buyer_env = {"BILAT_API_TOKEN": NOTIFY_TOKEN, "BILAT_BILLING_SELLER_TOKEN": API_TOKEN}
    serving = [
        start(
            pair,
            SELLER,
            seller_env,
            "billing",
            "serve",
            "--port",
            str(api),
            "--metrics-port",
            str(scraped),
        ),
        start(
            pair,
            BUYER,
            buyer_env,
            "billing",
            "listen",
            "--port",
            str(listener),
            "--seller-api",
            base,
        ),
    ]
    try:
        api_round_trip(pair, base, listener, usage["inbound"]["id"])
        with urllib.request.urlopen(f"http://127.0.0.1:{scraped}/metrics", timeout=10) as page:
            exposition = page.read().decode()
        # Prometheus text: the API's answers by route and status (one GET of the EUR bill
        # here, and the listener's fetch of the bill on each of the four events), the
        # notifier's deliveries by event type.
        route = "GET /mefApi/sonata/customerBillManagement/v2/customerBill/{id}"
        assert f'bilat_http_requests_total{{route="{route}",status="200"}} 5.0' in exposition
        for kind in ("customerBillCreateEvent", "customerBillStateChangeEvent"):
            assert (
                f'bilat_billing_notifications_total{{event_type="{kind}",outcome="delivered"}} 2.0'
            ) in exposition
    finally:
        for process in serving:
            process.terminate()
            process.wait(10)


def api_round_trip(pair: TwoParties, base: str, listener: int, owed: str) -> None:
    """The rest of :func:`test_a_period_settles_through_both_ledgers`, with the Seller's
    billing API serving and notifying throughout; ``owed`` is the EUR usage item dcc owes."""
    subscribed = http("POST", f"{base}/hub", {"callback": f"http://127.0.0.1:{listener}"})
    assert subscribed["callback"] == f"http://127.0.0.1:{listener}"
    bilat(pair, SELLER, "settle", "agent", "--max-seconds", "1", "--interval", "1")  # publishes

    # Issuing again issues nothing.
    again = bilat(pair, SELLER, "settle", "--period", "2026-11", "--wait", "0")
    assert again.stderr.count("already issued") == 2

    # --- the Buyer sees both bills, valid MEF 141, as the Seller stated them ---------------
    seen = until(pair, BUYER, lambda v: sorted(v) == [EUR_BILL, USD_BILL], "seeing two bills")
    for view in seen.values():
        assert view["state"] == "generated"
        assert problems("CustomerBill", view["bill"]) == []
        assert all(problems("CustomerBillItem", item) == [] for item in view["items"])
    # dcc computes the same two bills from its own ledger (9-4 agreed within tolerance).
    checked = bilat(pair, BUYER, "settle", "review", "--dry-run").stdout
    assert checked.count("every item matches dcc's ledger") == 2, checked
    charge = seen[USD_BILL]["items"][0]["id"]

    # --- the Buyer disputes one item of each bill ------------------------------------------
    disputed = bilat(
        pair,
        BUYER,
        "settle",
        "dispute",
        EUR_BILL,
        "--item",
        owed,
        "--record",
        "ix-fra-01/9-1",
        "--reason",
        "rated at peak, was off-peak",
        "--wait",
        "0",
    )
    eur_dispute = disputed.stdout.split(":")[0]
    disputed = bilat(
        pair,
        BUYER,
        "settle",
        "dispute",
        USD_BILL,
        "--item",
        charge,
        "--reason",
        "the charge was never accepted for November",
        "--wait",
        "0",
    )
    usd_dispute = disputed.stdout.split(":")[0]
    pair.anchor(BUYER)
    seen = until(
        pair,
        SELLER,
        lambda v: all(v[b]["disputes"] for b in (EUR_BILL, USD_BILL)),
        "seeing both disputes",
    )
    assert seen[EUR_BILL]["state"] == "generated"
    states = item_states(seen[EUR_BILL])
    assert states.pop(owed) == "disputeBeingInvestigated"
    assert set(states.values()) == {"paymentDue"}  # the items not disputed are accepted
    assert item_states(seen[USD_BILL]) == {charge: "disputeBeingInvestigated"}
    (evidence,) = seen[EUR_BILL]["disputes"]
    assert evidence["records"] == ["ix-fra-01/9-1"] and evidence["evidence_ok"] is True

    # --- the Seller credits part of the first, withdraws the second ------------------------
    bilat(
        pair,
        SELLER,
        "settle",
        "resolve",
        eur_dispute,
        "--item",
        f"{owed}=credit:0.0100",
        "--note",
        "off-peak rate applied",
        "--wait",
        "0",
    )
    bilat(
        pair,
        SELLER,
        "settle",
        "resolve",
        usd_dispute,
        "--item",
        f"{charge}=withdrawn",
        "--wait",
        "0",
    )
    pair.anchor(SELLER)
    seen = until(pair, BUYER, lambda v: v[EUR_BILL]["state"] == "paymentDue", "resolved")
    assert item_states(seen[EUR_BILL])[owed] == "credit"
    assert seen[EUR_BILL]["bill"]["credits"]["value"] == pytest.approx(0.01)
    assert seen[EUR_BILL]["amount_due"] == "0.0184"  # 0.0284 - 0.0100 credited
    assert item_states(seen[USD_BILL]) == {charge: "withDrawn"}
    assert seen[USD_BILL]["state"] == "settled"  # nothing left due: settled without payment

    # --- the Buyer accepts both resolutions; the Seller records the payment ----------------
    reviewed = bilat(pair, BUYER, "settle", "review").stdout
    assert reviewed.count("accepted the resolution") == 2
    pair.anchor(BUYER)
    bilat(pair, SELLER, "settle", "pay", EUR_BILL, "--wait", "0")
    pair.anchor(SELLER)
    seen = until(pair, BUYER, lambda v: v[EUR_BILL]["state"] == "settled", "paid")
    assert set(item_states(seen[EUR_BILL]).values()) == {"settled", "credit"}
    assert seen[EUR_BILL]["remaining"] == "0"
    assert all(d["accepted"] for v in seen.values() for d in v["disputes"])

    # --- the agent publishes the bills and their events for the billing API ----------------
    bilat(pair, SELLER, "settle", "agent", "--max-seconds", "1", "--interval", "1")
    client = redis.Redis.from_url(pair.settings[SELLER].redis, decode_responses=True)
    stored = {k: json.loads(v) for k, v in client.hgetall(bills_key(pair.settings[SELLER])).items()}
    assert {k: v["state"] for k, v in stored.items()} == {EUR_BILL: "settled", USD_BILL: "settled"}
    events = [f for _id, f in client.xrange(events_key(pair.settings[SELLER]))]
    assert sorted((e["event"], e["bill_id"], e["state"]) for e in events) == [
        ("customerBillCreateEvent", EUR_BILL, "generated"),
        ("customerBillCreateEvent", USD_BILL, "generated"),
        ("customerBillStateChangeEvent", EUR_BILL, "settled"),
        ("customerBillStateChangeEvent", USD_BILL, "settled"),
    ]

    # The API serves both bills as the settler published them; the Buyer's listener was told
    # of each bill and each state change, and fetched the bill each time.
    listed = http("GET", f"{base}/customerBill?state=settled&limit=1")
    assert len(listed) == 1 and problems("CustomerBill_Find", listed[0]) == []
    (bill,) = http("GET", f"{base}/customerBill/{EUR_BILL}")
    assert problems("CustomerBill", bill) == [] and bill["state"] == "settled"
    (item,) = http("GET", f"{base}/customerBillItem/{owed}")
    assert item["state"] == "credit" and problems("CustomerBillItem", item) == []
    received_key = f"bilat:{pair.settings[BUYER].app_id}:billing:received"
    client = redis.Redis.from_url(pair.settings[BUYER].redis, decode_responses=True)
    deadline = time.monotonic() + 30
    while True:
        received = {k: json.loads(v) for k, v in client.hgetall(received_key).items()}
        states = {k: v["bill"]["state"] for k, v in received.items()}
        if states == {EUR_BILL: "settled", USD_BILL: "settled"}:
            break
        assert time.monotonic() < deadline, f"the Buyer's listener holds {states}"
        time.sleep(0.5)
    kinds = [f["event_type"] for _id, f in client.xrange(received_key + ":events")]
    assert sorted(kinds) == ["customerBillCreateEvent"] * 2 + ["customerBillStateChangeEvent"] * 2


def test_a_dispute_after_the_window_is_refused(pair: TwoParties) -> None:
    late = bilat(
        pair,
        BUYER,
        "settle",
        "dispute",
        EUR_BILL,
        "--item",
        f"{EUR_BILL}-0001",
        "--reason",
        "too late",
        check=False,
    )
    # Every item of the bill is decided by now, so the refusal names that; the dispute window
    # itself is the fold's rule (tests/unit/settle) and the CLI's (tests/unit/runtime).
    assert late.returncode == 2 and "nothing to dispute" in late.stderr
