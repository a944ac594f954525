"""Large exports are built by a Celery job with progress; the page offers the file when ready."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from billing.statuses import Status
from partner_portal import export_jobs
from partner_portal.models import ExportJob, ExportStatus
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_threshold(settings, tmp_path):
    settings.EXPORT_BACKGROUND_ROWS = 3
    settings.EXPORT_BACKGROUND_ROWS_CSV = 3
    settings.VAR_DIR = tmp_path
    return settings


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_large_export_becomes_a_job_with_progress_and_a_download(
    alpha, beta, small_threshold, fmt, django_capture_on_commit_callbacks, monkeypatch
):
    for n in range(5):
        MessageFactory(account=alpha.account, status=Status.DELIVERED, phone=f"+4850060070{n}")
    MessageFactory(account=alpha.account, status=Status.UNSENT)
    MessageFactory(account=beta.account, status=Status.DELIVERED)
    queued: list[int] = []
    from partner_portal import tasks

    monkeypatch.setattr(tasks.build_export, "delay", queued.append)
    client = client_for(alpha.viewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/messages/export.{fmt}?status=counted")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/exports/{job.pk}/"
    assert queued == [job.pk]
    page = client.get(f"/exports/{job.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page and "export-download" not in page

    tasks.build_export.apply(args=[job.pk]).get()  # the Celery task, run here
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done, job.percent) == ("done", 5, 5, 100)
    page = client.get(f"/exports/{job.pk}/").content.decode()
    assert "export-download" in page and 'http-equiv="refresh"' not in page
    download = client.get(f"/exports/{job.pk}/download/")
    assert "no-store" in download["Cache-Control"]
    body = b"".join(download.streaming_content)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        phones = [row[2] for row in rows[1:6]]
    else:
        sheet = load_workbook(io.BytesIO(body)).active
        phones = [sheet.cell(row=r, column=3).value for r in range(2, 7)]
    assert sorted(phones) == [f"+4850060070{n}" for n in range(5)]

    # Another partner cannot see or download it; a second run changes nothing.
    assert client_for(beta.viewer).get(f"/exports/{job.pk}/").status_code == 404
    assert client_for(beta.viewer).get(f"/exports/{job.pk}/download/").status_code == 404
    assert export_jobs.build_export(job.pk).status == ExportStatus.DONE


def test_small_exports_stream_at_once(alpha, small_threshold):
    for _ in range(3):
        MessageFactory(account=alpha.account)
    response = client_for(alpha.viewer).get("/messages/export.xlsx")
    assert response.status_code == 200
    assert response.streaming
    assert not ExportJob.objects.exists()


def test_old_export_files_are_removed(alpha, small_threshold):
    from datetime import timedelta

    from django.utils import timezone

    job = ExportJob.objects.create(partner=alpha.partner, fmt="csv", language="en")
    path = export_jobs.exports_dir() / f"{job.pk}-old.csv"
    path.write_text("x")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.DONE,
        file_name=path.name,
        created_at=timezone.now() - timedelta(hours=small_threshold.EXPORT_KEEP_HOURS + 1),
    )
    assert export_jobs.remove_old_exports() == 1
    assert not path.exists()
    assert not ExportJob.objects.exists()
