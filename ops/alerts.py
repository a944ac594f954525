"""Alert rules for operators: evaluated by beat (ops.tasks.evaluate_alerts) and by cron
(`manage.py check_health --alerts`), each firing rule an Incident, mailed and posted once
when it opens and once when it clears. Thresholds are settings (ALERT_*, README).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.commission import format_period, review_window_end
from billing.mail import portal_connection
from billing.models import Channel, Message, Statement
from billing.services.email2sms_matching import NO_REPORT_REASON
from billing.services.polling import polled
from billing.statuses import AT_SERWERSMS, Status
from ops import counters, heartbeats
from ops.models import Incident

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Firing:
    """A rule that holds now, for one subject (a channel, a statement; "" for the whole)."""

    rule: str
    subject: str
    summary: str
    value: float
    threshold: float


def _count_rule(rule: str, count: int, limit: float, summary: str) -> list[Firing]:
    return [Firing(rule, "", summary, count, limit)] if count else []


def _serwersms_error_rate(now: datetime) -> list[Firing]:
    since = now - timedelta(seconds=settings.ALERT_SERWERSMS_WINDOW_SECONDS)
    by_channel: dict[str, list[int]] = {}
    for text, value in counters.since(counters.SERWERSMS_ANSWERS, since).items():
        labels = counters.parse_labels(text)
        totals = by_channel.setdefault(labels.get("channel", ""), [0, 0])
        totals[0] += value
        # A look-up that finds nothing (not_found) is an answer, not a fault.
        if labels.get("outcome") != "ok" and labels.get("error_class") != "not_found":
            totals[1] += value
    limit = settings.ALERT_SERWERSMS_ERROR_RATE
    return [
        Firing(
            "serwersms_error_rate",
            channel,
            _("SerwerSMS answered %(errors)d errors in %(total)d calls (%(channel)s)")
            % {"errors": errors, "total": total, "channel": channel},
            errors / total,
            limit,
        )
        for channel, (total, errors) in sorted(by_channel.items())
        if total >= settings.ALERT_SERWERSMS_MIN_ANSWERS and errors / total >= limit
    ]


def _heartbeat_rule(rule: str, name: str, limit: float, what: str, now: datetime) -> list[Firing]:
    age = heartbeats.age_seconds(name, now)
    if age is not None and age <= limit:
        return []
    if age is None:
        return [Firing(rule, "", _("%(what)s never ran") % {"what": what}, -1.0, limit)]
    summary = _("%(what)s last ran %(age)d s ago") % {"what": what, "age": age}
    return [Firing(rule, "", summary, age, limit)]


def _beat_stopped(now: datetime) -> list[Firing]:
    return _heartbeat_rule(
        "beat_stopped", heartbeats.BEAT, settings.HEALTH_BEAT_MAX_AGE_SECONDS, _("Celery beat"), now
    )


def _poll_lag(now: datetime) -> list[Firing]:
    limit = settings.ALERT_POLL_LAG_SECONDS
    firing = _heartbeat_rule(
        "poll_lag", heartbeats.POLL_PASS, limit, _("The status poll pass"), now
    )
    if firing:
        return firing
    # The messages a pass asks about, not asked about for long.
    stale = now - timedelta(seconds=limit)
    count = (
        polled(Message.objects.all(), now)
        .filter(
            Q(last_checked_at__lt=stale) | Q(last_checked_at__isnull=True, created_at__lt=stale)
        )
        .count()
    )
    summary = _("%(count)d messages not asked about for over %(limit)d s")
    return _count_rule("poll_lag", count, limit, summary % {"count": count, "limit": limit})


def _pending_too_long(now: datetime) -> list[Firing]:
    limit = settings.ALERT_PENDING_MAX_AGE_SECONDS
    # The message_status_created index: one range per pending status.
    count = Message.objects.filter(
        status__in=AT_SERWERSMS, created_at__lt=now - timedelta(seconds=limit)
    ).count()
    summary = _("%(count)d messages still pending after %(hours).1f h")
    return _count_rule(
        "pending_too_long", count, limit, summary % {"count": count, "hours": limit / 3600}
    )


def _unmatched_email2sms(now: datetime) -> list[Firing]:
    window = settings.ALERT_UNMATCHED_EMAIL2SMS_WINDOW_SECONDS
    count = Message.objects.filter(
        status=Status.UNSENT,
        created_at__gte=now - timedelta(seconds=window),
        channel=Channel.EMAIL2SMS,
        reason=NO_REPORT_REASON,
    ).count()
    limit = settings.ALERT_UNMATCHED_EMAIL2SMS_MAX
    if count < limit:
        return []
    summary = _("%(count)d Email2SMS mails matched no SerwerSMS report in %(hours).0f h")
    figures = {"count": count, "hours": window / 3600}
    return [Firing("unmatched_email2sms", "", summary % figures, count, limit)]


def _outbox_past_deadline(now: datetime) -> list[Firing]:
    limit = settings.SERWERSMS_SEND_DEADLINE_SECONDS + settings.ALERT_OUTBOX_GRACE_SECONDS
    # The message_outbox partial index (status = 'submitting').
    count = Message.objects.filter(
        status=Status.SUBMITTING, created_at__lt=now - timedelta(seconds=limit)
    ).count()
    summary = _("%(count)d outbox messages still submitting past the send deadline")
    return _count_rule("outbox_past_deadline", count, limit, summary % {"count": count})


def _statement_review_overdue(now: datetime) -> list[Firing]:
    grace = timedelta(days=settings.ALERT_STATEMENT_CLOSE_GRACE_DAYS)
    days = settings.STATEMENT_REVIEW_WINDOW_DAYS
    firing = []
    for statement in Statement.objects.filter(status="draft").select_related("partner"):
        due = review_window_end(statement.period, days) + grace
        if due <= now:
            subject = f"{statement.partner.name} {format_period(statement.period)}"
            summary = _("Statement %(subject)s is still open past its review window")
            firing.append(
                Firing(
                    "statement_review_overdue",
                    subject[:200],
                    summary % {"subject": subject},
                    (now - due).total_seconds(),
                    grace.total_seconds(),
                )
            )
    return firing


def _derived_data(now: datetime) -> list[Firing]:
    """The daily check of rollups and late changes (billing.tasks.check_derived_data): late or
    never run, and what its last run found (counts kept with its heartbeat)."""
    firing = _heartbeat_rule(
        "derived_check_late",
        heartbeats.DERIVED_CHECK,
        settings.ALERT_DERIVED_CHECK_MAX_AGE_SECONDS,
        _("The derived-data check"),
        now,
    )
    beat = heartbeats.last(heartbeats.DERIVED_CHECK)
    if beat is None:
        return firing
    rows = int(beat.detail.get("rollup_rows", 0))
    missing = int(beat.detail.get("missing_late_changes", 0))
    summary = _(
        "Derived data differ from the messages: %(rows)d rollup rows, %(missing)d"
        " late changes of closed months not queued; `manage.py rollups --rebuild`"
        " repairs them"
    )
    return firing + _count_rule(
        "derived_data_drift", rows + missing, 0, summary % {"rows": rows, "missing": missing}
    )


RULES = (
    _beat_stopped,
    _serwersms_error_rate,
    _poll_lag,
    _pending_too_long,
    _unmatched_email2sms,
    _outbox_past_deadline,
    _statement_review_overdue,
    _derived_data,
)


def firing_now(now: datetime) -> list[Firing]:
    """Every rule's firings now; a rule that fails to evaluate is logged and skipped."""
    found: list[Firing] = []
    for rule in RULES:
        try:
            found += rule(now)
        except Exception:
            logger.exception("alert rule %s failed", rule.__name__)
    return found


