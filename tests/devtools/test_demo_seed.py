"""seed_demo: two partners with agreements, accounts, logins, 3 months of traffic, statements."""

from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from billing.models import (
    Agreement,
    Channel,
    ClientAccount,
    Message,
    Partner,
    Statement,
    StatementStatus,
)
from billing.statuses import Status
from devtools.demo import DEMO_USERS

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_demo_fills_every_page_with_data(simulator_settings, settings, celery_eager):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    call_command("seed_demo", simulator=simulator_settings.api_url)

    assert Partner.objects.count() == 2
    assert ClientAccount.objects.count() >= 4
    assert Agreement.objects.values("partner").distinct().count() == 2
    statuses = Counter(Message.objects.values_list("status", flat=True))
    for status in (Status.DELIVERED, Status.UNDELIVERED, Status.SENT, Status.UNSENT, Status.QUEUED):
        assert statuses[status] > 0, status
    channels_seen = {m["channel"] for m in simulator_settings.messages()}
    assert channels_seen == {Channel.API_V2, Channel.XML_API, Channel.EMAIL2SMS}
    # the simulator saw our ic on every message it received
    seen_ics = {m["ic"] for m in simulator_settings.messages()}
    assert seen_ics == set(Partner.objects.values_list("ic", flat=True))
    assert Statement.objects.filter(status=StatementStatus.CLOSED).exists()
    assert Statement.objects.filter(status=StatementStatus.DRAFT).exists()
    for username, password, _partner, _role in DEMO_USERS:
        assert authenticate(RequestFactory().post("/login/"), username=username, password=password)

    # idempotent: a second run adds nothing
    count = Message.objects.count()
    call_command("seed_demo")
    assert Message.objects.count() == count
