"""Hostile requests at the listener (hypothesis): never a 5xx but the intended 503, never a body
that is not a MEF Error in JSON.

The listener runs as ``make_app`` wires it, with the real Seller API client, over real HTTP on
127.0.0.1; the Seller behind it answers every request 503, so a body that passes validation
ends in the one intended 5xx (503: retry later) and everything else is the body's own fault
(400, 404, 405, 413) or acknowledged without a Seller call (204, events that yield no record).
Bodies: arbitrary bytes, arbitrary JSON, valid notifications with fields replaced by arbitrary
JSON (lone surrogates, huge numbers, deep nesting), bodies around the size limit, in any
content type and content encoding.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.sonata.answers import MAX_BODY_BYTES
from connectors.sonata.listener import NotificationHandler, Parties, make_app
from connectors.sonata.notifications import EVENT_TYPES, LISTENER_BASE_PATH
from connectors.sonata.seller_api import RetryPolicy, SellerApiClient
from tests.fakes.mef_payloads import management, notification, notifications

ONE_TRY = RetryPolicy(attempts=1, request_timeout=5.0, deadline=5.0, base_delay=0, max_delay=0)


@dataclass
class NullPublisher:
    published: int = 0

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.published += len(records)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Rig:
    """The listener and a Seller that always answers 503, on a loop in a thread of their own
    (hypothesis examples are synchronous; the servers are started once)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._run(self._start())

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=60)

    async def _start(self) -> None:
        async def unavailable(_request: web.Request) -> web.Response:
            return web.json_response({"code": "internalError", "reason": "down"}, status=503)

        seller = web.Application()
        seller.router.add_route("*", "/{tail:.*}", unavailable)
        # Long ids make long URLs: the fake Seller must not be the one to refuse them.
        self.seller = web.AppRunner(seller, max_line_size=1 << 20, max_field_size=1 << 20)
        await self.seller.setup()
        await web.TCPSite(self.seller, "127.0.0.1", 0).start()
        seller_port = self.seller.addresses[0][1]
        self.client = SellerApiClient(f"http://127.0.0.1:{seller_port}/v10", policy=ONE_TRY)
        self.publisher = NullPublisher()
        handler = NotificationHandler(self.client, self.publisher, Parties("dcc", "hgc"))
        self.listener = web.AppRunner(make_app(handler))
        await self.listener.setup()
        await web.TCPSite(self.listener, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self.listener.addresses[0][1]}"
        self.http = aiohttp.ClientSession(auto_decompress=False)

    def request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        async def send() -> Answer:
            async with self.http.request(
                method, self.base + path, data=body, headers=dict(headers)
            ) as response:
                return Answer(response.status, dict(response.headers), await response.read())

        result: Answer = self._run(send())
        return result

    def close(self) -> None:
        async def stop() -> None:
            await self.http.close()
            await self.client.close()
            await self.listener.cleanup()
            await self.seller.cleanup()

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    started = Rig()
    yield started
    started.close()


# --- strategies -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Strings that JSON can carry but UTF-8 cannot, or that are odd in URLs and logs.
hostile_strings = st.sampled_from(
    ["", " ", "\ud800", "a\udfffb", "../../etc", "?a=1&b=2#x", "%2F", "\x00", "\n\r", "e" * 5000]
) | st.text(min_size=1)
raw_json_tricks = st.sampled_from(
    [
        b"",
        b"null",
        b"NaN",
        b'{"eventId": NaN}',
        b'{"eventId": Infinity}',
        b'{"eventId": 1e999999999}',
        b'{"eventId": ' + b"1" * 5000 + b"}",
        b"[" * 50_000,
        b'{"a":' * 20_000,
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{\x00}\x00",
        '{"eventId": "é"}'.encode("latin-1"),
        b'{"eventId": "\\ud800", "eventTime": "2026-11-24T10:00:00Z"}',
        b'{"eventTime": "9999-12-31T23:59:59-23:59", "eventId": "x"}',
        b'{"eventTime": "0001-01-01T00:00:00+23:59", "eventId": "x"}',
    ]
)


FIELDS = ("eventId", "eventTime", "eventType", "event", "id", "orderItemId", "href", "buyerId",
          "sellerId", "milestoneName")  # fmt: skip
