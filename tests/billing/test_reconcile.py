"""Reconciliation with SerwerSMS's partner billing CSV."""

from datetime import UTC, date, datetime

import pytest

from billing.models import AuditEntry
from billing.services.reconcile import ReconcileError, parse_partner_billing, reconcile
from billing.statuses import Status
from tests.factories import ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db
OCT = date(2024, 10, 1)
HEADER = "id,account,phone,type,parts,status,dispatched_at\n"


def row(sid, account, status="delivered", parts=1, when="2024-10-05 12:00:00", kind="eco"):
    return f"{sid},{account},+48500600700,{kind},{parts},{status},{when}\n"


@pytest.fixture
def traffic():
    partner = PartnerFactory()
    account = ClientAccountFactory(partner=partner, name="acme")
    when = datetime(2024, 10, 5, 10, tzinfo=UTC)

    def make(sid, status=Status.DELIVERED, parts=1, at=when):
        return MessageFactory(
            account=account,
            serwersms_id=sid,
            status=status,
            parts=parts,
            created_at=at,
            dispatched_at=at,
        )

    make("s1")
    make("s2", parts=2)
    make("s3", status=Status.SENT)
    make("s4")  # not in their file
    make("s5", status=Status.QUEUED)  # pending for us, billed by them
    make("s6", at=datetime(2024, 11, 2, tzinfo=UTC))  # our November, their October
    return partner


def test_reconcile_finds_missing_on_either_side_and_disagreements(traffic):
    csv_text = HEADER + "".join(
        [
            row("s1", "acme"),
            row("s2", "acme", parts=3),  # parts disagree
            row("s3", "acme", status="delivered"),  # status disagrees
            row("s5", "acme"),  # we still have it pending
            row("s6", "acme"),  # we count it in November
            row("x9", "acme"),  # unknown to us
        ]
    )
    report = reconcile(traffic, OCT, csv_text.encode(), actor="op")
    assert (report.their_messages, report.their_parts) == (6, 8)
    assert (report.our_messages, report.our_parts) == (4, 5)
    assert report.matched == 3
    assert [r.serwersms_id for r in report.missing_ours] == ["x9"]
    assert [r.serwersms_id for r in report.missing_theirs] == ["s4"]
    found = {(d.serwersms_id, d.field, d.ours, d.theirs) for d in report.disagreements}
    assert found == {
        ("s2", "parts", "2", "3"),
        ("s3", "status", "sent", "delivered"),
        ("s5", "status", "queued", "delivered"),
        ("s6", "month", "2024-11", "2024-10"),
    }
    assert not report.clean
    audit = AuditEntry.objects.get(partner=traffic, action="reconcile")
    assert audit.detail["missing_ours"] == 1 and audit.detail["missing_theirs"] == 1


def test_matching_uses_the_account_name_too(traffic):
    other = ClientAccountFactory(partner=traffic, name="other")
    MessageFactory(
        account=other,
        serwersms_id="s1",
        status=Status.DELIVERED,
        dispatched_at=datetime(2024, 10, 6, tzinfo=UTC),
    )
    csv_text = HEADER + row("s1", "acme") + row("s1", "other")
    report = reconcile(traffic, OCT, csv_text, actor="op")
    assert report.matched == 2


def test_a_clean_match_has_no_differences():
    partner = PartnerFactory()
    account = ClientAccountFactory(partner=partner, name="zażółć")
    MessageFactory(
        account=account,
        serwersms_id="a",
        status=Status.UNDELIVERED,
        parts=2,
        dispatched_at=datetime(2024, 10, 31, 22, 59, tzinfo=UTC),
    )
    report = reconcile(
        partner,
        OCT,
        HEADER + row("a", "zażółć", "undelivered", 2, "2024-10-31 23:59:00"),
        actor="op",
    )
    assert report.clean and report.matched == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("id;account;phone\n1;a;+48\n", "missing column"),
        ("foo,bar\n", "missing column"),
        (HEADER + row("1", "acme", parts="zero"), "parts must be"),
        (HEADER + row("1", "acme", status="lost"), "unknown status"),
        (HEADER + row("1", "acme", when="05.10.2024"), "dispatched_at must be"),
        (HEADER + row("1", "acme", kind="fax"), "unknown type"),
        (HEADER + "1,acme\n", "fields, expected"),
        (HEADER + row("1", "acme") + row("1", "acme"), "duplicate"),
        (HEADER + row("1", "acme", when="2024-11-05 12:00:00"), "outside 2024-10"),
    ],
)
def test_a_broken_upload_is_refused_and_changes_nothing(traffic, content, message):
    with pytest.raises(ReconcileError, match=message):
        reconcile(traffic, OCT, content.encode(), actor="op")
    assert not AuditEntry.objects.filter(action="reconcile").exists()


