"""django-tables2 tables of the portal."""

from __future__ import annotations

import django_tables2 as tables
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.models import Message
from billing.statuses import Status

from .paging import page_size


class MessageTable(tables.Table):
    created_at = tables.DateTimeColumn(
        verbose_name=_("Created"), format="SHORT_DATETIME_FORMAT", linkify=False
    )
    account = tables.Column(verbose_name=_("Client account"), order_by=("account__name",))
    phone = tables.Column(verbose_name=_("Phone"))
    sender = tables.Column(verbose_name=_("Sender"))
    message_type = tables.Column(verbose_name=_("Type"))
    channel = tables.Column(verbose_name=_("Channel"))
    parts = tables.Column(
        verbose_name=_("Parts"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    status = tables.Column(verbose_name=_("Status"))
    dispatched_at = tables.DateTimeColumn(
        verbose_name=_("Dispatched"), format="SHORT_DATETIME_FORMAT"
    )

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

    def paginate(self, paginator_class=Paginator, per_page=None, page=1, *args, **kwargs):
        # ?per_page is honoured only up to PORTAL_MAX_PAGE_SIZE.
        return super().paginate(paginator_class, page_size(per_page), page, *args, **kwargs)

    def render_dispatched_at(self, record, value):
        # An unsent message was never dispatched (its billing month uses the queued time).
        if record.status == Status.UNSENT:
            return "—"
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "—"

    def render_phone(self, record, value):
        url = reverse("message_detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_status(self, record, value):
        return format_html(
            '<span class="status status-{}">{}</span>', record.status, record.get_status_display()
        )
