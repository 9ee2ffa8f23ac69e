"""Async client of the Seller's Sonata Product Ordering API: ProductOrders and Charges by id.

``GET {base}/productOrder/{id}`` and ``GET {base}/charge/{id}`` (MEF 123
``productOrderManagement.api.yaml``, ``retrieveProductOrder``/``retrieveCharge``), where
``base`` is the Seller's server URL, e.g.
``https://seller.example/mefApi/sonata/productOrderingManagement/v10``.

Retry policy (:class:`RetryPolicy`), per call:

- retried: HTTP 429, HTTP 5xx except 501 (MEF's "not implemented": permanent), timeouts,
  refused or dropped connections, truncated bodies;
- not retried: any other 4xx (404 unknown id, 401/403 credentials...), other non-200
  statuses, a 200 whose body is not JSON: :class:`~connectors.sonata.SellerApiError`;
- waits grow exponentially (``base_delay · 2^n``, capped at ``max_delay``) with jitter (a
  random point in the upper half), and are at least the ``Retry-After`` the Seller sent
  (seconds or HTTP-date);
- bounded: at most ``attempts`` requests, each cut at ``request_timeout``, all within
  ``deadline`` seconds; a wait that would end past the deadline is not started. Then
  :class:`~connectors.sonata.SellerUnavailableError`, naming the last failure.

Bodies are parsed with :func:`~connectors.sonata.notifications.loads_exact`: amounts stay
exact ``Decimal`` values. Time, sleep and randomness are injectable for tests.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from connectors.sonata import SellerApiError, SellerUnavailableError
from connectors.sonata.notifications import loads_exact
from streams.core.redact import redact_text, redact_url

__all__ = ["MANAGEMENT_BASE_PATH", "RetryPolicy", "SellerApiClient", "parse_retry_after"]

MANAGEMENT_BASE_PATH = "/mefApi/sonata/productOrderingManagement/v10"
"""The path of the Seller API's ``servers`` URL in MEF 123 (v10)."""

log = logging.getLogger("bilat.sonata.seller_api")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries; the defaults answer a notification within ~10 s."""

    attempts: int = 8
    """Requests per call at most, the first included."""
    request_timeout: float = 3.0
    """Seconds one request may take, connect to last body byte."""
    deadline: float = 10.0
    """Seconds one call may take, every request and wait included."""
    base_delay: float = 0.25
    """Wait before the first retry, before jitter; doubles for each further retry."""
    max_delay: float = 4.0
    """Cap of one wait, before jitter (a longer ``Retry-After`` still wins)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: got {self.attempts}, want >= 1")
        for name in ("request_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: got {getattr(self, name)}, want > 0 seconds")
        for name in ("base_delay", "max_delay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: got {getattr(self, name)}, want >= 0 seconds")

    def backoff(self, retry: int, rand: float) -> float:
        """The wait before retry ``retry`` (0 = the first retry) for ``rand`` in [0, 1).

        ``min(max_delay, base_delay · 2^retry)``, scaled into its upper half by ``rand``:
        exponential, never zero, and spread so that many listeners do not retry in step.
        """
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry, 62))
        return ceiling * (0.5 + rand / 2)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait per a ``Retry-After`` header (RFC 9110: delay-seconds or HTTP-date).

    ``now`` is the wall clock (epoch seconds) for the HTTP-date form. Returns None when the
    header is absent or unparsable, and never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 HTTP-dates are GMT; obsolete forms may parse naive
        return None
    return max(0.0, when.timestamp() - now)


