"""Issue 17: what partner software reports is a claim; SerwerSMS's record prices it, and only
what SerwerSMS's partner billing confirms is billed. Through the real API, callback URL and the
live simulator."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from billing.commission import billing_month
from billing.models import Channel, CommissionBasis, EventSource, Message, Statement
from billing.services.ic_proof import confirm_reported_messages
from billing.services.polling import poll_account
from billing.services.status_updates import apply_reports
from billing.serwersms import client_for
from billing.serwersms.types import ReportItem
from billing.statuses import Status
from tests.api.conftest import post
from tests.factories import AgreementFactory, MessageFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/reported"


def reported(side, serwersms_id, phone, **extra):
    return {
        "serwersms_id": serwersms_id,
        "phone": phone,
        "ic": side.partner.ic,
        "sent_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        **extra,
    }


def send_direct(side, phone, unique_id):
    """The partner's software sends straight to SerwerSMS (the simulator), adding its ic."""
    client = client_for(side.account, Channel.API_V2)
    return client.send_sms([phone], "Direct", None, [unique_id])[0]


def send_without_ic(sim, phone, unique_id):
    """Software that forgot the ic: the documented send_sms call (§3) with no `ic` field."""
    response = requests.post(
        f"{sim.api_url.rstrip('/')}/messages/send_sms.json",
        json={"phone": phone, "text": "Direct", "unique_id": unique_id, "details": True},
        headers={"Authorization": "Bearer alpha-token"},
        timeout=10,
    )
    item = response.json()["items"][0]
    assert item["status"] == "queued"
    return SimpleNamespace(serwersms_id=item["id"], phone=item["phone"])


def percent_of_cost(side, rate="9"):
    return AgreementFactory(
        partner=side.partner,
        basis=CommissionBasis.PERCENT_OF_COST,
        rate_eco=rate,
        rate_full=rate,
    )


def poll(side, capture):
    with capture(execute=True):
        return poll_account(side.account)


