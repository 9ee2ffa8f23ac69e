"""The listener app end to end in memory: fake Seller API, real client, in-memory publisher.

Checks the HTTP contract (204 only after publishing, 400 with every problem as a MEF
Error400, 503 + Retry-After when the Seller is unavailable or Kafka does not acknowledge,
500 when the Seller's data is unusable) on the exact paths of the MEF yaml; that every other
answer (404, 405, 413, a bug) is a MEF Error JSON body too; and that no answer carries the
Buyer's internals (the Seller API's URL, exception text), which go to the log instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.sonata import PublishError
from connectors.sonata.answers import MAX_BODY_BYTES
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
    SELLER_BASE,
    charge,
    dumps,
    management,
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

    async def http_answer(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Mapping[str, str], Any]:
        return await answer(self.http, method, f"{LISTENER_BASE_PATH}{path}", **kwargs)

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


def assert_no_internals(error: Mapping[str, str], *internals: str) -> None:
    """Nothing of the Buyer's side in the body: no URL, no exception text, no traceback."""
    text = " ".join(error.values())
    assert "://" not in text and "Traceback" not in text and "Error:" not in text, text
    for internal in internals:
        assert internal not in text, (internal, text)


def reference(error: Mapping[str, str]) -> str:
    ref = error["message"].rsplit("(reference ", 1)[1].split(")", 1)[0]
    assert len(ref) == 12
    return ref


def test_seller_down_gives_503_and_publishes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def test(rig: Rig) -> None:
        rig.fake.fail_next(100, 503)
        with caplog.at_level(logging.WARNING, "bilat.sonata"):
            status, error, headers = await rig.post(ITEM_EVENT, notification())
        assert status == 503 and headers["Retry-After"] == "30"
        assert_error("Error500", error)
        assert "the Seller API did not answer usably in time" in error["message"]
        assert_no_internals(error, rig.fake.base_url, "attempt", "HTTP 503")
        assert rig.publisher.published == []
        logged = [r.getMessage() for r in caplog.records if reference(error) in r.getMessage()]
        assert len(logged) == 1 and "unavailable after 3 attempt(s)" in logged[0]

    run(test)


def test_503_logs_the_seller_url_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """A credential in the Seller API URL reaches neither the Seller nor the log."""

    async def main() -> None:
        fake = FakeSellerApi(orders={ORDER_ID: product_order()})
        async with fake:
            fake.fail_next(100, 503)
            host = fake.base_url.split("://", 1)[1]
            url = f"http://buyer:s3cret@{host}"
            async with SellerApiClient(url, policy=QUICK) as client:
                handler = NotificationHandler(client, MemoryPublisher(), Parties("dcc", "hgc"))
                async with TestClient(TestServer(make_app(handler))) as http:
                    path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
                    async with http.post(path, data=dumps(notification())) as response:
                        assert response.status == 503
                        error = await response.json()
        assert "s3cret" not in str(error) and host not in str(error)
        log = "\n".join(r.getMessage() for r in caplog.records)
        assert "buyer:***@" in log and "s3cret" not in log

    with caplog.at_level(logging.INFO, "bilat.sonata"):
        asyncio.run(main())


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
        assert_error("Error500", error)
        assert_no_internals(error, "took longer")
        assert rig.publisher.published == []

    run(test, fetch_budget=0.05)


def test_unknown_order_gives_500() -> None:
    async def test(rig: Rig) -> None:
        status, error, _ = await rig.post(ITEM_EVENT, notification(subject_id="PO-404"))
        assert status == 500
        assert_error("Error500", error)
        assert (
            "Product Order 'PO-404' or its Charges from the Seller API gave HTTP 404"
            in (error["message"])
        )
        assert_no_internals(error, rig.fake.base_url, "productOrder/PO-404")
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


def test_kafka_not_acknowledging_gives_503(caplog: pytest.LogCaptureFixture) -> None:
    async def test(rig: Rig) -> None:
        rig.publisher.fail = PublishError("sonata.orders: Kafka did not acknowledge")
        with caplog.at_level(logging.WARNING, "bilat.sonata"):
            status, error, headers = await rig.post(ITEM_EVENT, notification())
        assert (status, headers["Retry-After"]) == (503, "30")
        assert_error("Error500", error)
        assert "the Buyer could not store the order events" in error["message"]
        assert_no_internals(error, "sonata.orders", "Kafka")
        assert any("Kafka did not acknowledge" in r.getMessage() for r in caplog.records)

    run(test)


