"""Admin: the incidents operators were alerted of, open first, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from billing.admin import ViewOnlyAdmin
from ops.models import Incident


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("open")), ("cleared", _("cleared"))]

    def queryset(self, request, queryset):
        if self.value() in ("open", "cleared"):
            return queryset.filter(cleared_at__isnull=self.value() == "open")
        return queryset


@admin.register(Incident)
class IncidentAdmin(ViewOnlyAdmin):
    list_display = ["rule", "subject", "summary", "opened_at", "last_seen_at", "cleared_at", "open"]
    list_filter = [OpenFilter, "rule"]
    search_fields = ["rule", "subject", "summary"]
    date_hierarchy = "opened_at"
    readonly_fields = [f.name for f in Incident._meta.fields]
    # Open incidents first, then the most recent (the change list orders by this, not by
    # get_queryset's order).
    ordering = [F("cleared_at").desc(nulls_first=True), "-opened_at"]

    @admin.display(boolean=True, description=_("open"))
    def open(self, obj: Incident) -> bool:
        return obj.is_open
