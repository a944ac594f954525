"""Prometheus figures of the domain, read from the database at scrape time (a custom Collector).

Every process answers the same numbers: nothing is kept in process memory. Cost per scrape is
bounded: gauges read the not-final messages (partial indexes), the outbox (its partial index),
the daily rollups of the last 31 days, statements, heartbeats and counter rows; counters of
status events and audit entries are folded from a primary-key cursor (counters.fold), so a
scrape reads only the rows added since the previous one. billing_message is never scanned whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from billing.statuses import NOT_FINAL, Status, values
from ops import counters, heartbeats

PREFIX = "partner_portal"
STATUS_EVENTS = "status_events"  # source, channel, status, applied
SENDS = "sends"  # channel, outcome: first_attempt | retried | looked_up | refused | given_up
CALLBACKS = "callbacks"  # outcome (applied | ignored), status
STATEMENT_ACTIONS = "statement_actions"  # action (build, close, adjust, ...)

_KNOWN_STATUSES = tuple(Status.values)
_NOT_FINAL = values(NOT_FINAL)


def _events_between(low: int, high: int):
    """Status events with low < id <= high, labelled; one grouped query over that key range."""
    known = ", ".join(f"'{s}'" for s in _KNOWN_STATUSES)
    sql = f"""
        SELECT e.source, m.channel,
               CASE WHEN e.new_status IN ({known}) THEN e.new_status ELSE 'other' END,
               e.applied,
               CASE WHEN e.source = 'send' AND e.applied AND e.old_status = 'submitting' THEN
                    CASE WHEN e.new_status = 'unsent' AND m.reason = 'not_sent_in_time'
                              THEN 'given_up'
                         WHEN e.new_status = 'unsent' THEN 'refused'
                         WHEN m.match_method IN ('unique_id', 'phone_time') THEN 'looked_up'
                         WHEN m.send_attempts > 1 THEN 'retried'
                         ELSE 'first_attempt' END
               ELSE '' END,
               count(*)
          FROM billing_statusevent e JOIN billing_message m ON m.id = e.message_id
         WHERE e.id > %s AND e.id <= %s
         GROUP BY 1, 2, 3, 4, 5"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [low, high])
        rows = cursor.fetchall()
    for source, channel, status, applied, send_outcome, count in rows:
        applied_text = "true" if applied else "false"
        yield (
            STATUS_EVENTS,
            {"source": source, "channel": channel, "status": status, "applied": applied_text},
            count,
        )
        if send_outcome:
            yield SENDS, {"channel": channel, "outcome": send_outcome}, count
        if source == "callback":
            outcome = "applied" if applied else "ignored"
            yield CALLBACKS, {"outcome": outcome, "status": status}, count


def _audit_between(low: int, high: int):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT action, count(*) FROM billing_auditentry WHERE id > %s AND id <= %s"
            " GROUP BY action",
            [low, high],
        )
        rows = cursor.fetchall()
    for action, count in rows:
        yield STATEMENT_ACTIONS, {"action": action}, count


def fold_database_counters() -> None:
    """Bring the status-event and audit counters up to date (cheap: new rows only)."""
    counters.fold("billing_statusevent", "billing_statusevent", _events_between)
    counters.fold("billing_auditentry", "billing_auditentry", _audit_between)


def _counter(name: str, doc: str, labels: list[str], stored: str) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for text, value in sorted(counters.totals(stored).items()):
        parsed = counters.parse_labels(text)
        family.add_metric([parsed.get(label, "") for label in labels], value)
    return family