def test_a_bug_gives_a_json_500_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    async def test(rig: Rig) -> None:
        rig.publisher.fail = RuntimeError(f"boom at {SELLER_BASE}?token=s3cret")
        with caplog.at_level(logging.ERROR, "bilat.sonata"):
            status, error, _ = await rig.post(ITEM_EVENT, notification())
        assert status == 500
        assert_error("Error500", error)
        assert_no_internals(error, "boom", "RuntimeError")
        (logged,) = [r.getMessage() for r in caplog.records if reference(error) in r.getMessage()]
        assert "Traceback" in logged and "boom" in logged  # the stack, server-side only
        assert "token=***" in logged and "s3cret" not in logged

    run(test)


def assert_mef_error(status: int, headers: Mapping[str, str], error: Any) -> None:
    """A JSON body valid against the MEF schema for ``status`` (see connectors/sonata/answers)."""
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    schema = {404: "Error404", 405: "Error501"}.get(status)
    if schema is not None:  # not defined for the listener: MEF 123's Seller API schemas
        management().assert_valid(schema, error)
    else:
        assert_error("Error500" if status >= 500 else "Error400", error)
    notifications().assert_valid("Error", error)  # every body is a MEF Error


async def answer(
    http: TestClient[Any, Any], method: str, path: str, **kwargs: Any
) -> tuple[int, Mapping[str, str], Any]:
    async with http.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, response.headers, await response.json()


def test_unknown_path_and_wrong_method_get_mef_error_bodies() -> None:
    async def test(rig: Rig) -> None:
        status, headers, error = await rig.http_answer("POST", "/listener/nope", data=b"{}")
        assert status == 404 and error["code"] == "notFound"
        assert_mef_error(status, headers, error)
        for path in ("/", "/mefApi", f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}/x"):
            assert (await answer(rig.http, "POST", path, data=b"{}"))[0] == 404
        for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
            path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
            status, headers, error = await answer(rig.http, method, path)
            assert status == 405 and error["code"] == "notImplemented"
            assert headers["Allow"] == "POST"
            assert_mef_error(status, headers, error)
        assert rig.publisher.published == [] and rig.fake.log == []

    run(test)


def test_a_body_over_the_limit_gets_413_with_a_mef_error_body() -> None:
    async def test(rig: Rig) -> None:
        path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
        body = dumps(notification())
        padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
        assert len(padded) == MAX_BODY_BYTES  # exactly at the limit: read and accepted
        assert (await answer_or_204(rig.http, path, padded)) == 204
        too_long = padded[:-1] + b" }"
        status, headers, error = await answer(rig.http, "POST", path, data=too_long)
        assert status == 413 and error["code"] == "invalidBody"
        assert f"want at most {MAX_BODY_BYTES} bytes" in error["message"]
        assert_mef_error(status, headers, error)

        async def chunks() -> Any:  # no Content-Length: refused while reading
            for _ in range(MAX_BODY_BYTES // 1024 + 2):
                yield b" " * 1024

        status, headers, error = await answer(rig.http, "POST", path, data=chunks())
        assert status == 413
        assert_mef_error(status, headers, error)
        assert len(rig.publisher.published) == 1

    run(test)


async def answer_or_204(http: TestClient[Any, Any], path: str, body: bytes) -> int:
    async with http.post(path, data=body, headers=_JSON) as response:
        return response.status


def test_any_content_type_is_read_as_json() -> None:
    """MEF declares ``*/*`` for some listener bodies: the body decides, not the header (so no
    415); a body that is not JSON gets a MEF 400 whatever the header says."""

    async def test(rig: Rig) -> None:
        path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "image/png"):
            headers = {"Content-Type": content_type}
            async with rig.http.post(path, data=dumps(notification()), headers=headers) as r:
                assert r.status == 204
            status, got, error = await answer(
                rig.http, "POST", path, data=b"a=1&b=2", headers=headers
            )
            assert status == 400 and error["code"] == "invalidBody"
            assert_mef_error(status, got, error)

    run(test)


