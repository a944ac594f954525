"""Admin: the incidents operators were alerted of, open first, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ops.models import Incident


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("open")), ("cleared", _("cleared"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(cleared_at__isnull=True)
        if self.value() == "cleared":
            return queryset.filter(cleared_at__isnull=False)
        return queryset


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["rule", "subject", "summary", "opened_at", "last_seen_at", "cleared_at", "open"]
    list_filter = [OpenFilter, "rule"]
    search_fields = ["rule", "subject", "summary"]
    date_hierarchy = "opened_at"
    readonly_fields = [f.name for f in Incident._meta.fields]

    @admin.display(boolean=True, description=_("open"))
    def open(self, obj: Incident) -> bool:
        return obj.is_open

    def get_queryset(self, request):
        # Open incidents first, then the most recent.
        from django.db.models import F

        return (
            super()
            .get_queryset(request)
            .order_by(F("cleared_at").desc(nulls_first=True), "-opened_at")
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
