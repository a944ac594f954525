"""Celery tasks of the portal: thin callers of partner_portal services."""

from __future__ import annotations

from celery import shared_task

from . import export_jobs


@shared_task(acks_late=True, ignore_result=True)
def build_export(job_id: int) -> None:
    """Build a large messages export; a redelivered task finds the job finished and stops."""
    export_jobs.build_export(job_id)
