"""Bill notifications end to end on a real Redis: the Seller's API with its notifier, the
Buyer's listener, each on an ephemeral port of 127.0.0.1, talking real HTTP.

The Buyer subscribes at the Seller's ``/hub``; the test appends to the Seller's
``settle:events`` stream as the settle runtime does; the notifier POSTs each event to the
listener, which fetches the bill from the Seller's API and records both in the Buyer's Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import redis.asyncio as aioredis
from aiohttp import web

from connectors.billing.answers import JSON_TYPE, dumps
from connectors.billing.api import ApiConfig, build_app
from connectors.billing.events import MANAGEMENT_BASE_PATH
from connectors.billing.listener import build_listener
from connectors.billing.notifier import Notifier
from connectors.billing.store import BillingKeys, HubStore, ReceivedStore
from connectors.sonata.seller_api import RetryPolicy
from streams.runtime.config import Settings
from streams.settle.mef_schema import problems
from tests.fakes.billing import bill, loaded, stored

SELLER_TOKEN = "seller-api-token"
BUYER_TOKEN = "buyer-listener-token"
BILAT = str(Path(sys.executable).with_name("bilat"))
FAST = RetryPolicy(attempts=3, request_timeout=2.0, deadline=3.0, base_delay=0.05, max_delay=0.2)


@dataclass
class Parties:
    seller: Settings
    buyer: Settings
    notifiers: list[Notifier] = field(default_factory=list)

    def keys(self, settings: Settings) -> BillingKeys:
        return BillingKeys.of(settings)

    def seller_app(self) -> web.Application:
        def make(hub: HubStore) -> Notifier:
            notifier = Notifier(
                hub,
                source=self.seller.app_id,
                api_url="https://hgc.example" + MANAGEMENT_BASE_PATH,
                token=BUYER_TOKEN,
                policy=FAST,
                refresh=0.05,
                block_ms=50,
            )
            self.notifiers.append(notifier)
            return notifier

        config = ApiConfig(token=SELLER_TOKEN, seller_id=self.seller.party)
        return build_app(self.seller, config, notifier=make)

    def buyer_app(self, seller_url: str) -> web.Application:
        return build_listener(
            self.buyer,
            seller_url + MANAGEMENT_BASE_PATH,
            token=BUYER_TOKEN,
            seller_token=SELLER_TOKEN,
            policy=FAST,
        )


@pytest.fixture
def parties(redis_url: str) -> Iterator[Parties]:
    run = uuid.uuid4().hex[:10]
    url = loaded(redis_url)
    pair = Parties(
        seller=Settings.from_env({}, party=f"hgc-{run}", redis=url),
        buyer=Settings.from_env({}, party=f"dcc-{run}", redis=url),
    )
    yield pair
    client = redis.Redis.from_url(url)
    for settings in (pair.seller, pair.buyer):
        keys = BillingKeys.of(settings)
        client.delete(*(getattr(keys, name) for name in keys.__slots__))
    client.close()


@asynccontextmanager
async def serving(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def subscribe(seller_url: str, callback: str, query: str | None = None) -> str:
    body: dict[str, Any] = {"callback": callback}
    if query is not None:
        body["query"] = query
    headers = {"Authorization": f"Bearer {SELLER_TOKEN}", "Content-Type": JSON_TYPE}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{seller_url}{MANAGEMENT_BASE_PATH}/hub", data=dumps(body), headers=headers
        ) as response,
    ):
        assert response.status == 201, await response.text()
        ident: str = (await response.json(content_type=None))["id"]
        return ident


class Seller:
    """The settle runtime's side of the Seller's Redis: bills and events."""

    def __init__(self, settings: Settings) -> None:
        self.keys = BillingKeys.of(settings)
        self.redis = aioredis.Redis.from_url(settings.redis, decode_responses=True)

    async def issue(self, customer_bill: dict[str, Any], event: str) -> str:
        await self.redis.hset(self.keys.bills, customer_bill["id"], dumps(stored(customer_bill)))
        fields = {
            "event": event,
            "bill_id": customer_bill["id"],
            "state": customer_bill["state"],
            "time": "2026-04-02T00:00:00Z",
        }
        stream_id: str = await self.redis.xadd(self.keys.events, fields)  # type: ignore[arg-type]
        return stream_id


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)
    return result


@asynccontextmanager
async def sides(parties: Parties) -> AsyncIterator[tuple[Seller, ReceivedStore]]:
    """The Seller's settle runtime, and what the Buyer received (both closed at the end)."""
    seller = Seller(parties.seller)
    buyer = aioredis.Redis.from_url(parties.buyer.redis, decode_responses=True)
    try:
        yield seller, ReceivedStore(buyer, BillingKeys.of(parties.buyer))
    finally:
        await seller.redis.aclose()
        await buyer.aclose()