def test_content_encodings() -> None:
    """gzip and deflate bodies are decoded (bounded); broken ones are a MEF 400, unknown
    codings a MEF 415, never aiohttp's plain text."""
    import gzip
    import zlib

    async def test(rig: Rig) -> None:
        path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
        body = dumps(notification())
        for coding, encoded in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
            headers = {**_JSON, "Content-Encoding": coding}
            async with rig.http.post(path, data=encoded, headers=headers) as response:
                assert response.status == 204
            for broken in (b"\x00", b"not gzip at all", encoded[:-4], encoded + b"tail"):
                status, got, error = await answer(
                    rig.http, "POST", path, data=broken, headers=headers
                )
                assert status == 400 and "could not be decoded" in error["reason"]
                assert_mef_error(status, got, error)
        headers = {**_JSON, "Content-Encoding": "br"}
        status, got, error = await answer(rig.http, "POST", path, data=body, headers=headers)
        assert status == 415 and error["message"] == (
            "got Content-Encoding 'br', want identity, gzip or deflate"
        )
        assert_mef_error(status, got, error)
        bomb = gzip.compress(b" " * (20 * MAX_BODY_BYTES))
        headers = {**_JSON, "Content-Encoding": "gzip"}
        status, got, error = await answer(rig.http, "POST", path, data=bomb, headers=headers)
        assert status == 413 and "once decoded" in error["message"]
        assert len(rig.publisher.published) == 2

    run(test)


def test_an_unpriced_offering_is_published_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    from connectors.sonata.listener import offering_check
    from streams.agreement.loader import load_book
    from tests.paths import REPO

    book = load_book(REPO / "examples" / "agreement.yaml")

    async def main() -> list[dict[str, Any]]:
        order = product_order(items=[order_item(offering_id="evc-unpriced")])
        fake = FakeSellerApi(orders={ORDER_ID: order}, charges={CHARGE_ID: charge()})
        publisher = MemoryPublisher()
        async with fake, SellerApiClient(fake.base_url, policy=QUICK) as client:
            handler = NotificationHandler(
                client, publisher, Parties("dcc", "hgc"), offerings=offering_check(book)
            )
            async with TestClient(TestServer(make_app(handler))) as http:
                path = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
                async with http.post(path, data=dumps(notification())) as response:
                    assert response.status == 204
                async with http.post(path, data=dumps(notification())) as response:
                    assert response.status == 204
        return publisher.published

    with caplog.at_level(logging.WARNING, "bilat.sonata"):
        published = asyncio.run(main())
    assert len(published) == 2 and published[0]["product_offering_id"] == "evc-unpriced"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "offering 'evc-unpriced' is not in agreement hgc-dcc-2026 v1" in warnings[0]
    assert "billed only through its accepted Sonata charge items" in warnings[0]


def test_a_priced_offering_or_a_delete_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    from connectors.sonata.listener import offering_check
    from streams.agreement.loader import load_book
    from tests.paths import REPO

    check = offering_check(load_book(REPO / "examples" / "agreement.yaml"))
    record = {"action": "add", "product_offering_id": "evc-eline-1g", "event_time_ms": 0}
    assert check(record) is None  # before the first version: checked against it
    assert check({**record, "action": "delete", "product_offering_id": "x"}) is None
    assert check({**record, "action": "modify", "product_offering_id": None}) is None
    assert "'x' is not in" in str(check({**record, "action": "modify", "product_offering_id": "x"}))
    assert "names no product offering" in str(check({**record, "product_offering_id": None}))


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
    bad = runner.invoke(sonata, ["listen", "--seller-api", "hgc.example", "--no-token"])
    assert bad.exit_code == 2 and "want http(s)://" in bad.output


def test_cli_parties_default_to_the_agreement() -> None:
    from connectors.sonata.cli import _parties
    from streams.runtime.config import Settings

    agreement = Settings().agreement
    assert _parties(None, None, agreement) == Parties("dcc", "hgc")
    assert _parties("dcc-eu", None, agreement) == Parties("dcc-eu", "hgc")
    assert _parties("b", "s", agreement.with_name("missing.yaml")) == Parties("b", "s")


