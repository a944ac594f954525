"""The columns of the messages table and of its exports, declared once (docs/portal.md, "Exports").

`COLUMNS` is in the exports' order; the page (`page_text`) shows those `on_page`, the exports have
PostgreSQL write every cell (`sql_cell`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import Message
from billing.statuses import COUNTED, BillingClass, IcProof

from .labels import REASONS


class Cell(enum.Enum):
    """What a column's cells hold: how the page and the files write them."""

    TEXT = "text"
    IDENTIFIER = "identifier"  # text that looks like a number (phones, ids): "@" text in XLSX
    NUMBER = "number"  # a count: a number in XLSX, right-aligned on the page
    TIME = "time"  # an instant, shown as Europe/Warsaw wall time; an Excel date in XLSX
    WORDS = "words"  # a code, shown as the words of the field's choices


class SqlCells:
    """What a column's export cell is made of, in PostgreSQL: the inner layer's columns (`m`,
    Django's own SQL of the filtered messages), the parameters (collected in order), the
    active language's words and a time as `time_sql` (`{}` the column, `%s` the time zone)."""

    def __init__(self, time_sql: str, zone: str) -> None:
        self.params: list = []
        self.time_sql = time_sql
        self.zone = zone

    def column(self, name: str) -> str:
        return f"m.{inner_name(name)}"

    def time(self, name: str) -> str:
        self.params.append(self.zone)
        return self.time_sql.format(self.column(name))

    def words(self, name: str, words: Mapping[str, str]) -> str:
        """CASE column WHEN code THEN word ... ELSE column END, the words as parameters."""
        column = self.column(name)
        for code, word in words.items():
            self.params.extend([code, word])
        branches = " ".join(["WHEN %s THEN %s"] * len(words))
        return f"(CASE {column} {branches} ELSE {column} END)"

    def is_counted(self) -> str:
        """The condition "the message counts for commission" (statuses.COUNTED)."""
        self.params.extend(sorted(COUNTED))
        return f"{self.column('status')} IN ({', '.join(['%s'] * len(COUNTED))})"


@dataclass(frozen=True)
class MessageColumn:
    key: str  # the column's name (the page reads the record's attribute of that name)
    heading: Promise
    field: str  # the Message field (a values() path) the exports read
    cell: Cell = Cell.TEXT
    on_page: bool = True  # the exports have every column, the page those with on_page
    counted_only: bool = False  # blank unless the message counts (dispatch times)
    reads: tuple[str, ...] = ()  # further fields the export cell reads
    page_html: Callable | None = None  # (record, value) -> the page cell, when not by kind
    sql: Callable[[SqlCells], str] | None = None  # the export cell, when not by kind
    page_options: Mapping = field(default_factory=dict)  # django-tables2 Column options

    def __deepcopy__(self, memo) -> MessageColumn:
        return self  # a declaration: django-tables2 copies its columns for every table

    def page_text(self, record, value):
        """The page's cell of a value that is not empty (a code already in words), unescaped."""
        if self.counted_only and record.status not in COUNTED:
            return "—"
        if self.page_html is not None:
            return self.page_html(record, value)
        if self.cell is Cell.TIME:
            return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return localize(value)

    def sql_cell(self, cells: SqlCells) -> str:
        """The export's cell as a PostgreSQL text expression (NULL or '' when blank)."""
        condition = cells.is_counted() if self.counted_only else None
        if self.sql is not None:
            cell = self.sql(cells)
        elif self.cell is Cell.TIME:
            cell = cells.time(self.field)
        elif self.cell is Cell.NUMBER:
            cell = f"{cells.column(self.field)}::text"
        elif self.cell is Cell.WORDS:
            cell = cells.words(self.field, choice_words(self.field))
        else:
            cell = cells.column(self.field)
        return f"(CASE WHEN {condition} THEN {cell} END)" if condition else cell


def choice_words(name: str) -> dict[str, str]:
    """The words of every code of a Message field with choices, in the active language."""
    return {value: str(label) for value, label in Message._meta.get_field(name).flatchoices}


def inner_name(name: str) -> str:
    """The name of a field's column in the exports' inner SELECT (`account__name` is
    annotated as `export_account_name`)."""
    return f"export_{name.replace('__', '_')}" if "__" in name else name


def _phone_link(record, value):
    return format_html('<a href="{}">{}</a>', reverse("message_detail", args=[record.pk]), value)


def _status_badges(record, value):
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


def _counted_words(cells: SqlCells) -> str:
    condition = cells.is_counted()
    cells.params.extend([gettext("yes"), gettext("no")])
    return f"(CASE WHEN {condition} THEN %s ELSE %s END)"


def _reason_or_error(cells: SqlCells) -> str:
    """SerwerSMS's reason in words; without a reason, the error our side recorded."""
    reason = cells.words("reason", {code: str(label) for code, label in REASONS.items()})
    return (
        f"(CASE WHEN {cells.column('reason')} = '' THEN {cells.column('error_message')}"
        f" ELSE {reason} END)"
    )


COLUMNS: tuple[MessageColumn, ...] = (
    MessageColumn(
        "created_at", _("Created"), "created_at", Cell.TIME, page_options={"orderable": True}
    ),
    MessageColumn(
        "account",
        _("Client account"),
        "account__name",
        page_options={"order_by": ("account__name",)},
    ),
    MessageColumn("phone", _("Phone"), "phone", Cell.IDENTIFIER, page_html=_phone_link),
    MessageColumn("sender", _("Sender"), "sender"),
    MessageColumn("message_type", _("Type"), "message_type", Cell.WORDS),
    MessageColumn("channel", _("Channel"), "channel", Cell.WORDS),
    MessageColumn("parts", _("Parts"), "parts", Cell.NUMBER),
    MessageColumn("status", _("Status"), "status", Cell.WORDS, page_html=_status_badges),
    MessageColumn("counted", _("Counted"), "status", on_page=False, sql=_counted_words),
    # Only a counted message (sent, delivered, undelivered) was dispatched; pending and unsent
    # ones show none (their billing month uses the queued or created time).
    MessageColumn("dispatched_at", _("Dispatched"), "dispatched_at", Cell.TIME, counted_only=True),
    MessageColumn("delivered_at", _("Delivered"), "delivered_at", Cell.TIME, on_page=False),
    MessageColumn(
        "serwersms_id", _("SerwerSMS id"), "serwersms_id", Cell.IDENTIFIER, on_page=False
    ),
    MessageColumn("unique_id", _("Unique id"), "unique_id", Cell.IDENTIFIER, on_page=False),
    MessageColumn(
        "reason",
        _("Reason"),
        "reason",
        on_page=False,
        reads=("error_message",),
        sql=_reason_or_error,
    ),
)

PAGE_COLUMNS = tuple(column for column in COLUMNS if column.on_page)


def headings() -> list[str]:
    """The exports' heading row in the active language."""
    return [str(column.heading) for column in COLUMNS]


def export_fields() -> list[str]:
    """Every field the export cells read, once each, in the columns' order."""
    return list(dict.fromkeys(name for column in COLUMNS for name in (column.field, *column.reads)))