def test_not_utf8_is_refused():
    with pytest.raises(ReconcileError, match="UTF-8"):
        parse_partner_billing(b"\xff\xfe\x00bad")


def test_semicolon_and_bom_files_read():
    rows = parse_partner_billing(("\ufeff" + HEADER + row("1", "acme")).replace(",", ";").encode())
    assert rows[0].serwersms_id == "1" and rows[0].dispatched_at.utcoffset().total_seconds() == 7200


def test_reconcile_against_the_simulators_partner_billing(simulator):
    """Integration: what the simulator billed, fetched over HTTP, against our copy of it."""
    import requests

    from billing.commission import BILLING_ZONE

    partner = PartnerFactory(ic=5550)
    account = ClientAccountFactory(partner=partner, name="shop")
    simulator.register_account(token="token-r", name="shop")
    simulator.set_time(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    answer = requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json={"phone": [f"5006007{n:02d}" for n in range(12)], "text": "Hi", "ic": 5550},
        headers={"Authorization": "Bearer token-r"},
        timeout=5,
    ).json()
    assert answer["success"]
    simulator.advance(to="final")
    billed = requests.get(
        f"{simulator.api_url}_sim/partner_billing.csv",
        params={"ic": 5550, "period": "2025-03"},
        timeout=5,
    ).text
    rows = parse_partner_billing(billed)
    assert rows  # the seeded schedule dispatches most of them
    # Our side: the same messages, except one we never heard of and one with other parts.
    for row in rows[1:]:
        MessageFactory(
            account=account,
            serwersms_id=row.serwersms_id,
            status=row.status,
            parts=row.parts + (1 if row is rows[-1] else 0),
            message_type=row.message_type,
            phone=row.phone,
            dispatched_at=row.dispatched_at.astimezone(UTC),
        )
    MessageFactory(
        account=account,
        serwersms_id="ours-only",
        status=Status.DELIVERED,
        dispatched_at=datetime(2025, 3, 12, tzinfo=BILLING_ZONE),
    )

    report = reconcile(partner, date(2025, 3, 1), billed.encode(), actor="op")
    assert [r.serwersms_id for r in report.missing_ours] == [rows[0].serwersms_id]
    assert [r.serwersms_id for r in report.missing_theirs] == ["ours-only"]
    assert report.matched == len(rows) - 1
    if len(rows) > 1:
        assert [(d.serwersms_id, d.field) for d in report.disagreements] == [
            (rows[-1].serwersms_id, "parts")
        ]


def test_a_swapped_pair_shows_as_phone_and_time_disagreements():
    """Two mails whose SerwerSMS ids were swapped: status and parts agree, phone and time not."""
    partner = PartnerFactory()
    account = ClientAccountFactory(partner=partner, name="acme")
    first = datetime(2024, 10, 5, 10, 0, tzinfo=UTC)
    second = datetime(2024, 10, 5, 10, 7, tzinfo=UTC)
    for sid, phone, at in (("m1", "+48500111222", second), ("m2", "+48500333444", first)):
        MessageFactory(
            account=account,
            serwersms_id=sid,
            phone=phone,
            created_at=at,
            dispatched_at=at,
            status=Status.DELIVERED,
        )
    csv_text = (
        HEADER
        + "m1,acme,48500111222,eco,1,delivered,2024-10-05 12:00:00\n"  # theirs: m1 came first
        + "m2,acme,500333444,eco,1,delivered,2024-10-05 12:07:00\n"
    )
    report = reconcile(partner, OCT, csv_text.encode(), actor="op")
    found = {(d.serwersms_id, d.field) for d in report.disagreements}
    assert found == {("m1", "time"), ("m2", "time")}
    csv_text = (
        HEADER
        + "m1,acme,+48500333444,eco,1,delivered,2024-10-05 12:07:00\n"
        + "m2,acme,+48500111222,eco,1,delivered,2024-10-05 12:00:00\n"
    )
    report = reconcile(partner, OCT, csv_text.encode(), actor="op")
    assert {(d.serwersms_id, d.field) for d in report.disagreements} == {
        ("m1", "phone"),
        ("m2", "phone"),
    }
    assert report.matched == 2 and not report.clean