def listen(
    args: list[str], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    """``bilat sonata listen`` with ``run_listener`` replaced: (result, its arguments)."""
    from click.testing import CliRunner

    import connectors.sonata.listener as listener
    from connectors.sonata.cli import sonata

    called: dict[str, Any] = {}

    def fake_run(*args: Any, **kwargs: Any) -> None:
        called.update(kwargs, seller_api_url=args[1])

    monkeypatch.setattr(listener, "run_listener", fake_run)
    base = ["listen", "--seller-api", "https://hgc.example/v10", "--kafka", "127.0.0.1:1"]
    env = {"BILAT_SONATA_SELLER_TOKEN": "", "BILAT_SONATA_TOKEN": "listener-secret", **env}
    result = CliRunner().invoke(sonata, base + args, env=env)
    return result, called


def test_cli_refuses_a_token_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result, called = listen(["--seller-api-token", "s3cret"], {}, monkeypatch)
    assert result.exit_code == 2 and called == {}
    assert "visible to every user in the process list" in result.output
    assert "BILAT_SONATA_SELLER_TOKEN" in result.output
    assert "--seller-api-token-file" in result.output
    shown = listen(["--help"], {}, monkeypatch)[0].output
    assert "--seller-api-token-file" in shown and "--seller-api-token " not in shown


def test_cli_takes_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    result, called = listen([], {"BILAT_SONATA_SELLER_TOKEN": "s3cret"}, monkeypatch)
    assert result.exit_code == 0, result.output
    assert called["headers"] == {"Authorization": "Bearer s3cret"}
    assert "s3cret" not in result.output and "(bearer token set)" in result.output
    result, called = listen([], {}, monkeypatch)
    assert result.exit_code == 0 and called["headers"] is None


def test_cli_takes_the_token_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("t0ken-from-file\n")
    path.chmod(0o600)
    env = {"BILAT_SONATA_SELLER_TOKEN": "from-env"}
    result, called = listen(["--seller-api-token-file", str(path)], env, monkeypatch)
    assert result.exit_code == 0, result.output
    assert called["headers"] == {"Authorization": "Bearer t0ken-from-file"}  # the option wins
    assert "t0ken" not in result.output and "readable by others" not in result.output
    path.chmod(0o644)
    result, _ = listen(["--seller-api-token-file", str(path)], {}, monkeypatch)
    assert result.exit_code == 0 and "readable by others (mode 644)" in result.output
    for bad in ("", "two words\n", "line\nline\n"):
        path.write_text(bad)
        result, called = listen(["--seller-api-token-file", str(path)], {}, monkeypatch)
        assert result.exit_code == 2 and "want the token alone on one line" in result.output


def test_cli_prints_urls_redacted_and_checks_offerings(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import connectors.sonata.listener as listener
    from connectors.sonata.cli import sonata

    called: dict[str, Any] = {}
    monkeypatch.setattr(listener, "run_listener", lambda *a, **k: called.update(k))
    url = "https://buyer:pa55@hgc.example/v10?access_token=t0k"
    args = ["listen", "--seller-api", url, "--kafka", "k:9092", "--no-token"]
    result = CliRunner().invoke(sonata, args)
    assert result.exit_code == 0, result.output
    assert "https://buyer:***@hgc.example/v10?access_token=***" in result.output
    assert "pa55" not in result.output and "t0k" not in result.output
    assert called["book"].id == "hgc-dcc-2026"  # the listener checks offerings against it


def test_cli_checks_callers_by_tokens_file_or_refuses_to_run_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = tmp_path / "hgc.token"
    token.write_text("hgc-token-5f2b8c1d9e\n")
    token.chmod(0o600)
    listing = tmp_path / "sellers.yaml"
    listing.write_text("hgc: hgc.token\n")
    result, called = listen(["--tokens-file", str(listing)], {}, monkeypatch)
    assert result.exit_code == 0, result.output
    assert called["checks"].callers.tokens == {"hgc": "hgc-token-5f2b8c1d9e"}
    assert called["tls"] is None and "bearer tokens of 1 partner(s): hgc" in result.output
    assert "hgc-token" not in result.output
    result, called = listen([], {"BILAT_SONATA_TOKEN": ""}, monkeypatch)
    assert result.exit_code == 2 and called == {}
    assert "no bearer token: set BILAT_SONATA_TOKEN" in result.output
