"""Browser tests of the account pages and the phone layout (Playwright, Chromium, live server):
phone width, error pages, password reset, invitation, second-factor login, and every page in
Polish checked for English left untranslated."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest
from django.core import mail
from django_otp.oath import TOTP

from billing.statuses import Status
from tests.factories import MessageFactory, StatusEventFactory
from tests.portal.conftest import PASSWORD
from tests.portal.test_browser import _login, _shot, _traffic, page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PO_FILE = Path(__file__).resolve().parents[2] / "locale" / "pl" / "LC_MESSAGES" / "django.po"
# English words that never occur in the Polish interface (data such as names aside).
ENGLISH = re.compile(
    r"\b(the|and|your|with|from|this|messages?|statements?|commission|pending|unsent|"
    r"delivered|counted|login|password|dashboard|account|team|none|yes|no)\b"
)


def _no_horizontal_scroll(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _visible_within_phone(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 391


def test_phone_width_keeps_status_amount_and_links(page, live_server, alpha):  # noqa: F811
    data = _traffic(alpha)
    MessageFactory(account=alpha.account, status=Status.UNSENT, reason="wrong_number")
    _login(page, live_server, alpha.manager.user.username)
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/messages/")
    assert _no_horizontal_scroll(page)
    first = page.locator("table.data-table tbody tr").first
    for column in ("phone", "status", "parts", "dispatched_at"):
        assert _visible_within_phone(first.locator(f"td[data-col={column}]")), column
    link = first.locator("td[data-col=phone] a")
    assert _visible_within_phone(link)
    assert first.locator("td[data-col=channel]").is_hidden()
    _shot(page, "phone-messages")
    link.click()
    page.wait_for_url(re.compile(r".*/messages/\d+/$"))
    assert _no_horizontal_scroll(page)

    statement = data["statements"][data["last_period"]]
    page.goto(f"{live_server.url}/statements/{statement.pk}/")
    assert _no_horizontal_scroll(page)
    line = page.locator("#statement-lines tbody tr").first
    assert _visible_within_phone(line.locator("td[data-col=commission]"))
    assert _visible_within_phone(line.locator("td[data-col=account] a"))
    assert _visible_within_phone(page.locator("h1 .badge"))
    _shot(page, "phone-statement")

    page.goto(f"{live_server.url}/statements/")
    assert _no_horizontal_scroll(page)
    row = page.locator("table.data-table tbody tr").first
    assert _visible_within_phone(row.locator("td .badge"))
    assert _visible_within_phone(row.locator("td a"))

    page.goto(f"{live_server.url}/")
    assert _no_horizontal_scroll(page)
    assert page.locator(".chart-wide").is_hidden()
    labels = page.locator(".chart-narrow svg text.axis")
    heights = [labels.nth(i).bounding_box()["height"] for i in range(min(labels.count(), 5))]
    assert heights and min(heights) >= 9  # readable, not ~3 px
    _shot(page, "phone-dashboard")


def test_error_pages_in_the_layout_with_a_way_back(page, live_server, alpha):  # noqa: F811
    _login(page, live_server, alpha.viewer.user.username)
    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response.status == 404
    assert page.locator("nav.mainnav").is_visible()
    assert page.locator("h1").inner_text() == "Page not found"
    _shot(page, "error-404")
    page.click("#error-404 .actions a")
    page.wait_for_url(f"{live_server.url}/")
    page.set_viewport_size(PHONE)
    response = page.goto(f"{live_server.url}/messages/987654/")
    assert response.status == 404
    assert _no_horizontal_scroll(page)


def test_password_reset_flow(page, live_server, alpha):  # noqa: F811
    user = alpha.viewer.user
    user.email = "ania@alpha.example"
    user.save()
    page.goto(f"{live_server.url}/login/")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", "ania@alpha.example")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/password/reset/sent/")
    link = re.search(r"https?://\S+/password/reset/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    assert "at least 8 characters" in page.locator(".rules").inner_text()
    _shot(page, "password-reset-form")
    page.fill("input[name=new_password1]", "nowe-haslo-2026!")
    page.fill("input[name=new_password2]", "nowe-haslo-2026!")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/password/reset/complete/")
    page.click("main a.btn")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "nowe-haslo-2026!")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_invitation_flow(page, live_server, alpha):  # noqa: F811
    _login(page, live_server, alpha.manager.user.username)
    page.click("nav.mainnav >> text=Team")
    page.fill("#invite input[name=email]", "nowy@alpha.example")
    page.select_option("#invite select[name=role]", "viewer")
    page.click("#invite button[type=submit]")
    page.wait_for_url("**/team/")
    assert "nowy@alpha.example" in page.content()
    _shot(page, "team")
    link = re.search(r"https?://\S+/invitation/\S+/", mail.outbox[-1].body).group(0)

    context = page.context.browser.new_context(viewport=PHONE, locale="en-US")
    newcomer = context.new_page()
    newcomer.goto(link)
    assert "Join your team" in newcomer.content()
    newcomer.fill("input[name=username]", "nowy")
    newcomer.fill("input[name=password1]", "nowy-pracownik-77")
    newcomer.fill("input[name=password2]", "nowy-pracownik-77")
    newcomer.click("form.stack button[type=submit]")
    newcomer.wait_for_url(f"{live_server.url}/")
    assert _no_horizontal_scroll(newcomer)
    _shot(newcomer, "invitation-accepted-phone")
    context.close()

    page.reload()
    assert "colleague joined" in page.locator("#team-audit").inner_text()


def _code(secret: str, steps_ahead: int = 0) -> str:
    totp = TOTP(base64.b32decode(secret))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def test_second_factor_login(page, live_server, alpha):  # noqa: F811
    username = alpha.manager.user.username
    _login(page, live_server, username)
    page.goto(f"{live_server.url}/security/")
    page.click("#second-factor button[type=submit]")
    page.wait_for_url("**/security/")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text()
    _shot(page, "totp-setup")
    page.fill("#second-factor input[name=token]", _code(secret))
    page.click("#second-factor button[type=submit]")
    page.wait_for_url("**/security/")
    assert "Every login asks for a code" in page.locator("#second-factor").inner_text()

    page.click("header form[action='/logout/'] button")
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/login/verify/**")
    page.goto(f"{live_server.url}/statements/")  # not without the code
    assert "/login/verify/" in page.url
    page.fill("input[name=token]", _code(secret, 1))
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/statements/")


def _english_msgids() -> list[str]:
    """English texts of the interface that have a different Polish translation."""
    text = PO_FILE.read_text(encoding="utf-8")
    found = []
    for block in text.split("\n\n"):
        if "#, fuzzy" in block or "msgid_plural" in block:
            continue
        msgid = "".join(re.findall(r'^(?:msgid )?"(.*)"$', block.split("msgstr")[0], re.M))
        msgstr = (
            "".join(re.findall(r'"(.*)"', block.split("msgstr", 1)[1])) if "msgstr" in block else ""
        )
        plain = re.sub(r"%\(\w+\)s|<[^>]+>|\{\{.*?\}\}", "", msgid)
        if len(plain.split()) >= 3 and msgstr and msgstr != msgid:
            found.append(plain.split(".")[0].strip())
    return [s for s in found if len(s) > 12]


def test_every_page_in_polish_has_no_english_left(page, live_server, alpha):  # noqa: F811
    data = _traffic(alpha)
    message = alpha.account.messages.filter(status=Status.DELIVERED).first()
    StatusEventFactory(message=message, old_status="queued", new_status="sent", source="send")
    MessageFactory(account=alpha.account, status=Status.UNSENT, reason="wrong_number")
    statement = data["statements"][data["last_period"]]
    page.goto(f"{live_server.url}/login/")
    page.select_option("#language", "pl")
    page.click("form.lang button")
    page.wait_for_load_state()
    english = _english_msgids()
    assert len(english) > 50

    def check(url: str) -> None:
        page.goto(f"{live_server.url}{url}")
        assert page.locator("html").get_attribute("lang") == "pl", url
        visible = page.locator("body").inner_text()
        # Names from the test data are not interface text.
        for name in ("alpha-shop", "alpha-viewer", "alpha-manager", "Alpha", "SklepABC"):
            visible = visible.replace(name, "")
        leftovers = [s for s in english if s in visible]
        assert not leftovers, (url, leftovers)
        words = ENGLISH.findall(visible.lower())
        assert not words, (url, sorted(set(words)))

    for url in ("/login/", "/password/reset/", "/password/reset/sent/", "/no-such-page/"):
        check(url)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", alpha.manager.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    for url in (
        "/",
        "/messages/",
        f"/messages/{message.pk}/",
        "/messages/?status=unsent",
        "/statements/",
        f"/statements/{statement.pk}/",
        "/client-accounts/",
        "/team/",
        "/security/",
        "/password/",
        "/password/done/",
        "/messages/999999/",
    ):
        check(url)
    _shot(page, "polish-security")
