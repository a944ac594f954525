"""Beat tasks of the operations app: beat's own heartbeat and the alert evaluation."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from ops import alerts, counters, heartbeats


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Record that beat ticked (and a worker ran what it sent): readiness and alerts read it."""
    heartbeats.record(heartbeats.BEAT)


@shared_task(acks_late=True, ignore_result=True)
def evaluate_alerts() -> dict:
    """Evaluate the alert rules, mail/post new and cleared incidents; prune old counter rows."""
    now = timezone.now()
    summary = alerts.evaluate_alerts(now=now)
    counters.prune(now=now)
    return {"opened": summary.opened, "cleared": summary.cleared, "open": summary.open}
