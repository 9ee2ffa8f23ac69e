"""The MEF 141 Billing API over real HTTP on a real Redis: bills, items, hub, errors.

The app is wired as ``bilat billing serve`` wires it (:func:`build_app`: Redis from the
settings) and listens on an ephemeral port; the bills are written into
``bilat:<app>:settle:bills`` as the settle runtime writes them. Every body is checked
against the vendored MEF schemas.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web

from connectors.billing.answers import dumps
from connectors.billing.api import ApiConfig, build_app
from connectors.billing.events import MANAGEMENT_BASE_PATH
from connectors.billing.store import BillingKeys
from streams.runtime.config import Settings
from streams.settle.mef_schema import problems
from streams.settle.query import MAX_LIMIT
from tests.fakes.billing import bill, loaded, stored

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_TYPE = "application/json;charset=utf-8"


def party_settings(redis_url: str) -> Settings:
    """A party of its own on the session Redis (its keys are this test's alone)."""
    party = f"hgc-{uuid.uuid4().hex[:10]}"
    return Settings.from_env({}, party=party, redis=loaded(redis_url))


def put_bills(settings: Settings, entries: list[dict[str, Any]]) -> None:
    client = redis.Redis.from_url(settings.redis)
    client.hset(
        BillingKeys.of(settings).bills,
        mapping={e["bill"]["id"]: dumps(e) for e in entries},
    )
    client.close()


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on an ephemeral port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any
    text: str


@dataclass
class Api:
    http: aiohttp.ClientSession
    base: str

    async def call(
        self, method: str, path: str, *, headers: Any = AUTH, body: Any = None
    ) -> Answer:
        data = None if body is None else (body if isinstance(body, bytes) else dumps(body))
        sent = {"Content-Type": JSON_TYPE, **headers} if data is not None else headers
        async with self.http.request(
            method, f"{self.base}{MANAGEMENT_BASE_PATH}{path}", data=data, headers=sent
        ) as response:
            text = await response.text()
            parsed = json.loads(text, parse_float=Decimal) if text else None
            return Answer(response.status, response.headers, parsed, text)


BILLS = [
    stored(bill("B-2026-03-EUR", month=3)),
    stored(bill("B-2026-03-USD", month=3, currency="USD", state="paymentDue")),
    stored(bill("B-2026-04-EUR", month=4, state="settled")),
    stored(bill("B-2026-05-EUR", month=5, account="other", category="trial")),
    stored(bill("B-received", month=3), role="buyer"),  # a bill this party was sent: not served
]


@pytest.fixture
def api_settings(redis_url: str) -> Iterator[Settings]:
    settings = party_settings(redis_url)
    put_bills(settings, BILLS)
    yield settings
    client = redis.Redis.from_url(redis_url)
    keys = BillingKeys.of(settings)
    client.delete(keys.bills, keys.hub, keys.cursors, keys.events)
    client.close()


def run(settings: Settings, test: Callable[[Api], Awaitable[None]]) -> None:
    async def main() -> None:
        config = ApiConfig(token=TOKEN, seller_id=settings.party, buyer_id="dcc")
        async with serving(build_app(settings, config)) as base, aiohttp.ClientSession() as http:
            await test(Api(http, base))

    asyncio.run(main())


def assert_error(answer: Answer, status: int, schema: str, code: str) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"] == JSON_TYPE
    assert problems(schema, answer.body) == [], answer.body
    assert answer.body["code"] == code


def test_list_filters_and_headers(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        everything = await api.call("GET", "/customerBill")
        assert everything.status == 200
        assert everything.headers["Content-Type"] == JSON_TYPE
        assert [b["id"] for b in everything.body] == [
            "B-2026-03-EUR",
            "B-2026-03-USD",
            "B-2026-04-EUR",
            "B-2026-05-EUR",
        ]
        for found in everything.body:
            assert problems("CustomerBill_Find", found) == []
            assert "amountDue" not in found  # the list holds the _Find projection only
        assert (
            everything.headers["X-Total-Count"],
            everything.headers["X-Result-Count"],
            everything.headers["X-Pagination-Throttled"],
        ) == ("4", "4", "false")

        cases = {
            "?state=paymentDue": ["B-2026-03-USD"],
            "?billingAccount.id=other&category=trial": ["B-2026-05-EUR"],
            "?billingPeriod.startDateTime.gt=2026-04-01T01:00:00%2B02:00"
            "&billingPeriod.endDateTime.lt=2026-06-01T00:00:00.001Z": [
                "B-2026-04-EUR",
                "B-2026-05-EUR",
            ],
            "?billingPeriod.endDateTime.gt=2026-06-01T00:00:00Z": [],
        }
        for query, want in cases.items():
            answer = await api.call("GET", f"/customerBill{query}")
            assert answer.status == 200, answer.text
            assert [b["id"] for b in answer.body] == want, query
            assert answer.headers["X-Result-Count"] == str(len(want))

        page = await api.call("GET", "/customerBill?offset=1&limit=2")
        assert [b["id"] for b in page.body] == ["B-2026-03-USD", "B-2026-04-EUR"]
        assert (page.headers["X-Total-Count"], page.headers["X-Result-Count"]) == ("4", "2")

    run(api_settings, test)


def test_bad_filters_are_the_spec_error400(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        cases = {
            "?state=": "missingQueryValue",
            "?state=paid": "invalidQuery",
            "?colour=blue": "invalidQuery",
            "?offset=-1": "invalidQuery",
            "?limit=ten": "invalidQuery",
            "?billingPeriod.startDateTime.lt=yesterday": "invalidQuery",
            "?billingPeriod.startDateTime.lt=2026-04-01T00:00:00+02:00": "invalidQuery",
            "?category=normal&category=trial": "invalidQuery",
            "?%ED%A0%80=%FF": "invalidQuery",  # not UTF-8
        }
        for query, code in cases.items():
            answer = await api.call("GET", f"/customerBill{query}")
            assert_error(answer, 400, "Error400", code)
            assert answer.text.isascii()

    run(api_settings, test)


def test_a_page_over_the_maximum_is_throttled(redis_url: str) -> None:
    settings = party_settings(redis_url)
    put_bills(settings, [stored(bill(f"B-{n:04d}")) for n in range(MAX_LIMIT + 7)])

    async def test(api: Api) -> None:
        answer = await api.call("GET", f"/customerBill?limit={MAX_LIMIT + 50}")
        assert answer.status == 200
        assert len(answer.body) == MAX_LIMIT
        assert (
            answer.headers["X-Total-Count"],
            answer.headers["X-Result-Count"],
            answer.headers["X-Pagination-Throttled"],
        ) == (str(MAX_LIMIT + 7), str(MAX_LIMIT), "true")
        rest = await api.call("GET", f"/customerBill?offset={MAX_LIMIT}")
        assert [b["id"] for b in rest.body] == [
            f"B-{n:04d}" for n in range(MAX_LIMIT, MAX_LIMIT + 7)
        ]
        assert rest.headers["X-Pagination-Throttled"] == "false"

    run(settings, test)


def test_one_bill_and_one_item_as_the_spec_arrays(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        one = await api.call("GET", "/customerBill/B-2026-03-USD")
        assert one.status == 200
        assert one.headers["Content-Type"] == JSON_TYPE
        (customer_bill,) = one.body
        assert problems("CustomerBill", customer_bill) == []
        assert customer_bill["amountDue"] == {"unit": "USD", "value": Decimal("1250.125")}
        assert '"value":1250.125' in one.text  # the stored digits, not a float's

        item = await api.call("GET", "/customerBillItem/B-2026-03-USD-0002")
        assert item.status == 200
        (customer_bill_item,) = item.body
        assert problems("CustomerBillItem", customer_bill_item) == []
        assert customer_bill_item["id"] == "B-2026-03-USD-0002"

        for path in (
            "/customerBill/B-nope",
            "/customerBill/B-received",  # in the hash, but issued to us: not ours to serve
            "/customerBillItem/B-2026-03-USD-0009",
            "/customerBillItem/x",
        ):
            missing = await api.call("GET", path)
            assert_error(missing, 404, "Error", "notFound")
            assert problems("Error404", missing.body) == []

    run(api_settings, test)


def test_credentials_are_required(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        for path in ("/customerBill", "/customerBill/B-2026-03-EUR", "/hub/x", "/nowhere"):
            none = await api.call("GET", path, headers={})
            assert_error(none, 401, "Error401", "missingCredentials")
            assert none.headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, "Bearer s3cret"):
            answer = await api.call("GET", "/customerBill", headers={"Authorization": wrong})
            assert_error(answer, 401, "Error401", "invalidCredentials")
        posted = await api.call("POST", "/hub", headers={}, body={"callback": "http://x.example"})
        assert_error(posted, 401, "Error401", "missingCredentials")

    run(api_settings, test)


def test_hub_register_get_delete(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        body = {
            "callback": "https://dcc.example/billing/",
            "query": "eventType=customerBillCreateEvent",
        }
        created = await api.call("POST", "/hub?buyerId=dcc", body=body)
        assert created.status == 201, created.text
        assert problems("EventSubscription", created.body) == []
        ident = created.body["id"]
        assert created.body == {
            "id": ident,
            "callback": "https://dcc.example/billing",
            "query": "eventType=customerBillCreateEvent",
        }
        assert created.headers["Location"] == f"{MANAGEMENT_BASE_PATH}/hub/{ident}"

        got = await api.call("GET", f"/hub/{ident}")
        assert (got.status, got.body) == (200, created.body)

        gone = await api.call("DELETE", f"/hub/{ident}")
        assert (gone.status, gone.text) == (204, "")
        assert_error(await api.call("GET", f"/hub/{ident}"), 404, "Error404", "notFound")
        assert_error(await api.call("DELETE", f"/hub/{ident}"), 404, "Error404", "notFound")

    run(api_settings, test)


def test_hub_refusals(api_settings: Settings) -> None:
    async def test(api: Api) -> None:
        bad_bodies: list[Any] = [
            {},
            {"callback": 7},
            {"callback": "ftp://dcc.example"},
            {"callback": "https://dcc.example/?x=1"},
            {
                "callback": "https://dcc.example",
                "query": "eventType=troubleTicketStatusChangeEvent",
            },
            {"callback": "https://dcc.example", "query": "state=settled"},
            [],
            b"{not json",
        ]
        for body in bad_bodies:
            answer = await api.call("POST", "/hub", body=body)
            assert_error(answer, 400, "Error400", "invalidBody")
        foreign = await api.call(
            "POST", "/hub?sellerId=acme", body={"callback": "https://x.example"}
        )
        assert_error(foreign, 403, "Error403", "accessDenied")
        other_buyer = await api.call("GET", "/hub/x?buyerId=someone")
        assert_error(other_buyer, 403, "Error403", "accessDenied")
        assert_error(await api.call("PUT", "/hub/x"), 405, "Error501", "notImplemented")
        assert_error(await api.call("GET", "/nowhere"), 404, "Error404", "notFound")

    run(api_settings, test)
