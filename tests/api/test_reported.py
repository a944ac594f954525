"""POST /api/v1/messages/reported: the HTTP side of the reported-message service (what it
answers, per item, and the size limit). What the service records is
tests/billing/services/test_reporting.py."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Message
from tests.api.conftest import post

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


def test_each_item_answers_its_outcome_id_and_claim(alpha):
    body = {"messages": [item(alpha, "aa01"), item(alpha, "aa02", phone="500600701")]}
    first = post(alpha.client, URL, body)
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 2
    again = post(alpha.client, URL, body)
    assert again.json()["created"] == 0 and again.json()["existing"] == 2
    assert [r["id"] for r in first.json()["results"]] == [r["id"] for r in again.json()["results"]]
    ids = set(Message.objects.filter(account=alpha.account).values_list("pk", flat=True))
    assert {r["id"] for r in first.json()["results"]} == ids
    result = first.json()["results"][0]
    assert (result["ic_proof"], result["billing"]) == ("reported", "pending")
    assert (result["claim"]["parts"], result["claim"]["cost"]) == (2, "0.1100")


def test_a_refused_item_answers_its_field_code_and_reason(alpha, beta):
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
    assert "not your partner ic" in body["results"][1]["errors"][0]["message"]
    assert [r["id"] for r in body["results"][1:]] == [None] * 5
    assert list(Message.objects.values_list("serwersms_id", flat=True)) == ["ok1"]


def test_more_than_10000_items_is_413(alpha):
    one = item(alpha, "z")
    response = post(alpha.client, URL, {"messages": [one] * 10_001})
    assert response.status_code == 413
    assert not Message.objects.exists()
