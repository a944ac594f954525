"""Structured JSON logs: stdlib and structlog loggers end in one ProcessorFormatter (one JSON
object per line), with ids of what a line concerns and no secret in any line: `redact` removes
secrets by key, known value and pattern (docs/operations-logs.md). Imports no models (settings
imports this module)."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from celery import signals
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

from billing.log_context import REDACTED, add_secrets, scrub_known

__all__ = ["add_secrets", "redact"]  # settings add its secrets through this module

# A key naming a secret: its value is never logged, whatever it is.
SECRET_KEY_NAMES = re.compile(
    r"pass(word|wd)?|haslo|token|secret|api[_-]?key|authorization|klucz|cookie|credential|dsn"
    r"|email2sms_key|^key$",
    re.IGNORECASE,
)
_WORD = r"(?:password|passwd|haslo|token|api_?key|secret|klucz|callback_secret|email2sms_key)"
# Secrets that show inside text: callback URLs, API keys, bearer headers, key=value pairs.
SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(/callbacks/serwersms/)[^/\s?'\"]+"), r"\1" + REDACTED),
    (re.compile(r"ppk_[0-9a-f]{12}_[A-Za-z0-9_-]+"), "ppk_" + REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s'\",]+"), r"\1" + REDACTED),
    (re.compile(rf"(?i)\b({_WORD}=)[^&\s'\",]+"), r"\1" + REDACTED),
    (re.compile(rf"(?i)(['\"]{_WORD}['\"]\s*:\s*['\"])[^'\"]*"), r"\1" + REDACTED),
]
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("log_request", default=None)
request_logger = structlog.get_logger("partner_portal.request")


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        value = scrub_known(value)
        for pattern, replacement in SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if depth > 5 or isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if SECRET_KEY_NAMES.search(str(k)) else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set):
        return [_scrub(v, depth + 1) for v in value]
    return _scrub(str(value))


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret keys get `[redacted]`, secret values and patterns too."""
    return _scrub(event_dict)


def add_request_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The partner (portal: `request.partner`) or API key's account (API: `request.auth`)."""
    request = _current_request.get()
    partner = getattr(request, "partner", None)
    if partner is not None:
        event_dict.setdefault("partner_id", partner.pk)
    key = getattr(request, "auth", None)
    account_id = getattr(key, "account_id", None)
    if account_id is not None:
        event_dict.setdefault("account_id", account_id)
        event_dict.setdefault("partner_id", key.account.partner_id)
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    add_request_context,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class JSONFormatter(structlog.stdlib.ProcessorFormatter):
    """One JSON object per line for every record, redacted after tracebacks are formatted."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.StackInfoRenderer(),
                redact,
                structlog.processors.JSONRenderer(default=str),
            ],
            foreign_pre_chain=SHARED_PROCESSORS,
        )


def configure_structlog() -> None:
    """Hand structlog's events, and Python's warnings, to the stdlib handlers (JSONFormatter)."""
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, level: str = "INFO", log_file: str = "", json: bool = True) -> dict:
    """The LOGGING dict: JSON to stderr (and to `log_file`, reopened after rotation)."""
    handlers = {"console": {"class": "logging.StreamHandler"}}
    if log_file:
        handlers["file"] = {"class": "logging.handlers.WatchedFileHandler", "filename": log_file}
    for handler in handlers.values():
        handler["formatter"] = "json" if json else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "partner_portal.logging.JSONFormatter"},
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "axes.apps": {"level": "WARNING"},  # its start-up banner on every command
            # Connection chatter (one line per HTTP call) adds nothing to our own lines.
            "urllib3": {"level": "WARNING"},
        },
    }


def new_request_id(given: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Give every request an id (accepted from and echoed in X-Request-ID) on every line it
    logs, the partner once known, and one closing `request` line (route, never the path: a
    callback URL holds its account's secret)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Cleared here, not when the response leaves: Django logs 4xx/5xx answers
        # (django.request) after the middleware returned, and those lines keep the id too.
        clear_contextvars()
        request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        bind_contextvars(request_id=request_id)
        _current_request.set(request)
        started = time.monotonic()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        request_logger.info(
            "request",
            method=request.method,
            route=match.route if match else None,
            view=match.view_name if match else None,
            status=response.status_code,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        response[REQUEST_ID_HEADER] = request_id
        return response


# Each task's lines carry its id, nothing from the one before (connected when settings import
# this module). Context of the caller while a task runs in its thread (eager tasks, or a task
# calling another one's apply()): put back when the task ends. Keyed by task id.
_outer_context: dict[str, dict[str, Any]] = {}


@signals.task_prerun.connect(weak=False, dispatch_uid="log_bind_task")
def bind_task(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    """Celery task_prerun: the task's lines carry its id and name, nothing of the task before."""
    _outer_context[task_id or ""] = get_contextvars()
    clear_contextvars()
    bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect(weak=False, dispatch_uid="log_unbind_task")
def unbind_task(task_id: str | None = None, **_kwargs: Any) -> None:
    """Celery task_postrun: back to what the thread had bound before the task."""
    clear_contextvars()
    bind_contextvars(**_outer_context.pop(task_id or "", {}))


def init_sentry(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> None:
    """Report errors to Sentry (Django and Celery), without personal data."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        send_default_pii=False,
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        before_send=lambda event, _hint: _scrub(event),  # redacted as log lines are
    )
