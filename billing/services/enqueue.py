"""The one way services queue Celery tasks (the HackSoft pair: tasks import services, services
queue tasks through here, so billing.tasks -> billing.services is the only import between them).

Each function looks its task up by name in the Celery app's registry (`current_app.tasks`)
rather than importing billing.tasks, even lazily: import-linter (grimp) counts a function-local
import as an import, and billing.services -> billing.tasks -> billing.services would be a
cycle (the `acyclic` contract in pyproject.toml). The registry lookup keeps what tests rely on,
which `current_app.send_task` would not: `.delay` runs the task in-process under
task_always_eager, and a test that replaces a task's `delay` sees the call. billing.apps
imports billing.tasks at start-up, so the tasks are registered in every Django process (web,
worker, commands); billing.tasks names its tasks with the constants below.

Callers decide when: these queue at once (wrap them in transaction.on_commit for "once the rows
are committed").
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app

DELIVER = "billing.tasks.deliver_messages"
REFRESH_DRAFTS = "billing.tasks.refresh_draft_statements"


def _task(name: str):
    return current_app.tasks[name]


def deliver(message_ids: Sequence[int]) -> None:
    """Queue the send task for these outbox messages (billing/services/delivery.py)."""
    _task(DELIVER).delay(list(message_ids))


def refresh_drafts(partner_id: int, months: Sequence[str], requested_at: str) -> None:
    """Queue the rebuild of a partner's drafts of these months ("YYYY-MM"); drafts built after
    `requested_at` (ISO time) are skipped by the task."""
    _task(REFRESH_DRAFTS).delay(partner_id, list(months), requested_at)
