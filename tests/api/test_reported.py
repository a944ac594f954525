"""POST /api/v1/messages/reported: recorded once with the partner's figures as its claim, then
polled like any message; SerwerSMS's figures price it, once SerwerSMS confirms its ic."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import selectors
from billing.commission import billing_month
from billing.models import Channel, Message, StatusEvent
from billing.services.ic_proof import confirm_reported_messages
from billing.services.polling import poll_account
from billing.serwersms import client_for
from billing.statuses import Status
from tests.api.conftest import post
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/reported"


def item(side, serwersms_id, phone="+48500600700", **extra):
    sent = timezone.now() - dt.timedelta(minutes=1)
    return {
        "serwersms_id": serwersms_id,
        "phone": phone,
        "ic": side.partner.ic,
        "sent_at": sent.isoformat(),
        "parts": 2,
        "cost": "0.1100",
        **extra,
    }


def test_reported_messages_are_recorded_once(alpha):
    body = {"messages": [item(alpha, "aa01"), item(alpha, "aa02", phone="500600701")]}
    first = post(alpha.client, URL, body)
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 2
    again = post(alpha.client, URL, body)
    assert again.json()["created"] == 0 and again.json()["existing"] == 2
    assert [r["id"] for r in first.json()["results"]] == [r["id"] for r in again.json()["results"]]
    rows = Message.objects.filter(account=alpha.account).order_by("serwersms_id")
    # The partner's figures are its claim; the priced ones wait for SerwerSMS's report.
    assert [(m.channel, m.status, m.phone, m.parts, m.cost) for m in rows] == [
        (Channel.REPORTED, Status.QUEUED, "+48500600700", 1, None),
        (Channel.REPORTED, Status.QUEUED, "+48500600701", 1, None),
    ]
    assert [(m.claimed_parts, str(m.claimed_cost), m.ic_proof) for m in rows] == [
        (2, "0.1100", "reported"),
        (2, "0.1100", "reported"),
    ]
    assert all(m.ic == alpha.partner.ic and m.dispatched_at is None for m in rows)
    assert all(m.claimed_sent_at is not None for m in rows)
    result = first.json()["results"][0]
    assert (result["ic_proof"], result["billing"]) == ("reported", "pending")
    assert (result["claim"]["parts"], result["claim"]["cost"]) == (2, "0.1100")
    assert StatusEvent.objects.filter(message__in=rows).count() == 2  # one first event each


def test_a_wrong_ic_or_account_refuses_that_item_only(alpha, beta):
    body = {
        "messages": [
            item(alpha, "ok1"),
            item(alpha, "badic", ic=beta.partner.ic),
            item(alpha, "badacct", account=beta.account.pk),
            item(alpha, "badphone", phone="12"),
            item(alpha, "future", sent_at=(timezone.now() + dt.timedelta(days=2)).isoformat()),
            item(alpha, "ok1"),
        ]
    }
    response = post(alpha.client, URL, body)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["refused"]) == (1, 5)
    fields = [[e["field"] for e in r["errors"]] for r in body["results"]]
    assert fields == [[], ["ic"], ["account"], ["phone"], ["sent_at"], ["serwersms_id"]]
    assert body["results"][1]["errors"][0]["code"] == "wrong_ic"
    assert list(Message.objects.values_list("serwersms_id", flat=True)) == ["ok1"]


def test_the_same_id_with_another_phone_is_refused(alpha):
    post(alpha.client, URL, {"messages": [item(alpha, "x1")]})
    response = post(alpha.client, URL, {"messages": [item(alpha, "x1", phone="+48500600799")]})
    result = response.json()["results"][0]
    assert result["outcome"] == "refused"
    assert result["errors"][0]["code"] == "conflict"
    assert Message.objects.get(serwersms_id="x1").phone == "+48500600700"


def test_a_claimed_unsent_status_is_only_a_claim_until_serwersms_reports(alpha):
    response = post(alpha.client, URL, {"messages": [item(alpha, "u1", status="unsent")]})
    assert response.json()["created"] == 1
    message = Message.objects.get(serwersms_id="u1")
    assert (message.status, message.claimed_status) == (Status.QUEUED, "unsent")
    assert list(message.events.values_list("old_status", "new_status")) == [("", "queued")]


def test_more_than_10000_items_is_413(alpha):
    one = item(alpha, "z")
    response = post(alpha.client, URL, {"messages": [one] * 10_001})
    assert response.status_code == 413
    assert not Message.objects.exists()


def test_reported_messages_are_polled_and_counted_once_serwersms_confirms_them(
    sim, alpha, queued_refreshes, django_capture_on_commit_callbacks
):
    # The partner's software sends straight to SerwerSMS (with its ic) and reports the ids.
    sent = client_for(alpha.account, Channel.API_V2).send_sms(
        ["+48500600700", "+48500600701"], "Direct", None, ["direct1", "direct2"]
    )
    body = {
        "messages": [item(alpha, s.serwersms_id, phone=s.phone, parts=1, cost=None) for s in sent]
    }
    AgreementFactory(partner=alpha.partner, rate_eco="0.0125")
    period = billing_month(timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert post(alpha.client, URL, body).json()["created"] == 2
    assert selectors.month_figures(alpha.partner, period).pending == 2  # the draft follows
    sim.advance(to="final")
    with django_capture_on_commit_callbacks(execute=True):
        summary = poll_account(alpha.account)
    assert summary.changed == 2
    statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses <= {Status.DELIVERED, Status.UNDELIVERED, Status.SENT}
    # Dispatched, but only the partner's word vouches for the ic: apart, not billed.
    figures = selectors.month_figures(alpha.partner, period)
    assert (figures.counted, figures.pending, figures.unconfirmed) == (0, 0, 2)
    assert (figures.commission, figures.unconfirmed_commission) == (Decimal("0"), Decimal("0.03"))
    ids = list(Message.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        confirm_reported_messages(
            confirmed_ids=ids, refuted_ids=[], actor="test", now=timezone.now()
        )
    figures = selectors.month_figures(alpha.partner, period)
    assert (figures.counted, figures.pending, figures.unconfirmed) == (2, 0, 0)
    assert figures.commission == Decimal("0.03")
