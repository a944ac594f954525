"""Shared fixtures: factories, service checks for CI, a live simulator (see simulator fixtures)."""

import os
import socket

import pytest


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    """On CI (REQUIRE_SERVICES=1) a missing PostgreSQL or Redis is a failure, never a skip."""
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(f"REQUIRE_SERVICES=1 but the database engine is {engine}")
    if not _port_open("127.0.0.1", 5432):
        raise pytest.UsageError("REQUIRE_SERVICES=1 but PostgreSQL is not reachable on :5432")
    if not _port_open("127.0.0.1", 6379):
        raise pytest.UsageError("REQUIRE_SERVICES=1 but Redis is not reachable on :6379")


@pytest.fixture(scope="session", autouse=True)
def _urls_and_api_schemas_built():
    """Build the URLconf (and with it the API's pydantic schemas) before any test freezes the
    clock: built under freezegun, a schema would see its fake datetime class and fail."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports config.urls and partner_api)


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages raised outside a request are asserted in English; the product's default
    language is Polish (requests pick theirs through LocaleMiddleware)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Canned HTTP answers for documented examples the simulator never gives (fixture `canned`).
# The live SerwerSMS simulator: `simulator`, `simulator_settings` (see tests/simulator_fixtures.py).
from tests.canned_http import canned  # noqa: E402, F401
from tests.simulator_fixtures import simulator, simulator_server, simulator_settings  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _rollups_stay_exact(request):
    """After every database test the daily rollups equal a fresh aggregate of the messages, so
    no writer (product path, factory or test shortcut) can leave them wrong silently. A test
    that breaks them on purpose is marked `rollups_unchecked`."""
    marker = request.node.get_closest_marker("django_db")
    fixtures = set(request.fixturenames)
    uses_db = bool(marker) or bool({"db", "transactional_db", "live_server"} & fixtures)
    if not uses_db or request.node.get_closest_marker("rollups_unchecked"):
        yield
        return
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & fixtures
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from django.db import connection

    if connection.in_atomic_block and connection.needs_rollback:
        return  # the test ended inside a failed transaction: nothing can be read
    from billing.services import rollups

    found = rollups.differences()
    assert not found, "daily rollups differ from the messages:\n" + "\n".join(
        str(d) for d in found[:10]
    )


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    """The one retry policy with short pauses, so tests of retries take milliseconds."""
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.01
    settings.SERWERSMS_RETRY_MAX_SECONDS = 0.05
    settings.SERWERSMS_SETTLE_MARGIN_SECONDS = 0  # one look-up SERWERSMS_TIMEOUT after a send
    settings.SERWERSMS_SETTLE_WINDOW_SECONDS = 0
    settings.SERWERSMS_READ_RETRY_SECONDS = 2


@pytest.fixture
def celery_eager():
    """Run queued Celery tasks in this process, as a worker would (errors propagate)."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def send_now(celery_eager, django_capture_on_commit_callbacks):
    """`send_sms` whose transaction commits at once and whose send task runs in this process:
    what a caller sees once a worker has done the work. Returns the messages as stored."""
    from billing.models import Message
    from billing.services.outbox import send_sms

    def run(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            messages = send_sms(*args, **kwargs)
        return [Message.objects.get(pk=m.pk) for m in messages]

    return run


@pytest.fixture
def queued_refreshes(monkeypatch):
    """Run the draft-refresh task in-process where it would be published to the broker."""
    from billing import tasks

    calls = []

    def delay(*args):
        calls.append(args)
        return tasks.refresh_draft_statements.apply(args=args)

    monkeypatch.setattr(tasks.refresh_draft_statements, "delay", delay)
    return calls
