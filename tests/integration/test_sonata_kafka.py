"""The Sonata listener through a real broker: fake Seller API, real listener, real Kafka.

The listener runs exactly as ``bilat sonata listen`` wires it (:func:`build_app`: the real
Seller API client and the idempotent Kafka publisher) on an ephemeral port, and notifications
are POSTed to it over HTTP. What reaches ``<prefix>sonata.orders`` is read back and decoded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.sonata.listener import NotificationHandler, Parties, build_app, make_app
from connectors.sonata.notifications import LISTENER_BASE_PATH
from connectors.sonata.orders import SUBJECT
from connectors.sonata.publisher import TOPIC, KafkaOrderPublisher
from connectors.sonata.seller_api import RetryPolicy, SellerApiClient
from streams.runtime.config import Settings
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from streams.runtime.topics import ensure_topics
from tests.fakes.mef_payloads import (
    CHARGE_ID,
    COMPLETED_AT_MS,
    EVENT_TIME_MS,
    OFFERING_ID,
    ORDER_ID,
    PRODUCT_ID,
    charge,
    dumps,
    notification,
    product_order,
)
from tests.fakes.seller_api import FakeSellerApi

ITEM_EVENT = "productOrderItemStateChangeEvent"
POLICY = RetryPolicy(attempts=4, deadline=3.0, base_delay=0.05, max_delay=0.2)
CODEC = make_codec()


def post_all(
    settings: Settings,
    bodies: Sequence[dict[str, Any]],
    prepare: Callable[[FakeSellerApi], None] = lambda fake: None,
) -> tuple[list[int], FakeSellerApi]:
    """POST ``bodies`` in turn to a listener on an ephemeral port; the HTTP statuses."""

    async def main() -> tuple[list[int], FakeSellerApi]:
        fake = FakeSellerApi(orders={ORDER_ID: product_order()}, charges={CHARGE_ID: charge()})
        prepare(fake)
        async with fake:
            app = build_app(settings, fake.base_url, Parties("dcc", "hgc"), policy=POLICY)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
            statuses = []
            try:
                async with aiohttp.ClientSession() as http:
                    for body in bodies:
                        async with http.post(url, data=dumps(body)) as response:
                            statuses.append(response.status)
            finally:
                await runner.cleanup()  # closes the client, flushes the producer
        return statuses, fake

    ensure_topics(settings, [TOPIC])
    return asyncio.run(main())


def published(settings: Settings) -> list[tuple[bytes | None, bytes]]:
    return list(read_topic(settings, settings.topic(TOPIC)))


def test_completed_add_item_reaches_sonata_orders(settings: Settings) -> None:
    statuses, _ = post_all(settings, [notification()])
    assert statuses == [204]
    ((key, value),) = published(settings)
    assert key == PRODUCT_ID.encode()
    record = CODEC.decode(SUBJECT, value)
    assert record["event_id"] == "EVT-20261124-0001/1"
    assert (record["event_type"], record["event_time_ms"]) == (ITEM_EVENT, EVENT_TIME_MS)
    assert (record["order_id"], record["order_item_id"]) == (ORDER_ID, "1")
    assert (record["state"], record["action"]) == ("completed", "add")
    assert (record["product_id"], record["product_offering_id"]) == (PRODUCT_ID, OFFERING_ID)
    assert record["completion_date_ms"] == COMPLETED_AT_MS
    assert (record["buyer_id"], record["seller_id"]) == ("dcc", "hgc")
    accepted = [c for c in record["charge_items"] if c["state"] == "acceptedByBuyer"]
    assert accepted == [
        {
            "charge_id": CHARGE_ID,
            "charge_item_id": "1",
            "state": "acceptedByBuyer",
            "price_type": "recurring",
            "recurring_charge_period": "month",
            "price_category": "other",
            "amount": "1250.0000",
            "currency": "USD",
        }
    ]


def test_a_replayed_notification_gives_identical_records(settings: Settings) -> None:
    statuses, _ = post_all(settings, [notification(), notification()])
    assert statuses == [204, 204]
    first, second = published(settings)
    assert first == second  # same key, same bytes: the inventory applies it once


def test_seller_failing_twice_then_answering_is_published(settings: Settings) -> None:
    statuses, fake = post_all(settings, [notification()], lambda f: f.fail_next(2, 503))
    assert statuses == [204]
    assert fake.requests_to(f"/productOrder/{ORDER_ID}") == 3
    assert len(published(settings)) == 1


def test_seller_down_answers_503_and_publishes_nothing(settings: Settings) -> None:
    statuses, fake = post_all(settings, [notification()], lambda f: f.fail_next(1000, 503))
    assert statuses == [503]
    assert fake.requests_to(f"/productOrder/{ORDER_ID}") == POLICY.attempts
    assert published(settings) == []


def test_kafka_unreachable_answers_503(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The publisher's failure path for real: no broker acknowledges, so no 204."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        nowhere = replace(settings, kafka=f"127.0.0.1:{sock.getsockname()[1]}")

    async def main() -> tuple[int, dict[str, Any]]:
        fake = FakeSellerApi(orders={ORDER_ID: product_order()}, charges={CHARGE_ID: charge()})
        publisher = KafkaOrderPublisher(nowhere, delivery_timeout=1.0)
        async with fake, SellerApiClient(fake.base_url, policy=POLICY) as client:
            handler = NotificationHandler(client, publisher, Parties("dcc", "hgc"))
            async with TestClient(TestServer(make_app(handler))) as http:
                url = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
                async with http.post(url, data=dumps(notification())) as response:
                    result = response.status, await response.json()
        publisher.close(timeout=0)
        return result

    with caplog.at_level(logging.WARNING, "bilat.sonata"):
        status, error = asyncio.run(main())
    assert status == 503
    assert "the Buyer could not store the order events" in error["message"]
    assert "Kafka" not in error["message"] and nowhere.kafka not in error["message"]
    ref = error["message"].rsplit("(reference ", 1)[1].rstrip(").")
    (logged,) = [r.getMessage() for r in caplog.records if ref in r.getMessage()]
    assert "Kafka did not acknowledge 'EVT-20261124-0001/1'" in logged  # server-side only
