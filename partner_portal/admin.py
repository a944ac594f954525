"""Operators see the portal's own records read-only: invitations, login sessions, exports."""

from __future__ import annotations

from django.contrib import admin

from billing.admin import ViewOnlyAdmin

from .models import ExportJob, Invitation, LoginSession


@admin.register(Invitation)
class InvitationAdmin(ViewOnlyAdmin):
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
    list_select_related = ("partner", "invited_by")  # invited_by may be empty: not auto-joined
    search_fields = ("email",)
    exclude = ("token_digest",)


@admin.register(LoginSession)
class LoginSessionAdmin(ViewOnlyAdmin):
    list_display = ("user", "created_at", "ip_address", "user_agent")
    search_fields = ("user__username", "ip_address")


@admin.register(ExportJob)
class ExportJobAdmin(ViewOnlyAdmin):
    list_display = ("partner", "fmt", "status", "rows_done", "rows_total", "created_at")
    list_filter = ("status", "fmt")
