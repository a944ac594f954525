"""Services queue tasks by name (billing/services/enqueue.py): every process knows those names,
not only one that happened to import billing.tasks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing import tasks
from billing.services import enqueue

ROOT = Path(__file__).resolve().parents[3]
NAMES = [enqueue.DELIVER, enqueue.REFRESH_DRAFTS]
PROBE = (
    "from celery import current_app; from billing.services import enqueue; "
    "print('registered:', all(n in current_app.tasks for n in (enqueue.DELIVER,"
    " enqueue.REFRESH_DRAFTS)))"
)


def test_a_fresh_django_process_knows_the_tasks_services_queue():
    # A web process never imports billing.tasks itself: billing.apps registers the tasks.
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", PROBE],
        cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "registered: True" in done.stdout


@pytest.mark.django_db
def test_refresh_drafts_queues_the_refresh_task(queued_refreshes):
    enqueue.refresh_drafts(999_999, ["2025-03"], "2025-03-31T12:00:00+00:00")
    assert queued_refreshes == [(999_999, ["2025-03"], "2025-03-31T12:00:00+00:00")]


def test_the_names_are_the_tasks_names():
    assert [tasks.deliver_messages.name, tasks.refresh_draft_statements.name] == NAMES
