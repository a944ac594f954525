"""Reconciliation with SerwerSMS's partner billing CSV: matching, the stored result, refusals."""

import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import (
    AuditEntry,
    Channel,
    ClientAccount,
    Message,
    Reconciliation,
    ReconciliationRow,
)
from billing.models import ReconciliationOutcome as Outcome
from billing.services.polling import poll_account
from billing.services.reconcile import ReconcileError, parse_partner_billing, reconcile
from billing.services.reporting import Reported, record_reported_messages
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


@pytest.mark.parametrize("ic", ["\u00b2", "\u0663", "0", "-3", "1e3"])
def test_an_ic_cell_that_is_not_a_positive_ascii_integer_is_a_clear_error(traffic, ic):
    # "²" passes str.isdigit() but int() refuses it; "٣" (Arabic-Indic three) int() reads as 3.
    content = HEADER.replace("\n", ",ic\n") + row("1", "acme").replace("\n", f",{ic}\n")
    with pytest.raises(ReconcileError, match="the ic must be a positive integer"):
        reconcile(traffic, OCT, content.encode(), actor="op")
    assert not AuditEntry.objects.filter(action="reconcile").exists()


@pytest.mark.parametrize("parts", ["\u0663", "\u00b2", "1_0", "+2", "0"])
def test_a_parts_cell_that_is_not_a_positive_ascii_integer_is_a_clear_error(traffic, parts):
    # int() reads "٣" as 3, "1_0" as 10 and "+2" as 2: a misread file must not be compared.
    with pytest.raises(ReconcileError, match="parts must be a positive whole number"):
        reconcile(traffic, OCT, (HEADER + row("1", "acme", parts=parts)).encode(), actor="op")
    assert not AuditEntry.objects.filter(action="reconcile").exists()


@pytest.mark.parametrize("cost", ["\u0663", "1_0", "1e2", "+1", "NaN", "0x10"])
def test_a_cost_cell_that_is_not_a_plain_decimal_amount_is_a_clear_error(traffic, cost):
    # Decimal() reads "٣" as 3, "1_0" as 10 and "1e2" as 100.
    content = HEADER.replace("\n", ",cost\n") + row("1", "acme").replace("\n", f",{cost}\n")
    with pytest.raises(ReconcileError, match="cost must be an amount"):
        reconcile(traffic, OCT, content.encode(), actor="op")
    assert not AuditEntry.objects.filter(action="reconcile").exists()


@pytest.mark.parametrize(
    "cell, cost", [("0.1600", "0.1600"), ('"0,16"', "0.1600"), ("12", "12"), (".5", "0.5")]
)
def test_plain_decimal_costs_still_read(cell, cost):
    content = HEADER.replace("\n", ",cost\n") + row("1", "acme").replace("\n", f",{cell}\n")
    [parsed] = parse_partner_billing(content.encode())
    assert parsed.cost == Decimal(cost)


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
            message_type=row.type,
            phone=row.phone,
            cost=row.cost,
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


# --- the stored result -------------------------------------------------------------------------

FULL_HEADER = "id,account,phone,type,parts,status,dispatched_at,cost,ic\n"


def full_row(sid, account="acme", *, parts=1, cost="0.0550", ic=None, when="2024-10-05 12:00:00"):
    return f"{sid},{account},+48500600700,eco,{parts},delivered,{when},{cost},{ic or ''}\n"


def stored(partner, period=OCT):
    reconciliation = Reconciliation.objects.get(partner=partner, period=period)
    rows = {
        r.serwersms_id: r for r in ReconciliationRow.objects.filter(reconciliation=reconciliation)
    }
    return reconciliation, rows


