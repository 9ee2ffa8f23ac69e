"""``bilat charges`` as a user runs it, on order events the real listener put on real Kafka.

Two products are ordered through the listener (fake Seller API behind it): one for the
agreement's ``evc-eline-1g`` with an accepted charge item in USD (the agreement is in EUR),
one for an offering the agreement does not price, with an accepted one-off charge in EUR.
``bilat charges`` (click's runner, not a terminal) must show every line whole, name the period
and its time zone, list both findings, keep USD out of every total, and say the same in JSON.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web
from click.testing import CliRunner

from connectors.sonata.listener import Parties, build_app
from connectors.sonata.notifications import LISTENER_BASE_PATH
from connectors.sonata.publisher import TOPIC
from connectors.sonata.seller_api import RetryPolicy
from streams.agreement.loader import load_book
from streams.cli.main import main
from streams.runtime.config import Settings
from streams.runtime.topics import ensure_topics
from tests.fakes.mef_payloads import (
    CHARGE_ID,
    ORDER_ID,
    PRODUCT_ID,
    charge,
    charge_item,
    dumps,
    notification,
    order_item,
    product_order,
)
from tests.fakes.seller_api import FakeSellerApi
from tests.paths import REPO

UNPRICED_ORDER = "PO-7003"
UNPRICED_PRODUCT = "urn:hgc:product:evc:fra-lon:unpriced-offering-0000000000000000000001"
UNPRICED_CHARGE = "CHG-7003-1"
AT = "2026-11-30T12:00:00Z"  # November 2026: agreement version 1


def order_products(settings: Settings) -> list[int]:
    """Both orders through the listener as ``bilat sonata listen`` wires it; the statuses."""
    unpriced = product_order(
        UNPRICED_ORDER,
        items=[
            order_item(
                product_id=UNPRICED_PRODUCT,
                offering_id="evc-eline-unpriced",
                charges=(UNPRICED_CHARGE,),
            )
        ],
    )
    one_off = charge_item("1", price_type="nonRecurring", period=None, amount="99.90")
    one_off["price"]["dutyFreeAmount"]["unit"] = "EUR"

    async def main_() -> list[int]:
        fake = FakeSellerApi(
            orders={ORDER_ID: product_order(), UNPRICED_ORDER: unpriced},
            charges={
                CHARGE_ID: charge(),  # an accepted 1250.0000 USD/month, a declined one-off
                UNPRICED_CHARGE: charge(UNPRICED_CHARGE, order_id=UNPRICED_ORDER, items=[one_off]),
            },
        )
        async with fake:
            policy = RetryPolicy(attempts=3, deadline=3.0, base_delay=0.05, max_delay=0.2)
            book = load_book(REPO / "examples" / "agreement.yaml")
            parties = Parties("dcc", "hgc")
            app = build_app(settings, fake.base_url, parties, policy=policy, book=book)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}{LISTENER_BASE_PATH}/listener/"
            statuses = []
            try:
                async with aiohttp.ClientSession() as http:
                    for order_id, event_id in ((ORDER_ID, "EVT-A"), (UNPRICED_ORDER, "EVT-B")):
                        body = notification(subject_id=order_id, event_id=event_id)
                        async with http.post(f"{url}{body['eventType']}", data=dumps(body)) as r:
                            statuses.append(r.status)
            finally:
                await runner.cleanup()
        return statuses

    ensure_topics(settings, [TOPIC])
    return asyncio.run(main_())


def charges(settings: Settings, *extra: str) -> Any:
    options = ["--party", settings.party, "--kafka", settings.kafka]
    options += ["--topic-prefix", settings.topic_prefix, "--at", AT]
    return CliRunner().invoke(main, ["charges", *options, *extra], env={"COLUMNS": "80"})


def test_charges_json_and_table_show_findings_and_total_each_currency(settings: Settings) -> None:
    assert order_products(settings) == [204, 204]

    result = charges(settings, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {k: doc[k] for k in ("agreement", "version", "currency", "time_zone")} == {
        "agreement": "hgc-dcc-2026",
        "version": "1",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
    }
    assert (doc["period_start"], doc["period_end"]) == (
        "2026-11-01T00:00:00+01:00",
        "2026-12-01T00:00:00+01:00",
    )
    # Active from 2026-11-24 10:00Z to the period's end (23:00Z on the 30th): 565,200 s of a
    # 2,592,000 s month. 1200 x 565200 / 2592000 = 261.666..; 1250 x .. = 272.569..
    lines = [(c["product_id"], c["source"], c["amount"], c["currency"]) for c in doc["charges"]]
    assert lines == [
        (PRODUCT_ID, "agreement:evc-eline-1g", "261.6667", "EUR"),
        (PRODUCT_ID, "agreement:evc-eline-1g", "500.0000", "EUR"),
        (PRODUCT_ID, f"sonata:{CHARGE_ID}/1", "272.5694", "USD"),
        (UNPRICED_PRODUCT, f"sonata:{UNPRICED_CHARGE}/1", "99.9000", "EUR"),
    ]
    assert all(isinstance(c["amount"], str) for c in doc["charges"])
    assert doc["totals"] == {
        "EUR": str(Decimal("261.6667") + 500 + Decimal("99.9000")),
        "USD": "272.5694",  # its own bill: never converted nor added to the EUR
    }
    findings = {(f["code"], f["product_id"]): f for f in doc["findings"]}
    assert set(findings) == {
        ("foreign-currency", PRODUCT_ID),
        ("unpriced-offering", UNPRICED_PRODUCT),
    }
    assert findings["foreign-currency", PRODUCT_ID]["amount"] == "272.5694"
    unpriced = findings["unpriced-offering", UNPRICED_PRODUCT]["message"]
    assert "offering 'evc-eline-unpriced' is not in agreement hgc-dcc-2026 v1" in unpriced

    table = charges(settings)
    assert table.exit_code == 0, table.output
    out = table.output
    title = "charges of 2026-11-01 to 2026-12-01 (Europe/Berlin), agreement v1"
    assert title in out
    assert "…" not in out  # nothing cut, although the rows are wider than 80 columns
    row = next(line for line in out.splitlines() if UNPRICED_PRODUCT in line)
    assert f"sonata:{UNPRICED_CHARGE}/1" in row and "99.9000 EUR" in row  # one whole line
    assert "99.90 EUR once, on activation" in row
    assert "4 charges, total 861.5667 EUR, 272.5694 USD" in out
    assert "finding foreign-currency: product PRD-EVC-0001: sonata:CHG-7001-1/1 is priced" in out
    assert f"finding unpriced-offering: product {UNPRICED_PRODUCT}: offering" in out
