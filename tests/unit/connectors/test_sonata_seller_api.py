"""The Seller API client against the fake Seller: retries, backoff, Retry-After, clear errors.

Time is injected: waits are recorded on a fake clock instead of slept, so each test takes
milliseconds while checking the exact delays.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from connectors.sonata import SellerApiError, SellerUnavailableError
from connectors.sonata.seller_api import (
    MANAGEMENT_BASE_PATH,
    RetryPolicy,
    SellerApiClient,
    parse_retry_after,
)
from tests.fakes.mef_payloads import CHARGE_ID, ORDER_ID, charge, product_order
from tests.fakes.seller_api import FakeSellerApi

T = TypeVar("T")
WALL = 1_795_514_400.0


class FakeClock:
    """Monotonic and wall time that only move when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(
    test: Callable[[FakeSellerApi, SellerApiClient, FakeClock], Awaitable[T]],
    policy: RetryPolicy | None = None,
    **client: Any,
) -> T:
    """Run ``test`` with a fake Seller holding PO-7001 and its Charge, and a client of it."""

    async def main() -> T:
        clock = FakeClock()
        fake = FakeSellerApi(orders={ORDER_ID: product_order()}, charges={CHARGE_ID: charge()})
        async with (
            fake,
            SellerApiClient(
                client.pop("base_url", fake.base_url),
                policy=policy,
                sleep=clock.sleep,
                monotonic=clock.monotonic,
                wall=clock.wall,
                rand=lambda: 0.5,
                **client,
            ) as api,
        ):
            return await test(fake, api, clock)

    return asyncio.run(main())


def test_fetches_order_and_charge_with_exact_decimals() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        order = await api.get_product_order(ORDER_ID)
        assert order == product_order()
        got = await api.get_charge(CHARGE_ID, buyer_id="dcc", seller_id="hgc")
        value = got["chargeItem"][0]["price"]["dutyFreeAmount"]["value"]
        assert value == Decimal("1250.0000") and str(value) == "1250.0000"
        assert [(r.path, r.query) for r in fake.log] == [
            (f"/productOrder/{ORDER_ID}", {}),
            (f"/charge/{CHARGE_ID}", {"buyerId": "dcc", "sellerId": "hgc"}),
        ]
        assert fake.log[0].headers["Authorization"] == "Bearer t0k"
        assert clock.sleeps == []

    run(test, headers={"Authorization": "Bearer t0k"})


def test_ids_are_one_percent_encoded_path_segment() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.orders["PO 1/2?x#y"] = product_order("PO 1/2?x#y")
        assert (await api.get_product_order("PO 1/2?x#y"))["id"] == "PO 1/2?x#y"
        assert str(api.url_of("charge", "a/b")).endswith(f"{MANAGEMENT_BASE_PATH}/charge/a%2Fb")

    run(test)


def test_503_twice_then_success_backs_off_exponentially() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(2, 503)
        assert (await api.get_product_order(ORDER_ID))["id"] == ORDER_ID
        assert fake.requests_to(f"/productOrder/{ORDER_ID}") == 3
        assert clock.sleeps == [0.25 * 0.75, 0.5 * 0.75]  # base · 2^n, jittered at rand 0.5

    run(test)


def test_429_honours_retry_after_seconds() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1, 429, retry_after="3")
        await api.get_charge(CHARGE_ID)
        assert clock.sleeps == [3.0]

    run(test)


def test_retry_after_http_date() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1, 503, retry_after=email.utils.formatdate(WALL + 5, usegmt=True))
        await api.get_charge(CHARGE_ID)
        assert clock.sleeps == [5.0]

    run(test)


def test_retry_after_past_the_deadline_gives_up_at_once() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1, 503, retry_after="60")
        with pytest.raises(SellerUnavailableError) as info:
            await api.get_product_order(ORDER_ID)
        assert "the next try in 60.0 s would pass the 10 s deadline" in str(info.value)
        assert (info.value.status, info.value.attempts, clock.sleeps) == (503, 1, [])

    run(test)


