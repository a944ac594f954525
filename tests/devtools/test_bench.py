"""`manage.py bench`: generates the shape it promises and measures every operation of the table
beside its raw-SQL baseline (figures are written, never asserted against a time)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from billing.commission import billing_month, local_midnight_utc
from billing.models import Message, Statement, StatusEvent
from devtools.bench import data
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)

OPERATIONS = {
    "dashboard",
    "messages_first",
    "messages_deep",
    "messages_filtered",
    "client_accounts",
    "statement_detail",
    "csv_export",
    "csv_export_10k",
    "csv_export_1m",
    "xlsx_export",
    "statement_build",
    "poll_apply",
}


def test_bench_generates_and_measures_every_operation(tmp_path):
    output = tmp_path / "bench.json"
    call_command("bench", messages=600, output=str(output), repeats=1)

    report = json.loads(output.read_text())
    assert report["messages"] == Message.objects.count() == 600
    by_key = {op["key"]: op for op in report["operations"]}
    assert set(by_key) == OPERATIONS
    for op in by_key.values():
        assert op["seconds"] > 0 and op["raw_seconds"] > 0, op["key"]
        assert op["ratio_to_raw"] > 0
        assert op["queries"] > 0
    for key in ("csv_export", "csv_export_10k", "csv_export_1m", "xlsx_export"):
        assert by_key[key]["rows"] > 0
        assert by_key[key]["peak_python_bytes"] > 0
        assert by_key[key]["rows_per_second"] > 0 and by_key[key]["rate_ratio_to_raw"] > 0

    # ~10k / ~1M rows: at 600 messages both take the big partner's whole history.
    big_messages = report["big_partner"]["messages"]
    assert by_key["csv_export_10k"]["rows"] == by_key["csv_export_1m"]["rows"] == big_messages
    figures = report["figures"]
    assert set(figures["pages"]) == {
        "dashboard",
        "messages_first",
        "messages_deep",
        "messages_filtered",
        "client_accounts",
        "statement_detail",
    }
    assert figures["csv_memory_growth_1m_over_10k"]["python"] > 0
    assert figures["exports"]["xlsx_export"]["rows_per_second"] > 0
    assert figures["statement_build_ratio_to_raw"] > 0
    # None when the small run leaves nothing to poll (a rate needs rows)
    poll_ratio = figures["poll_apply_rate_ratio_to_raw"]
    assert poll_ratio is None if not by_key["poll_apply"]["rows"] else poll_ratio > 0

    # The shape: 20 partners, the big one with about 40 %, 18 months, events, closed months.
    partners = list(data.bench_partners().annotate(n=Count("messages")).order_by("ic"))
    assert len(partners) == data.PARTNERS
    assert 0.3 < partners[0].n / 600 < 0.5
    months = {billing_month(m) for m in Message.objects.values_list("created_at", flat=True)}
    assert len(months) == data.MONTHS
    assert StatusEvent.objects.count() > 600
    assert set(Message.objects.values_list("status", flat=True)) >= {"delivered", "unsent", "sent"}
    closed = Statement.objects.filter(partner=partners[0], status="closed").count()
    assert closed == data.MONTHS - 2
    # The poll pass changed the messages and the bench put them back.
    assert (
        by_key["poll_apply"]["rows"]
        == Message.objects.filter(
            partner=partners[0],
            status__in=["queued", "in_progress", "sent"],
            created_at__gte=report_cutoff(report),
        ).count()
    )


def report_cutoff(report):
    import datetime as dt

    return dt.datetime.fromisoformat(report["generated_at"]) - dt.timedelta(days=7)


def test_bench_measures_again_with_reuse(tmp_path):
    call_command("bench", messages=300, repeats=1, only="messages_first")
    with pytest.raises(CommandError, match="already holds bench data"):
        call_command("bench", messages=300, repeats=1)
    output = tmp_path / "again.json"
    call_command("bench", messages=300, repeats=1, reuse=True, only="dashboard", output=str(output))
    assert [op["key"] for op in json.loads(output.read_text())["operations"]] == ["dashboard"]
    assert Message.objects.count() == 300


def test_bench_refuses_a_database_with_real_traffic():
    MessageFactory()
    with pytest.raises(CommandError, match="real messages"):
        call_command("bench", messages=100)
    with pytest.raises(CommandError, match="no bench data"):
        call_command("bench", messages=100, reuse=True)
    assert Message.objects.count() == 1


def test_sql_generator_writes_the_shape_of_the_bench_world():
    from django.utils import timezone

    from devtools.bench import sqlgen

    world = data.create_partners(timezone.now())
    sqlgen.generate_messages(world, 4000, seed=7)

    assert Message.objects.count() == 4000
    ids = list(Message.objects.order_by("created_at").values_list("id", flat=True))
    assert ids == sorted(ids)  # ids follow time, as the Python generator writes them
    partners = list(data.bench_partners().annotate(n=Count("messages")).order_by("ic"))
    assert 0.35 < partners[0].n / 4000 < 0.45
    assert all(p.n > 0 for p in partners[:10])
    for message in Message.objects.select_related("account", "partner")[:200]:
        assert message.account.partner_id == message.partner_id
        assert message.ic == message.partner.ic
        assert message.cost == data.PRICE[message.message_type] * message.parts
    months = {billing_month(m) for m in Message.objects.values_list("created_at", flat=True)}
    assert len(months) == data.MONTHS
    # Every message has the history its status implies (data._events_for).
    for status, events in (("delivered", 3), ("undelivered", 3), ("unsent", 2), ("sent", 2)):
        message = Message.objects.filter(status=status).first()
        assert message is not None, status
        assert StatusEvent.objects.filter(message=message).count() == events
        last = StatusEvent.objects.filter(message=message).order_by("-id").first()
        assert last.new_status == status
    dispatched = Message.objects.filter(status__in=["sent", "delivered", "undelivered"])
    assert not dispatched.filter(sent_at__isnull=True).exists()
    assert not Message.objects.exclude(billing_at__gte=local_midnight_utc(world.months[0])).exists()