def commission(side, period):
    response = side.client.get("/api/v1/commission", {"period": f"{period:%Y-%m}"})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_claim_of_500000_pln_leaves_the_statement_at_serwersms_price(
    sim, alpha, queued_refreshes, django_capture_on_commit_callbacks
):
    """The repro: SerwerSMS records ECO, 1 part, 0.055 PLN; the partner claims FULL x100 at
    500,000 PLN. The percent-of-cost statement (9 %) stays at 1.93, never 45,001.93."""
    percent_of_cost(alpha)
    period = billing_month(timezone.now())
    # 1.93 already earned: 21.4444 PLN of the product's own counted messages at 9 %.
    MessageFactory(account=alpha.account, status=Status.DELIVERED, cost=Decimal("21.4444"))
    sent = send_direct(alpha, "+48500600700", "claim1")
    claim = reported(alpha, sent.serwersms_id, sent.phone, type="full", parts=100, cost="500000")
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(alpha.client, URL, {"messages": [claim]}).json()
    result = answer["results"][0]
    assert (answer["created"], result["ic_proof"], result["billing"]) == (1, "reported", "pending")
    assert (result["claim"]["type"], result["claim"]["parts"], result["claim"]["cost"]) == (
        "full",
        100,
        "500000",
    )
    sim.advance(to="final")
    poll(alpha, django_capture_on_commit_callbacks)
    message = Message.objects.get(serwersms_id=sent.serwersms_id)
    assert message.status in (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
    # SerwerSMS's figures price it; the claim is kept beside them and flagged.
    assert (message.message_type, message.parts, message.cost) == ("eco", 1, Decimal("0.0550"))
    assert (message.claimed_type, message.claimed_parts, message.claimed_cost) == (
        "full",
        100,
        Decimal("500000"),
    )
    flag = "claimed FULL x100, SerwerSMS: ECO x1; claimed cost 500000.0000, SerwerSMS: 0.0550"
    assert message.claim_difference == flag
    detail = alpha.client.get(f"/api/v1/messages/{message.pk}").json()
    assert (detail["billing"], detail["ic_proof"], detail["claim_difference"]) == (
        "unconfirmed",
        "reported",
        flag,
    )
    listed = alpha.client.get("/api/v1/messages", {"status": "unconfirmed"}).json()["items"]
    assert [m["id"] for m in listed] == [message.pk]
    figures = commission(alpha, period)
    assert (figures["total"], figures["unconfirmed"]) == ("1.93", 1)
    assert figures["unconfirmed_commission"] == "0.00"  # 0.055 x 9 % = 0.00495
    # Confirmed by SerwerSMS's partner billing: counted, at SerwerSMS's price.
    with django_capture_on_commit_callbacks(execute=True):
        summary = confirm_reported_messages(
            confirmed_ids=[message.pk], refuted_ids=[], actor="reconcile", now=timezone.now()
        )
    assert (summary.confirmed, summary.changed_ids) == (1, [message.pk])
    statement = Statement.objects.get(partner=alpha.partner, period=period)
    assert (statement.counted_messages, statement.total) == (2, Decimal("1.93"))
    assert statement.commission == Decimal("21.4444") * 9 / 100 + Decimal("0.0550") * 9 / 100
    assert commission(alpha, period)["total"] == "1.93"


def test_the_same_cost_bound_refuses_a_claim_and_a_report(alpha):
    """One validation rule: ingestion and the status path refuse the same costs and parts."""
    items = [
        reported(alpha, "big1", "+48500600701", cost="99999999.9999"),
        reported(alpha, "big2", "+48500600702", cost="1000000"),
        reported(alpha, "fine", "+48500600703", cost="999999.9999"),
    ]
    answer = post(alpha.client, URL, {"messages": items}).json()
    assert [r["outcome"] for r in answer["results"]] == ["refused", "refused", "created"]
    assert answer["results"][1]["errors"][0]["field"] == "cost"
    message = MessageFactory(account=alpha.account, status=Status.QUEUED)
    report = ReportItem(
        serwersms_id=message.serwersms_id, phone="", status="sent", cost=Decimal("1000000")
    )
    summary = apply_reports(alpha.account, [report], EventSource.POLL)
    message.refresh_from_db()
    assert (summary.changed, summary.ignored, message.cost) == (0, 1, None)
    assert "cost 1000000 out of range" in message.events.get().note


def test_a_message_sent_without_the_ic_is_not_billed_but_shown_apart(
    sim, alpha, queued_refreshes, django_capture_on_commit_callbacks
):
    """The repro: sent straight to SerwerSMS with no ic, reported with the partner's ic. It is
    never in the billed total: "reported, not yet confirmed" until SerwerSMS's partner billing
    (which never lists it) refutes it."""
    AgreementFactory(partner=alpha.partner, rate_eco="0.0125")
    period = billing_month(timezone.now())
    with_ic = send_direct(alpha, "+48500600700", "withic1")
    without = send_without_ic(sim, "+48500600701", "noic1")
    body = {
        "messages": [
            reported(alpha, with_ic.serwersms_id, with_ic.phone),
            reported(alpha, without.serwersms_id, without.phone),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post(alpha.client, URL, body).json()["created"] == 2
    sim.advance(to="final")
    poll(alpha, django_capture_on_commit_callbacks)
    dispatched = set(
        Message.objects.filter(status__in=["sent", "delivered", "undelivered"]).values_list(
            "serwersms_id", flat=True
        )
    )
    assert dispatched == {with_ic.serwersms_id, without.serwersms_id}
    figures = commission(alpha, period)
    assert (figures["counted"], figures["unconfirmed"], figures["total"]) == (0, 2, "0.00")
    assert figures["unconfirmed_commission"] == "0.03"  # 2 x 0.0125, rounded once
    # SerwerSMS's own partner billing lists only the message that carried the ic.
    billed_ids = {
        line.split(",")[0]
        for line in sim.billing_csv(alpha.partner.ic, f"{period:%Y-%m}").splitlines()[1:]
    }
    assert billed_ids == {with_ic.serwersms_id}
    ids = dict(Message.objects.values_list("serwersms_id", "pk"))
    with django_capture_on_commit_callbacks(execute=True):
        confirm_reported_messages(
            confirmed_ids=[ids[with_ic.serwersms_id]],
            refuted_ids=[ids[without.serwersms_id]],
            actor="reconcile",
            now=timezone.now(),
        )
    figures = commission(alpha, period)
    assert (figures["counted"], figures["unconfirmed"], figures["total"]) == (1, 0, "0.01")
    statement = Statement.objects.get(partner=alpha.partner, period=period)
    assert (statement.counted_messages, statement.unconfirmed_messages) == (1, 0)
    refuted = alpha.client.get(f"/api/v1/messages/{ids[without.serwersms_id]}").json()
    assert (refuted["billing"], refuted["ic_proof"]) == ("never", "refuted")
    assert refuted["events"][-1]["source"] == "reconcile"


def test_a_callback_before_serwersms_reported_the_message_cannot_make_it_count(
    sim, alpha, client, queued_refreshes, django_capture_on_commit_callbacks
):
    sent = send_direct(alpha, "+48500600700", "early1")
    post(alpha.client, URL, {"messages": [reported(alpha, sent.serwersms_id, sent.phone)]})
    callback = reverse("serwersms_callback", args=[alpha.account.callback_secret])
    assert client.post(callback, {"smsid": sent.serwersms_id, "stan": "delivered"}).content == (
        b"OK"
    )
    message = Message.objects.get(serwersms_id=sent.serwersms_id)
    assert (message.status, message.serwersms_figures_at) == (Status.QUEUED, None)
    held = message.events.get(applied=False)
    assert (held.source, held.new_status) == ("callback", "delivered")
    assert held.note.startswith("held: waits for SerwerSMS's report")
    # SerwerSMS's own report gives the figures; later callbacks move the status as usual.
    sim.advance(steps=1)
    poll(alpha, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.serwersms_figures_at is not None and message.status != Status.DELIVERED
    client.post(callback, {"smsid": sent.serwersms_id, "stan": "delivered"})
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_callback_time_a_year_before_dispatch_is_ignored(
    sim, alpha, client, queued_refreshes, django_capture_on_commit_callbacks
):
    """The repro: `data=1765000000` (2025-12-06) on a reported message dispatched now."""
    sent = send_direct(alpha, "+48500600700", "year1")
    post(alpha.client, URL, {"messages": [reported(alpha, sent.serwersms_id, sent.phone)]})
    sim.advance(steps=1)
    poll(alpha, django_capture_on_commit_callbacks)
    message = Message.objects.get(serwersms_id=sent.serwersms_id)
    assert message.queued_at is not None and message.queued_at.year > 2025
    callback = reverse("serwersms_callback", args=[alpha.account.callback_secret])
    client.post(callback, {"smsid": sent.serwersms_id, "stan": "delivered", "data": "1765000000"})
    message.refresh_from_db()
    assert (message.status == Status.DELIVERED, message.delivered_at) == (False, None)
    ignored = message.events.get(applied=False, source="callback")
    assert ignored.note.startswith("refused: time outside the sane window")
    assert "before the message's life" in ignored.note


def test_a_delivery_time_before_the_dispatch_is_ignored(client):
    created_at = timezone.now() - dt.timedelta(hours=5)
    sent_at = created_at + dt.timedelta(hours=4)
    message = MessageFactory(
        status=Status.SENT, created_at=created_at, sent_at=sent_at, dispatched_at=sent_at
    )
    callback = reverse("serwersms_callback", args=[message.account.callback_secret])
    early = (sent_at - dt.timedelta(hours=2)).timestamp()  # in its life, before its dispatch
    client.post(callback, {"smsid": message.serwersms_id, "stan": "delivered", "data": int(early)})
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.SENT, None)
    assert "before it was dispatched" in message.events.get().note