async def received_events(store: ReceivedStore) -> list[dict[str, str]]:
    entries = await store.redis.xrange(store.keys.received_events)
    return [dict(f) for _, f in entries]


def test_create_and_state_change_reach_the_buyer(parties: Parties) -> None:
    async def main() -> None:
        async with (
            sides(parties) as (seller, store),
            serving(parties.seller_app()) as seller_url,
            serving(parties.buyer_app(seller_url)) as buyer_url,
        ):
            hub_id = await subscribe(seller_url, buyer_url + "/")
            first = bill("B-2026-03-EUR")
            created_at = await seller.issue(first, "customerBillCreateEvent")

            entry = await until(lambda: store.bill("B-2026-03-EUR"))
            assert problems("CustomerBill", entry["bill"]) == []
            assert entry["bill"]["state"] == "generated"
            event = entry["event"]
            assert problems("CustomerBillEvent", event, spec="billingNotification") == []
            assert event == {
                "eventId": f"{parties.seller.app_id}/{created_at}",
                "eventTime": "2026-04-02T00:00:00Z",
                "eventType": "customerBillCreateEvent",
                "event": {
                    "id": "B-2026-03-EUR",
                    "href": f"https://hgc.example{MANAGEMENT_BASE_PATH}/customerBill/B-2026-03-EUR",
                },
            }

            paid = {**first, "state": "paymentDue"}
            changed_at = await seller.issue(paid, "customerBillStateChangeEvent")
            await until(lambda: _state_is(store, "B-2026-03-EUR", "paymentDue"))
            events = await until(lambda: _at_least(store, 2))
            assert [(e["event_type"], e["state"]) for e in events] == [
                ("customerBillCreateEvent", "generated"),
                ("customerBillStateChangeEvent", "paymentDue"),
            ]
            cursor = await HubStore(seller.redis, seller.keys).cursor(hub_id)
            assert cursor == changed_at  # the Seller remembers where the subscriber is

    asyncio.run(main())


def test_a_listener_that_is_down_gets_the_event_later_and_a_restart_resumes(
    parties: Parties,
) -> None:
    async def main() -> None:
        port = _free_port()
        async with sides(parties) as (seller, store):
            async with serving(parties.seller_app()) as seller_url:
                await subscribe(seller_url, f"http://127.0.0.1:{port}")
                await seller.issue(bill("B-1"), "customerBillCreateEvent")
                await asyncio.sleep(0.4)  # connection refused, retried with backoff
                assert await store.bill("B-1") is None
                async with serving(parties.buyer_app(seller_url), port):
                    await until(lambda: store.bill("B-1"))
            assert parties.notifiers[0].delivered == 1

            # The Seller's process is gone; an event comes meanwhile; a new process resumes
            await seller.issue(bill("B-2"), "customerBillCreateEvent")
            async with (
                serving(parties.seller_app()) as seller_url,
                serving(parties.buyer_app(seller_url), port),
            ):
                await until(lambda: store.bill("B-2"))
                await asyncio.sleep(0.2)  # time for a wrong redelivery of B-1 to show
            assert parties.notifiers[1].delivered == 1  # B-2 only: it did not start over
            assert [e["bill_id"] for e in await received_events(store)] == ["B-1", "B-2"]

    asyncio.run(main())


