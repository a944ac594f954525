"""Celery tasks: fan-out per account, and a real worker on Redis surviving SIGKILL mid-pass."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from billing import tasks
from billing.models import Channel, Message, StatusEvent
from billing.services.statement_closing import close_statement
from billing.serwersms import client_for
from billing.statuses import FINAL, Status
from tests.factories import ClientAccountFactory, MessageFactory

ROOT = Path(__file__).resolve().parents[2]
AFTER_OCT_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)


def test_poll_account_task_runs_one_pass(db, simulator_settings):
    account = ClientAccountFactory(api_token="tok-task")
    simulator_settings.register_account(token="tok-task")
    [item] = client_for(account).send_sms(["+48500600700"], "hi")
    message = MessageFactory(account=account, serwersms_id=item.serwersms_id)
    simulator_settings.advance(to="final")
    result = tasks.poll_account.apply(args=[account.pk]).get()
    message.refresh_from_db()
    assert message.status in FINAL and result["changed"] == 1 and result["errors"] == 0
    # Redelivered (acks_late): the same task again changes nothing.
    assert tasks.poll_account.apply(args=[account.pk]).get()["changed"] == 0
    assert StatusEvent.objects.filter(message=message, applied=True).count() == 1


def test_poll_all_accounts_fans_out_one_task_per_active_account_with_work(db, monkeypatch):
    active = ClientAccountFactory.create_batch(2)
    for account in active:
        MessageFactory.create_batch(2, account=account, status=Status.QUEUED)
    idle = ClientAccountFactory()  # active, nothing pending: no task
    MessageFactory(account=idle, status=Status.DELIVERED)
    inactive = ClientAccountFactory(is_active=False)
    MessageFactory(account=inactive, status=Status.QUEUED)
    sent = []  # capture the fan-out instead of publishing to a broker
    monkeypatch.setattr(tasks.poll_account, "delay", lambda account_id: sent.append(account_id))
    assert tasks.poll_all_accounts.apply().get() == 2
    assert sorted(sent) == sorted(a.pk for a in active)


def _redis_url() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    if host.startswith("/"):  # a Unix socket directory (the embedded PostgreSQL)
        host = quote(host, safe="")
    else:
        host = f"{host}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_pass_still_applies_each_final_status_exactly_once(
    simulator_settings,
):
    simulator = simulator_settings
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    broker = _redis_url()
    if broker is None:
        if required:
            pytest.fail("REQUIRE_SERVICES=1 but Redis (CELERY_BROKER_URL) is not reachable")
        pytest.skip("needs Redis at CELERY_BROKER_URL")

    account = ClientAccountFactory(api_token="tok-worker")
    simulator.register_account(token="tok-worker")
    client = client_for(account)
    messages = []
    phones = [f"+485007{n:05d}" for n in range(120)]
    for start in range(0, len(phones), 40):
        for item in client.send_sms(phones[start : start + 40], "worker test"):
            messages.append(
                MessageFactory(
                    account=account,
                    channel=Channel.API_V2,
                    phone=item.phone,
                    serwersms_id=item.serwersms_id,
                    status=Status.QUEUED,
                )
            )
    simulator.advance(to="final")

    queue = f"test-poll-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "SERWERSMS_API_URL": simulator.api_url,
        "SERWERSMS_XML_API_URL": simulator.xml_url,
        "SERWERSMS_REPORTS_BATCH": "4",  # 30 calls: a pass long enough to be killed in
        "STATUS_APPLY_BATCH": "4",  # each call's reports applied before the next call
        "SERWERSMS_RATE_LIMIT_PER_SECOND": "8",
        "SERWERSMS_TIMEOUT": "60",  # the worker waits on the slow call below until it is killed
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
        "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "--loglevel", "INFO",
    ]  # fmt: skip

    def start_worker():
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    worker = start_worker()
    try:
        tasks.poll_account.apply_async(args=[account.pk], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = StatusEvent.objects.filter(message__account=account, applied=True).count()
            if done:
                break
            time.sleep(0.1)
        assert done, "the worker applied nothing within a minute"
        # The pass's next call is answered only after 30 s: the kill lands while the worker
        # waits for it, in the middle of the pass (the rate limit leaves >3 s of calls after
        # the first applied batch, so the pass cannot have ended before the fault is queued).
        simulator.faults(["slow"], slow_seconds=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(r["fault"] == "slow" for r in simulator.requests()):
                break
            time.sleep(0.05)
        assert any(r["fault"] == "slow" for r in simulator.requests()), "no call after the fault"
        worker.send_signal(signal.SIGKILL)  # in the middle of the pass
        worker.wait(10)
        partial = Message.objects.filter(account=account, status__in=list(FINAL)).count()
        assert partial < len(messages), "the pass had already finished: nothing was interrupted"

        worker = start_worker()  # the unacknowledged task is delivered again, by Redis alone
        deadline = time.monotonic() + 90
        redelivered = False
        while time.monotonic() < deadline:
            remaining = Message.objects.filter(account=account).exclude(status__in=list(FINAL))
            if not remaining.exists():
                redelivered = True
                break
            time.sleep(0.5)
        # Nothing re-queued the task here: only the broker's redelivery can have finished it.
        assert redelivered, "the killed task was not delivered again within 90 s"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    truth = {m["id"]: m["status"] for m in simulator.messages()}
    for message in Message.objects.filter(account=account):
        assert message.status == truth[message.serwersms_id]
        into_final = StatusEvent.objects.filter(
            message=message, applied=True, new_status=message.status
        ).count()
        assert into_final == 1, f"{message.serwersms_id}: {into_final} events into {message.status}"


def test_the_daily_check_finds_what_rollups_check_finds(db):
    """check_derived_data: a raw SQL writer's drift counted (what `rollups --check` lists), and
    nothing once `rollups --rebuild` repaired it."""
    from django.core.management import call_command
    from django.db import connection

    from billing.services import derived

    clean = {"rollup_rows": 0, "missing_late_changes": 0}
    account = ClientAccountFactory()
    message = MessageFactory(
        account=account, dispatched_at=datetime(2024, 10, 5, tzinfo=UTC), status=Status.DELIVERED
    )
    MessageFactory(account=account, dispatched_at=datetime(2024, 10, 6, tzinfo=UTC), parts=2)
    close_statement(account.partner, date(2024, 10, 1), actor="op", now=AFTER_OCT_WINDOW)
    assert tasks.check_derived_data.apply().get() == clean
    with connection.cursor() as cursor:  # past services/derived.py: rollups and queue left behind
        cursor.execute("UPDATE billing_message SET parts = 3 WHERE id = %s", [message.pk])
    found = derived.check()
    assert [d.key.partner_id for d in found.rollups] == [account.partner_id]
    assert [m.message_id for m in found.late_changes] == [message.pk]
    assert tasks.check_derived_data.apply().get() == found.counts()
    assert found.counts() == {"rollup_rows": 1, "missing_late_changes": 1}
    call_command("rollups", "--rebuild", "--no-progress")
    assert tasks.check_derived_data.apply().get() == clean
