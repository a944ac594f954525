"""The CSV export written by PostgreSQL (COPY ... TO STDOUT): its columns, Warsaw times, words in
the user's language, neutralised cells, totals; the download and the background file agree."""

import csv
import datetime as dt
import io

import pytest
from django.utils import translation

from billing.models import Channel, Message, MessageType
from billing.statuses import Status
from partner_portal import exports
from tests.factories import ClientAccountFactory, MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def tricky(alpha, beta):
    odd = ClientAccountFactory(partner=alpha.partner, name='=odd, "quoted"\nshop')
    base = dt.datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)  # Warsaw: DST starts at 01:00
    rows = [
        dict(status=Status.DELIVERED, sender="=HYPERLINK()", parts=3),
        dict(status=Status.UNDELIVERED, reason="wrong_number", sender="@SUM(A1)"),
        dict(status=Status.UNSENT, reason="", error_message='-bad, "very" bad', sender="-1+2"),
        dict(status=Status.UNSENT, reason="brand_new_code", sender=""),
        dict(status=Status.SENT, serwersms_id=None, phone="+48 500 600 704", sender="zażółć"),
        dict(status=Status.QUEUED, dispatched_at=None, message_type=MessageType.VOICE),
        dict(status=Status.DELIVERED, channel=Channel.EMAIL2SMS, serwersms_id="+1234567"),
        dict(status=Status.DELIVERED, message_type=MessageType.FULL, sender="\tTAB"),
        dict(status=Status.UNDELIVERED, reason="other_error", error_message="=ignored"),
    ]
    for index, fields in enumerate(rows):
        created = base + dt.timedelta(minutes=37 * index, microseconds=index)
        fields.setdefault("account", odd if index % 2 else alpha.account)
        fields.setdefault("created_at", created)
        fields.setdefault("dispatched_at", created + dt.timedelta(seconds=1))
        if fields["status"] in (Status.DELIVERED, Status.UNDELIVERED):
            fields["delivered_at"] = created + dt.timedelta(hours=1, microseconds=999_999)
        MessageFactory(**fields)
    # the same instant twice: the id breaks the tie
    MessageFactory(account=alpha.account, created_at=base, status=Status.DELIVERED)
    MessageFactory(account=beta.account, status=Status.DELIVERED, sender="=beta")


def _copied(queryset, language):
    with translation.override(language):
        return b"".join(exports.copy_csv_chunks(queryset))


@pytest.mark.parametrize("language", ["en", "pl"])
@pytest.mark.parametrize("ordering", [("-created_at", "-id"), ("created_at", "id")])
def test_copy_file_rows(tricky, alpha, language, ordering):
    queryset = Message.objects.filter(partner=alpha.partner).order_by(*ordering)
    copied = _copied(queryset, language)
    assert copied.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(copied.decode("utf-8-sig"))))
    assert len(rows) == 1 + 10 + 4
    assert "'=HYPERLINK()" in {row[3] for row in rows[1:11]}
    assert "+48 500 600 704" in {row[2] for row in rows[1:11]}
    assert '=odd, "quoted"\nshop' not in {row[1] for row in rows[1:11]}  # neutralised
    assert '\'=odd, "quoted"\nshop' in {row[1] for row in rows[1:11]}
    created = [row[0] for row in rows[1:11]]
    if ordering[0] == "created_at":
        # Warsaw wall time without zone: 00:59:59 UTC is 01:59:59 CET; DST starts at 01:00 UTC.
        assert created[:3] == ["2026-03-29 01:59:59"] * 2 + ["2026-03-29 03:37:00"]
    else:
        assert created[-1] == "2026-03-29 01:59:59"


def test_copy_file_of_a_filtered_queryset(tricky, alpha):
    queryset = Message.objects.filter(
        partner=alpha.partner, status__in=[Status.UNSENT, Status.UNDELIVERED]
    ).order_by("-created_at", "-id")
    copied = _copied(queryset, "pl")
    rows = list(csv.reader(io.StringIO(copied.decode("utf-8-sig"))))
    assert [row[7] for row in rows[1:5]] == [
        "niedoręczono",
        "niewysłano",
        "niewysłano",
        "niedoręczono",
    ]
    assert rows[5:] == [
        [],
        ["Wiadomości razem", "4"],
        ["Części razem", "4"],
        ["Zaliczone wiadomości", "2"],
    ]


def test_empty_export(alpha):
    queryset = Message.objects.filter(partner=alpha.partner).order_by("-created_at", "-id")
    rows = list(csv.reader(io.StringIO(_copied(queryset, "en").decode("utf-8-sig"))))
    assert rows[0][:3] == ["Created", "Client account", "Phone"]
    assert rows[1:] == [
        [],
        ["Total messages", "0"],
        ["Total parts", "0"],
        ["Counted messages", "0"],
    ]


def test_the_download_and_the_background_file_use_copy(tricky, alpha):
    client = client_for(alpha.viewer, "pl")
    body = b"".join(client.get("/messages/export.csv").streaming_content)
    queryset = Message.objects.filter(partner=alpha.partner).order_by("-created_at", "-id")
    python = _copied(queryset, "pl")
    assert body == python
    assert b"=beta" not in body
    target = io.BytesIO()
    seen = []
    with translation.override("pl"):
        exports.write_messages_csv(queryset, target, seen.append)
    assert target.getvalue() == python