def test_every_message_is_stored_with_its_outcome_and_both_sides_figures(traffic):
    csv_text = HEADER + "".join(
        [
            row("s1", "acme"),
            row("s2", "acme", parts=3),
            row("s3", "acme", status="delivered"),
            row("s5", "acme"),
            row("s6", "acme"),
            row("x9", "acme"),
        ]
    )
    report = reconcile(traffic, OCT, csv_text.encode(), actor="op", file_name="oct.csv")
    reconciliation, rows = stored(traffic)
    assert report.reconciliation == reconciliation
    assert {sid: r.outcome for sid, r in rows.items()} == {
        "s1": Outcome.CONFIRMED,
        "s2": Outcome.AMOUNT_DIFFERENT,
        "s3": Outcome.STATUS_DIFFERENT,
        "s4": Outcome.MISSING_AT_SERWERSMS,
        "s5": Outcome.STATUS_DIFFERENT,  # pending here, billed there
        "s6": Outcome.MISSING_HERE,  # we count it in November
        "x9": Outcome.MISSING_HERE,  # unknown here
    }
    ours = dict(Message.objects.values_list("serwersms_id", "id"))
    assert rows["x9"].message_id is None and rows["s6"].message_id == ours["s6"]
    assert rows["s4"].message_id == ours["s4"] and rows["s4"].line is None
    assert (rows["s2"].our_parts, rows["s2"].their_parts, rows["s2"].line) == (2, 3, 3)
    assert rows["s2"].differences == [{"field": "parts", "ours": "2", "theirs": "3"}]
    assert rows["s6"].differences == [{"field": "month", "ours": "2024-11", "theirs": "2024-10"}]
    assert (reconciliation.their_messages, reconciliation.our_messages) == (6, 4)
    assert reconciliation.file_name == "oct.csv" and reconciliation.uploaded_by == "op"
    assert reconciliation.file_sha256 == hashlib.sha256(csv_text.encode()).hexdigest()
    assert reconciliation.totals["missing_here"]["messages"] == 2
    assert reconciliation.totals["confirmed"]["messages"] == 1


def test_a_cost_or_type_that_differs_is_an_amount_difference():
    partner = PartnerFactory()
    account = ClientAccountFactory(partner=partner, name="acme")
    at = datetime(2024, 10, 5, 10, tzinfo=UTC)
    for sid, cost, kind in (
        ("c1", "0.0550", "eco"),
        ("c2", "0.0600", "eco"),
        ("c3", "0.0550", "full"),
    ):
        MessageFactory(
            account=account,
            serwersms_id=sid,
            status=Status.DELIVERED,
            cost=Decimal(cost),
            message_type=kind,
            created_at=at,
            dispatched_at=at,
        )
    csv_text = FULL_HEADER + full_row("c1") + full_row("c2") + full_row("c3")
    reconcile(partner, OCT, csv_text, actor="op")
    _, rows = stored(partner)
    assert rows["c1"].outcome == Outcome.CONFIRMED
    assert rows["c2"].outcome == Outcome.AMOUNT_DIFFERENT
    assert rows["c2"].differences == [{"field": "cost", "ours": "0.0600", "theirs": "0.0550"}]
    assert (rows["c2"].our_cost, rows["c2"].their_cost) == (Decimal("0.06"), Decimal("0.055"))
    assert rows["c3"].outcome == Outcome.AMOUNT_DIFFERENT
    assert rows["c3"].differences[0]["field"] == "type"


def test_a_second_upload_replaces_the_first_and_both_are_in_the_audit_trail(traffic):
    first = reconcile(traffic, OCT, HEADER + row("s1", "acme"), actor="op", file_name="a.csv")
    second = reconcile(traffic, OCT, HEADER + row("s1", "acme") + row("s4", "acme"), actor="op2")
    assert second.replaced and not first.replaced
    assert list(Reconciliation.objects.values_list("pk", flat=True)) == [second.reconciliation.pk]
    assert not ReconciliationRow.objects.filter(reconciliation_id=first.reconciliation.pk).exists()
    _, rows = stored(traffic)
    assert rows["s4"].outcome == Outcome.CONFIRMED
    entries = list(AuditEntry.objects.filter(partner=traffic, action="reconcile"))
    assert [e.actor for e in entries] == ["op", "op2"]
    assert entries[1].detail["replaced_id"] == first.reconciliation.pk
    assert entries[1].detail["replaced_sha256"] == first.reconciliation.file_sha256


