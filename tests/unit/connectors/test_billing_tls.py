"""Mutual TLS for the notifier's calls: a listener that wants a client certificate gets the
event from a notifier holding one (``client_tls``) and refuses one without.

Certificates are made by :mod:`tests.fakes.pki` (a CA, a server certificate for 127.0.0.1, a
client certificate) in a temporary folder, so the test needs no network beyond loopback.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from aiohttp import web

from connectors.billing import BillingError
from connectors.billing.events import EVENT_TYPES, Subscription
from connectors.billing.notifier import Notifier
from connectors.billing.serving import client_tls
from connectors.sonata.seller_api import RetryPolicy
from tests.fakes.billing import MemoryHub
from tests.fakes.pki import make_pki

EVENT = {"event": "customerBillCreateEvent", "bill_id": "B-1", "time": "2026-04-02T00:00:00Z"}


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    made = make_pki(tmp_path)
    return {
        "ca": made.ca,
        "server": made.server_cert,
        "server_key": made.server_key,
        "client": made.client("hgc notifier"),
    }


def _deliver(pki: dict[str, Path], tls: ssl.SSLContext | None) -> tuple[int, list[str]]:
    """Run a notifier with ``tls`` against a listener wanting client certificates."""
    seen: list[str] = []

    async def listener(request: web.Request) -> web.Response:
        seen.append(request.transport.get_extra_info("peercert")["subject"][0][0][1])  # type: ignore[union-attr]
        return web.Response(status=204)

    async def main() -> int:
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
        server_tls.load_cert_chain(str(pki["server"]), str(pki["server_key"]))
        server_tls.verify_mode = ssl.CERT_REQUIRED
        app = web.Application()
        app.router.add_post("/mefApi/sonata/customerBillNotification/v2/listener/{t}", listener)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls).start()
        port = runner.addresses[0][1]
        hub = MemoryHub(
            [Subscription("h1", f"https://127.0.0.1:{port}", None, EVENT_TYPES)],
            [("1-0", EVENT)],
        )
        notifier = Notifier(
            hub,  # type: ignore[arg-type]
            source="hgc",
            api_url="https://hgc.example",
            policy=RetryPolicy(request_timeout=2.0, base_delay=0.02, max_delay=0.05),
            refresh=0.02,
            block_ms=5,
            tls=tls,
        )
        task = notifier.start()
        for _ in range(30):  # delivered at once with the certificate; never without
            if notifier.delivered:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
        return notifier.delivered

    return asyncio.run(main()), seen


def test_a_notifier_with_a_client_certificate_delivers(pki: dict[str, Path]) -> None:
    delivered, seen = _deliver(pki, client_tls(pki["client"], None, pki["ca"]))
    assert delivered == 1
    assert seen == ["hgc notifier"]


def test_without_one_the_listener_refuses_and_nothing_is_delivered(pki: dict[str, Path]) -> None:
    delivered, seen = _deliver(pki, client_tls(None, None, pki["ca"]))
    assert (delivered, seen) == (0, [])


def test_unreadable_tls_files_are_named(tmp_path: Path) -> None:
    assert client_tls(None) is None
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(BillingError, match=r"bad\.pem"):
        client_tls(bad)
    with pytest.raises(BillingError, match="--client-cert"):
        client_tls(None, bad)
