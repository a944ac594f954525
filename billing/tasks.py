"""Celery tasks: thin wrappers over services, safe under acks_late redelivery (idempotent).
Services queue them only through services/enqueue.py; the names stay `billing.tasks.<function>`
(beat's rows and queued tasks use them).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from celery import shared_task

from billing.commission import parse_period
from billing.models import ClientAccount, Partner
from billing.services import delivery, derived, enqueue, polling, retention, statements

logger = logging.getLogger(__name__)


@shared_task(name=enqueue.DELIVER, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_messages(message_ids: list[int]) -> dict:
    """Send (or finish sending) outbox messages; a redelivered or duplicate task is harmless:
    the messages are claimed with a lease and anything that may have been sent is looked up."""
    summary = delivery.deliver(message_ids)
    return {"claimed": summary.claimed, "busy": summary.busy, "settled": summary.settled}


@shared_task(acks_late=True, ignore_result=True)
def resume_sends() -> int:
    """Queue the send task again for outbox messages no worker holds (beat, every minute)."""
    groups = delivery.messages_to_resume()
    for pks in groups:
        deliver_messages.delay(pks)
    return sum(len(pks) for pks in groups)


@shared_task(acks_late=True, ignore_result=True)
def poll_all_accounts() -> int:
    """Fan out one poll task per active account with work (one query); a second is harmless."""
    account_ids = polling.accounts_to_poll()
    for account_id in account_ids:
        poll_account.delay(account_id)
    return len(account_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def poll_account(account_id: int) -> dict:
    """One pass over one account; errors of its batches are counted, not raised."""
    account = (
        ClientAccount.objects.filter(pk=account_id, is_active=True)
        .select_related("partner")
        .first()
    )
    if account is None:
        return {"skipped": "no such active account"}
    summary = polling.poll_account(account)
    logger.info("poll of %s: %s", account.name, summary.as_line())
    figures = dataclasses.asdict(summary)
    del figures["error_messages"]
    return figures | {"by_status": dict(summary.by_status)}


@shared_task(name=enqueue.REFRESH_DRAFTS, acks_late=True, ignore_result=True)
def refresh_draft_statements(partner_id: int, periods: list[str], requested_at: str) -> int:
    """Rebuild a partner's drafts after status changes (services/derived.py, on commit); drafts
    built after `requested_at` are skipped: a burst of requests costs one rebuild."""
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return 0
    rebuilt = statements.refresh_draft_statements(
        partner,
        [parse_period(p) for p in periods],
        requested_at=datetime.fromisoformat(requested_at),
    )
    return len(rebuilt)


@shared_task(acks_late=True, ignore_result=True)
def apply_retention() -> int:
    """Reduce phones and texts past retention (beat, daily); an overlapping run is harmless."""
    return retention.apply_retention().messages


@shared_task(acks_late=True, ignore_result=True)
def check_derived_data() -> dict:
    """What `manage.py rollups --check` finds, daily (beat). Reads only. The counts it returns
    are kept with its heartbeat (ops), which alerts on them."""
    found = derived.check()
    counts = found.counts()
    if not found.clean:
        logger.warning("derived data differ from the messages: %s", counts)
    return counts
