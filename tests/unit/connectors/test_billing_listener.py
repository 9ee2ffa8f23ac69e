"""The Buyer's bill notification listener in memory: a fake Seller API, a recording store.

Checks the answers: 204 once the bill is fetched and recorded; 401 without the token; 400
``invalidBody`` listing every problem; 503 + ``Retry-After`` when the Seller's API or Redis is
unavailable; 500 when the Seller refuses the bill or serves an unusable one. Every error body
is valid against the notification spec's Error schemas.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.exceptions
from aiohttp.test_utils import TestClient, TestServer

from connectors.billing.answers import JSON_TYPE, dumps
from connectors.billing.events import NOTIFICATION_BASE_PATH
from connectors.billing.listener import make_listener
from connectors.sonata import SellerApiError, SellerUnavailableError
from streams.settle.mef_schema import problems
from tests.fakes.billing import bill

TOKEN = "listener-token"
EVENT = {
    "eventId": "hgc/1-0",
    "eventTime": "2026-04-02T00:00:00Z",
    "eventType": "customerBillCreateEvent",
    "event": {"id": "B-1", "href": "https://hgc.example/customerBill/B-1"},
}


@dataclass
class FakeSeller:
    answer: Any = None
    fail: Exception | None = None
    asked: list[str] = field(default_factory=list)

    async def get_customer_bill(self, bill_id: str) -> Any:
        self.asked.append(bill_id)
        if self.fail is not None:
            raise self.fail
        return self.answer


@dataclass
class FakeRecorder:
    kept: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = field(default_factory=list)
    fail: Exception | None = None

    async def record(
        self, event: Mapping[str, Any], bill: Mapping[str, Any], received_ms: int
    ) -> bool:
        if self.fail is not None:
            raise self.fail
        self.kept.append((event, bill))
        return True


@dataclass
class Rig:
    seller: FakeSeller
    recorder: FakeRecorder
    http: TestClient[Any, Any]

    async def post(
        self,
        body: Any,
        event_type: str = "customerBillCreateEvent",
        token: str | None = TOKEN,
    ) -> tuple[int, Any, Mapping[str, str]]:
        headers = {"Content-Type": JSON_TYPE}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, bytes) else dumps(body)
        url = f"{NOTIFICATION_BASE_PATH}/listener/{event_type}"
        async with self.http.post(url, data=raw, headers=headers) as response:
            payload = await response.json(content_type=None) if response.status != 204 else None
            return response.status, payload, response.headers


def run(test: Callable[[Rig], Awaitable[None]], answer: Any = None) -> None:
    async def main() -> None:
        seller = FakeSeller([bill("B-1")] if answer is None else answer)
        recorder = FakeRecorder()
        app = make_listener(seller, recorder, token=TOKEN)
        async with TestClient(TestServer(app)) as http:
            await test(Rig(seller, recorder, http))

    asyncio.run(main())


def assert_error(schema: str, body: Any, code: str) -> None:
    assert problems(schema, body, spec="billingNotification") == [], body
    assert body["code"] == code


def test_a_valid_event_is_fetched_recorded_then_acknowledged() -> None:
    async def test(rig: Rig) -> None:
        status, body, _ = await rig.post(EVENT)
        assert (status, body) == (204, None)
        assert rig.seller.asked == ["B-1"]
        ((event, kept),) = rig.recorder.kept
        assert event == EVENT
        assert kept["id"] == "B-1"

    run(test)


def test_a_bare_customer_bill_object_is_taken_too() -> None:
    async def test(rig: Rig) -> None:
        assert (await rig.post(EVENT))[0] == 204

    run(test, answer=bill("B-1"))


@pytest.mark.parametrize("token", [None, "wrong"])
def test_no_or_a_wrong_token_is_401(token: str | None) -> None:
    async def test(rig: Rig) -> None:
        status, body, headers = await rig.post(EVENT, token=token)
        assert status == 401
        assert headers["Content-Type"] == JSON_TYPE
        assert_error(
            "Error401", body, "missingCredentials" if token is None else "invalidCredentials"
        )
        assert rig.seller.asked == []

    run(test)


def _without(key: str) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    del event[key]
    return event


@pytest.mark.parametrize(
    ("body", "event_type", "says"),
    [
        (b"{nope", "customerBillCreateEvent", "not JSON"),
        ([], "customerBillCreateEvent", "is not of type 'object'"),
        (_without("eventId"), "customerBillCreateEvent", "'eventId' is a required property"),
        (_without("event"), "customerBillCreateEvent", "'event' is a required property"),
        ({**EVENT, "eventTime": "yesterday"}, "customerBillCreateEvent", "$.eventTime"),
        ({**EVENT, "eventType": "billPaid"}, "customerBillCreateEvent", "$.eventType"),
        ({**EVENT, "event": {"id": ""}}, "customerBillCreateEvent", "$.event.id"),
        (EVENT, "customerBillStateChangeEvent", "at /listener/customerBillStateChangeEvent"),
    ],
)
def test_bad_bodies_are_400_invalid_body(body: Any, event_type: str, says: str) -> None:
    async def test(rig: Rig) -> None:
        status, answer, _ = await rig.post(body, event_type)
        assert status == 400
        assert_error("Error400", answer, "invalidBody")
        assert says in answer["message"]
        assert rig.seller.asked == []

    run(test)


def test_seller_unavailable_or_redis_down_is_503_with_retry_after() -> None:
    async def test(rig: Rig) -> None:
        rig.seller.fail = SellerUnavailableError("down", url="http://x", status=503, attempts=8)
        status, body, headers = await rig.post(EVENT)
        assert (status, headers["Retry-After"]) == (503, "30")
        assert_error("Error500", body, "internalError")
        assert "http://x" not in body["message"]  # internals go to the log, not the Seller

        rig.seller.fail = None
        rig.recorder.fail = redis.exceptions.ConnectionError("refused")
        status, body, _ = await rig.post(EVENT)
        assert status == 503
        assert rig.recorder.kept == []

    run(test)


def test_a_refused_or_unusable_bill_is_500() -> None:
    async def test(rig: Rig) -> None:
        rig.seller.fail = SellerApiError("404", url="http://x", status=404, attempts=1)
        status, body, _ = await rig.post(EVENT)
        assert status == 500
        assert "HTTP 404" in body["message"]

        rig.seller.fail = None
        for answer, says in (
            ([], "want one CustomerBill"),
            ([bill("B-1"), bill("B-1")], "want one CustomerBill"),
            ([{"id": "B-1"}], "$[0]: 'amountDue' is a required property"),
            ([bill("B-2")], "$[0].id: got 'B-2', want the notified 'B-1'"),
        ):
            rig.seller.answer = answer
            status, body, _ = await rig.post(EVENT)
            assert status == 500
            assert_error("Error500", body, "internalError")
            assert says in body["message"]
        assert rig.recorder.kept == []

    run(test)


def test_other_paths_and_methods_are_mef_errors() -> None:
    async def test(rig: Rig) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with rig.http.post("/listener/other", headers=headers) as response:
            assert response.status == 404
            assert (await response.json(content_type=None))["code"] == "notFound"
        url = f"{NOTIFICATION_BASE_PATH}/listener/customerBillCreateEvent"
        async with rig.http.get(url, headers=headers) as response:
            assert response.status == 405
            assert response.headers["Content-Type"] == JSON_TYPE

    run(test)
