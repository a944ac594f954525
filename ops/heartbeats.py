"""Heartbeats: when beat last ticked, when a poll pass or a draft refresh last finished.

Tasks record theirs through Celery's task signals (no edit of the tasks themselves), beat's own
tick through ops.tasks.beat_heartbeat. Readiness, metrics and alerts read them back. The daily
derived-data check's heartbeat also keeps what the task returned (its counts), for its alert.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ops.models import Heartbeat

logger = logging.getLogger(__name__)

BEAT = "beat"
POLL_PASS = "billing.tasks.poll_all_accounts"
POLL_ACCOUNT = "billing.tasks.poll_account"  # one row per account: "<name>:<account id>"
DRAFT_REFRESH = "billing.tasks.refresh_draft_statements"
RESUME_SENDS = "billing.tasks.resume_sends"
ALERTS = "ops.tasks.evaluate_alerts"
# Its detail holds the counts the check returned: {"rollup_rows": n, "missing_late_changes": m}.
DERIVED_CHECK = "billing.tasks.check_derived_data"
WATCHED_TASKS = frozenset(
    {POLL_PASS, POLL_ACCOUNT, DRAFT_REFRESH, RESUME_SENDS, ALERTS, DERIVED_CHECK}
)


def record(
    name: str, *, now: datetime | None = None, seconds: float | None = None, detail=None
) -> None:
    """Record that `name` finished now (one upsert). Never raises: a heartbeat that cannot be
    written shows as an old heartbeat, which is what an operator must see."""
    try:
        with transaction.atomic():
            Heartbeat.objects.update_or_create(
                name=name,
                defaults={
                    "beat_at": now or timezone.now(),
                    "seconds": seconds,
                    "detail": detail or {},
                },
            )
    except Exception as exc:  # noqa: BLE001 - a heartbeat must never fail the task it follows
        logger.warning("could not record the heartbeat %s: %s", name, exc)


def last(name: str):
    """The Heartbeat row of `name`, or None when it never beat."""
    return Heartbeat.objects.filter(name=name).first()


def age_seconds(name: str, now: datetime) -> float | None:
    """Seconds since `name` last beat; None when it never did."""
    beat = last(name)
    return None if beat is None else max((now - beat.beat_at).total_seconds(), 0.0)


# --- Celery signals -------------------------------------------------------------------------

_started: dict[str, float] = {}  # task id -> monotonic start, in the worker process running it


def _on_prerun(task_id=None, task=None, **_kwargs) -> None:
    if getattr(task, "name", None) in WATCHED_TASKS and task_id:
        _started[task_id] = time.monotonic()


def _on_postrun(task_id=None, task=None, args=None, retval=None, state=None, **_kwargs) -> None:
    name = getattr(task, "name", None)
    if name not in WATCHED_TASKS:
        return
    started = _started.pop(task_id, None)
    if state != "SUCCESS":
        return
    now = timezone.now()
    seconds = None if started is None else time.monotonic() - started
    detail: dict = {}
    args = list(args or ())
    if name == POLL_ACCOUNT and args:
        name = f"{POLL_ACCOUNT}:{args[0]}"
    if name == DRAFT_REFRESH and len(args) >= 3:
        # The lag: from the status change that asked for the refresh to the rebuilt draft.
        try:
            requested = datetime.fromisoformat(str(args[2]))
            detail["lag_seconds"] = max((now - requested).total_seconds(), 0.0)
        except ValueError:
            pass
    if name == DERIVED_CHECK and isinstance(retval, dict):
        detail.update(retval)  # what the check found: the alerts read it (billing imports no ops)
    record(name, now=now, seconds=seconds, detail=detail)


def connect_task_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="ops.heartbeats.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="ops.heartbeats.postrun")
