"""Inputs that used to crash: callbacks, commands, reports and sends answer a clear error and
write nothing (on PostgreSQL a NUL character or an overflowing date is an exception if it gets
through, so CI proves these)."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.models import ClientAccount, Message, Partner, Statement, StatusEvent
from billing.services.outbox import SendError, send_sms
from billing.services.status_updates import apply_reports
from billing.serwersms.types import ReportItem
from billing.statuses import Status
from tests.factories import ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db
WRITTEN = datetime(2025, 3, 31, 21, 0, tzinfo=UTC)


def snapshot():
    return (
        list(Message.objects.order_by("pk").values()),
        StatusEvent.objects.count(),
        Statement.objects.count(),
        Partner.objects.count(),
        ClientAccount.objects.count(),
    )


# --- callbacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("params", "status", "answer"),
    [
        ({"stan": "delivered", "data": "0001-01-01 00:00:00"}, 400, b"data"),
        ({"stan": "delivered", "data": "99999-01-01 00:00:00"}, 400, b"data"),
        ({"stan": "delivered", "data": "2025-02-30 10:00:00"}, 400, b"data"),
        ({"stan": "delivered", "data": "1" * 30}, 400, b"data"),
        ({"stan": "deli\x00vered"}, 400, b"NUL"),
        ({"smsid": "X\x00", "stan": "delivered"}, 400, b"NUL"),
        ({"stan": "delivered", "cost": "1e20", "parts": "99999999999"}, 200, b"OK"),
        ({"stan": "x" * 500}, 400, b"too long"),
    ],
    ids=[
        "year 1",
        "year 99999",
        "30 February",
        "a huge timestamp",
        "NUL in stan",
        "NUL in smsid",
        "huge cost and parts (not callback fields: ignored)",
        "500-character stan",
    ],
)
def test_a_bad_callback_answers_clearly_and_changes_nothing(client, method, params, status, answer):
    message = MessageFactory(status=Status.QUEUED, serwersms_id="X", created_at=WRITTEN)
    before = snapshot()
    url = reverse("serwersms_callback", args=[message.account.callback_secret])
    response = getattr(client, method)(url, {"smsid": "X", **params})
    assert response.status_code == status and answer in response.content
    if status == 400:
        assert snapshot() == before
    message.refresh_from_db()
    assert (message.parts, message.cost) == (1, None)


def test_a_callback_time_of_year_9999_is_refused_and_keeps_the_billing_month(client):
    message = MessageFactory(status=Status.SENT, serwersms_id="X", created_at=WRITTEN)
    url = reverse("serwersms_callback", args=[message.account.callback_secret])
    response = client.post(url, {"smsid": "X", "stan": "delivered", "data": "9999-12-31 23:59:59"})
    assert response.content == b"OK"
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.dispatched_at) == (
        "sent",
        None,
        WRITTEN,
    )
    assert message.events.get().note.startswith("refused: time outside the sane window")


# --- reports from polls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"cost": Decimal("1e20")}, "cost"),
        ({"cost": Decimal("-1")}, "cost"),
        ({"cost": Decimal("NaN")}, "cost"),
        ({"parts": 70000}, "parts"),
        ({"reason": "x\x00y"}, "NUL"),
        ({"sent_at": datetime(9999, 12, 31, tzinfo=UTC)}, "sane window"),
    ],
    ids=["cost 1e20", "negative cost", "NaN cost", "70 000 parts", "NUL reason", "year 9999"],
)
def test_an_implausible_report_is_refused_as_an_event(extra, why):
    message = MessageFactory(status=Status.QUEUED, created_at=WRITTEN)
    item = ReportItem(serwersms_id=message.serwersms_id, phone="", status="delivered", **extra)
    summary = apply_reports(message.account, [item], "poll")
    message.refresh_from_db()
    assert (message.status, message.parts, message.cost) == ("queued", 1, None)
    assert summary.changed == 0 and summary.ignored == 1
    note = message.events.get().note
    assert note.startswith("refused: ") and why in note


def test_a_report_naming_an_id_with_a_nul_character_matches_nothing():
    message = MessageFactory(status=Status.QUEUED)
    item = ReportItem(serwersms_id="a\x00b", unique_id="c\x00d", phone="", status="delivered")
    summary = apply_reports(message.account, [item], "poll")
    assert summary.unmatched == 1 and not StatusEvent.objects.exists()


# --- the send service (the HTTP API builds on it) --------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "a\x00b"},
        {"recipients": ["+48500\x00600700"]},
        {"sender": "Sh\x00p"},
        {"unique_id": "abc\x00"},
        {"text": 12345},
    ],
    ids=["NUL text", "NUL phone", "NUL sender", "NUL unique id", "text not a string"],
)
def test_a_send_with_a_bad_value_is_refused_before_anything_is_written(kwargs):
    account = ClientAccountFactory()
    arguments = {"recipients": ["+48500600700"], "text": "Hi"} | kwargs
    before = snapshot()
    with pytest.raises(SendError):
        send_sms(account, **arguments)
    assert snapshot() == before


# --- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build_statements", "--period", "9999-12"], "No such billing month"),
        (["build_statements", "--period", "0001-01"], "No such billing month"),
        (["close_statement", "--partner", "5", "--period", "9999-12"], "No such billing month"),
        (
            [
                "export_statement",
                "--partner",
                "5",
                "--period",
                "9999-12",
                "--format",
                "csv",
                "--output",
                "/tmp/never.csv",
            ],
            "No such billing month",
        ),
        (["reconcile", "--partner", "5", "--period", "9999-12", "--file", "x"], "billing month"),
        (["poll_statuses", "--account", "a\x00b"], "NUL"),
        (["send_sms", "--account", "a\x00b", "--to", "+48500600700", "--text", "x"], "NUL"),
        (["send_sms", "--account", "shop", "--to", "+48500600700", "--text", "x\x00"], "NUL"),
        (["create_partner", "--ic", "6", "--name", "x\x00"], "NUL"),
        (["create_partner", "--ic", "99999999999999999999", "--name", "x"], "ic"),
        (["create_account", "--partner", "5", "--name", "a\x00", "--token", "t"], "NUL"),
        (["reconcile", "--partner", "5", "--period", "2025-01", "--file", "a\x00b"], "NUL"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_a_bad_command_argument_is_a_clear_error_and_writes_nothing(args, expected):
    PartnerFactory(ic=5)
    ClientAccountFactory(name="shop")
    before = snapshot()
    with pytest.raises(CommandError, match=expected):
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert snapshot() == before
