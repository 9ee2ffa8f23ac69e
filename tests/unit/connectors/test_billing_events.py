"""Hub subscriptions, event bodies and the notifier's delivery rules, without Redis.

The notifier runs against an in-memory hub (the :class:`HubStore` methods it uses) and a
listener on an ephemeral port; its sleeps are recorded, not slept, so the backoff is checked
without waiting.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.billing.answers import dumps
from connectors.billing.events import (
    EVENT_TYPES,
    BillEvent,
    Subscription,
    parse_event_types,
    parse_subscription,
)
from connectors.billing.notifier import Notifier
from connectors.sonata.seller_api import RetryPolicy
from streams.settle.mef_schema import problems
from tests.fakes.billing import MemoryHub

FIELDS = {"event": "customerBillCreateEvent", "bill_id": "B 1/x", "time": "2026-04-02T00:00:00Z"}


@pytest.mark.parametrize(
    ("query", "want"),
    [
        (None, EVENT_TYPES),
        ("", EVENT_TYPES),
        ("eventType=customerBillCreateEvent", ("customerBillCreateEvent",)),
        (" eventType = customerBillStateChangeEvent , customerBillCreateEvent ", EVENT_TYPES),
    ],
)
def test_event_type_queries(query: str | None, want: tuple[str, ...]) -> None:
    assert parse_event_types(query) == want


@pytest.mark.parametrize(
    "query", ["state=settled", "eventType=", "eventType=x,customerBillCreateEvent"]
)
def test_bad_event_type_queries_say_why(query: str) -> None:
    assert isinstance(parse_event_types(query), str)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "'callback' is a required property"),
        ({"callback": "dcc.example"}, "want an absolute http(s) URL"),
        ({"callback": "https://dcc.example:99999"}, "want a URL"),
        ({"callback": "https://dcc.example/#x"}, "without query or fragment"),
        ({"callback": "https://dcc.example/a b"}, "without spaces"),
        ({"callback": "https://" + "d" * 3000}, "want at most 2048"),
        ({"callback": "https://dcc.example", "query": 3}, "$.query"),
    ],
)
def test_bad_subscriptions_list_their_problems(body: Any, says: str) -> None:
    found = parse_subscription(body, "h1")
    assert isinstance(found, list)
    assert any(says in p for p in found), found


def test_a_subscription_round_trips_and_builds_listener_urls() -> None:
    parsed = parse_subscription({"callback": "https://dcc.example/b/"}, "h1", buyer_id="dcc")
    assert isinstance(parsed, Subscription)
    assert Subscription.from_json(parsed.to_json()) == parsed
    assert parsed.resource() == {"id": "h1", "callback": "https://dcc.example/b"}
    assert parsed.url_for("customerBillCreateEvent") == (
        "https://dcc.example/b/mefApi/sonata/customerBillNotification/v2/listener/"
        "customerBillCreateEvent"
    )


def test_an_event_body_is_a_valid_customer_bill_event() -> None:
    event = BillEvent.from_fields("5-1", FIELDS)
    assert isinstance(event, BillEvent)
    subscription = Subscription("h1", "https://dcc.example", None, EVENT_TYPES, buyer_id="dcc")
    body = event.body(subscription, source="bilat-hgc-main", api_url="https://hgc.example/v2/")
    assert problems("CustomerBillEvent", body, spec="billingNotification") == []
    assert body["eventId"] == "bilat-hgc-main/5-1"
    assert body["event"] == {
        "id": "B 1/x",
        "href": "https://hgc.example/v2/customerBill/B%201%2Fx",
        "buyerId": "dcc",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {**FIELDS, "event": "billPaid"},
        {**FIELDS, "bill_id": ""},
        {**FIELDS, "time": "2026-04-02"},
        {"event": "customerBillCreateEvent"},
    ],
)
def test_stream_entries_that_are_not_events_say_why(fields: dict[str, str]) -> None:
    assert isinstance(BillEvent.from_fields("1-0", fields), str)


def test_decimals_are_written_with_their_digits() -> None:
    value = {"a": [Decimal("1250.1250"), Decimal("-0.0000001"), 3, None, "é"]}
    assert dumps(value) == b'{"a":[1250.1250,-1E-7,3,null,"\\u00e9"]}'
    with pytest.raises(ValueError, match="finite"):
        dumps(Decimal("NaN"))


def test_the_notifier_retries_with_backoff_passes_over_and_keeps_order() -> None:
    """Two 503s then 204: waits of the policy's backoff; an entry that is no event and one
    the subscription does not want are passed over; events arrive in stream order."""
    received: list[tuple[str, str | None, Any]] = []
    answers = [503, 503]

    async def listener(request: web.Request) -> web.Response:
        if answers:
            return web.Response(status=answers.pop(0))
        received.append((request.path, request.headers.get("Authorization"), await request.json()))
        return web.Response(status=204)

    async def main() -> list[float]:
        app = web.Application()
        app.router.add_post(
            "/b/mefApi/sonata/customerBillNotification/v2/listener/{type}", listener
        )
        async with TestServer(app) as server:
            callback = str(server.make_url("/b"))
            wanted = ("customerBillStateChangeEvent",)
            hub = MemoryHub(
                [Subscription("h1", callback, "eventType=customerBillStateChangeEvent", wanted)],
                [
                    ("1-0", {**FIELDS, "event": "customerBillStateChangeEvent", "bill_id": "B1"}),
                    ("2-0", {"event": "nonsense"}),
                    ("3-0", {**FIELDS, "bill_id": "B2"}),  # a create: not wanted
                    ("4-0", {**FIELDS, "event": "customerBillStateChangeEvent", "bill_id": "B3"}),
                ],
            )
            sleeps: list[float] = []

            async def sleep(seconds: float) -> None:
                sleeps.append(seconds)
                await asyncio.sleep(0)

            policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
            notifier = Notifier(
                hub,  # type: ignore[arg-type]
                source="src",
                api_url="https://hgc.example",
                token="t",
                policy=policy,
                refresh=0.25,
                block_ms=5,
                sleep=sleep,
                rand=lambda: 0.0,
            )
            task = notifier.start()
            while hub.cursors.get("h1") != "4-0":
                await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert notifier.delivered == 2
            return sleeps

    sleeps = asyncio.run(main())
    assert [body["event"]["id"] for _, _, body in received] == ["B1", "B3"]
    assert {auth for _, auth, _ in received} == {"Bearer t"}
    assert received[0][0].endswith("/listener/customerBillStateChangeEvent")
    backoffs = [s for s in sleeps if s != 0.25]  # not the hub's refresh
    assert backoffs == [0.5, 1.0]  # base·2^n, jitter at its floor (rand = 0): half of it
