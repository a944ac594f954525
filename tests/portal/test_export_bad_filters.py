"""A messages export whose filters the form refuses is a 400: the messages page with the form's
errors, in the user's language, and no file, no job (it used to be a 500, EmptyResultSet)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from partner_portal import export_jobs
from partner_portal.models import ExportJob, ExportStatus
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

BAD_FILTERS = [
    pytest.param({"account": "999"}, "account", id="unknown account"),
    pytest.param({"status": "bogus"}, "status", id="unknown status"),
    pytest.param({"period": "9999-99"}, "period", id="impossible month"),
    pytest.param({"message_type": "fax"}, "message_type", id="unknown type"),
    pytest.param({"date_from": "2026-02-30"}, "date_from", id="impossible day"),
    pytest.param({"phone": "12"}, "phone", id="phone too short"),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("query", "field"), BAD_FILTERS)
def test_an_export_with_a_refused_filter_is_a_400_page_with_the_forms_errors(
    viewer_client, alpha, fmt, query, field
):
    MessageFactory(account=alpha.account)
    response = viewer_client.get(reverse("message_export", args=[fmt]), query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert response.context["filter"].form.errors[field]
    page = response.content.decode()
    assert "The export was not made: correct the filters marked below." in page
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_another_partners_account_is_refused_like_an_unknown_one(viewer_client, alpha, beta, fmt):
    MessageFactory(account=beta.account)
    response = viewer_client.get(
        reverse("message_export", args=[fmt]), {"account": beta.account.pk}
    )
    assert response.status_code == 400
    assert beta.account.name not in response.content.decode()


def test_the_refusal_speaks_the_users_language(alpha):
    client = client_for(alpha.viewer, language="pl")
    response = client.get(reverse("message_export", args=["csv"]), {"status": "bogus"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Eksport nie został wykonany: popraw filtry zaznaczone poniżej." in page
    assert "Wybierz poprawną wartość" in page  # Django's own Polish form error


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_valid_filters_still_export(viewer_client, alpha, fmt):
    MessageFactory(account=alpha.account)
    response = viewer_client.get(
        reverse("message_export", args=[fmt]), {"account": alpha.account.pk, "status": "counted"}
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]


def test_a_job_whose_filters_went_invalid_fails_with_a_reason_and_no_file(
    alpha, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    job = ExportJob.objects.create(
        partner=alpha.partner, requested_by=alpha.viewer.user, fmt="csv", query="account=999"
    )
    job = export_jobs.build_export(job.pk)
    assert job.status == ExportStatus.FAILED
    assert "no longer valid" in job.error
    assert not job.file_name
