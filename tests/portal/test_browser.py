"""Browser tests: partner staff use the portal in headless Chromium (Playwright, live server).

Screenshots of the main pages go to test-output/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing.statuses import Status
from tests.factories import (
    AuditEntryFactory,
    ClientAccountFactory,
    MessageFactory,
    StatementFactory,
    StatementItemFactory,
    StatementLineFactory,
    StatusEventFactory,
)
from tests.portal.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1360, "height": 900}, locale="en-US", accept_downloads=True
        )
        yield context.new_page()
        context.close()
        browser.close()


def _traffic(side, seed: int = 7) -> dict:
    """Three months of messages with draft statements for this and last month.

    (Closed statements are frozen by database triggers and could not be flushed after a
    live-server test, so the browser tests use drafts.)
    """
    rng = random.Random(seed)
    now = timezone.now()
    zone = dt.UTC
    accounts = [side.account, ClientAccountFactory(partner=side.partner, name="kwiaciarnia-róża")]
    statuses = [Status.DELIVERED] * 7 + [Status.UNDELIVERED, Status.SENT, Status.UNSENT]
    this_period = timezone.localdate().replace(day=1)
    last_period = (this_period - dt.timedelta(days=1)).replace(day=1)
    statements = {
        this_period: StatementFactory(partner=side.partner, period=this_period),
        last_period: StatementFactory(partner=side.partner, period=last_period),
    }
    for day in range(89, -1, -1):
        for _ in range(rng.randint(1, 6)):
            when = (now - dt.timedelta(days=day, minutes=rng.randint(0, 600))).astimezone(zone)
            status = rng.choice(statuses)
            message = MessageFactory(
                account=rng.choice(accounts),
                status=status,
                parts=rng.choice([1, 1, 2]),
                phone=f"+48{rng.randint(500000000, 799999999)}",
                sender="SklepABC",
                created_at=when,
                dispatched_at=when,
            )
            period = timezone.localtime(when).date().replace(day=1)
            if status != Status.UNSENT and period in statements:
                StatementItemFactory(
                    statement=statements[period],
                    message=message,
                    amount=Decimal("0.0100") * message.parts,
                )
    MessageFactory(account=accounts[0], status=Status.QUEUED, phone="+48500100200")
    for statement in statements.values():
        items = list(statement.items.all())
        statement.counted_messages = len(items)
        statement.counted_parts = sum(item.parts for item in items)
        statement.commission = sum((item.amount for item in items), Decimal(0))
        statement.total = statement.commission.quantize(Decimal("0.01"))
        statement.built_at = now
        statement.save()
        for account in accounts:
            StatementLineFactory(
                statement=statement,
                account=account,
                counted_messages=statement.counted_messages // 2,
                counted_parts=statement.counted_parts // 2,
                commission=statement.commission / 2,
            )
        AuditEntryFactory(partner=side.partner, statement=statement, action="built")
    return {"accounts": accounts, "statements": statements, "last_period": last_period}


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_partner_staff_use_the_portal(page, live_server, alpha, beta):
    data = _traffic(alpha)
    foreign = StatementFactory(partner=beta.partner, period=dt.date(2026, 1, 1))
    message = alpha.account.messages.filter(status=Status.DELIVERED).first()
    StatusEventFactory(message=message, old_status="queued", new_status="sent", source="send")
    StatusEventFactory(message=message, old_status="sent", new_status="delivered")

    page.goto(f"{live_server.url}/login/")
    page.select_option("#language", "en")
    page.click("form.lang button")
    _shot(page, "login")
    _login(page, live_server, alpha.manager.user.username)

    # Dashboard with its server-side chart.
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert page.locator(".chart-wide svg.chart rect.bar").count() == 90
    assert page.locator(".chart-wide svg.chart polyline.line").count() == 1
    assert "statement not built yet" not in page.content()
    _shot(page, "dashboard")

    # Messages: filter by status and account.
    page.click("nav.mainnav >> text=Messages")
    total = int(page.locator("#total-messages").inner_text().replace(",", ""))
    page.select_option("select[name=status]", "unsent")
    page.select_option("select[name=account]", str(data["accounts"][1].pk))
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/messages/?*status=unsent*")
    filtered = int(page.locator("#total-messages").inner_text().replace(",", ""))
    assert 0 < filtered < total
    statuses = page.locator("table.data-table tbody td span.status").all_inner_texts()
    assert statuses and set(statuses) == {"unsent"}
    _shot(page, "messages")

    page.goto(f"{live_server.url}/messages/{message.pk}/")
    assert page.locator("#status-history tbody tr").count() == 2
    _shot(page, "message-detail")

    page.click("nav.mainnav >> text=Client accounts")
    _shot(page, "client-accounts")

    # Statements: list and the closed one's detail.
    page.click("nav.mainnav >> text=Statements")
    _shot(page, "statements")
    closed = data["statements"][data["last_period"]]
    page.click(f"a[href='/statements/{closed.pk}/']")
    assert "draft" in page.locator("h1").inner_text()
    assert page.locator("a:has-text('CSV')").count() == 1
    _shot(page, "statement-detail")

    # Another partner's statement by URL: 404.
    response = page.goto(f"{live_server.url}/statements/{foreign.pk}/")
    assert response.status == 404

    # Polish.
    page.goto(f"{live_server.url}/messages/?status=delivered")
    page.select_option("#language", "pl")
    page.click("form.lang button")
    page.wait_for_load_state()
    assert "doręczono" in page.locator("table.data-table tbody").inner_text()
    _shot(page, "messages-pl")
    page.goto(f"{live_server.url}/")
    _shot(page, "dashboard-pl")


def test_billing_manager_downloads_a_statement(page, live_server, alpha):
    data = _traffic(alpha)
    closed = data["statements"][data["last_period"]]
    _login(page, live_server, alpha.manager.user.username)
    page.goto(f"{live_server.url}/statements/{closed.pk}/")
    for fmt in ("CSV", "XLSX", "PDF"):
        with page.expect_download() as info:
            page.click(f"p.downloads a:has-text('{fmt}')")
        download = info.value
        assert download.suggested_filename.lower().endswith(fmt.lower())
        assert Path(download.path()).stat().st_size > 0


def test_viewer_sees_no_download_and_mobile_layout(page, live_server, alpha):
    data = _traffic(alpha)
    closed = data["statements"][data["last_period"]]
    _login(page, live_server, alpha.viewer.user.username)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/statements/{closed.pk}/")
    assert page.locator("p.downloads").count() == 0
    response = page.goto(f"{live_server.url}/statements/{closed.pk}/download/pdf/")
    assert response.status == 403
    page.goto(f"{live_server.url}/")
    _shot(page, "dashboard-mobile")
