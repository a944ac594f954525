"""django-tables2 tables of the portal."""

from __future__ import annotations

import inspect

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from billing.models import Message
from billing.statuses import COUNTED, BillingClass, IcProof


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
        template_name = "portal/message_table.html"
        attrs = {"class": "data-table"}
        empty_text = _("No messages match these filters.")
        order_by = ("-created_at",)
        orderable = False  # every column but created_at: sorting 4M rows by phone is no page

    def html_rows(self) -> list[SafeString]:
        """The body's rows as HTML: the cells django-tables2 renders (choice fields in words,
        empty values as the column's default, the render_* methods below), made once per row.

        django-tables2's own per-cell path inspects each render method's signature, translates
        the header and each choice word again for every cell and renders a template node per
        cell: most of the page's time at 50 rows (docs/scale.md, "Page speed")."""
        cells = [self._cell_maker(column) for column in self.columns]
        rows = []
        for index, record in enumerate(self.data):
            parts = [f'<tr class="{"odd" if index % 2 else "even"}">']
            for start, make in cells:
                parts.append(start)
                parts.append(make(record))
                parts.append("</td>")
            parts.append("</tr>")
            rows.append(mark_safe("".join(parts)))  # noqa: S308 - every cell escaped below
        return rows

    def _cell_maker(self, column):
        """(the opening <td>, a function record -> the cell's escaped HTML) for a bound column."""
        name = column.name
        start = (
            f'<td {column.attrs["td"].as_html()} data-col="{conditional_escape(name)}"'
            f' data-label="{conditional_escape(column.header)}">'
        )
        default = conditional_escape(column.default)
        empty = column.column.empty_values
        try:
            field = Message._meta.get_field(name)
        except FieldDoesNotExist:
            field = None  # a column of the table's own making
        choices = field.flatchoices if field is not None and field.choices else None
        words = {value: str(label) for value, label in choices} if choices else None
        render = getattr(self, f"render_{name}", None)
        wanted = set(inspect.signature(render).parameters) if render else set()

        def make(record) -> str:
            value = getattr(record, name)
            if words is not None:
                value = words.get(value, value)
            if value in empty:
                return default
            if render is None:
                return conditional_escape(localize(value))
            arguments = {"record": record, "value": value}
            return conditional_escape(render(**{key: arguments[key] for key in wanted}))

        return start, make

    def render_created_at(self, value):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")

    def render_dispatched_at(self, record, value):
        # Only a counted message (sent, delivered, undelivered) was dispatched; pending and
        # unsent ones show none (their billing month uses the queued time).
        if record.status not in COUNTED:
            return "—"
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "—"

    def render_phone(self, record, value):
        url = reverse("message_detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_status(self, record, value):
        # `value` is the status in words already (the column shows the field's choices).
        html = format_html('<span class="status status-{}">{}</span>', record.status, value)
        if record.billing_class == BillingClass.UNCONFIRMED:
            html += format_html(
                ' <span class="badge badge-unconfirmed">{}</span>', _("not yet confirmed")
            )
        elif record.ic_proof == IcProof.REFUTED:
            html += format_html(' <span class="badge badge-refuted">{}</span>', _("ic refuted"))
        difference = record.claim_difference
        if difference:
            html += format_html(
                ' <span class="badge badge-claim" title="{}">{}</span>',
                difference,
                _("claim differs"),
            )
        return html