CONTENT_TYPES = (None, "application/json", "application/json;charset=utf-8", "text/plain",
                 "application/octet-stream", "multipart/form-data; boundary=x",
                 "application/json; charset=latin-1",
                 "application/x-www-form-urlencoded")  # fmt: skip


@st.composite
def mutated_notifications(draw: st.DrawFn, event_type: str) -> bytes:
    """A valid notification of ``event_type`` with some fields replaced, removed or added."""
    body: dict[str, Any] = notification(event_type)
    event: dict[str, Any] = body["event"]
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from([body, event]))
        key = draw(st.sampled_from(FIELDS) | st.text(max_size=8))
        action = draw(st.sampled_from(["set-json", "set-string", "delete"]))
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(json_values if action == "set-json" else hostile_strings)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def sized_bodies(draw: st.DrawFn, event_type: str) -> bytes:
    """A valid notification padded to a size around :data:`MAX_BODY_BYTES`."""
    body = json.dumps(notification(event_type)).encode()
    size = MAX_BODY_BYTES + draw(st.integers(-2, 2))
    return body[:-1] + b" " * (size - len(body)) + b"}"


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    body = draw(
        st.binary(max_size=300)
        | json_values.map(lambda v: json.dumps(v).encode())
        | raw_json_tricks
        | mutated_notifications(event_type)
        | sized_bodies(event_type)
    )
    path = f"{LISTENER_BASE_PATH}/listener/{event_type}"
    path = draw(st.sampled_from([path] * 8 + [f"{path}/", "/listener/x", "/", f"{path}?q=1"]))
    method = draw(st.sampled_from(["POST"] * 12 + ["GET", "PUT", "DELETE", "PATCH"]))
    headers: dict[str, str] = {}
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers["Content-Type"] = content_type
    encoding = draw(st.sampled_from([None, None, None, "gzip", "deflate", "identity", "bogus"]))
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        if encoding in ("gzip", "deflate") and draw(st.booleans()):  # really encoded
            body = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    return method, path, body, headers


# --- the property -----------------------------------------------------------------------------


def assert_mef_error(answer: Answer) -> dict[str, Any]:
    assert answer.headers.get("Content-Type") == "application/json; charset=utf-8", answer
    error = json.loads(answer.body)
    notifications().assert_valid("Error", error)
    if answer.status == 404:
        management().assert_valid("Error404", error)
    elif answer.status == 405:
        management().assert_valid("Error501", error)
    else:
        notifications().assert_valid("Error500" if answer.status >= 500 else "Error400", error)
    return dict(error)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_hostile_requests_get_4xx_or_the_intended_503_as_mef_errors(
    rig: Rig, request: tuple[str, str, bytes, dict[str, str]]
) -> None:
    method, path, body, headers = request
    answer = rig.request(method, path, body, headers)
    event(f"HTTP {answer.status}")
    assert answer.status in (204, 400, 404, 405, 413, 415, 503), answer
    if answer.status == 204:
        assert method == "POST" and answer.body == b""
        return
    error = assert_mef_error(answer)
    if answer.status == 503:
        assert answer.headers["Retry-After"] == "30"
        assert "127.0.0.1" not in json.dumps(error)  # the Seller API's URL stays inside


def test_a_gzip_bomb_is_refused_as_too_large(rig: Rig) -> None:
    bomb = gzip.compress(b" " * (50 * MAX_BODY_BYTES))
    assert len(bomb) < MAX_BODY_BYTES
    path = f"{LISTENER_BASE_PATH}/listener/{EVENT_TYPES[0]}"
    answer = rig.request("POST", path, bomb, {"Content-Encoding": "gzip"})
    assert answer.status == 413
    assert assert_mef_error(answer)["code"] == "invalidBody"


def test_a_lone_surrogate_in_an_id_is_a_400_not_a_500(rig: Rig) -> None:
    """JSON's \\ud800 parses to a str that UTF-8 cannot encode: it would break the Seller API
    URL and the Avro record, so it is refused with the other body problems."""
    path = f"{LISTENER_BASE_PATH}/listener/{EVENT_TYPES[1]}"
    body = json.dumps(notification(EVENT_TYPES[1], subject_id="PO-\ud800")).encode()
    answer = rig.request("POST", path, body, {"Content-Type": "application/json"})
    assert answer.status == 400, answer
    error = assert_mef_error(answer)
    assert error["message"].split("\n")[0] == (
        "$.event.id: got a string with a lone surrogate at index 3, want Unicode text"
    )
