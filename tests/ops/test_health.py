"""/healthz, /readyz and `manage.py check_health`: the beat stops, readiness turns 503, the
operators get one alert mail, and another when it clears."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from freezegun import freeze_time
from health_check.exceptions import ServiceUnavailable

from ops import checks, heartbeats
from ops.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(settings):
    """Beat, the poll pass and the derived-data check just beat; alerts go to one operator, in
    memory."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PORTAL_EMAIL_BACKEND = ""
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_LANGUAGE = "en"
    now = timezone.now()
    heartbeats.record(heartbeats.BEAT, now=now)
    heartbeats.record(heartbeats.POLL_PASS, now=now)
    clean = {"rollup_rows": 0, "missing_late_changes": 0}
    heartbeats.record(heartbeats.DERIVED_CHECK, now=now, detail=clean)
    return now


def test_healthz_answers_without_asking_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_lists_each_check_ok_when_all_is_fresh(client, fresh):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "beat", "poll"}
    assert all(c["status"] == "ok" for c in body["checks"].values())
    assert body["checks"]["beat"]["age_seconds"] < 60


def test_readyz_is_503_when_nothing_ever_beat(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks_ = response.json()["checks"]
    assert checks_["beat"]["status"] == "unavailable" and "never" in checks_["beat"]["error"]
    assert checks_["database"]["status"] == "ok"


def test_a_stopped_beat_turns_readyz_503_and_mails_the_operators_once(client, fresh, settings):
    late = fresh + timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS + 1)
    heartbeats.record(heartbeats.POLL_PASS, now=late)  # polling still fine: only beat is late
    with freeze_time(late):
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["beat"]["status"] == "unavailable"
        assert body["checks"]["beat"]["age_seconds"] > settings.HEALTH_BEAT_MAX_AGE_SECONDS
        assert body["checks"]["poll"]["status"] == "ok"
        # Cron's fallback (beat cannot alert about itself): non-zero exit and an alert mail.
        with pytest.raises(CommandError) as failed:
            call_command("check_health", "--alerts")
        assert failed.value.returncode == 1 and "beat" in str(failed.value)
    (alert,) = mail.outbox
    assert alert.to == ["ops@example.com"] and "beat" in alert.subject.lower()
    assert Incident.objects.get(rule="beat_stopped").is_open
    # Evaluated again while still stopped: the same incident, no second mail.
    with freeze_time(late + timedelta(seconds=30)), pytest.raises(CommandError):
        call_command("check_health", "--alerts")
    assert len(mail.outbox) == 1 and Incident.objects.count() == 1
    # Beat ticks again: readiness is back and the clearing is mailed once.
    with freeze_time(late + timedelta(seconds=60)):
        heartbeats.record(heartbeats.BEAT)
        call_command("check_health", "--alerts")
        assert client.get("/readyz").status_code == 200
    assert len(mail.outbox) == 2 and "cleared" in mail.outbox[1].subject.lower()
    assert not Incident.objects.get(rule="beat_stopped").is_open


def test_check_health_prints_json_and_exits_zero_when_ready(fresh, capsys):
    call_command("check_health")
    assert '"status": "ok"' in capsys.readouterr().out


def test_a_late_poll_pass_fails_readiness(fresh, settings):
    late = fresh + timedelta(seconds=settings.HEALTH_POLL_MAX_AGE_SECONDS + 1)
    heartbeats.record(heartbeats.BEAT, now=late)
    body = checks.run_checks(late)
    assert body["status"] == "unavailable"
    assert body["checks"]["poll"]["status"] == "unavailable"
    assert body["checks"]["beat"]["status"] == "ok"


def test_an_unreachable_broker_is_unavailable():
    check = checks.Broker(url="redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable):
        check.probe(timezone.now())
