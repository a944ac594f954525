"""API keys (one client account each, stored hashed) and remembered idempotent answers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import ClientAccount


class ApiKey(models.Model):
    """A secret that lets partner software act for one client account. Only `prefix` (the public
    part, to find the row) and a SHA-256 of the whole key are kept: the key is shown once."""

    account = models.ForeignKey(
        ClientAccount,
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("client account"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = models.CharField(_("revoked by"), max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        indexes = [
            # The portal's key list of one partner's accounts.
            models.Index(fields=["account", "created_at"], name="api_key_account_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotentRequest(models.Model):
    """The answer to a POST sent with an `Idempotency-Key`, replayed when the key comes again."""

    account = models.ForeignKey(ClientAccount, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=64)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: in progress
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "operation", "key"], name="idempotent_request_unique"
            ),
            models.CheckConstraint(condition=~Q(key=""), name="idempotent_request_key_given"),
        ]
        indexes = [
            # Clean-up of old records.
            models.Index(fields=["created_at"], name="idempotent_request_created"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"
