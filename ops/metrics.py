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
from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from billing.commission import review_window_end
from billing.models import ClientAccount, DailyRollup, Message, Statement
from billing.statuses import AT_SERWERSMS, NOT_FINAL, Status, values
from ops import counters, heartbeats
from ops.models import Heartbeat, Incident

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
               CASE WHEN e.source = 'send' AND e.applied AND e.old_status = %(submitting)s THEN
                    CASE WHEN e.new_status = %(unsent)s AND m.reason = 'not_sent_in_time'
                              THEN 'given_up'
                         WHEN e.new_status = %(unsent)s THEN 'refused'
                         WHEN m.match_method IN ('unique_id', 'phone_time') THEN 'looked_up'
                         WHEN m.send_attempts > 1 THEN 'retried'
                         ELSE 'first_attempt' END
               ELSE '' END,
               count(*)
          FROM billing_statusevent e JOIN billing_message m ON m.id = e.message_id
         WHERE e.id > %(low)s AND e.id <= %(high)s
         GROUP BY 1, 2, 3, 4, 5"""
    params = {"low": low, "high": high, "submitting": Status.SUBMITTING, "unsent": Status.UNSENT}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
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
    counters.fold("billing_statusevent", _events_between)
    counters.fold("billing_auditentry", _audit_between)


def _counter(name: str, doc: str, labels: list[str], stored: str) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for text, value in sorted(counters.totals(stored).items()):
        parsed = counters.parse_labels(text)
        family.add_metric([parsed.get(label, "") for label in labels], value)
    return family


def _gauge(name: str, doc: str, samples, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    """A gauge family of (label values, value) samples."""
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))
    for label_values, value in samples:
        family.add_metric(list(label_values), value)
    return family


def _not_final_rows(now: datetime) -> list[tuple]:
    """Per account, channel and not-final status: count, oldest created_at, oldest "last asked"
    of the pollable ones. Reads only not-final rows (the message_pollable partial index)."""
    cutoff = now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
    statuses = ", ".join(f"'{s}'" for s in _NOT_FINAL)
    sql = f"""
        SELECT a.name, m.channel, m.status, count(*), min(m.created_at),
               min(coalesce(m.last_checked_at, m.queued_at, m.created_at)) FILTER (
                   WHERE m.created_at >= %s AND m.status <> %s
                     AND (m.serwersms_id IS NOT NULL OR m.channel = 'email2sms'))
          FROM billing_message m JOIN billing_clientaccount a ON a.id = m.account_id
         WHERE m.status IN ({statuses})
         GROUP BY 1, 2, 3"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [cutoff, Status.SUBMITTING])
        return cursor.fetchall()


