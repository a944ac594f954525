"""API keys in the operators' admin: create (the key is shown once), list, revoke."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from billing.admin import denied

from .keys import create_api_key, revoke_api_key
from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "account", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "account__partner"]
    search_fields = ["name", "prefix", "account__name", "account__partner__name"]
    list_select_related = ["account"]
    readonly_fields = [
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]
    has_delete_permission = denied  # revoke instead: the key's history stays

    def get_readonly_fields(self, request, obj=None):
        # Adding asks for the account and the name (the editable fields); a key never changes.
        return [] if obj is None else ["account", "name", *self.readonly_fields]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        key, raw = create_api_key(
            account=obj.account, name=obj.name, actor=request.user.get_username()
        )
        obj.pk, obj.prefix = key.pk, key.prefix
        obj.created_at, obj.created_by = key.created_at, key.created_by
        obj._state.adding = False
        self.message_user(
            request,
            _("The new API key is %(key)s — copy it now: it is never shown again.") % {"key": raw},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke(self, request, queryset):
        count = sum(
            revoke_api_key(key=key, actor=request.user.get_username())
            for key in queryset.select_related("account")
        )
        self.message_user(request, _("%(count)d API keys revoked.") % {"count": count})
