"""Counters shared by every process: a fold counts each row exactly once, even when keys
commit out of order; a scrape's queries do not grow with the messages; old minutes are pruned."""

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import AuditEntry
from billing.serwersms.client import ApiV2Client
from billing.serwersms.errors import SerwerSMSError
from ops import counters, metrics
from ops.models import Counter
from tests.factories import MessageFactory

ACTIONS = counters.label_key  # labels text of {"action": ...}


def folded(action: str) -> int:
    metrics.fold_database_counters()
    return counters.totals(metrics.STATEMENT_ACTIONS).get(ACTIONS({"action": action}), 0)


def fold_until(condition, seconds: float = 120.0) -> None:
    """Fold until `condition()` (other sessions' transactions on the server may delay it)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the fold never caught up"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_row_committed_after_a_later_one_is_still_counted_once():
    folded("build")  # the cursor starts here
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        password=settings["PASSWORD"] or None,
    )
    try:
        # An earlier key, still uncommitted while a later one commits and is folded.
        other.execute(
            "INSERT INTO billing_auditentry (action, actor, detail, created_at)"
            " VALUES ('build', 'slow writer', '{}', now())"
        )
        AuditEntry.objects.create(action="close", actor="quick writer")
        for _ in range(3):
            folded("close")
        assert folded("build") == 0  # not visible yet: not counted, not skipped either
        other.commit()
    finally:
        other.close()
    fold_until(lambda: folded("build") == 1 and folded("close") == 1)
    for _ in range(3):  # folding again counts nothing twice
        assert (folded("build"), folded("close")) == (1, 1)


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_for_200_messages_as_for_2():
    def scrape_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            metrics.exposition()
        return len(queries.captured_queries)

    for _ in range(2):
        MessageFactory(status="queued")
    scrape_queries()  # the first one creates the fold cursors
    few = scrape_queries()
    for _ in range(198):
        MessageFactory(status="queued")
    assert scrape_queries() == few


@pytest.mark.django_db
def test_prune_drops_old_minutes_and_keeps_the_totals():
    now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    labels = {"channel": "api_v2", "error_class": "ok", "outcome": "ok"}
    counters.add(counters.SERWERSMS_ANSWERS, labels, 5, now=now - timedelta(days=2))
    counters.add(counters.SERWERSMS_ANSWERS, labels, 2, now=now)
    assert counters.prune(now=now) == 1
    assert counters.totals(counters.SERWERSMS_ANSWERS) == {counters.label_key(labels): 7}
    assert Counter.objects.count() == 2  # the all-time row and this minute's


@pytest.mark.django_db
def test_buffered_counts_are_written_once_by_flush():
    labels = {"channel": "xml_api", "error_class": "server_error", "outcome": "maybe_done"}
    counters.count(counters.SERWERSMS_ANSWERS, labels)
    counters.count(counters.SERWERSMS_ANSWERS, labels)
    assert counters.totals(counters.SERWERSMS_ANSWERS) == {}
    counters.flush()
    counters.flush()
    assert counters.totals(counters.SERWERSMS_ANSWERS) == {counters.label_key(labels): 2}


@pytest.mark.django_db
def test_each_serwersms_answer_reaches_the_counter_through_the_billing_hook(simulator_settings):
    """billing never imports ops: the client sends billing.serwersms.hooks.answer_received, to
    which ops.apps connected the counter."""
    simulator_settings.register_account(token="hook-token")
    counters.flush()  # what earlier tests of this process left buffered
    ApiV2Client(ic=77, token="hook-token").call("account/limits")
    with pytest.raises(SerwerSMSError):
        ApiV2Client(ic=77, token="not-a-token").call("account/limits")
    counters.flush()
    ok = {"channel": "api_v2", "error_class": "ok", "outcome": "ok"}
    assert counters.totals(counters.SERWERSMS_ANSWERS) == {
        counters.label_key(ok): 1,
        counters.label_key(ok | {"error_class": "invalid_credentials", "outcome": "refused"}): 1,
    }
