"""Operators see the portal's own records read-only: invitations, login sessions, exports."""

from __future__ import annotations

from django.contrib import admin

from .models import ExportJob, Invitation, LoginSession


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(_ReadOnly):
    list_display = (
        "email",
        "partner",
        "role",
        "invited_by",
        "created_at",
        "accepted_at",
        "revoked_at",
    )
    list_filter = ("partner", "role")
    search_fields = ("email",)
    exclude = ("token_digest",)


@admin.register(LoginSession)
class LoginSessionAdmin(_ReadOnly):
    list_display = ("user", "created_at", "ip_address", "user_agent")
    search_fields = ("user__username", "ip_address")


@admin.register(ExportJob)
class ExportJobAdmin(_ReadOnly):
    list_display = ("partner", "fmt", "status", "rows_done", "rows_total", "created_at")
    list_filter = ("status", "fmt")
