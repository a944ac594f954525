"""Database settings the product applies itself: JIT off on PostgreSQL connections, and a
statement time limit on portal pages that answers a clear 503 instead of running on."""

import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from partner_portal.statement_timeout import is_timeout, limited_statement_time, statement_timeout

pytestmark = pytest.mark.django_db


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def _sleep(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


def test_connections_run_without_jit():
    assert _show("jit") == "off"


def test_a_slow_statement_is_stopped_and_the_limit_is_lifted_afterwards():
    before = _show("statement_timeout")
    with pytest.raises(OperationalError) as stopped:
        with statement_timeout(50):
            assert _show("statement_timeout") == "50ms"
            with connection.cursor() as cursor:
                cursor.execute("SAVEPOINT slow")
                try:
                    cursor.execute("SELECT pg_sleep(1)")
                finally:
                    cursor.execute("ROLLBACK TO SAVEPOINT slow")
    assert is_timeout(stopped.value)
    assert _show("statement_timeout") == before


def test_a_portal_page_past_the_limit_answers_503(settings, rf: RequestFactory):
    settings.PORTAL_STATEMENT_TIMEOUT_MS = 50

    @limited_statement_time
    def slow_page(request):
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT slow")
            try:
                cursor.execute("SELECT pg_sleep(1)")
            except OperationalError:
                cursor.execute("ROLLBACK TO SAVEPOINT slow")
                raise
        return HttpResponse("done")

    @limited_statement_time
    def quick_page(request):
        _sleep(0.001)
        return HttpResponse("done")

    response = slow_page(rf.get("/messages/"))
    assert response.status_code == 503
    assert b"Narrow the filters" in response.content
    assert quick_page(rf.get("/messages/")).status_code == 200


def test_zero_turns_the_limit_off(settings, rf: RequestFactory):
    settings.PORTAL_STATEMENT_TIMEOUT_MS = 0
    before = _show("statement_timeout")

    @limited_statement_time
    def page(request):
        return HttpResponse(_show("statement_timeout"))

    assert page(rf.get("/")).content.decode() == before
