"""From a Sonata notification to rated usage, through real Kafka and Redis.

The Buyer's listener receives MEF 123 notifications (fake Seller API behind it), publishes
SonataOrderEvents; the rating worker folds them into its product inventory, and usage that
names the product is rated only while the product is active: after the ``add`` item
completed, before the ``delete`` item completed. Unknown products are dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from connectors.mediation.generic_csv import COLUMNS
from connectors.mediation.ingest import ingest_files
from connectors.sonata.listener import Parties, build_app
from connectors.sonata.notifications import LISTENER_BASE_PATH
from connectors.sonata.seller_api import RetryPolicy
from streams.contract.records import DeadLetter, RatedUsage
from streams.runtime.config import Settings
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from streams.runtime.topics import ensure_topics
from streams.runtime.workers import message_count, start_worker, stop_worker
from tests.fakes.mef_payloads import (
    CHARGE_ID,
    ORDER_ID,
    PRODUCT_ID,
    charge,
    dumps,
    notification,
    order_item,
    product_order,
)
from tests.fakes.seller_api import FakeSellerApi

CODEC = make_codec()
DISCONNECT_ORDER = "PO-7002"


def post_notifications(settings: Settings) -> list[int]:
    """The add (completed 2026-11-24 10:00Z) and the delete (completed 18:00Z) of PRODUCT_ID."""
    disconnect = product_order(
        DISCONNECT_ORDER,
        items=[order_item(action="delete", completion_date="2026-11-24T18:00:00.000Z", charges=())],
    )

    async def main() -> list[int]:
        fake = FakeSellerApi(
            orders={ORDER_ID: product_order(), DISCONNECT_ORDER: disconnect},
            charges={CHARGE_ID: charge()},
        )
        async with fake:
            policy = RetryPolicy(attempts=3, deadline=3.0, base_delay=0.05, max_delay=0.2)
            app = build_app(settings, fake.base_url, Parties("dcc", "hgc"), policy=policy)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}{LISTENER_BASE_PATH}/listener/productOrderItemStateChangeEvent"
            try:
                async with aiohttp.ClientSession() as http:
                    statuses = []
                    for order_id, event_id in ((ORDER_ID, "EVT-1"), (DISCONNECT_ORDER, "EVT-2")):
                        body = notification(subject_id=order_id, event_id=event_id)
                        async with http.post(url, data=dumps(body)) as response:
                            statuses.append(response.status)
                    return statuses
            finally:
                await runner.cleanup()

    return asyncio.run(main())


def usage_file(path: Path) -> Path:
    rows = {
        "before-activation": ("2026-11-24T09:59:59Z", PRODUCT_ID),
        "active": ("2026-11-24T12:00:00Z", PRODUCT_ID),
        "last-second": ("2026-11-24T17:59:59Z", PRODUCT_ID),
        "after-disconnect": ("2026-11-24T18:00:00Z", PRODUCT_ID),
        "unknown": ("2026-11-24T12:00:00Z", "PRD-NEVER-ORDERED"),
    }
    lines = [",".join(COLUMNS)]
    for record_id, (start, product) in rows.items():
        lines.append(
            f"ix-fra-01,{record_id},hgc-dcc-2026,hgc,data,{product},,,{start},2500000,byte,outbound"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sonata_order_lifecycle_gates_billing(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    assert post_notifications(settings) == [204, 204]
    orders = list(read_topic(settings, settings.topic("sonata.orders")))
    assert len(orders) == 2

    report = ingest_files([usage_file(tmp_path / "usage.csv")], settings)
    assert report.produced == 5
    proc = start_worker(settings, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 90
        while message_count(settings, "usage.rated", "usage.dlq") < 5:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.3)
    finally:
        assert stop_worker(proc) == 0
    rated = {
        r.record_id: r
        for r in (
            RatedUsage.from_avro(CODEC.decode("rated_usage", v))
            for _k, v in read_topic(settings, settings.topic("usage.rated"))
        )
    }
    dead = {
        CODEC.decode("usage_record", d.original)["record_id"]: d
        for d in (
            DeadLetter.from_avro(CODEC.decode("dead_letter", v))
            for _k, v in read_topic(settings, settings.topic("usage.dlq"))
        )
    }
    assert set(rated) == {"active", "last-second"}
    assert all(r.product_id == PRODUCT_ID and str(r.amount) == "0.0063" for r in rated.values())
    assert {k: d.error_code for k, d in dead.items()} == {
        "before-activation": "product-not-active",
        "after-disconnect": "product-not-active",
        "unknown": "unknown-product",
    }
    assert "active only from 2026-11-24T10:00:00" in dead["before-activation"].errors[0]
    assert "disconnected at 2026-11-24T18:00:00" in dead["after-disconnect"].errors[0]
