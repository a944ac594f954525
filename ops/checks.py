"""Readiness checks on django-health-check 4.x: database, broker, beat's tick, the poll pass.

Each check has a synchronous `probe(now)` (the command calls it directly) and the library's
`run()` (the view gathers them). A failing check raises ServiceUnavailable with a short,
secret-free message; `detail` carries the figures shown in the JSON body.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Database as LibraryDatabase
from health_check.exceptions import HealthCheckException, ServiceUnavailable

from ops import heartbeats


@dataclasses.dataclass
class Database(LibraryDatabase):
    """The library's SELECT 1 on the default database."""

    key: typing.ClassVar[str] = "database"

    def probe(self, now: datetime) -> None:
        self.detail = {}
        LibraryDatabase.run(self)


@dataclasses.dataclass
class Broker(HealthCheck):
    """Celery's broker accepts a connection (Redis in production, the file broker embedded)."""

    key: typing.ClassVar[str] = "broker"
    url: str | None = dataclasses.field(default=None, repr=False)  # else Celery's broker_url

    def probe(self, now: datetime) -> None:
        from celery import current_app as app  # config.celery, loaded with Django

        url = self.url or app.conf.broker_url
        self.detail = {"transport": url.split("://", 1)[0]}
        try:
            with app.connection_for_write(url) as conn:
                conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_BROKER_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure to connect is "unavailable"
            raise ServiceUnavailable(f"broker unreachable ({type(exc).__name__})") from exc

    async def run(self) -> None:
        await sync_to_async(self.probe)(timezone.now())


@dataclasses.dataclass
class _Heartbeat(HealthCheck):
    heartbeat: typing.ClassVar[str]
    setting: typing.ClassVar[str]
    what: typing.ClassVar[str]

    def probe(self, now: datetime) -> None:
        limit = getattr(settings, self.setting)
        age = heartbeats.age_seconds(self.heartbeat, now)
        self.detail = {"age_seconds": None if age is None else round(age, 1), "max": limit}
        if age is None:
            raise ServiceUnavailable(f"{self.what} never recorded")
        if age > limit:
            raise ServiceUnavailable(f"{self.what} {age:.0f} s ago (more than {limit} s)")

    async def run(self) -> None:
        # thread_sensitive: the request's own database connection (and its transaction).
        await sync_to_async(self.probe)(timezone.now())


@dataclasses.dataclass
class BeatHeartbeat(_Heartbeat):
    """Celery beat ticked recently (ops.tasks.beat_heartbeat, run by a worker)."""

    key: typing.ClassVar[str] = "beat"
    heartbeat: typing.ClassVar[str] = heartbeats.BEAT
    setting: typing.ClassVar[str] = "HEALTH_BEAT_MAX_AGE_SECONDS"
    what: typing.ClassVar[str] = "beat's last tick"


@dataclasses.dataclass
class PollPass(_Heartbeat):
    """A poll pass (billing.tasks.poll_all_accounts) finished recently."""

    key: typing.ClassVar[str] = "poll"
    heartbeat: typing.ClassVar[str] = heartbeats.POLL_PASS
    setting: typing.ClassVar[str] = "HEALTH_POLL_MAX_AGE_SECONDS"
    what: typing.ClassVar[str] = "the last poll pass"


READINESS_CHECKS: tuple[type[HealthCheck], ...] = (Database, Broker, BeatHeartbeat, PollPass)


def body(results: typing.Iterable[tuple[str, HealthCheckException | None, dict]]) -> dict:
    """The JSON body: overall status and each check's status, error and figures."""
    checks = {}
    for key, error, detail in results:
        entry: dict = {"status": "ok" if error is None else "unavailable"}
        if error is not None:
            entry["error"] = str(getattr(error, "message", "") or error)
        entry.update({k: v for k, v in (detail or {}).items() if v is not None})
        checks[key] = entry
    ok = all(c["status"] == "ok" for c in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}


def run_checks(now: datetime | None = None) -> dict:
    """Probe every readiness check in this thread (the command; tests): the JSON body."""
    now = now or timezone.now()
    results = []
    for cls in READINESS_CHECKS:
        check = cls()
        check.detail = {}
        try:
            check.probe(now)
            error = None
        except HealthCheckException as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is a failed check
            error = ServiceUnavailable(f"unexpected error ({type(exc).__name__})")
        results.append((cls.key, error, check.detail))
    return body(results)
