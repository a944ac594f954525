"""Large message exports, built by a Celery worker instead of a web worker.

Exports up to EXPORT_BACKGROUND_ROWS (XLSX) or EXPORT_BACKGROUND_ROWS_CSV (CSV) messages are
streamed at once; larger ones become an ExportJob: the worker writes the file under
VAR_DIR/exports/ and updates its progress, the page shows it and offers the download when ready.
Files are kept EXPORT_KEEP_HOURS.
"""

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
    limit = (
        settings.EXPORT_BACKGROUND_ROWS_CSV if fmt == "csv" else settings.EXPORT_BACKGROUND_ROWS
    )
    return queryset.order_by()[: limit + 1].count() > limit


def filtered_messages(partner: Partner, query: str):
    """The partner's messages as the messages page filters them with this query string."""
    from .filters import FILTER_KEYS, MessageFilter

    data = QueryDict(query)
    message_filter = MessageFilter(
        data if any(key in data for key in FILTER_KEYS) else None, partner=partner
    )
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

    claimed = ExportJob.objects.filter(
        pk=job_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.RUNNING)
    job = ExportJob.objects.select_related("partner").get(pk=job_id)
    if not claimed:
        return job
    queryset = filtered_messages(job.partner, job.query)
    if queryset.query.is_empty():
        # The filters were valid when asked (the view checks them) but no longer are, e.g. the
        # account went to another partner: no file, a clear reason, nothing to retry.
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED,
            error="The filters of this export are no longer valid; export again.",
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    total = queryset.order_by().count()
    ExportJob.objects.filter(pk=job_id).update(rows_total=total, rows_done=0)
    name = exports.export_filename(job.partner.ic, job.fmt)
    path = exports_dir() / f"{job.pk}-{name}"

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(rows_done=done)

    try:
        with translation.override(job.language), open(path, "wb") as target:
            if job.fmt == "xlsx":
                exports.write_messages_xlsx(queryset, target, progress)
            else:
                exports.write_messages_csv(queryset, target, progress)
    except Exception as error:
        logger.exception("Export %s failed", job_id)
        path.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED, error=str(error)[:500], finished_at=timezone.now()
        )
        raise
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportStatus.DONE,
        rows_done=total,
        file_name=path.name,
        finished_at=timezone.now(),
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