# --- Notifying -------------------------------------------------------------------------------


def recipients() -> list[str]:
    """ALERT_EMAILS when set, else every active staff user with an e-mail address."""
    if settings.ALERT_EMAILS:
        return list(settings.ALERT_EMAILS)
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _notify(incident, *, cleared: bool) -> bool:
    """Mail the operators and post to ALERT_WEBHOOK_URL; True when every channel took it."""
    state = _("cleared") if cleared else _("opened")
    subject = _("[Partner Portal] Alert %(state)s: %(summary)s") % {
        "state": state,
        "summary": incident.summary,
    }
    lines = [
        _("Rule: %(rule)s") % {"rule": incident.rule},
        _("Subject: %(subject)s") % {"subject": incident.subject or "-"},
        _("Value: %(value)s (threshold %(threshold)s)")
        % {"value": incident.value, "threshold": incident.threshold},
        _("Opened: %(at)s") % {"at": incident.opened_at.isoformat()},
    ]
    if cleared:
        lines.append(_("Cleared: %(at)s") % {"at": incident.cleared_at.isoformat()})
    ok = True
    to = recipients()
    if to:
        try:
            EmailMessage(
                subject=" ".join(subject.splitlines())[:200],
                body="\n".join(lines) + "\n",
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=to,
                connection=portal_connection(),
            ).send()
        except Exception:
            logger.exception("could not mail alert %s", incident.pk)
            ok = False
    if settings.ALERT_WEBHOOK_URL:
        payload = {
            "state": "cleared" if cleared else "opened",
            "rule": incident.rule,
            "subject": incident.subject,
            "summary": incident.summary,
            "value": incident.value,
            "threshold": incident.threshold,
            "opened_at": incident.opened_at.isoformat(),
            "cleared_at": incident.cleared_at.isoformat() if incident.cleared_at else None,
            "text": subject,
        }
        try:
            requests.post(
                settings.ALERT_WEBHOOK_URL, json=payload, timeout=settings.ALERT_WEBHOOK_TIMEOUT
            ).raise_for_status()
        except requests.RequestException:
            logger.exception("could not post alert %s to the webhook", incident.pk)
            ok = False
    return ok