def _not_final_rows(now: datetime) -> list[tuple]:
    """Per account, channel and not-final status: count, oldest created_at, oldest "last asked"
    of the pollable ones. Reads only not-final rows (the message_pollable partial index)."""
    cutoff = now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
    statuses = ", ".join(f"'{s}'" for s in _NOT_FINAL)
    sql = f"""
        SELECT a.name, m.channel, m.status, count(*), min(m.created_at),
               min(coalesce(m.last_checked_at, m.queued_at, m.created_at)) FILTER (
                   WHERE m.created_at >= %s AND m.status <> 'submitting'
                     AND (m.serwersms_id IS NOT NULL OR m.channel = 'email2sms'))
          FROM billing_message m JOIN billing_clientaccount a ON a.id = m.account_id
         WHERE m.status IN ({statuses})
         GROUP BY 1, 2, 3"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [cutoff])
        return cursor.fetchall()


def _age(now: datetime, then: datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then else 0.0


class DomainCollector(Collector):
    """The figures operators watch, computed when Prometheus scrapes."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or timezone.now()
        fold_database_counters()
        yield from self._messages(now)
        yield from self._counters()
        yield from self._heartbeats(now)
        yield from self._statements(now)
        yield from self._incidents()

    def _messages(self, now: datetime) -> Iterator[Metric]:
        from django.db.models import Sum

        from billing.models import DailyRollup

        billed = GaugeMetricFamily(
            f"{PREFIX}_messages_last_31_days",
            "Messages by status and type, billing days of the last 31 days (daily rollups).",
            labels=["status", "message_type"],
        )
        rows = (
            DailyRollup.objects.filter(day__gte=(now - timedelta(days=31)).date())
            .values("status", "message_type")
            .annotate(total=Sum("messages"))
            .order_by("status", "message_type")
        )
        for row in rows:
            billed.add_metric([row["status"], row["message_type"]], row["total"] or 0)
        yield billed

        not_final = GaugeMetricFamily(
            f"{PREFIX}_messages_not_final",
            "Messages whose status may still change, by channel and status.",
            labels=["channel", "status"],
        )
        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_pending_message_age_seconds",
            "Age of the oldest message not yet dispatched (pending), per client account.",
            labels=["account"],
        )
        lag = GaugeMetricFamily(
            f"{PREFIX}_poll_lag_seconds",
            "Longest time a pollable message has gone without being asked about.",
        )
        by_channel: dict[tuple[str, str], int] = {}
        oldest_by_account: dict[str, datetime] = {}
        oldest_unasked: datetime | None = None
        for account, channel, status, count, created, unasked in _not_final_rows(now):
            by_channel[(channel, status)] = by_channel.get((channel, status), 0) + count
            if status != "sent" and status != "submitting":
                if account not in oldest_by_account or created < oldest_by_account[account]:
                    oldest_by_account[account] = created
            if unasked is not None and (oldest_unasked is None or unasked < oldest_unasked):
                oldest_unasked = unasked
        for (channel, status), count in sorted(by_channel.items()):
            not_final.add_metric([channel, status], count)
        for account, created in sorted(oldest_by_account.items()):
            oldest.add_metric([account], _age(now, created))
        lag.add_metric([], _age(now, oldest_unasked))
        yield not_final
        yield oldest
        yield lag

        with connection.cursor() as cursor:
            # The message_outbox partial index: WHERE status = 'submitting'.
            cursor.execute(
                "SELECT count(*), min(created_at) FROM billing_message WHERE status = 'submitting'"
            )
            count, first = cursor.fetchone()
        outbox = GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_submitting_age_seconds",
            "Age of the oldest outbox message still submitting (0 when none).",
        )
        outbox.add_metric([], _age(now, first))
        yield outbox
        size = GaugeMetricFamily(
            f"{PREFIX}_outbox_submitting_messages", "Outbox messages still submitting."
        )
        size.add_metric([], count)
        yield size

    def _counters(self) -> Iterator[Metric]:
        yield _counter(
            "status_events",
            "Status reports recorded, by source, channel, status and whether applied.",
            ["source", "channel", "status", "applied"],
            STATUS_EVENTS,
        )
        yield _counter(
            "sends",
            "Sends settled, by channel and how: first_attempt, retried, looked_up (settled by "
            "look-up), refused (SerwerSMS refused), given_up (deadline passed).",
            ["channel", "outcome"],
            SENDS,
        )
        yield _counter(
            "callbacks",
            "Delivery-report callbacks, by outcome (applied/ignored) and status.",
            ["outcome", "status"],
            CALLBACKS,
        )
        yield _counter(
            "statement_actions",
            "Audit-trail entries by action (build, close, adjust, ...).",
            ["action"],
            STATEMENT_ACTIONS,
        )
        yield _counter(
            "serwersms_answers",
            "SerwerSMS answers by channel, error class and outcome (ok for a good answer).",
            ["channel", "error_class", "outcome"],
            counters.SERWERSMS_ANSWERS,
        )
        yield _counter(
            "api_requests",
            "Partner API requests by key prefix and HTTP status.",
            ["key", "status"],
            counters.API_REQUESTS,
        )

    def _heartbeats(self, now: datetime) -> Iterator[Metric]:
        from billing.models import ClientAccount
        from ops.models import Heartbeat

        beats = {h.name: h for h in Heartbeat.objects.all()}
        age = GaugeMetricFamily(
            f"{PREFIX}_heartbeat_age_seconds",
            "Seconds since periodic work last finished (beat, poll pass, draft refresh...).",
            labels=["name"],
        )
        for name, beat in sorted(beats.items()):
            if not name.startswith(heartbeats.POLL_ACCOUNT + ":"):
                age.add_metric([name], _age(now, beat.beat_at))
        yield age
        duration = GaugeMetricFamily(
            f"{PREFIX}_poll_pass_seconds",
            "How long the last poll pass of each client account took.",
            labels=["account"],
        )
        prefix = heartbeats.POLL_ACCOUNT + ":"
        ids = {
            int(n[len(prefix) :]): b
            for n, b in beats.items()
            if n.startswith(prefix) and n[len(prefix) :].isdigit()
        }
        names = dict(ClientAccount.objects.filter(pk__in=ids).values_list("pk", "name"))
        for pk, beat in sorted(ids.items()):
            duration.add_metric([names.get(pk, str(pk))], beat.seconds or 0.0)
        yield duration
        refresh = GaugeMetricFamily(
            f"{PREFIX}_draft_refresh_lag_seconds",
            "From a status change to its partner's drafts rebuilt, for the last refresh.",
        )
        last_refresh = beats.get(heartbeats.DRAFT_REFRESH)
        refresh.add_metric(
            [], float((last_refresh.detail or {}).get("lag_seconds", 0.0)) if last_refresh else 0.0
        )
        yield refresh

    def _statements(self, now: datetime) -> Iterator[Metric]:
        from django.db.models import Count

        from billing.commission import review_window_end
        from billing.models import Statement

        family = GaugeMetricFamily(
            f"{PREFIX}_statements", "Statements by status.", labels=["status"]
        )
        for row in Statement.objects.values("status").annotate(n=Count("id")).order_by("status"):
            family.add_metric([row["status"]], row["n"])
        yield family
        overdue = GaugeMetricFamily(
            f"{PREFIX}_statements_past_review_window",
            "Draft statements whose month's review window has ended (could be closed).",
        )
        periods = Statement.objects.filter(status="draft").values_list("period", flat=True)
        days = settings.STATEMENT_REVIEW_WINDOW_DAYS
        overdue.add_metric([], sum(1 for p in periods if review_window_end(p, days) <= now))
        yield overdue

    def _incidents(self) -> Iterator[Metric]:
        from django.db.models import Count

        from ops.models import Incident

        family = GaugeMetricFamily(
            f"{PREFIX}_open_incidents", "Alert incidents open, by rule.", labels=["rule"]
        )
        rows = (
            Incident.objects.filter(cleared_at__isnull=True).values("rule").annotate(n=Count("id"))
        )
        for row in rows.order_by("rule"):
            family.add_metric([row["rule"]], row["n"])
        yield family


def exposition(now: datetime | None = None) -> bytes:
    """The text exposition of every figure (a fresh registry: nothing is process state)."""
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DomainCollector(now))
    return generate_latest(registry)
