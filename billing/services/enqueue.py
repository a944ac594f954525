"""The one way services queue Celery tasks (docs/architecture.md, "No import cycles").

Each task is looked up by name in the Celery app's registry rather than imported, even lazily
(import-linter counts a function-local import: the `acyclic` contract). Unlike `send_task`,
`.delay` on the registered task runs eagerly in tests and a replaced `delay` sees the call.
These queue at once: wrap them in transaction.on_commit for "once the rows are committed".
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app

DELIVER = "billing.tasks.deliver_messages"
REFRESH_DRAFTS = "billing.tasks.refresh_draft_statements"


def deliver(message_ids: Sequence[int]) -> None:
    """Queue the send task for these outbox messages (billing/services/delivery.py)."""
    current_app.tasks[DELIVER].delay(list(message_ids))


def refresh_drafts(partner_id: int, months: Sequence[str], requested_at: str) -> None:
    """Queue the rebuild of a partner's drafts of these months ("YYYY-MM") since `requested_at`."""
    current_app.tasks[REFRESH_DRAFTS].delay(partner_id, list(months), requested_at)