@dataclass
class EvaluationSummary:
    opened: list = field(default_factory=list)
    cleared: list = field(default_factory=list)
    open: int = 0


def evaluate_alerts(*, now: datetime | None = None) -> EvaluationSummary:
    """Open an Incident for each new firing, clear the ones that stopped, and tell operators
    once of each (a failed notification is tried again next evaluation). Safe to run twice or
    concurrently (beat and cron): one open incident per rule and subject (a constraint)."""
    with translation.override(settings.ALERT_LANGUAGE):
        return _evaluate(now or timezone.now())


def _evaluate(now: datetime) -> EvaluationSummary:
    firings = {(f.rule, f.subject): f for f in firing_now(now)}
    summary = EvaluationSummary()
    for incident in Incident.objects.filter(cleared_at__isnull=True):
        firing = firings.pop((incident.rule, incident.subject), None)
        still_open = Incident.objects.filter(pk=incident.pk, cleared_at__isnull=True)
        if firing is None:
            if still_open.update(cleared_at=now):
                summary.cleared.append(incident.pk)
        else:
            Incident.objects.filter(pk=incident.pk).update(
                last_seen_at=now, value=firing.value, summary=firing.summary[:500]
            )
    for firing in firings.values():
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    rule=firing.rule,
                    subject=firing.subject,
                    summary=firing.summary[:500],
                    value=firing.value,
                    threshold=firing.threshold,
                    opened_at=now,
                    last_seen_at=now,
                )
            summary.opened.append(incident.pk)
        except IntegrityError:
            continue  # another evaluator opened it a moment ago
    _send_pending_notifications(now)
    summary.open = Incident.objects.filter(cleared_at__isnull=True).count()
    return summary


def _claim_and_notify(incidents, stamp: str, now: datetime, *, cleared: bool) -> None:
    for incident in incidents.order_by("pk"):
        claim = Incident.objects.filter(pk=incident.pk, **{f"{stamp}__isnull": True})
        if claim.update(**{stamp: now}) and not _notify(incident, cleared=cleared):
            Incident.objects.filter(pk=incident.pk).update(**{stamp: None})


def _send_pending_notifications(now: datetime) -> None:
    """Tell operators of openings and clearings not told yet; claim each with a conditional
    update first, so two evaluators never mail the same incident twice."""
    opened = Incident.objects.filter(opened_notified_at__isnull=True)
    _claim_and_notify(opened, "opened_notified_at", now, cleared=False)
    cleared = Incident.objects.filter(
        cleared_at__isnull=False, cleared_notified_at__isnull=True, opened_notified_at__isnull=False
    )
    _claim_and_notify(cleared, "cleared_notified_at", now, cleared=True)
