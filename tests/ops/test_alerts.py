"""Alert rules: each fires on its own condition, opens one Incident, mails the operators and
posts to the webhook once, and again once when it clears; the admin lists the incidents."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import translation
from freezegun import freeze_time

from billing import tasks
from billing.models import Channel, Statement
from billing.services.email2sms_matching import NO_REPORT_REASON
from billing.services.statement_closing import close_statement
from billing.statuses import Status
from ops import alerts, counters, heartbeats
from ops.models import Heartbeat, Incident
from tests.factories import ClientAccountFactory, MessageFactory, PartnerFactory, change_message

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
CLEAN = {"rollup_rows": 0, "missing_late_changes": 0}


@pytest.fixture(autouse=True)
def operators(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PORTAL_EMAIL_BACKEND = ""
    settings.ALERT_EMAILS = []
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_LANGUAGE = "en"
    get_user_model().objects.create_user("op", "op@example.com", "x", is_staff=True)
    get_user_model().objects.create_user("partner", "p@example.com", "x", is_staff=False)
    # Beat, polling and the derived-data check are fine unless a test says otherwise.
    heartbeats.record(heartbeats.BEAT, now=NOW)
    heartbeats.record(heartbeats.POLL_PASS, now=NOW)
    heartbeats.record(heartbeats.DERIVED_CHECK, now=NOW, detail=CLEAN)


def rules_firing(now=NOW) -> set[str]:
    return {f.rule for f in alerts.firing_now(now)}


def test_nothing_fires_on_a_quiet_system():
    assert rules_firing() == set()


def test_outbox_rows_past_the_send_deadline_fire(settings):
    limit = settings.SERWERSMS_SEND_DEADLINE_SECONDS + settings.ALERT_OUTBOX_GRACE_SECONDS
    MessageFactory(status=Status.SUBMITTING, serwersms_id=None, created_at=NOW)
    assert "outbox_past_deadline" not in rules_firing()
    MessageFactory(
        status=Status.SUBMITTING, serwersms_id=None, created_at=NOW - timedelta(seconds=limit + 1)
    )
    assert "outbox_past_deadline" in rules_firing()


def test_messages_pending_past_their_age_fire(settings):
    old = NOW - timedelta(seconds=settings.ALERT_PENDING_MAX_AGE_SECONDS + 1)
    MessageFactory(status=Status.DELIVERED, created_at=old)
    assert "pending_too_long" not in rules_firing()
    MessageFactory(status=Status.QUEUED, created_at=old, last_checked_at=NOW)
    assert "pending_too_long" in rules_firing()


def test_unmatched_email2sms_mails_fire():
    MessageFactory(channel=Channel.EMAIL2SMS, status=Status.UNSENT, reason="1001", created_at=NOW)
    assert "unmatched_email2sms" not in rules_firing()
    MessageFactory(
        channel=Channel.EMAIL2SMS,
        serwersms_id=None,
        status=Status.UNSENT,
        reason=NO_REPORT_REASON,
        created_at=NOW - timedelta(hours=1),
    )
    assert "unmatched_email2sms" in rules_firing()


def test_a_statement_open_past_its_review_window_fires(settings):
    partner = PartnerFactory(name="Acme")
    Statement.objects.create(partner=partner, period=date(2026, 5, 1))  # this month: fine
    assert "statement_review_overdue" not in rules_firing()
    Statement.objects.create(partner=partner, period=date(2026, 3, 1))
    (firing,) = [f for f in alerts.firing_now(NOW) if f.rule == "statement_review_overdue"]
    assert firing.subject == "Acme 2026-03"
    # April: its window (3 days) and grace (2 days) ended 5 May; March's too; closed ones never.
    Statement.objects.filter(period=date(2026, 3, 1)).update(status="closed")
    assert "statement_review_overdue" not in rules_firing()


def test_a_high_serwersms_error_rate_fires_per_channel(settings):
    settings.ALERT_SERWERSMS_MIN_ANSWERS = 10
    settings.ALERT_SERWERSMS_ERROR_RATE = 0.5
    ok = {"channel": "api_v2", "error_class": "ok", "outcome": "ok"}
    bad = {"channel": "api_v2", "error_class": "server_error", "outcome": "maybe_done"}
    counters.add(counters.SERWERSMS_ANSWERS, ok, 6, now=NOW - timedelta(minutes=1))
    counters.add(counters.SERWERSMS_ANSWERS, bad, 4, now=NOW - timedelta(minutes=1))
    assert "serwersms_error_rate" not in rules_firing()
    counters.add(counters.SERWERSMS_ANSWERS, bad, 3, now=NOW)
    (firing,) = [f for f in alerts.firing_now(NOW) if f.rule == "serwersms_error_rate"]
    assert firing.subject == "api_v2" and firing.value == pytest.approx(7 / 13)
    # Outside the window the errors no longer count.
    later = NOW + timedelta(seconds=settings.ALERT_SERWERSMS_WINDOW_SECONDS + 120)
    heartbeats.record(heartbeats.BEAT, now=later)
    heartbeats.record(heartbeats.POLL_PASS, now=later)
    assert "serwersms_error_rate" not in rules_firing(later)


def test_poll_lag_fires_on_a_late_pass_or_on_messages_nobody_asked_about(settings):
    limit = settings.ALERT_POLL_LAG_SECONDS
    MessageFactory(status=Status.QUEUED, created_at=NOW, last_checked_at=NOW)
    assert "poll_lag" not in rules_firing()
    heartbeats.record(heartbeats.POLL_PASS, now=NOW - timedelta(seconds=limit + 1))
    assert "poll_lag" in rules_firing()
    heartbeats.record(heartbeats.POLL_PASS, now=NOW)
    stale = NOW - timedelta(seconds=limit + 1)
    MessageFactory(status=Status.QUEUED, created_at=stale, last_checked_at=stale)
    assert "poll_lag" in rules_firing()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield _Hook.received
    server.shutdown()
    server.server_close()


def test_an_incident_is_told_once_when_it_opens_and_once_when_it_clears(settings, webhook):
    limit = settings.SERWERSMS_SEND_DEADLINE_SECONDS + settings.ALERT_OUTBOX_GRACE_SECONDS
    stuck = MessageFactory(
        status=Status.SUBMITTING, serwersms_id=None, created_at=NOW - timedelta(seconds=limit + 1)
    )
    first = alerts.evaluate_alerts(now=NOW)
    again = alerts.evaluate_alerts(now=NOW + timedelta(minutes=1))
    assert len(first.opened) == 1 and again.opened == [] and again.open == 1
    (opened,) = mail.outbox
    assert opened.to == ["op@example.com"]  # active staff when ALERT_EMAILS is empty
    assert "outbox" in opened.subject.lower()
    assert [(h["state"], h["rule"]) for h in webhook] == [("opened", "outbox_past_deadline")]

    change_message(stuck, status=Status.UNSENT)
    cleared = alerts.evaluate_alerts(now=NOW + timedelta(minutes=2))
    alerts.evaluate_alerts(now=NOW + timedelta(minutes=3))
    assert len(cleared.cleared) == 1 and cleared.open == 0
    assert len(mail.outbox) == 2 and "cleared" in mail.outbox[1].subject.lower()
    assert [h["state"] for h in webhook] == ["opened", "cleared"]
    incident = Incident.objects.get()
    assert incident.cleared_at == NOW + timedelta(minutes=2) and incident.cleared_notified_at


def test_a_failed_webhook_is_tried_again_at_the_next_evaluation(settings, webhook):
    url = settings.ALERT_WEBHOOK_URL
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:1/nothing-listens"
    heartbeats.record(heartbeats.BEAT, now=NOW - timedelta(hours=1))
    alerts.evaluate_alerts(now=NOW)
    assert Incident.objects.get().opened_notified_at is None
    settings.ALERT_WEBHOOK_URL = url
    alerts.evaluate_alerts(now=NOW + timedelta(minutes=1))
    assert [h["rule"] for h in webhook] == ["beat_stopped"]
    assert Incident.objects.get().opened_notified_at is not None


def test_the_admin_lists_open_and_past_incidents(admin_client):
    Incident.objects.create(rule="poll_lag", summary="polling is late", opened_at=NOW)
    Incident.objects.create(
        rule="beat_stopped", summary="beat stopped", opened_at=NOW, cleared_at=NOW
    )
    page = admin_client.get("/admin/ops/incident/")
    assert page.status_code == 200
    assert b"polling is late" in page.content and b"beat stopped" in page.content
    only_open = admin_client.get("/admin/ops/incident/?state=open")
    assert b"polling is late" in only_open.content and b"beat stopped" not in only_open.content


def test_the_admin_lists_open_incidents_first_then_the_most_recent(admin_client):
    for rule, opened, cleared in [
        ("cleared_new", NOW, NOW + timedelta(minutes=5)),
        ("open_old", NOW - timedelta(days=2), None),
        ("cleared_old", NOW - timedelta(days=3), NOW - timedelta(days=1)),
        ("open_new", NOW - timedelta(hours=1), None),
    ]:
        Incident.objects.create(rule=rule, summary=rule, opened_at=opened, cleared_at=cleared)
    page = admin_client.get("/admin/ops/incident/")
    rules = [row.rule for row in page.context["cl"].result_list]
    assert rules == ["open_new", "open_old", "cleared_new", "cleared_old"]
    by_rule = admin_client.get("/admin/ops/incident/?o=1")  # a column header still sorts
    assert [row.rule for row in by_rule.context["cl"].result_list] == sorted(rules)


def test_the_schedule_command_seeds_the_heartbeat_and_alert_tasks_once():
    from django_celery_beat.models import PeriodicTask

    from billing.services.schedule import ensure_status_poll_task

    ensure_status_poll_task()
    ensure_status_poll_task()
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"ops.tasks.beat_heartbeat", "ops.tasks.evaluate_alerts"} <= tasks
    assert PeriodicTask.objects.filter(task="ops.tasks.evaluate_alerts").count() == 1


def test_alert_mails_are_in_the_alert_language(settings):
    settings.ALERT_LANGUAGE = "pl"
    heartbeats.record(heartbeats.BEAT, now=NOW - timedelta(hours=1))
    alerts.evaluate_alerts(now=NOW)
    (opened,) = mail.outbox
    assert "Alert otwarty" in opened.subject and "Reguła: beat_stopped" in opened.body


# --- derived data: the daily check (billing.tasks.check_derived_data) --------------------------


def test_a_raw_sql_drift_opens_the_incident_and_rollups_rebuild_clears_it():
    account = ClientAccountFactory()
    message = MessageFactory(
        account=account, dispatched_at=datetime(2026, 3, 5, tzinfo=UTC), status=Status.DELIVERED
    )
    close_statement(account.partner, date(2026, 3, 1), actor="op", now=NOW)
    with freeze_time(NOW):
        assert tasks.check_derived_data.apply().get() == CLEAN
    assert alerts.evaluate_alerts(now=NOW).opened == []

    with connection.cursor() as cursor:  # a writer past services/derived.py
        cursor.execute("UPDATE billing_message SET status = 'unsent' WHERE id = %s", [message.pk])
    later = NOW + timedelta(minutes=1)
    with freeze_time(later):  # the task's heartbeat (ops) keeps what it found
        found = tasks.check_derived_data.apply().get()
    assert found == {"rollup_rows": 2, "missing_late_changes": 1}  # delivered -1, unsent +1
    assert heartbeats.last(heartbeats.DERIVED_CHECK).detail == found
    opened = alerts.evaluate_alerts(now=later)
    incident = Incident.objects.get(cleared_at__isnull=True)
    assert opened.opened == [incident.pk] and incident.rule == "derived_data_drift"
    assert incident.value == 3 and incident.summary == (
        "Derived data differ from the messages: 2 rollup rows, 1 late changes of closed months"
        " not queued; `manage.py rollups --rebuild` repairs them"
    )
    (told,) = mail.outbox
    assert "rollups --rebuild" in told.subject

    call_command("rollups", "--rebuild", "--no-progress")
    still = NOW + timedelta(minutes=2)
    assert alerts.evaluate_alerts(now=still).cleared == []  # until a check finds none
    done = NOW + timedelta(minutes=3)
    with freeze_time(done):
        assert tasks.check_derived_data.apply().get() == CLEAN
    cleared = alerts.evaluate_alerts(now=done)
    assert cleared.cleared == [incident.pk] and cleared.open == 0
    assert len(mail.outbox) == 2 and "cleared" in mail.outbox[1].subject.lower()


def test_the_derived_data_check_fires_when_it_never_ran_or_ran_long_ago(settings):
    Heartbeat.objects.filter(name=heartbeats.DERIVED_CHECK).delete()
    summaries = {f.rule: f.summary for f in alerts.firing_now(NOW)}
    assert summaries == {"derived_check_late": "The derived-data check never ran"}
    limit = settings.ALERT_DERIVED_CHECK_MAX_AGE_SECONDS
    assert limit == 2 * 24 * 3600
    heartbeats.record(heartbeats.DERIVED_CHECK, now=NOW - timedelta(seconds=limit), detail=CLEAN)
    assert rules_firing() == set()
    long_ago = NOW - timedelta(seconds=limit + 1)
    heartbeats.record(heartbeats.DERIVED_CHECK, now=long_ago, detail=CLEAN)
    assert rules_firing() == {"derived_check_late"}
    settings.ALERT_DERIVED_CHECK_MAX_AGE_SECONDS = limit + 60
    assert rules_firing() == set()


def test_the_derived_data_alerts_are_translated():
    found = {"rollup_rows": 4, "missing_late_changes": 1}
    heartbeats.record(heartbeats.DERIVED_CHECK, now=NOW - timedelta(days=3), detail=found)
    with translation.override("pl"):
        summaries = {f.rule: f.summary for f in alerts.firing_now(NOW)}
    assert summaries == {
        "derived_check_late": "Kontrola danych pochodnych: ostatnio 259200 s temu",
        "derived_data_drift": "Dane pochodne różnią się od wiadomości: wiersze dziennych"
        " podsumowań: 4, późne zmiany zamkniętych miesięcy poza kolejką: 1;"
        " naprawa: `manage.py rollups --rebuild`",
    }
