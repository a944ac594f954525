"""django-tables2 tables of the portal."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from billing.models import Message

from .message_columns import PAGE_COLUMNS, Cell, MessageColumn, choice_words


class DeclaredColumn(tables.Column):
    """A column of partner_portal.message_columns: its heading, options and cells from there.
    Plain columns: a DateTimeColumn renders a template per cell, a third of the page's time at
    50 rows (docs/scale.md)."""

    def __init__(self, declared: MessageColumn) -> None:
        numeric = {"td": {"class": "num"}, "th": {"class": "num"}}
        super().__init__(
            verbose_name=declared.heading,
            attrs=numeric if declared.cell is Cell.NUMBER else None,
            **declared.page_options,
        )
        self.declared = declared

    def render(self, record, value):
        return self.declared.page_text(record, value)


class MessageTable(tables.Table):
    """One keyset page of messages (partner_portal.pagination): the view hands over the page's
    rows already in order. Only orderings an index serves are sortable (docs/scale.md)."""

    class Meta:
        model = Message
        fields = tuple(column.key for column in PAGE_COLUMNS)  # made DeclaredColumns below
        template_name = "portal/message_table.html"
        attrs = {"class": "data-table"}
        empty_text = _("No messages match these filters.")
        order_by = ("-created_at",)
        orderable = False  # every column but created_at: sorting 4M rows by phone is no page

    def html_rows(self) -> list[SafeString]:
        """The body's rows as HTML, the cells django-tables2 would render, made once per row: its
        own per-cell path was most of the page's time at 50 rows (docs/scale.md, "Page speed")."""
        cells = [self._cell_maker(column) for column in self.columns]
        rows = []
        for index, record in enumerate(self.data):
            row = "".join(f"{start}{make(record)}</td>" for start, make in cells)
            tr = f'<tr class="{"odd" if index % 2 else "even"}">{row}</tr>'
            rows.append(mark_safe(tr))  # noqa: S308 - every cell escaped below
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
        declared = column.column.declared
        words = choice_words(declared.field) if declared.cell is Cell.WORDS else None

        def make(record) -> str:
            value = getattr(record, name)
            if words is not None:
                value = words.get(value, value)
            if value in empty:
                return default
            return conditional_escape(declared.page_text(record, value))

        return start, make


# The page's columns, in the declaration's order (django-tables2's way of adding columns to a
# table class: Meta.fields made them, in this order, from the model).
MessageTable.base_columns.update({column.key: DeclaredColumn(column) for column in PAGE_COLUMNS})