def test_a_subscription_gets_the_event_types_its_query_names(parties: Parties) -> None:
    async def main() -> None:
        async with (
            sides(parties) as (seller, store),
            serving(parties.seller_app()) as seller_url,
            serving(parties.buyer_app(seller_url)) as buyer_url,
        ):
            await subscribe(seller_url, buyer_url, "eventType = customerBillStateChangeEvent")
            await seller.issue(bill("B-3"), "customerBillCreateEvent")
            await seller.issue(bill("B-3", state="settled"), "customerBillStateChangeEvent")
            events = await until(lambda: _at_least(store, 1))
            await asyncio.sleep(0.2)
        assert [(e["event_type"], e["state"]) for e in events] == [
            ("customerBillStateChangeEvent", "settled")
        ]
        assert parties.notifiers[0].delivered == 1

    asyncio.run(main())


async def _state_is(store: ReceivedStore, bill_id: str, state: str) -> bool:
    entry = await store.bill(bill_id)
    return entry is not None and entry["bill"]["state"] == state


async def _at_least(store: ReceivedStore, count: int) -> list[dict[str, str]] | None:
    events = await received_events(store)
    return events if len(events) >= count else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_commands_as_processes(parties: Parties, tmp_path: Path) -> None:
    """``bilat billing serve`` and ``bilat billing listen`` as a user runs them, tokens from
    the environment: a bill event reaches the Buyer's Redis."""
    seller_port, buyer_port = _free_port(), _free_port()
    seller_url = f"http://127.0.0.1:{seller_port}"
    env = {**os.environ, "BILAT_REDIS": parties.seller.redis, "BILAT_TOPIC_PREFIX": ""}
    serve = [BILAT, "billing", "serve", "--party", parties.seller.party, "--port", str(seller_port)]
    listen = [
        *(BILAT, "billing", "listen", "--party", parties.buyer.party, "--port", str(buyer_port)),
        *("--seller-api", seller_url + MANAGEMENT_BASE_PATH),
    ]
    seller_env = {**env, "BILAT_API_TOKEN": SELLER_TOKEN, "BILAT_BILLING_NOTIFY_TOKEN": BUYER_TOKEN}
    buyer_env = {**env, "BILAT_API_TOKEN": BUYER_TOKEN, "BILAT_BILLING_SELLER_TOKEN": SELLER_TOKEN}
    logs = [(tmp_path / name).open("w") for name in ("serve.log", "listen.log")]
    processes = [
        subprocess.Popen(serve, env=seller_env, stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen(listen, env=buyer_env, stdout=logs[1], stderr=subprocess.STDOUT),
    ]

    async def main() -> None:
        async with sides(parties) as (seller, store):
            await until(lambda: _answers(seller_url), timeout=20)
            await until(lambda: _answers(f"http://127.0.0.1:{buyer_port}"), timeout=20)
            await subscribe(seller_url, f"http://127.0.0.1:{buyer_port}")
            await seller.issue(bill("B-cli"), "customerBillCreateEvent")
            entry = await until(lambda: store.bill("B-cli"))
            assert entry["event"]["event"]["href"] == (
                f"{seller_url}{MANAGEMENT_BASE_PATH}/customerBill/B-cli"
            )

    try:
        asyncio.run(main())
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        for log in logs:
            log.close()
    assert all(p.returncode in (0, -signal.SIGTERM) for p in processes), [
        (tmp_path / n).read_text() for n in ("serve.log", "listen.log")
    ]


async def _answers(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status in (401, 404)
    except aiohttp.ClientError:
        return False