def test_the_deadline_bounds_the_total_time() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1000, 502)
        with pytest.raises(SellerUnavailableError, match=r"HTTP 502 \(internalError"):
            await api.get_product_order(ORDER_ID)
        assert sum(clock.sleeps) < 10 and len(clock.sleeps) >= 3
        assert clock.sleeps == sorted(clock.sleeps)  # growing, then capped

    run(test, policy=RetryPolicy(attempts=50, deadline=10.0, max_delay=4.0))


def test_attempts_bound_the_retries() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1000, 500)
        with pytest.raises(SellerUnavailableError) as info:
            await api.get_product_order(ORDER_ID)
        assert (info.value.status, info.value.attempts) == (500, 3)
        assert fake.requests_to(f"/productOrder/{ORDER_ID}") == 3
        assert "unavailable after 3 attempt(s)" in str(info.value)
        assert "want HTTP 200 within 3 attempts" in str(info.value)

    run(test, policy=RetryPolicy(attempts=3))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
def test_permanent_answers_are_not_retried(status: int) -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.fail_next(1, status)
        with pytest.raises(SellerApiError) as info:
            await api.get_charge(CHARGE_ID)
        assert not isinstance(info.value, SellerUnavailableError)
        assert (info.value.status, info.value.attempts, len(fake.log)) == (status, 1, 1)
        assert f"got HTTP {status}" in str(info.value) and "want 200" in str(info.value)

    run(test)


def test_unknown_order_names_the_mef_reason() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        with pytest.raises(SellerApiError, match=r"HTTP 404 \(notFound: productOrder PO-9 not"):
            await api.get_product_order("PO-9")

    run(test)


def test_refused_connection_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        with pytest.raises(SellerUnavailableError) as info:
            await api.get_product_order(ORDER_ID)
        assert (info.value.status, info.value.attempts) == (None, 4)
        assert "ClientConnectorError" in str(info.value)
        assert len(clock.sleeps) == 3

    run(test, policy=RetryPolicy(attempts=4), base_url=f"http://127.0.0.1:{port}/x")


def test_slow_answers_time_out_and_are_retried() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.delay = 0.5
        with pytest.raises(SellerUnavailableError, match=r"no answer within 0\.03 s"):
            await api.get_product_order(ORDER_ID)
        assert len(fake.log) == 2

    run(test, policy=RetryPolicy(attempts=2, request_timeout=0.03))


def test_a_200_that_is_not_json_is_an_error() -> None:
    async def test(fake: FakeSellerApi, api: SellerApiClient, clock: FakeClock) -> None:
        fake.raw[f"/charge/{CHARGE_ID}"] = b"<html>maintenance</html>"
        with pytest.raises(SellerApiError, match="got HTTP 200 with a body that is not JSON"):
            await api.get_charge(CHARGE_ID)
        assert len(fake.log) == 1

    run(test)


def test_backoff_grows_caps_and_jitters_in_the_upper_half() -> None:
    policy = RetryPolicy(base_delay=0.25, max_delay=4.0)
    assert [policy.backoff(n, 0.999999) for n in range(7)] == pytest.approx(
        [0.25, 0.5, 1, 2, 4, 4, 4], rel=1e-5
    )
    assert [policy.backoff(n, 0.0) for n in range(3)] == [0.125, 0.25, 0.5]
    assert policy.backoff(10_000, 0.5) == 3.0


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, None),
        ("7", 7.0),
        (" 0 ", 0.0),
        ("soon", None),
        ("-3", None),
        (email.utils.formatdate(WALL + 30, usegmt=True), 30.0),
        (email.utils.formatdate(WALL - 30, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(header: str | None, want: float | None) -> None:
    assert parse_retry_after(header, WALL) == want


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts: got 0, want >= 1"),
        ({"deadline": 0}, "deadline: got 0, want > 0 seconds"),
        ({"base_delay": -1}, "base_delay: got -1, want >= 0 seconds"),
    ],
)
def test_policy_checks_itself(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match=r"Seller API URL: got 'hgc\.example', want http"):
        SellerApiClient("hgc.example")