def _age(now: datetime, then: datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then else 0.0


COUNTERS = (
    (
        "status_events",
        "Status reports recorded, by source, channel, status and whether applied.",
        ["source", "channel", "status", "applied"],
        STATUS_EVENTS,
    ),
    (
        "sends",
        "Sends settled, by channel and how: first_attempt, retried, looked_up (settled by "
        "look-up), refused (SerwerSMS refused), given_up (deadline passed).",
        ["channel", "outcome"],
        SENDS,
    ),
    (
        "callbacks",
        "Delivery-report callbacks, by outcome (applied/ignored) and status.",
        ["outcome", "status"],
        CALLBACKS,
    ),
    (
        "statement_actions",
        "Audit-trail entries by action (build, close, adjust, ...).",
        ["action"],
        STATEMENT_ACTIONS,
    ),
    (
        "serwersms_answers",
        "SerwerSMS answers by channel, error class and outcome (ok for a good answer).",
        ["channel", "error_class", "outcome"],
        counters.SERWERSMS_ANSWERS,
    ),
    (
        "api_requests",
        "Partner API requests by key prefix and HTTP status.",
        ["key", "status"],
        counters.API_REQUESTS,
    ),
)


class DomainCollector(Collector):
    """The figures operators watch, computed when Prometheus scrapes."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or timezone.now()
        fold_database_counters()
        yield from self._messages(now)
        for counter in COUNTERS:
            yield _counter(*counter)
        yield from self._heartbeats(now)
        yield from self._statements(now)
        incidents = Incident.objects.filter(cleared_at__isnull=True).values_list("rule")
        yield _gauge(
            "open_incidents",
            "Alert incidents open, by rule.",
            (((rule,), n) for rule, n in incidents.annotate(n=Count("id")).order_by("rule")),
            labels=("rule",),
        )

    def _messages(self, now: datetime) -> Iterator[Metric]:
        yield _gauge(
            "messages_last_31_days",
            "Messages by status and type, billing days of the last 31 days (daily rollups).",
            (
                ((status, message_type), total or 0)
                for status, message_type, total in DailyRollup.objects.filter(
                    day__gte=(now - timedelta(days=31)).date()
                )
                .values_list("status", "message_type")
                .annotate(total=Sum("messages"))
                .order_by("status", "message_type")
            ),
            labels=("status", "message_type"),
        )
        by_channel: dict[tuple[str, str], int] = {}
        oldest_by_account: dict[str, datetime] = {}
        oldest_unasked: datetime | None = None
        for account, channel, status, count, created, unasked in _not_final_rows(now):
            by_channel[(channel, status)] = by_channel.get((channel, status), 0) + count
            if status in AT_SERWERSMS:  # taken by SerwerSMS, not yet dispatched
                if account not in oldest_by_account or created < oldest_by_account[account]:
                    oldest_by_account[account] = created
            if unasked is not None and (oldest_unasked is None or unasked < oldest_unasked):
                oldest_unasked = unasked
        yield _gauge(
            "messages_not_final",
            "Messages whose status may still change, by channel and status.",
            sorted(by_channel.items()),
            labels=("channel", "status"),
        )
        yield _gauge(
            "oldest_pending_message_age_seconds",
            "Age of the oldest message not yet dispatched (pending), per client account.",
            (((a,), _age(now, c)) for a, c in sorted(oldest_by_account.items())),
            labels=("account",),
        )
        yield _gauge(
            "poll_lag_seconds",
            "Longest time a pollable message has gone without being asked about.",
            [((), _age(now, oldest_unasked))],
        )
        # The message_outbox partial index (status = 'submitting').
        outbox = Message.objects.filter(status=Status.SUBMITTING).aggregate(
            count=Count("*"), first=Min("created_at")
        )
        yield _gauge(
            "outbox_oldest_submitting_age_seconds",
            "Age of the oldest outbox message still submitting (0 when none).",
            [((), _age(now, outbox["first"]))],
        )
        yield _gauge(
            "outbox_submitting_messages",
            "Outbox messages still submitting.",
            [((), outbox["count"])],
        )

    def _heartbeats(self, now: datetime) -> Iterator[Metric]:
        beats = {h.name: h for h in Heartbeat.objects.all()}
        prefix = heartbeats.POLL_ACCOUNT + ":"
        yield _gauge(
            "heartbeat_age_seconds",
            "Seconds since periodic work last finished (beat, poll pass, draft refresh...).",
            (
                ((name,), _age(now, beat.beat_at))
                for name, beat in sorted(beats.items())
                if not name.startswith(prefix)
            ),
            labels=("name",),
        )
        ids = {
            int(n[len(prefix) :]): b
            for n, b in beats.items()
            if n.startswith(prefix) and n[len(prefix) :].isdigit()
        }
        names = dict(ClientAccount.objects.filter(pk__in=ids).values_list("pk", "name"))
        yield _gauge(
            "poll_pass_seconds",
            "How long the last poll pass of each client account took.",
            (((names.get(pk, str(pk)),), beat.seconds or 0.0) for pk, beat in sorted(ids.items())),
            labels=("account",),
        )
        last_refresh = beats.get(heartbeats.DRAFT_REFRESH)
        lag = float((last_refresh.detail or {}).get("lag_seconds", 0.0)) if last_refresh else 0.0
        yield _gauge(
            "draft_refresh_lag_seconds",
            "From a status change to its partner's drafts rebuilt, for the last refresh.",
            [((), lag)],
        )

    def _statements(self, now: datetime) -> Iterator[Metric]:
        yield _gauge(
            "statements",
            "Statements by status.",
            (
                ((status,), n)
                for status, n in Statement.objects.values_list("status")
                .annotate(n=Count("id"))
                .order_by("status")
            ),
            labels=("status",),
        )
        periods = Statement.objects.filter(status="draft").values_list("period", flat=True)
        days = settings.STATEMENT_REVIEW_WINDOW_DAYS
        yield _gauge(
            "statements_past_review_window",
            "Draft statements whose month's review window has ended (could be closed).",
            [((), sum(1 for p in periods if review_window_end(p, days) <= now))],
        )


def exposition(now: datetime | None = None) -> bytes:
    """The text exposition of every figure (a fresh registry: nothing is process state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DomainCollector(now))
    return generate_latest(registry)
