"""API keys: create (shown once), revoke, and find the key a request presents.

A key reads `ppk_<prefix>_<secret>`; the prefix finds the row, a SHA-256 of the whole key
proves it (the secret has 256 random bits, so a fast hash is enough). Imports no views.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import AuditAction, AuditEntry, ClientAccount

from .models import ApiKey

KEY_FORMAT = re.compile(r"^ppk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiKeyError(ValueError):
    """The key cannot be created or changed as asked."""


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _audit(key: ApiKey, action: str, actor: str, **detail: str) -> None:
    AuditEntry.objects.create(
        partner_id=key.account.partner_id,
        action=action,
        actor=actor,
        detail={"key": key.pk, "prefix": key.prefix, "name": key.name, **detail},
    )


@transaction.atomic
def create_api_key(*, account: ClientAccount, name: str, actor: str) -> tuple[ApiKey, str]:
    """Create a key for `account`; returns the row and the key, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("Give the key a name, e.g. the installation that will use it.")
    if len(name) > 100:
        raise ApiKeyError("The name is longer than 100 characters.")
    while True:
        prefix = secrets.token_hex(6)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    raw = f"ppk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        account=account, name=name, prefix=prefix, key_hash=hash_key(raw), created_by=actor
    )
    _audit(key, AuditAction.API_KEY_CREATED, actor, account=account.name)
    return key, raw


@transaction.atomic
def revoke_api_key(*, key: ApiKey, actor: str, now: datetime | None = None) -> bool:
    """Revoke `key` at once; False (and nothing written) when it was already revoked."""
    now = now or timezone.now()
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor
    )
    if changed:
        key.revoked_at, key.revoked_by = now, actor
        _audit(key, AuditAction.API_KEY_REVOKED, actor)
    return bool(changed)


def key_for(raw: str | None, *, now: datetime | None = None) -> ApiKey | None:
    """The active key `raw` names (with its account and partner), else None; notes its use."""
    match = KEY_FORMAT.match(raw or "")
    if not match:
        return None
    key = (
        ApiKey.objects.select_related("account__partner")
        .filter(prefix=match.group(1), revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
        return None
    now = now or timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def keys_for_partner(partner):
    """The keys of a partner's client accounts, newest first (the portal's list)."""
    return ApiKey.objects.filter(account__partner=partner).select_related("account")
