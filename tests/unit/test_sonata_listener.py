"""The listener app end to end in memory: fake Seller API, real client, in-memory publisher.

Checks the HTTP contract (204 only after publishing, 400 with every problem as a MEF
Error400, 503 + Retry-After when the Seller is unavailable or Kafka does not acknowledge,
500 when the Seller's data is unusable) on the exact paths of the MEF yaml.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.sonata import PublishError
from connectors.sonata.listener import NotificationHandler, Parties, make_app
from connectors.sonata.notifications import (
    EVENT_TYPES,
    LISTENER_BASE_PATH,
    PRODUCT_ORDER_EVENT_TYPES,
)
from connectors.sonata.seller_api import RetryPolicy, SellerApiClient
from tests.fakes.mef_payloads import (
    CHARGE_ID,
    ORDER_ID,
    PRODUCT_ID,
    charge,
    dumps,
    notification,
    notifications,
    order_item,
    product_order,
)
from tests.fakes.seller_api import FakeSellerApi

ITEM_EVENT = "productOrderItemStateChangeEvent"
QUICK = RetryPolicy(attempts=3, deadline=2.0, base_delay=0.0, max_delay=0.0)


@dataclass
class MemoryPublisher:
    """Records what it is asked to publish; ``fail`` makes the next publish raise it."""

    published: list[dict[str, Any]] = field(default_factory=list)
    fail: Exception | None = None

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        if self.fail is not None:
            raise self.fail
        self.published.extend(dict(r) for r in records)


@dataclass
class Rig:
    fake: FakeSellerApi
    publisher: MemoryPublisher
    http: TestClient[Any, Any]

    async def post(self, event_type: str, body: object) -> tuple[int, Any, Mapping[str, str]]:
        raw = body if isinstance(body, bytes) else dumps(body)
        url = f"{LISTENER_BASE_PATH}/listener/{event_type}"
        async with self.http.post(url, data=raw, headers=_JSON) as response:
            payload = await response.json() if response.status != 204 else None
            return response.status, payload, response.headers


_JSON = {"Content-Type": "application/json;charset=utf-8"}


def run(test: Callable[[Rig], Awaitable[None]], *, fetch_budget: float = 12.0) -> None:
    async def main() -> None:
        fake = FakeSellerApi(orders={ORDER_ID: product_order()}, charges={CHARGE_ID: charge()})
        publisher = MemoryPublisher()
        async with fake, SellerApiClient(fake.base_url, policy=QUICK) as client:
            handler = NotificationHandler(
                client, publisher, Parties("dcc", "hgc"), fetch_budget=fetch_budget
            )
            async with TestClient(TestServer(make_app(handler))) as http:
                await test(Rig(fake, publisher, http))

    asyncio.run(main())


def assert_error(schema: str, body: Any) -> None:
    notifications().assert_valid(schema, body)


def test_completed_add_item_is_published_then_acknowledged() -> None:
    async def test(rig: Rig) -> None:
        status, body, _ = await rig.post(ITEM_EVENT, notification())
        assert (status, body) == (204, None)
        (record,) = rig.publisher.published
        assert (record["order_id"], record["order_item_id"], record["state"]) == (
            ORDER_ID,
            "1",
            "completed",
        )
        assert (record["product_id"], record["buyer_id"], record["seller_id"]) == (
            PRODUCT_ID,
            "dcc",
            "hgc",
        )
        accepted = [c for c in record["charge_items"] if c["state"] == "acceptedByBuyer"]
        assert [(c["amount"], c["currency"]) for c in accepted] == [("1250.0000", "USD")]
        assert [r.path for r in rig.fake.log] == [
            f"/productOrder/{ORDER_ID}",
            f"/charge/{CHARGE_ID}",
        ]

    run(test)


def test_replayed_notification_gives_identical_records() -> None:
    async def test(rig: Rig) -> None:
        for _ in range(2):
            status, _, _ = await rig.post(ITEM_EVENT, notification())
            assert status == 204
        first, second = rig.publisher.published
        assert first == second and first["event_id"] == "EVT-20261124-0001/1"

    run(test)


def test_order_event_publishes_every_item() -> None:
    async def test(rig: Rig) -> None:
        rig.fake.orders[ORDER_ID] = product_order(
            items=[order_item(), order_item("2", product_id="PRD-2", charges=())]
        )
        body = notification("productOrderStateChangeEvent", item_id=None)
        status, _, _ = await rig.post("productOrderStateChangeEvent", body)
        assert status == 204
        assert [r["order_item_id"] for r in rig.publisher.published] == ["1", "2"]

    run(test)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_mef_path_is_served(event_type: str) -> None:
    async def test(rig: Rig) -> None:
        status, _, _ = await rig.post(event_type, notification(event_type))
        assert status == 204
        publishes = event_type in PRODUCT_ORDER_EVENT_TYPES
        assert bool(rig.publisher.published) == publishes
        assert bool(rig.fake.log) == publishes  # other events need no Seller call

    run(test)


def test_routes_are_the_yaml_paths() -> None:
    async def test(rig: Rig) -> None:
        routes = {r.resource.canonical for r in rig.http.app.router.routes()}  # type: ignore[union-attr]
        spec = {f"{LISTENER_BASE_PATH}{p}" for p in notifications().document["paths"]}
        assert routes == spec

    run(test)


def _without(key: str) -> dict[str, Any]:
    body = notification()
    del body[key]
    return body


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (_without("eventId"), ["$.eventId: got nothing, want a non-empty string"]),
        (
            {**notification(), "eventType": "productOrderStateChangeEvent"},
            ["$.eventType: got 'productOrderStateChangeEvent', want 'productOrderItemStateChange"],
        ),
        (
            {**notification(), "eventTime": "24/11/2026 10:00"},
            ["$.eventTime: got '24/11/2026 10:00', want an RFC 3339 date-time"],
        ),
        (b'{"eventId": "E1",', ["$: got a body that is not JSON (Expecting"]),
        (b"[]", ["$: got an array, want an object (a MEF ProductOrderEvent)"]),
        (
            {"eventTime": "never", "event": {"orderItemId": 1}},
            [
                "$.eventId: got nothing",
                "$.eventTime: got 'never'",
                "$.eventType: got nothing",
                "$.event.id: got nothing",
                "$.event.orderItemId: got number 1, want a non-empty string",
            ],
        ),
    ],
)
def test_invalid_bodies_get_400_with_every_problem(body: object, problems: list[str]) -> None:
    async def test(rig: Rig) -> None:
        status, error, headers = await rig.post(ITEM_EVENT, body)
        assert status == 400
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert_error("Error400", error)
        assert error["code"] == "invalidBody"
        got = error["message"].split("\n")
        assert len(got) == len(problems)
        for message, want in zip(got, problems, strict=True):
            assert message.startswith(want), (message, want)
        assert rig.publisher.published == [] and rig.fake.log == []

    run(test)


def test_seller_down_gives_503_and_publishes_nothing() -> None:
    async def test(rig: Rig) -> None:
        rig.fake.fail_next(100, 503)
        status, error, headers = await rig.post(ITEM_EVENT, notification())
        assert status == 503 and headers["Retry-After"] == "30"
        assert_error("Error500", error)
        assert "unavailable after 3 attempt(s)" in error["message"]
        assert rig.publisher.published == []

    run(test)


def test_seller_failing_twice_then_answering_is_published() -> None:
    async def test(rig: Rig) -> None:
        rig.fake.fail_next(2, 503)
        status, _, _ = await rig.post(ITEM_EVENT, notification())
        assert status == 204 and len(rig.publisher.published) == 1

    run(test)


def test_slow_seller_beyond_the_fetch_budget_gives_503() -> None:
    async def test(rig: Rig) -> None:
        rig.fake.delay = 0.5
        status, error, _ = await rig.post(ITEM_EVENT, notification())
        assert status == 503
        assert "took longer than 0.05 s" in error["message"]
        assert rig.publisher.published == []

    run(test, fetch_budget=0.05)


def test_unknown_order_gives_500() -> None:
    async def test(rig: Rig) -> None:
        status, error, _ = await rig.post(ITEM_EVENT, notification(subject_id="PO-404"))
        assert status == 500
        assert_error("Error500", error)
        assert "got HTTP 404 (notFound: productOrder PO-404 not found)" in error["message"]
        assert rig.publisher.published == []

    run(test)


def test_unusable_seller_data_gives_500_with_the_problems() -> None:
    async def test(rig: Rig) -> None:
        rig.fake.orders[ORDER_ID] = product_order(items=[order_item(state="done")])
        status, error, _ = await rig.post(ITEM_EVENT, notification())
        assert status == 500
        assert "ProductOrder $.productOrderItem[0].state: got 'done'" in error["message"]
        assert rig.publisher.published == []

    run(test)


def test_kafka_not_acknowledging_gives_503() -> None:
    async def test(rig: Rig) -> None:
        rig.publisher.fail = PublishError("sonata.orders: Kafka did not acknowledge")
        status, error, headers = await rig.post(ITEM_EVENT, notification())
        assert (status, headers["Retry-After"]) == (503, "30")
        assert error["message"] == "sonata.orders: Kafka did not acknowledge"

    run(test)


def test_a_bug_gives_a_json_500_not_html() -> None:
    async def test(rig: Rig) -> None:
        rig.publisher.fail = RuntimeError("boom")
        status, error, _ = await rig.post(ITEM_EVENT, notification())
        assert status == 500
        assert_error("Error500", error)
        assert error["message"] == "boom"

    run(test)


def test_other_paths_and_methods() -> None:
    async def test(rig: Rig) -> None:
        async with rig.http.post(f"{LISTENER_BASE_PATH}/listener/nope", data=b"{}") as response:
            assert response.status == 404
        async with rig.http.get(f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}") as response:
            assert response.status == 405

    run(test)


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_help_shows_an_example_and_the_seller_api_is_required() -> None:
    from click.testing import CliRunner

    from connectors.sonata.cli import sonata

    runner = CliRunner()
    shown = runner.invoke(sonata, ["listen", "--help"])
    assert shown.exit_code == 0
    assert "bilat sonata listen --party dcc" in shown.output
    assert "BILAT_SONATA_SELLER_API" in shown.output and "8440" in shown.output
    missing = runner.invoke(sonata, ["listen"], env={"BILAT_SONATA_SELLER_API": ""})
    assert missing.exit_code == 2 and "Missing option '--seller-api'" in missing.output
    bad = runner.invoke(sonata, ["listen", "--seller-api", "hgc.example"])
    assert bad.exit_code == 2 and "want http(s)://" in bad.output


def test_cli_parties_default_to_the_agreement() -> None:
    from connectors.sonata.cli import _parties
    from streams.config import Settings

    agreement = Settings().agreement
    assert _parties(None, None, agreement) == Parties("dcc", "hgc")
    assert _parties("dcc-eu", None, agreement) == Parties("dcc-eu", "hgc")
    assert _parties("b", "s", agreement.with_name("missing.yaml")) == Parties("b", "s")
