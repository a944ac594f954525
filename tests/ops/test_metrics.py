"""/metrics: never public, and after real traffic through the simulator every figure operators
need is there with plausible values (sends retried, looked up, refused; SerwerSMS answers by
error class; polls, callbacks, drafts, statements, API requests)."""

import re
import time
from datetime import date
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from billing import tasks
from billing.models import Message
from billing.services.outbox import send_sms
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statements
from ops import tasks as ops_tasks
from partner_api.keys import create_api_key
from tests.factories import ClientAccountFactory, PartnerFactory

TOKEN = "metrics-secret-token"
ROOT = Path(__file__).resolve().parents[2]


def scrape(client: Client, token: str = TOKEN):
    return client.get("/metrics", headers={"authorization": f"Bearer {token}"})


def families(text: str) -> dict[str, list]:
    """Family name -> samples [(name, labels, value)]."""
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(text)
    }


def value(found: dict, family: str, **labels) -> float:
    return sum(v for _, ls, v in found[family] if all(ls.get(k) == x for k, x in labels.items()))


@pytest.mark.django_db
def test_metrics_are_404_when_neither_token_nor_addresses_are_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_ADDRESSES = []
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_token_or_a_trusted_address(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_ADDRESSES = ["not-a-network", "10.1.0.0/16"]  # a typo is skipped
    assert client.get("/metrics").status_code == 403
    assert scrape(client, "wrong").status_code == 403
    assert scrape(client).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_every_figure_is_scraped_after_traffic_through_the_simulator(
    simulator_settings, settings, celery_eager
):
    began = time.monotonic()  # every age and duration below is bounded by the test's own run
    settings.METRICS_TOKEN = TOKEN
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.05
    sim = simulator_settings
    sim.register_account(token="shop-token", username="shop", password="shop-pass")
    partner = PartnerFactory(name="Acme", ic=7101)
    shop = ClientAccountFactory(
        partner=partner, name="shop", api_token="shop-token", username="shop", password="shop-pass"
    )
    unknown = ClientAccountFactory(partner=partner, name="unknown", api_token="not-registered")

    client = Client()
    assert scrape(client).status_code == 200
    # The partner API: one good send (202) and one without a key (401).
    key, raw = create_api_key(account=shop, name="shop software", actor="test")
    api = Client(headers={"authorization": f"Bearer {raw}"})
    body = {"recipients": [{"phone": "+48500600700"}], "text": "From the API"}
    assert api.post("/api/v1/messages", body, content_type="application/json").status_code == 202
    assert (
        Client().post("/api/v1/messages", body, content_type="application/json").status_code == 401
    )

    sim.faults(["http_429"])  # surely nothing done: sent again
    send_sms(shop, ["+48500600701"], "Retried")
    sim.faults(["accept_then_drop"])  # taken, answer lost: settled by look-up
    send_sms(shop, ["+48500600702"], "Looked up")
    send_sms(unknown, ["+48500600703"], "Refused")  # 1001: a definite refusal
    send_sms(shop, ["+48500600704"], "Over XML", channel="xml_api")

    # A callback for one message, then a poll pass for the rest.
    called = Message.objects.get(phone="+48500600700")
    url = reverse("serwersms_callback", args=[shop.callback_secret])
    stamp = timezone.localtime(timezone.now()).strftime("%Y-%m-%d %H:%M:%S")
    assert (
        Client().post(url, {"smsid": called.serwersms_id, "stan": "sent", "data": stamp}).content
        == b"OK"
    )
    sim.advance(to="final")
    tasks.poll_all_accounts.apply()
    ops_tasks.beat_heartbeat.apply()
    # Statements: a draft built for this month, an old month closed.
    build_statements(timezone.localdate().replace(day=1), partner=partner, actor="ops")
    close_statement(partner, date(2025, 1, 1), actor="ops")
    # One message still waiting, one still in the outbox.
    send_sms(shop, ["+48500600705"], "Still queued")
    celery_eager.conf.task_always_eager = False
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("billing.services.enqueue.deliver", lambda ids: None)
            send_sms(shop, ["+48500600706"], "In the outbox")
    finally:
        celery_eager.conf.task_always_eager = True

    # Counters of status events and audit entries are folded a scrape behind (counters.fold).
    deadline = time.monotonic() + 120
    while True:
        response = scrape(client)
        assert response.status_code == 200
        found = families(response.content.decode())
        if value(found, "partner_portal_statement_actions", action="close") or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)

    p = "partner_portal_"
    ran = time.monotonic() - began + 1  # no figure can be older than the test, however slow
    assert value(found, p + "messages_last_31_days") >= 6
    assert value(found, p + "messages_last_31_days", status="unsent") >= 1
    assert value(found, p + "messages_not_final", channel="api_v2") >= 2
    assert value(found, p + "sends", outcome="retried") >= 1
    assert value(found, p + "sends", outcome="looked_up") >= 1
    assert value(found, p + "sends", outcome="refused") == 1
    assert value(found, p + "sends", channel="xml_api") >= 1
    assert value(found, p + "serwersms_answers", error_class="rate_limited", channel="api_v2") >= 1
    assert value(found, p + "serwersms_answers", error_class="invalid_credentials") >= 1
    assert value(found, p + "serwersms_answers", outcome="ok", channel="xml_api") >= 1
    assert value(found, p + "status_events", source="poll", applied="true") >= 1
    assert value(found, p + "callbacks", outcome="applied") == 1
    assert value(found, p + "statement_actions", action="build") >= 1
    assert value(found, p + "statement_actions", action="close") == 1
    assert value(found, p + "api_requests", key=key.prefix, status="202") == 1
    assert value(found, p + "api_requests", key="none", status="401") == 1
    assert value(found, p + "heartbeat_age_seconds", name="beat") < ran
    assert value(found, p + "heartbeat_age_seconds", name="billing.tasks.poll_all_accounts") < ran
    assert 0 < value(found, p + "poll_pass_seconds", account="shop") < ran
    assert 0 <= value(found, p + "poll_lag_seconds") < ran
    assert 0 <= value(found, p + "oldest_pending_message_age_seconds", account="shop") < ran
    assert 0 <= value(found, p + "outbox_oldest_submitting_age_seconds") < ran
    assert value(found, p + "outbox_submitting_messages") == 1
    assert 0 <= value(found, p + "draft_refresh_lag_seconds") < ran
    assert value(found, p + "statements", status="closed") == 1
    assert value(found, p + "statements", status="draft") >= 1
    assert p + "open_incidents" in found and p + "statements_past_review_window" in found
    # The Grafana dashboard asks only for families the endpoint exposes.
    dashboard = (ROOT / "docs" / "grafana-dashboard.json").read_text()
    asked = set(re.findall(r"partner_portal_\w+", dashboard))
    assert asked and {re.sub(r"_total$", "", name) for name in asked} <= set(found)
