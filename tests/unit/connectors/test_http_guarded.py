"""The servers Bilat runs, over TLS on ephemeral loopback ports, as partners and strangers
reach them: the Sonata listener, the Buyer's billing listener, the Seller's billing API and
the dashboard, each behind the shared guard (:mod:`streams.runtime.http_security`).

What a caller meets, by credentials (the Seller ``hgc`` calls the listeners with its token and
its client certificate ``hgc-notifier``; ``acme`` is another partner of the same Buyer):

=====================================================  ==========================================
caller                                                 answer
=====================================================  ==========================================
no token                                               401 ``missingCredentials``
a wrong token                                          401 ``invalidCredentials``
acme's token with hgc's certificate                    403 ``accessDenied``
a certificate of the right CA with a CN not allowed    403 ``accessDenied``
a certificate of another CA, or none                   no HTTP answer: the TLS handshake fails
                                                       (the server sends an alert; aiohttp's
                                                       client raises a ``ClientError``), and
                                                       nothing reaches the app
the right token and certificate                        204 (200 for the API)
past the burst                                         429 ``tooManyRequests`` + ``Retry-After``
=====================================================  ==========================================

Every 401/403 body is checked against the ``Error401``/``Error403`` schema of the spec the
server implements, the 429 against ``Error`` (no MEF API lists 429). A forced failure answers
a 500 quoting a reference and nothing else of it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.exceptions import RedisError

from connectors.billing.api import ApiConfig
from connectors.billing.api import make_app as make_api
from connectors.billing.events import MANAGEMENT_BASE_PATH, NOTIFICATION_BASE_PATH, Subscription
from connectors.billing.listener import make_listener
from connectors.sonata.listener import make_app as make_sonata
from connectors.sonata.notifications import LISTENER_BASE_PATH
from streams.runtime.dashboard.app import DashboardConfig
from streams.runtime.dashboard.app import make_app as make_dashboard
from streams.runtime.http_security import (
    Callers,
    HttpGuard,
    RateLimit,
    ServerTls,
    server_context,
)
from streams.settle.mef_schema import problems
from tests.fakes.billing import bill
from tests.fakes.mef_payloads import dumps, notification, notifications
from tests.fakes.pki import Pki, make_pki

HGC, ACME = "hgc-token-5f2b8c1d9e", "acme-token-7a3e0b6c4d"
PARTNERS = Callers(
    tokens={"hgc": HGC, "acme": ACME},
    cn_partners={"hgc-notifier": "hgc", "acme-notifier": "acme"},
)
SECRETS = ("boom", "/etc/bilat", "10.0.0.7", "pa55", "Traceback", "RuntimeError")
ITEM_EVENT = "productOrderItemStateChangeEvent"
SONATA_PATH = f"{LISTENER_BASE_PATH}/listener/{ITEM_EVENT}"
BILLING_PATH = f"{NOTIFICATION_BASE_PATH}/listener/customerBillCreateEvent"
BILL_EVENT = {
    "eventId": "hgc/1-0",
    "eventTime": "2026-04-02T00:00:00Z",
    "eventType": "customerBillCreateEvent",
    "event": {"id": "B-1", "href": "https://hgc.example/customerBill/B-1"},
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), encrypt=True)


def tls_of(pki: Pki) -> ssl.SSLContext:
    return server_context(ServerTls(pki.server_cert, pki.server_key, pki.password_file, pki.ca))


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: Any
    text: str


@asynccontextmanager
async def serving(app: web.Application, tls: ssl.SSLContext) -> AsyncIterator[str]:
    """``app`` over TLS on an ephemeral port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def call(
    url: str,
    client: ssl.SSLContext,
    *,
    method: str = "POST",
    token: str | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    connector = aiohttp.TCPConnector(ssl=client, force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.request(method, url, data=body, headers=sent) as response,
    ):
        text = await response.text()
        parsed = json.loads(text) if text else None
        return Answer(response.status, response.headers, parsed, text)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


ROOMY = RateLimit(50.0, 100)


def guard_of(limit: RateLimit | None = ROOMY) -> HttpGuard:
    return HttpGuard(callers=PARTNERS, limit=limit)


# --- the Sonata listener ---------------------------------------------------------------------


@dataclass
class StubHandler:
    """Stands for :class:`NotificationHandler`: counts what got through; ``fail`` raises."""

    handled: list[str] = field(default_factory=list)
    fail: Exception | None = None

    async def handle(self, parsed: Any) -> list[dict[str, Any]]:
        if self.fail is not None:
            raise self.fail
        self.handled.append(parsed.event_id)
        return []


def sonata_app(handler: StubHandler, limit: RateLimit | None = ROOMY) -> Any:
    return make_sonata(handler, checks=guard_of(limit))  # type: ignore[arg-type]


def assert_sonata_error(answer: Answer, status: int, schema: str, code: str) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"
    assert answer.body["code"] == code
    notifications().assert_valid(schema, answer.body)


def test_sonata_listener_over_tls_checks_token_and_certificate(pki: Pki) -> None:
    handler = StubHandler()
    body = dumps(notification(ITEM_EVENT))

    async def test() -> None:
        async with serving(sonata_app(handler), tls_of(pki)) as base:
            url, hgc = base + SONATA_PATH, pki.client_context("hgc-notifier")
            none = await call(url, hgc, body=body)
            assert_sonata_error(none, 401, "Error401", "missingCredentials")
            assert none.headers["WWW-Authenticate"] == 'Bearer realm="bilat"'
            wrong = await call(url, hgc, token="hgc-token-guessed", body=body)
            assert_sonata_error(wrong, 401, "Error401", "invalidCredentials")
            assert "invalid_token" in wrong.headers["WWW-Authenticate"]
            crossed = await call(url, hgc, token=ACME, body=body)
            assert_sonata_error(crossed, 403, "Error403", "accessDenied")
            stranger_cn = await call(url, pki.client_context("mallory"), token=HGC, body=body)
            assert_sonata_error(stranger_cn, 403, "Error403", "accessDenied")
            assert handler.handled == []
            right = await call(url, hgc, token=HGC, body=body)
            assert (right.status, right.text) == (204, "")
            assert right.headers["Server"] == "bilat"
            acme = await call(url, pki.client_context("acme-notifier"), token=ACME, body=body)
            assert acme.status == 204
        assert len(handler.handled) == 2

    run(test)


@pytest.mark.parametrize("how", ["another CA's certificate", "no certificate"])
def test_a_certificate_the_ca_did_not_sign_fails_the_handshake(pki: Pki, how: str) -> None:
    """What really happens: no HTTP answer at all. The server, wanting a certificate its CA
    signed (``CERT_REQUIRED``), aborts the TLS handshake with an alert; the client sees the
    connection fail (``aiohttp.ClientError``), and the app never runs."""
    handler = StubHandler()
    client = (
        pki.client_context("hgc-notifier", stranger=True)
        if how == "another CA's certificate"
        else pki.client_context()
    )

    async def test() -> None:
        async with serving(sonata_app(handler), tls_of(pki)) as base:
            body = dumps(notification(ITEM_EVENT))
            with pytest.raises(aiohttp.ClientError):
                await call(base + SONATA_PATH, client, token=HGC, body=body)
        assert handler.handled == []

    run(test)


def test_sonata_listener_429_after_the_burst_per_caller(pki: Pki) -> None:
    handler = StubHandler()
    body = dumps(notification(ITEM_EVENT))

    async def test() -> None:
        async with serving(sonata_app(handler, RateLimit(0.2, 3)), tls_of(pki)) as base:
            url, hgc = base + SONATA_PATH, pki.client_context("hgc-notifier")
            statuses = [(await call(url, hgc, token=HGC, body=body)).status for _ in range(3)]
            assert statuses == [204, 204, 204]
            limited = await call(url, hgc, token=HGC, body=body)
            assert limited.status == 429, limited.text
            assert limited.headers["Retry-After"] == "5"  # one request per 5 s refills it
            assert limited.body["code"] == "tooManyRequests"
            notifications().assert_valid("Error", limited.body)
            acme = await call(url, pki.client_context("acme-notifier"), token=ACME, body=body)
            assert acme.status == 204  # its own bucket
            # wrong tokens cost the address's bucket: guessing meets 429 too
            guesses = [
                (await call(url, hgc, token=f"guess-{n}", body=body)).status for n in range(4)
            ]
            assert guesses == [401, 401, 401, 429]
        assert len(handler.handled) == 4

    run(test)


# --- the Buyer's billing listener ------------------------------------------------------------


@dataclass
class FakeSeller:
    async def get_customer_bill(self, bill_id: str) -> Any:
        return [bill(bill_id)]


@dataclass
class FakeRecorder:
    kept: list[str] = field(default_factory=list)
    fail: Exception | None = None

    async def record(self, event: Mapping[str, Any], bill: Mapping[str, Any], at: int) -> bool:
        if self.fail is not None:
            raise self.fail
        self.kept.append(event["eventId"])
        return True


def assert_billing_error(
    answer: Answer, status: int, schema: str, code: str, spec: str = "billingNotification"
) -> None:
    assert answer.status == status, answer.text
    assert answer.body["code"] == code
    assert problems(schema, answer.body, spec) == []


def test_billing_listener_over_tls_checks_token_certificate_and_rate(pki: Pki) -> None:
    recorder = FakeRecorder()
    body = dumps(BILL_EVENT)
    app = make_listener(FakeSeller(), recorder, token=None, checks=guard_of(RateLimit(0.2, 3)))

    async def test() -> None:
        async with serving(app, tls_of(pki)) as base:
            url, hgc = base + BILLING_PATH, pki.client_context("hgc-notifier")
            assert_billing_error(
                await call(url, hgc, body=body), 401, "Error401", "missingCredentials"
            )
            wrong = await call(url, hgc, token="nope", body=body)
            assert_billing_error(wrong, 401, "Error401", "invalidCredentials")
            crossed = await call(url, hgc, token=ACME, body=body)
            assert_billing_error(crossed, 403, "Error403", "accessDenied")
            assert recorder.kept == []
            # the refusals took the address's bucket; hgc's own holds 3
            statuses = [(await call(url, hgc, token=HGC, body=body)).status for _ in range(3)]
            assert statuses == [204, 204, 204] and recorder.kept == ["hgc/1-0"] * 3
            limited = await call(url, hgc, token=HGC, body=body)
            assert (limited.status, limited.body["code"]) == (429, "tooManyRequests")
            assert problems("Error", limited.body, "billingNotification") == []

    run(test)


# --- the Seller's billing API ----------------------------------------------------------------


@dataclass
class FakeBills:
    """Stands for :class:`BillStore`: bills by id, billed to ``dcc`` or ``acme``."""

    entries: dict[str, dict[str, Any]]
    fail: Exception | None = None

    async def bills(self) -> list[dict[str, Any]]:
        if self.fail is not None:
            raise self.fail
        return list(self.entries.values())

    async def bill(self, ident: str) -> dict[str, Any] | None:
        return self.entries.get(ident)

    async def item_and_bill(self, ident: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        found = self.entries.get(ident.rsplit("-", 1)[0])
        return None if found is None else ({"id": ident}, found)


@dataclass
class FakeHub:
    kept: dict[str, Subscription] = field(default_factory=dict)

    async def add(self, subscription: Subscription) -> str:
        self.kept[subscription.id] = subscription
        return "0-0"

    async def get(self, ident: str) -> Subscription | None:
        return self.kept.get(ident)

    async def delete(self, ident: str) -> bool:
        return self.kept.pop(ident, None) is not None


BUYERS = Callers(tokens={"dcc": HGC, "acme": ACME})


def api_app(bills: FakeBills, hub: FakeHub) -> web.Application:
    ids = iter(f"sub-{n}" for n in range(100))
    config = ApiConfig(token=None, seller_id="hgc", guard=HttpGuard(callers=BUYERS))
    return make_api(bills, hub, config, new_id=lambda: next(ids))  # type: ignore[arg-type]


def test_billing_api_serves_each_partner_its_own_bills_and_subscriptions(pki: Pki) -> None:
    bills = FakeBills(
        {"B-dcc": bill("B-dcc", account="dcc"), "B-acme": bill("B-acme", account="acme")}
    )
    hub = FakeHub()
    client = pki.client_context()
    spec = "billingManagement"

    async def test() -> None:
        async with serving(api_app(bills, hub), tls_of_api(pki)) as base:
            api = base + MANAGEMENT_BASE_PATH
            none = await call(api + "/customerBill", client, method="GET")
            assert_billing_error(none, 401, "Error401", "missingCredentials", spec)
            listed = await call(api + "/customerBill", client, method="GET", token=ACME)
            assert [b["id"] for b in listed.body] == ["B-acme"]
            own = await call(api + "/customerBill/B-acme", client, method="GET", token=ACME)
            assert own.status == 200
            other = await call(api + "/customerBill/B-dcc", client, method="GET", token=ACME)
            assert_billing_error(other, 403, "Error403", "accessDenied", spec)
            item = await call(
                api + "/customerBillItem/B-dcc-0001", client, method="GET", token=ACME
            )
            assert_billing_error(item, 403, "Error403", "accessDenied", spec)
            sub = json.dumps({"callback": "https://dcc.example:8442"}).encode()
            json_type = {"Content-Type": "application/json;charset=utf-8"}
            made = await call(api + "/hub", client, token=HGC, body=sub, headers=json_type)
            assert made.status == 201 and hub.kept["sub-0"].owner == "dcc"
            theirs = await call(api + "/hub/sub-0", client, method="GET", token=ACME)
            assert_billing_error(theirs, 403, "Error403", "accessDenied", spec)
            gone = await call(api + "/hub/sub-0", client, method="DELETE", token=ACME)
            assert gone.status == 403 and "sub-0" in hub.kept
            asked = await call(
                api + "/hub?buyerId=dcc", client, token=ACME, body=sub, headers=json_type
            )
            assert_billing_error(asked, 403, "Error403", "accessDenied", spec)
            assert (
                await call(api + "/hub/sub-0", client, method="DELETE", token=HGC)
            ).status == 204

    run(test)


def tls_of_api(pki: Pki) -> ssl.SSLContext:
    """The API's TLS without client certificates (Buyers known by token alone)."""
    return server_context(ServerTls(pki.server_cert, pki.server_key, pki.password_file))


# --- no internal detail in any answer --------------------------------------------------------

LEAK = RuntimeError("boom: redis://:pa55@10.0.0.7:6379 unreachable, see /etc/bilat/app.yaml")


def assert_no_detail(answer: Answer) -> None:
    assert answer.status == 500, answer.text
    assert set(answer.body) == {"code", "reason", "message"}
    assert answer.body["code"] == "internalError"
    assert re.search(r"\(?reference [0-9a-f]{12}\)?", answer.body["message"]), answer.body
    for secret in SECRETS:
        assert secret not in answer.text
    assert answer.headers["Server"] == "bilat"


def test_a_failure_answers_a_reference_and_nothing_else(pki: Pki, caplog: Any) -> None:
    client = pki.client_context("hgc-notifier")
    listener_recorder = FakeRecorder(fail=LEAK)
    bills = FakeBills({}, fail=LEAK)

    async def test() -> None:
        async with serving(sonata_app(StubHandler(fail=LEAK)), tls_of(pki)) as base:
            body = dumps(notification(ITEM_EVENT))
            answer = await call(base + SONATA_PATH, client, token=HGC, body=body)
            assert_no_detail(answer)
            notifications().assert_valid("Error500", answer.body)
        listener = make_listener(FakeSeller(), listener_recorder, token=None, checks=guard_of())
        async with serving(listener, tls_of(pki)) as base:
            answer = await call(base + BILLING_PATH, client, token=HGC, body=dumps(BILL_EVENT))
            assert_no_detail(answer)
            assert problems("Error500", answer.body, "billingNotification") == []
        async with serving(api_app(bills, FakeHub()), tls_of(pki)) as base:
            url = base + MANAGEMENT_BASE_PATH + "/customerBill"
            answer = await call(url, client, method="GET", token=ACME)
            assert_no_detail(answer)
            assert problems("Error500", answer.body, "billingManagement") == []

    run(test)
    assert "10.0.0.7" in caplog.text and "pa55" not in caplog.text  # logged, redacted


# --- the dashboard ---------------------------------------------------------------------------


@dataclass
class FakeRedis:
    """The few Redis calls the dashboard's hub makes; ``fail`` makes the reads raise it."""

    fail: Exception | None = None

    async def xrange(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    async def hgetall(self, *args: Any) -> dict[str, str]:
        return {}

    async def xrevrange(self, *args: Any, **kwargs: Any) -> list[Any]:
        if self.fail is not None:
            raise self.fail
        return []

    async def xread(self, *args: Any, **kwargs: Any) -> list[Any]:
        await asyncio.sleep(0.05)
        return []

    async def ping(self) -> bool:
        if self.fail is not None:
            raise self.fail
        return True

    async def aclose(self) -> None:
        return None


def test_dashboard_over_tls_asks_browsers_for_the_token(pki: Pki) -> None:
    down = RedisError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")
    config = DashboardConfig(apps=("bilat-hgc-main",), redis_url="redis://:pa55@10.0.0.7:6379")
    checks = HttpGuard(
        Callers(tokens={"ops": HGC}, basic=True), RateLimit(50, 100), frozenset({"/healthz"})
    )
    app = make_dashboard(config, FakeRedis(fail=down), checks=checks)  # type: ignore[arg-type]
    client = pki.client_context()
    basic = {"Authorization": "Basic " + base64.b64encode(f"ops:{HGC}".encode()).decode()}

    async def test() -> None:
        async with serving(app, tls_of_api(pki)) as base:
            none = await call(base + "/api/state", client, method="GET")
            assert none.status == 401 and none.body["code"] == "missingCredentials"
            challenges = none.headers.getall("WWW-Authenticate")  # type: ignore[attr-defined]
            assert 'Basic realm="bilat"' in challenges
            state = await call(base + "/api/state", client, method="GET", headers=basic)
            assert state.status == 200
            assert state.body["error"].startswith("Redis unavailable (reference ")
            health = await call(base + "/healthz", client, method="GET")  # open, no detail
            assert health.status == 503 and health.body["redis"] == "down"
            for answer in (state, health):
                assert "10.0.0.7" not in answer.text and "pa55" not in answer.text
                assert answer.headers["Server"] == "bilat"

    run(test)
