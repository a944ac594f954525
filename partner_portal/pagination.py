"""Keyset (cursor) pages for the messages table: no OFFSET, no COUNT over every matching row.

The (partner, created_at, id) index answers page one and page ten thousand in the same time
(docs/scale.md, "Keyset pages"); only indexed orderings are offered.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from billing.models import Message

# The orderings the table offers: each is served by an index (docs/scale.md). Keys are the
# table's `sort` values; "created_at" ascending, "-created_at" newest first (the default).
ORDERINGS = ("-created_at", "created_at")
DEFAULT_ORDERING = "-created_at"
PER_PAGE_CHOICES = (25, 50, 100)  # offered as links; any ?per_page up to the cap works
DEFAULT_PER_PAGE = 50
COUNT_CAP = 10_000  # rows counted exactly at most; past it the summary is an estimate
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # cursors count microseconds from it


def per_page_from(value: str | None) -> int:
    """`per_page` from the query string clamped to 1..PORTAL_MAX_PAGE_SIZE; missing or not a
    number gives PORTAL_PAGE_SIZE."""
    try:
        return max(1, min(int(value), settings.PORTAL_MAX_PAGE_SIZE))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return settings.PORTAL_PAGE_SIZE


@dataclass(frozen=True)
class Cursor:
    """A position in one ordering: the (created_at, id) of the row next to it."""

    ordering: str
    created_at: dt.datetime
    pk: int

    def encode(self) -> str:
        micros = int(self.created_at.timestamp() * 1_000_000)
        return f"{'d' if self.ordering.startswith('-') else 'a'}{micros}_{self.pk}"

    @classmethod
    def decode(cls, value: str | None, ordering: str) -> Cursor | None:
        """The cursor in `value` if it is well formed and belongs to `ordering`, else None."""
        # Decimal digits only: str.isdigit() also passes "²", and lstrip("-") "--5", which int()
        # refuses (a 500).
        match = re.fullmatch(r"([ad])(-?\d+)_(\d+)", value or "")
        if not match or len(value) > 40 or match[1] != ("d" if ordering.startswith("-") else "a"):
            return None
        try:
            created_at = EPOCH + dt.timedelta(microseconds=int(match[2]))
        except OverflowError:
            return None
        return cls(ordering, created_at, int(match[3]))

    @classmethod
    def of(cls, message: Message, ordering: str) -> Cursor:
        return cls(ordering, message.created_at, message.pk)


def _beyond(cursor: Cursor, descending: bool) -> Q:
    """Rows after the cursor in the given direction, written so the index range is used:
    created_at <= t AND (created_at < t OR id < pk) for a descending walk."""
    lt, lte = ("lt", "lte") if descending else ("gt", "gte")
    return Q(**{f"created_at__{lte}": cursor.created_at}) & (
        Q(**{f"created_at__{lt}": cursor.created_at}) | Q(**{f"pk__{lt}": cursor.pk})
    )


@dataclass
class KeysetPage:
    rows: list[Message]
    ordering: str
    per_page: int
    next_cursor: str | None = None
    previous_cursor: str | None = None

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None

    @classmethod
    def of(cls, rows, ordering, per_page, *, has_next: bool, has_previous: bool) -> KeysetPage:
        """The page of `rows`, with the cursor of an end where more rows lie beyond it."""
        return cls(
            rows,
            ordering,
            per_page,
            next_cursor=Cursor.of(rows[-1], ordering).encode() if has_next else None,
            previous_cursor=Cursor.of(rows[0], ordering).encode() if has_previous else None,
        )


def keyset_page(
    queryset: QuerySet[Message],
    *,
    ordering: str | None = DEFAULT_ORDERING,
    after: str | None = None,
    before: str | None = None,
    per_page: int = DEFAULT_PER_PAGE,
) -> KeysetPage:
    """One page of `queryset` in `ordering`, after (or before) a cursor from a previous page;
    an unknown or foreign cursor gives the first page. Two queries at most (a `before` page that
    reaches the start is fetched again as the first page)."""
    ordering = ordering if ordering in ORDERINGS else DEFAULT_ORDERING
    descending = ordering.startswith("-")
    forward = ("-created_at", "-id") if descending else ("created_at", "id")
    backward = ("created_at", "id") if descending else ("-created_at", "-id")
    after_cursor = Cursor.decode(after, ordering)
    before_cursor = None if after_cursor else Cursor.decode(before, ordering)

    if before_cursor is not None:
        earlier = queryset.filter(_beyond(before_cursor, not descending)).order_by(*backward)
        rows = list(earlier[: per_page + 1])
        if len(rows) > per_page:
            rows = rows[:per_page][::-1]
            return KeysetPage.of(rows, ordering, per_page, has_next=True, has_previous=True)
        after_cursor = None  # back at the start: show the first page

    narrowed = queryset.filter(_beyond(after_cursor, descending)) if after_cursor else queryset
    rows = list(narrowed.order_by(*forward)[: per_page + 1])
    return KeysetPage.of(
        rows[:per_page],
        ordering,
        per_page,
        has_next=len(rows) > per_page,
        has_previous=bool(after_cursor and rows),
    )


@dataclass(frozen=True)
class Summary:
    """How many messages match, and how sure we are: "exact", "estimate" (the planner's),
    or "more_than" (counting stopped at COUNT_CAP)."""

    count: int
    kind: str


def _planner_estimate(queryset: QuerySet) -> int:
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])


def summary_of(queryset: QuerySet[Message], page: KeysetPage) -> Summary:
    """The summary line's figure, never a COUNT over all matching rows: the planner's estimate
    past COUNT_CAP, below it an exact count stopped at COUNT_CAP + 1 rows."""
    if page.is_first and page.next_cursor is None:
        return Summary(len(page.rows), "exact")  # everything is on this page
    estimate = _planner_estimate(queryset)
    if estimate > COUNT_CAP:
        return Summary(estimate, "estimate")
    capped = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
    if capped <= COUNT_CAP:
        return Summary(capped, "exact")
    return Summary(COUNT_CAP, "more_than")
