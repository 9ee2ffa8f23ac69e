"""``bilat dashboard`` in headless Chromium (Debian's ``chromium`` + ``chromedriver``, driven
by Selenium): the page loads what the reconciler wrote to Redis, an alert written while the
page is open appears within seconds over server-sent events, its drill-down shows the records
and both proofs (checked), and a screenshot is saved (``$BILAT_ARTIFACTS``, default
``tests/artifacts/``).

The alerts, window states and proofs come from the real engine over two parties' ledgers and
are written by the real reconciler's Redis writer (:mod:`tests.fakes.dashboard`).
Without chromium this test skips, except on CI (``CI=true``), where it fails:
``deploy/local/browser-deps.sh`` (run by ``make``) installs it there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from streams.runtime.config import Settings
from tests.fakes import dashboard as dashboard_data
from tests.paths import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("BILAT_ARTIFACTS", REPO / "tests" / "artifacts"))


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    message = (
        f"{', '.join(missing)} not found: apt-get install -y chromium chromium-driver "
        "(make runs deploy/local/browser-deps.sh, which does it as root)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"the dashboard's browser test cannot run on CI: {message}")
    pytest.skip(message)


def _bill(app: str) -> tuple[str, dict[str, object]]:
    """A bill as the settler stores it, with one item disputed."""
    bill = {
        "id": "hgc-dcc-2026-2026-11-EUR",
        "billNo": "HGC-2026-11-EUR",
        "state": "generated",
        "amountDue": {"unit": "EUR", "value": 1234.5},
        "remainingAmount": {"unit": "EUR", "value": 1234.5},
        "billingPeriod": {
            "startDateTime": "2026-11-01T00:00:00Z",
            "endDateTime": "2026-12-01T00:00:00Z",
        },
        "billDate": "2026-12-02T00:00:00Z",
        "paymentDueDate": "2027-01-01T00:00:00Z",
    }
    items = [
        {"id": f"{bill['id']}-0001", "state": "paymentDue"},
        {"id": f"{bill['id']}-0002", "state": "disputeBeingInvestigated"},
    ]
    disputes = [
        {
            "dispute_id": "d-1",
            "items": [items[1]["id"]],
            "state": "disputeBeingInvestigated",
            "reason": "price differs on ix-fra-01/10-5",
            "evidence_hash": "ab" * 32,
        }
    ]
    value = {
        "bill": bill,
        "items": items,
        "disputes": disputes,
        "role": "seller",
        "agreement_id": "hgc-dcc-2026",
        "currency": "EUR",
        "statement_hash": "cd" * 32,
        "updated_ms": 0,
    }
    return str(bill["id"]), value


@pytest.fixture
def dashboard(redis_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``bilat dashboard`` for hgc's deployment under this test's prefix: (URL, app id)."""
    app = Settings.from_env({}, party="hgc", topic_prefix=topic_prefix).app_id
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streams.cli.main", "dashboard", "--party", "hgc",
                "--topic-prefix", topic_prefix, "--redis-url", redis_url, "--port", "0",
            ],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            found = re.search(r"dashboard on (http://\S+/)", log.read_text())
            url = found.group(1) if found else None
            time.sleep(0.1)
        assert url, f"no startup line in 30 s: {log.read_text()}"
        yield url, app
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_dashboard_shows_live_alerts_and_their_proofs(
    dashboard: tuple[str, str], redis_url: str, topic_prefix: str
) -> None:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, app = dashboard
    result = dashboard_data.outcome()
    held_back = next(a for a in result.alerts if a.kind == "amount-mismatch")
    writer = dashboard_data.writer(redis_url, "hgc", topic_prefix)
    dashboard_data.write(writer, result, [a for a in result.alerts if a is not held_back])
    bill_id, bill = _bill(app)
    redis.Redis.from_url(redis_url).hset(f"bilat:{app}:settle:bills", bill_id, json.dumps(bill))

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1500,1150"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        wait = WebDriverWait(driver, 15)
        driver.get(url)
        feed = "#alert-feed li.alert"
        shown = len(result.alerts) - 1
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, feed)) == shown)
        wait.until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.cell.diverged"))
        assert driver.find_elements(By.CSS_SELECTOR, "button.cell.agreed"), "agreed windows"
        bills = driver.find_element(By.CSS_SELECTOR, "table.bills").text
        assert "HGC-2026-11-EUR" in bills and "disputed" in bills and "1234.50 EUR" in bills

        # An alert written now, as the reconciler writes it, arrives without a reload.
        injected = time.monotonic()
        dashboard_data.write(writer, result, [held_back])
        item = (By.CSS_SELECTOR, f'{feed}[data-alert-id="{held_back.alert_id}"]')
        WebDriverWait(driver, 10).until(ec.presence_of_element_located(item))
        arrived = time.monotonic() - injected
        assert len(driver.find_elements(By.CSS_SELECTOR, feed)) == shown + 1

        driver.find_element(*item).click()
        dialog = wait.until(ec.visibility_of_element_located((By.ID, "drilldown")))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#drilldown .check.ok")) == 2)
        text = dialog.text
        assert "Price differs" in text and "ix-fra-01/10-5" in text
        assert "voice-de-mobile@peak" in text and "voice-de-mobile@offpeak" in text
        assert "0.0142" in text and "0.0199" in text
        assert text.count("proof holds") == 2, text
        links = dialog.find_elements(By.CSS_SELECTOR, "a.record-link")
        hrefs = [a.get_attribute("href") or "" for a in links]
        assert hrefs and all(h.endswith("#record=ix-fra-01%2F10-5") for h in hrefs)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard-drilldown.png"
        assert driver.save_screenshot(str(shot)), "screenshot not written"
        print(f"\nscreenshot: {shot} (alert arrived {arrived:.2f} s after it was written)")

        links[0].click()  # the record view: its alerts and how to prove it
        box = wait.until(ec.visibility_of_element_located((By.ID, "record-box")))
        assert "bilat verify ix-fra-01/10-5 --party hgc" in box.text
        driver.save_screenshot(str(ARTIFACTS / "dashboard-record.png"))
        metrics = urllib.request.urlopen(f"{url}metrics", timeout=5).read().decode()
        assert re.search(r"^bilat_dashboard_sse_clients 1\.0$", metrics, re.M), metrics
    finally:
        driver.quit()
