"""The reported-message write service (billing/services/reporting.py): each item recorded once
with the partner's figures as its claim, then polled like any message; SerwerSMS's figures
price it once SerwerSMS confirms its ic. The HTTP side is tests/api/test_reported.py."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import selectors
from billing.commission import billing_month
from billing.models import Channel, Message, StatusEvent
from billing.services.ic_proof import confirm_reported_messages
from billing.services.polling import poll_account
from billing.services.reporting import (
    CREATED,
    EXISTING,
    REFUSED,
    Reported,
    record_reported_messages,
)
from billing.serwersms import client_for
from billing.statuses import Status
from tests.factories import AgreementFactory, ClientAccountFactory, PartnerFactory

pytestmark = pytest.mark.django_db
TOKEN = "reporting-token"


@pytest.fixture
def account():
    return ClientAccountFactory(partner=PartnerFactory(ic=7001), api_token=TOKEN)


@pytest.fixture
def other():
    return ClientAccountFactory(partner=PartnerFactory(ic=7002), api_token="other-token")


def item(owner, serwersms_id, phone="+48500600700", now=None, **extra) -> Reported:
    """An item of `owner`'s partner, sent a minute ago; `extra` overrides any field."""
    sent = (now or timezone.now()) - dt.timedelta(minutes=1)
    values = {"phone": phone, "ic": owner.partner.ic, "sent_at": sent, "parts": 2}
    return Reported(serwersms_id=serwersms_id, **(values | {"cost": Decimal("0.1100")} | extra))


def record(account, *items, now=None):
    return record_reported_messages(account=account, items=items, now=now or timezone.now())


def test_reported_messages_are_recorded_once(account):
    items = [item(account, "aa01"), item(account, "aa02", phone="500600701")]
    first = record(account, *items)
    assert [r.outcome for r in first] == [CREATED, CREATED]
    again = record(account, *items)
    assert [r.outcome for r in again] == [EXISTING, EXISTING]
    assert [r.message_id for r in first] == [r.message_id for r in again]
    assert [(r.claim["parts"], r.claim["cost"]) for r in again] == [(2, Decimal("0.1100"))] * 2
    rows = Message.objects.filter(account=account).order_by("serwersms_id")
    # The partner's figures are its claim; the priced ones wait for SerwerSMS's report.
    assert [(m.channel, m.status, m.phone, m.parts, m.cost) for m in rows] == [
        (Channel.REPORTED, Status.QUEUED, "+48500600700", 1, None),
        (Channel.REPORTED, Status.QUEUED, "+48500600701", 1, None),
    ]
    assert [(m.claimed_parts, str(m.claimed_cost), m.ic_proof) for m in rows] == [
        (2, "0.1100", "reported"),
        (2, "0.1100", "reported"),
    ]
    assert all(m.ic == account.partner.ic and m.dispatched_at is None for m in rows)
    assert all(m.claimed_sent_at is not None for m in rows)
    assert StatusEvent.objects.filter(message__in=rows).count() == 2  # one first event each


def test_a_wrong_ic_or_account_refuses_that_item_only(account, other):
    now = timezone.now()
    results = record(
        account,
        item(account, "ok1"),
        item(account, "badic", ic=other.partner.ic),
        item(account, "badacct", account=other.pk),
        item(account, "badphone", phone="12"),
        item(account, "future", sent_at=now + dt.timedelta(days=2)),
        item(account, "old", sent_at=now - dt.timedelta(days=401)),
        item(account, "dear", cost=Decimal("1000000")),
        item(account, "ok1"),
        now=now,
    )
    assert [r.outcome for r in results] == [CREATED] + [REFUSED] * 7
    assert [[(f, code) for f, code, _ in r.errors] for r in results] == [
        [],
        [("ic", "wrong_ic")],
        [("account", "wrong_account")],
        [("phone", "invalid_phone")],
        [("sent_at", "out_of_range")],
        [("sent_at", "out_of_range")],
        [("cost", "out_of_range")],
        [("serwersms_id", "duplicate")],
    ]
    assert results[4].errors[0][2] == "The send time is in the future."
    assert results[5].errors[0][2] == "The send time is more than 400 days ago."
    assert list(Message.objects.values_list("serwersms_id", flat=True)) == ["ok1"]


def test_the_same_id_with_another_phone_is_refused(account):
    record(account, item(account, "x1"))
    [result] = record(account, item(account, "x1", phone="+48500600799"))
    assert (result.outcome, result.errors[0][1]) == (REFUSED, "conflict")
    assert Message.objects.get(serwersms_id="x1").phone == "+48500600700"


def test_a_unique_id_the_account_already_uses_is_refused(account):
    record(account, item(account, "u1", unique_id="shop1"))
    [result] = record(account, item(account, "u2", unique_id="shop1"))
    assert [(f, code) for f, code, _ in result.errors] == [("unique_id", "conflict")]
    assert list(Message.objects.values_list("serwersms_id", flat=True)) == ["u1"]


def test_a_claimed_unsent_status_is_only_a_claim_until_serwersms_reports(account):
    [result] = record(account, item(account, "u1", status="unsent"))
    assert result.outcome == CREATED
    message = Message.objects.get(serwersms_id="u1")
    assert (message.status, message.claimed_status) == (Status.QUEUED, "unsent")
    assert list(message.events.values_list("old_status", "new_status")) == [("", "queued")]


def test_reported_messages_are_polled_and_counted_once_serwersms_confirms_them(
    simulator_settings, account, queued_refreshes, django_capture_on_commit_callbacks
):
    simulator_settings.register_account(token=TOKEN)
    # The partner's software sends straight to SerwerSMS (with its ic) and reports the ids.
    sent = client_for(account, Channel.API_V2).send_sms(
        ["+48500600700", "+48500600701"], "Direct", None, ["direct1", "direct2"]
    )
    AgreementFactory(partner=account.partner, rate_eco="0.0125")
    period = billing_month(timezone.now())
    items = [item(account, s.serwersms_id, phone=s.phone, parts=1, cost=None) for s in sent]
    with django_capture_on_commit_callbacks(execute=True):
        assert [r.outcome for r in record(account, *items)] == [CREATED, CREATED]
    assert selectors.month_figures(account.partner, period).pending == 2  # the draft follows
    simulator_settings.advance(to="final")
    with django_capture_on_commit_callbacks(execute=True):
        summary = poll_account(account)
    assert summary.changed == 2
    statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses <= {Status.DELIVERED, Status.UNDELIVERED, Status.SENT}
    # Dispatched, but only the partner's word vouches for the ic: apart, not billed.
    figures = selectors.month_figures(account.partner, period)
    assert (figures.counted, figures.pending, figures.unconfirmed) == (0, 0, 2)
    assert (figures.commission, figures.unconfirmed_commission) == (Decimal("0"), Decimal("0.03"))
    ids = list(Message.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        confirm_reported_messages(
            confirmed_ids=ids, refuted_ids=[], actor="test", now=timezone.now()
        )
    figures = selectors.month_figures(account.partner, period)
    assert (figures.counted, figures.pending, figures.unconfirmed) == (2, 0, 0)
    assert figures.commission == Decimal("0.03")