class SellerApiClient:
    """Fetches ProductOrders and Charges from one Seller; use as ``async with`` or ``close()``.

    ``headers`` go on every request (e.g. ``Authorization``). A ``session`` passed in is used
    and left open; otherwise the client opens its own on first use and closes it in
    :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"Seller API URL: got {base_url!r}, want http(s)://host[:port]{MANAGEMENT_BASE_PATH}"
            )
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.headers = {"Accept": "application/json", **(headers or {})}
        self._session = session
        self._own_session = session is None
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self._rand = rand

    async def __aenter__(self) -> SellerApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session the client opened (not one passed in)."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def get_product_order(
        self, order_id: str, *, buyer_id: str | None = None, seller_id: str | None = None
    ) -> Any:
        """The ProductOrder JSON of ``GET /productOrder/{order_id}`` (see module docstring)."""
        return await self._get("productOrder", order_id, buyer_id, seller_id)

    async def get_charge(
        self, charge_id: str, *, buyer_id: str | None = None, seller_id: str | None = None
    ) -> Any:
        """The MEFProductOrderCharge JSON of ``GET /charge/{charge_id}``."""
        return await self._get("charge", charge_id, buyer_id, seller_id)

    def url_of(self, resource: str, ident: str) -> URL:
        """``{base}/{resource}/{ident}`` with ``ident`` percent-encoded as one path segment."""
        return URL(f"{self.base_url}/{resource}/{quote(ident, safe='')}", encoded=True)

    async def _get(
        self, resource: str, ident: str, buyer_id: str | None, seller_id: str | None
    ) -> Any:
        # MEF 79: buyerId/sellerId are sent only by parties that represent several.
        params = {k: v for k, v in (("buyerId", buyer_id), ("sellerId", seller_id)) if v}
        url = self.url_of(resource, ident).with_query(params)
        policy = self.policy
        started = self._monotonic()
        deadline = started + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._try(url, deadline, attempt)
            if outcome.failure is None:
                return outcome.body
            elapsed = self._monotonic() - started
            gave_up = f"Seller API GET {url} unavailable after {attempt} attempt(s) in "
            if attempt >= policy.attempts:
                raise SellerUnavailableError(
                    f"{gave_up}{elapsed:.1f} s (last: {outcome.failure}; want HTTP 200 within "
                    f"{policy.attempts} attempts)",
                    url=str(url),
                    status=outcome.status,
                    attempts=attempt,
                )
            delay = policy.backoff(attempt - 1, self._rand())
            if outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)
            if self._monotonic() + delay >= deadline:
                raise SellerUnavailableError(
                    f"{gave_up}{elapsed:.1f} s (last: {outcome.failure}; the next try in "
                    f"{delay:.1f} s would pass the {policy.deadline:g} s deadline)",
                    url=str(url),
                    status=outcome.status,
                    attempts=attempt,
                )
            log.warning(
                "GET %s: %s; retry %d in %.2f s",
                redact_url(str(url)),
                redact_text(outcome.failure),
                attempt,
                delay,
            )
            await self._sleep(delay)

    async def _try(self, url: URL, deadline: float, attempt: int) -> _Outcome:
        """One request: the parsed body, or a retryable failure; raises when not retryable."""
        timeout = min(self.policy.request_timeout, max(deadline - self._monotonic(), 0.001))
        session = self._session_now()
        try:
            async with session.get(
                url, headers=self.headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                status = response.status
                body = await response.read()
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall())
        except TimeoutError:
            return _Outcome(failure=f"no answer within {timeout:.2f} s")
        except aiohttp.ClientError as exc:
            return _Outcome(failure=f"{type(exc).__name__}: {exc}")
        if status == 200:
            try:
                return _Outcome(body=loads_exact(body), status=status)
            except ValueError as exc:
                raise SellerApiError(
                    f"Seller API GET {url}: got HTTP 200 with a body that is not JSON ({exc}), "
                    "want a MEF JSON document",
                    url=str(url),
                    status=status,
                    attempts=attempt,
                ) from exc
        if status == 429 or (status >= 500 and status != 501):
            return _Outcome(
                failure=f"HTTP {status}{_mef_reason(body)}", status=status, retry_after=retry_after
            )
        raise SellerApiError(
            f"Seller API GET {url}: got HTTP {status}{_mef_reason(body)}, want 200 "
            "(not retried: this answer will not change by asking again)",
            url=str(url),
            status=status,
            attempts=attempt,
        )

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One request's result: ``failure`` is None on success (then ``body`` is the JSON)."""

    body: Any = None
    failure: str | None = None
    status: int | None = None
    retry_after: float | None = None


def _mef_reason(body: bytes) -> str:
    """`` (code: reason - message)`` from a MEF Error body, or a short excerpt; may be empty."""
    try:
        doc = loads_exact(body)
    except ValueError:
        text = body[:120].decode("utf-8", "replace").strip()
        return f" ({text})" if text else ""
    if not isinstance(doc, Mapping):
        return ""
    parts = [str(doc[k]) for k in ("code", "reason", "message") if doc.get(k)]
    return f" ({': '.join(parts)[:200]})" if parts else ""
