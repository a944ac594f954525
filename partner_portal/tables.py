"""django-tables2 tables of the portal."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.models import Message


class MessageTable(tables.Table):
    """One keyset page of messages (partner_portal.pagination): the view hands over the page's
    rows already in order. Only orderings an index serves are sortable (docs/scale.md)."""

    # Plain columns with render_* below: a DateTimeColumn renders a template per cell, a third
    # of the page's time at 50 rows (docs/scale.md).
    created_at = tables.Column(verbose_name=_("Created"), orderable=True)
    account = tables.Column(verbose_name=_("Client account"), order_by=("account__name",))
    phone = tables.Column(verbose_name=_("Phone"))
    sender = tables.Column(verbose_name=_("Sender"))
    message_type = tables.Column(verbose_name=_("Type"))
    channel = tables.Column(verbose_name=_("Channel"))
    parts = tables.Column(
        verbose_name=_("Parts"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    status = tables.Column(verbose_name=_("Status"))
    dispatched_at = tables.Column(verbose_name=_("Dispatched"))

    class Meta:
        model = Message
        fields = (
            "created_at",
            "account",
            "phone",
            "sender",
            "message_type",
            "channel",
            "parts",
            "status",
            "dispatched_at",
        )
        template_name = "portal/table.html"
        attrs = {"class": "data-table"}
        empty_text = _("No messages match these filters.")
        order_by = ("-created_at",)
        orderable = False  # every column but created_at: sorting 4M rows by phone is no page

    def render_created_at(self, value):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")

    def render_dispatched_at(self, record, value):
        # Only a counted message (sent, delivered, undelivered) was dispatched; pending and
        # unsent ones show none (their billing month uses the queued time).
        if not record.is_counted:
            return "—"
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "—"

    def render_phone(self, record, value):
        url = reverse("message_detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_status(self, record, value):
        return format_html(
            '<span class="status status-{}">{}</span>', record.status, record.get_status_display()
        )