def test_the_columns_are_read_by_the_headers_the_setting_names(traffic, settings):
    settings.RECONCILE_COLUMNS = (
        "id:Identyfikator, account:Konto,phone:Numer,type:Typ,parts:Części,status:Stan,"
        "dispatched_at:Wysłano,cost:Koszt,ic:Identyfikator cyfrowy"
    )
    header = "Stan;Identyfikator;Konto;Numer;Typ;Części;Wysłano;Koszt;Identyfikator cyfrowy\n"
    body = f"delivered;s1;acme;+48500600700;eco;1;2024-10-05 12:00:00;0,0550;{traffic.ic}\n"
    report = reconcile(traffic, OCT, (header + body).encode(), actor="op")
    assert report.matched == 1
    _, rows = stored(traffic)
    assert rows["s1"].their_cost == Decimal("0.055")
    with pytest.raises(ReconcileError, match="missing column"):
        reconcile(traffic, OCT, HEADER + row("s1", "acme"), actor="op")  # the default names


@pytest.mark.parametrize("value", ["id", "colour:Kolor", "id:"])
def test_a_bad_column_setting_is_a_clear_error(traffic, settings, value):
    settings.RECONCILE_COLUMNS = value
    with pytest.raises(ReconcileError, match="RECONCILE_COLUMNS"):
        reconcile(traffic, OCT, HEADER + row("s1", "acme"), actor="op")
    assert not Reconciliation.objects.exists()


