"""`Idempotency-Key` on a whole POST (docs/api.md): the first 2xx answer is kept and replayed.

A key whose first request raised may be tried again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import ClientAccount

from .models import IdempotentRequest

# A first request that has shown no answer for this long is taken to have died.
STALE_AFTER = timedelta(minutes=10)
# How long a key is remembered; older records are dropped when new ones are written.
KEEP_FOR = timedelta(days=7)


class IdempotencyConflict(Exception):
    """The key was used for a different request body."""


class IdempotencyInProgress(Exception):
    """The first request with this key is still running: ask again after `retry_after` s."""

    retry_after = 2  # the answer's Retry-After


def run_once(
    *,
    account: ClientAccount,
    operation: str,
    key: str,
    payload: dict,
    run: Callable[[], tuple[int, dict]],
) -> tuple[int, dict, bool]:
    """(status, body, replayed): `run()` once per (account, operation, key).

    Raises IdempotencyConflict for the key with another body, IdempotencyInProgress while the
    key's first request still runs (for up to STALE_AFTER; then this call takes it over).
    """
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    now = timezone.now()
    IdempotentRequest.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            record = IdempotentRequest.objects.create(
                account=account, operation=operation, key=key, request_digest=digest
            )
    except IntegrityError:
        record = IdempotentRequest.objects.get(account=account, operation=operation, key=key)
        if record.request_digest != digest:
            raise IdempotencyConflict(
                "This Idempotency-Key was used for a different request; use a new key."
            ) from None
        if record.status_code is not None:
            return record.status_code, record.body, True
        taken = IdempotentRequest.objects.filter(
            pk=record.pk, status_code__isnull=True, created_at__lt=now - STALE_AFTER
        ).update(created_at=now)
        if not taken:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            ) from None
    try:
        status, body = run()
        # Stored as JSON and answered the same way the first time as on every replay.
        body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    except BaseException:
        IdempotentRequest.objects.filter(pk=record.pk).delete()
        raise
    # Both callers answer 2xx or raise (an ApiError): only a success is kept.
    IdempotentRequest.objects.filter(pk=record.pk).update(status_code=status, body=body)
    return status, body, False
