"""Large message exports (above EXPORT_BACKGROUND_ROWS[_CSV]), built by a Celery worker under
VAR_DIR/exports/ and kept EXPORT_KEEP_HOURS (docs/portal.md, "Exports")."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone, translation

from billing.models import Partner

from .models import ExportJob, ExportStatus

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")


def exports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_large(queryset, fmt: str) -> bool:
    """More messages than a web request should build (counts at most threshold + 1 rows)."""
    limit = settings.EXPORT_BACKGROUND_ROWS_CSV if fmt == "csv" else settings.EXPORT_BACKGROUND_ROWS
    return queryset.order_by()[: limit + 1].count() > limit


def filtered_messages(partner: Partner, query: str):
    """The partner's messages as the messages page filters them with this query string."""
    from .filters import MessageFilter

    message_filter = MessageFilter(QueryDict(query), partner=partner)
    return message_filter.qs.select_related("account").order_by("-created_at", "-id")


def request_export(*, partner: Partner, user, fmt: str, query: str, language: str) -> ExportJob:
    """Create the job and queue its task once the row is committed."""
    from . import tasks

    remove_old_exports()
    job = ExportJob.objects.create(
        partner=partner, requested_by=user, fmt=fmt, query=query, language=language
    )
    transaction.on_commit(lambda: tasks.build_export.delay(job.pk))
    return job


def build_export(job_id: int) -> ExportJob:
    """Build the job's file (a second run of a finished job does nothing)."""
    from . import exports

    row = ExportJob.objects.filter(pk=job_id)
    claimed = row.filter(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).update(
        status=ExportStatus.RUNNING
    )
    job = row.select_related("partner").get()
    if not claimed:
        return job
    queryset = filtered_messages(job.partner, job.query)
    if queryset.query.is_empty():
        # The filters were valid when asked (the view checks them) but no longer are, e.g. the
        # account went to another partner: no file, a clear reason, nothing to retry.
        row.update(
            status=ExportStatus.FAILED,
            error="The filters of this export are no longer valid; export again.",
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    total = queryset.order_by().count()
    row.update(rows_total=total, rows_done=0)
    path = exports_dir() / f"{job.pk}-{exports.export_filename(job.partner.ic, job.fmt)}"
    write = exports.write_messages_xlsx if job.fmt == "xlsx" else exports.write_messages_csv
    try:
        with translation.override(job.language), open(path, "wb") as target:
            write(queryset, target, lambda done: row.update(rows_done=done))
    except Exception as error:
        logger.exception("Export %s failed", job_id)
        path.unlink(missing_ok=True)
        row.update(status=ExportStatus.FAILED, error=str(error)[:500], finished_at=timezone.now())
        raise
    row.update(
        status=ExportStatus.DONE, rows_done=total, file_name=path.name, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def export_path(job: ExportJob) -> Path | None:
    if job.status != ExportStatus.DONE or not job.file_name:
        return None
    path = exports_dir() / job.file_name
    return path if path.exists() else None


def remove_old_exports() -> int:
    """Delete export files and jobs older than EXPORT_KEEP_HOURS; returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.EXPORT_KEEP_HOURS)
    old = list(ExportJob.objects.filter(created_at__lt=cutoff))
    for job in old:
        if job.file_name:
            (exports_dir() / job.file_name).unlink(missing_ok=True)
    ExportJob.objects.filter(pk__in=[job.pk for job in old]).delete()
    return len(old)
