"""A time limit on the database statements of portal pages (PostgreSQL `statement_timeout`).

A portal page that would scan millions of rows is stopped after PORTAL_STATEMENT_TIMEOUT_MS and
answered with a short "narrow the filters" page (HTTP 503) instead of holding a database core;
operators' commands, statement builds, exports and Celery tasks are not limited. 0 turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpRequest
from django.shortcuts import render

logger = logging.getLogger(__name__)

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout


def _set(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {value}")


@contextmanager
def statement_timeout(milliseconds: int) -> Iterator[None]:
    """Limit each statement of the block to `milliseconds` (0: no limit). The connection's own
    setting is back afterwards: a persistent connection carries no limit to the next request."""
    if milliseconds <= 0:
        yield
        return
    _set(str(int(milliseconds)))
    try:
        yield
    finally:
        try:
            _set("DEFAULT")
        except Exception:  # a broken connection is closed by Django after the request
            logger.warning("could not reset statement_timeout", exc_info=True)


def is_timeout(error: BaseException) -> bool:
    return getattr(error.__cause__ or error, "sqlstate", None) == QUERY_CANCELED


def limited_statement_time(view):
    """Run a portal view under PORTAL_STATEMENT_TIMEOUT_MS; a timeout answers 503."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            with statement_timeout(settings.PORTAL_STATEMENT_TIMEOUT_MS):
                return view(request, *args, **kwargs)
        except OperationalError as error:
            if not is_timeout(error):
                raise
            logger.warning("portal query stopped by statement_timeout: %s", request.path)
            return render(request, "portal/too_slow.html", status=503)

    return wrapper