def bad_uploads(partner, other):
    """(content, expected message) of every way an upload is not this partner's month."""
    return [
        (b"id,account\n1,acme\n", "missing column"),
        ((FULL_HEADER + full_row("s1", ic=other.ic)).encode(), f"carry ic {other.ic}"),
        ((HEADER + row("o1", "theirs")).encode(), "another partner"),
        ((HEADER + row("s1", "acme", when="2024-11-05 12:00:00")).encode(), "outside 2024-10"),
        ((HEADER + row("s1", "zażółć")).encode("cp1250"), "not UTF-8"),
        ((HEADER + row("s1", "acme")).encode("utf-16"), "not UTF-8"),
        ((HEADER + row("s1", "acme") * 40).encode(), "too large"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_bad_upload_writes_nothing_and_keeps_the_previous_result(traffic, settings, case):
    other = PartnerFactory()
    ClientAccountFactory(partner=other, name="theirs")
    previous = reconcile(traffic, OCT, HEADER + row("s1", "acme"), actor="op").reconciliation
    settings.RECONCILE_MAX_FILE_BYTES = 1000
    content, message = bad_uploads(traffic, other)[case]
    before = (AuditEntry.objects.count(), ReconciliationRow.objects.count())
    with pytest.raises(ReconcileError, match=message):
        reconcile(traffic, OCT, content, actor="op")
    assert list(Reconciliation.objects.all()) == [previous]
    assert (AuditEntry.objects.count(), ReconciliationRow.objects.count()) == before


def test_the_ic_proof_hook_gets_the_reported_messages_found_and_missing(traffic):
    account = ClientAccount.objects.get(name="acme")
    at = datetime(2024, 10, 7, 10, tzinfo=UTC)
    listed = MessageFactory(
        account=account,
        channel=Channel.REPORTED,
        serwersms_id="r1",
        status=Status.DELIVERED,
        created_at=at,
        dispatched_at=at,
    )
    unlisted = MessageFactory(
        account=account,
        channel=Channel.REPORTED,
        serwersms_id="r2",
        status=Status.DELIVERED,
        created_at=at,
        dispatched_at=at,
    )
    report = reconcile(traffic, OCT, HEADER + row("r1", "acme", parts=2), actor="op")
    # s1..s4 (api_v2) are missing too, but only reported messages need the proof.
    assert report.proof.confirmed_ids == [listed.pk]  # an amount difference still proves the ic
    assert report.proof.refuted_ids == [unlisted.pk]


def test_a_message_sent_without_the_ic_and_reported_is_missing_at_serwersms(simulator_settings):
    """The issue's repro: straight to SerwerSMS without the ic, then reported with the
    partner's ic. SerwerSMS's partner billing does not list it; the same message with the ic is
    confirmed."""
    import requests

    now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    simulator = simulator_settings
    partner = PartnerFactory(ic=5560)
    account = ClientAccountFactory(partner=partner, name="direct", api_token="token-d")
    simulator.register_account(token="token-d", name="direct")
    simulator.set_time(now)
    sent = {}
    for label, extra in (("without", {}), ("with", {"ic": 5560})):
        answer = requests.post(
            f"{simulator.api_url}messages/send_sms.json",
            json={
                "phone": [f"5006008{n:02d}" for n in range(6)],
                "text": "Hi",
                "details": True,
                **extra,
            },
            headers={"Authorization": "Bearer token-d"},
            timeout=5,
        ).json()
        sent[label] = [item["id"] for item in answer["items"]]
    simulator.advance(to="final")
    records = {m["id"]: m for m in simulator.messages()}
    items = [
        Reported(
            serwersms_id=sid,
            phone=records[sid]["phone"],
            ic=partner.ic,  # the partner's word, also for the messages without it
            sent_at=now,
            account=account.pk,
        )
        for sid in sent["without"] + sent["with"]
    ]
    record_reported_messages(account=account, items=items, now=now + timedelta(minutes=1))
    poll_account(account, now=now + timedelta(minutes=2))
    dispatched = set(
        Message.objects.filter(account=account).dispatched().values_list("serwersms_id", flat=True)
    )
    # Reported, not yet confirmed: nothing of them is billed before SerwerSMS's billing says so.
    assert not Message.objects.filter(account=account).counted().exists()
    without = [sid for sid in sent["without"] if sid in dispatched]
    with_ic = [sid for sid in sent["with"] if sid in dispatched]
    assert without and with_ic  # the seeded schedule dispatches most of them
    billed = requests.get(
        f"{simulator.api_url}_sim/partner_billing.csv",
        params={"ic": 5560, "period": "2025-03"},
        timeout=5,
    ).content
    report = reconcile(partner, date(2025, 3, 1), billed, actor="op", file_name="march.csv")
    _, rows = stored(partner, date(2025, 3, 1))
    assert {rows[sid].outcome for sid in without} == {Outcome.MISSING_AT_SERWERSMS}
    assert {rows[sid].outcome for sid in with_ic} == {Outcome.CONFIRMED}
    ids = dict(Message.objects.values_list("serwersms_id", "id"))
    assert sorted(report.proof.refuted_ids) == sorted(ids[sid] for sid in without)
    assert sorted(report.proof.confirmed_ids) == sorted(ids[sid] for sid in with_ic)
    # Confirmed ones now count; the ones SerwerSMS never saw with the ic never will.
    counted = set(
        Message.objects.filter(account=account).counted().values_list("serwersms_id", flat=True)
    )
    assert counted == set(with_ic)


# --- the command -------------------------------------------------------------------------------


def run_reconcile(partner, path, period="2024-10"):
    out = io.StringIO()
    call_command(
        "reconcile",
        "--partner",
        str(partner.ic),
        "--period",
        period,
        "--file",
        str(path),
        "--actor",
        "ops",
        stdout=out,
    )
    return out.getvalue()


def test_the_command_stores_the_same_result_as_the_admin(traffic, tmp_path):
    path = tmp_path / "oct.csv"
    path.write_text(HEADER + row("s1", "acme") + row("x9", "acme"))
    output = run_reconcile(traffic, path)
    reconciliation, rows = stored(traffic)
    assert f"stored as reconciliation {reconciliation.pk}" in output
    assert "missing at SerwerSMS: 3" in output  # s2, s3, s4
    assert (reconciliation.file_name, reconciliation.uploaded_by) == ("oct.csv", "ops")
    assert rows["x9"].outcome == Outcome.MISSING_HERE
    assert "replacing" in run_reconcile(traffic, path)
    assert Reconciliation.objects.count() == 1


@pytest.mark.parametrize("case", range(7))
def test_a_bad_file_is_a_command_error_that_writes_nothing(traffic, tmp_path, settings, case):
    other = PartnerFactory()
    ClientAccountFactory(partner=other, name="theirs")
    content, message = bad_uploads(traffic, other)[case]
    if message == "too large":  # a real 50 MB file, against the default limit
        body = row("s1", "acme").encode()
        content = HEADER.encode() + body * (50 * 1024 * 1024 // len(body) + 1)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run_reconcile(traffic, path)
    assert not Reconciliation.objects.exists() and not ReconciliationRow.objects.exists()
    assert not AuditEntry.objects.exists()
