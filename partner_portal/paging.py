"""How many rows a portal table shows: the request may ask for fewer or more, within a cap."""

from __future__ import annotations

from django.conf import settings


def page_size(requested: object = None) -> int:
    """Rows per page: `requested` (e.g. ?per_page) clamped to 1..PORTAL_MAX_PAGE_SIZE;
    missing or not a number gives PORTAL_PAGE_SIZE."""
    try:
        value = int(requested)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return settings.PORTAL_PAGE_SIZE
    return max(1, min(value, settings.PORTAL_MAX_PAGE_SIZE))
