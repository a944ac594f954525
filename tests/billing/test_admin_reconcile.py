"""The operator uploads SerwerSMS's partner billing in the admin; a bad upload writes nothing."""

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import AuditEntry, Reconciliation, ReconciliationRow
from billing.statuses import Status
from tests.factories import ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db
HEADER = "id,account,phone,type,parts,status,dispatched_at,cost,ic\n"
FIFTY_MB = 50 * 1024 * 1024


def line(sid, account="acme", ic=5151, when="2024-10-05 12:00:00"):
    return f"{sid},{account},+48500600700,eco,1,delivered,{when},0.0550,{ic}\n"


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw-op-123456")
    client.force_login(user)
    return client


@pytest.fixture
def partner():
    partner = PartnerFactory(ic=5151)
    account = ClientAccountFactory(partner=partner, name="acme")
    at = datetime(2024, 10, 5, 10, tzinfo=UTC)
    for sid in ("s1", "s2"):
        MessageFactory(
            account=account,
            serwersms_id=sid,
            status=Status.DELIVERED,
            cost="0.0550",
            created_at=at,
            dispatched_at=at,
        )
    other = PartnerFactory(ic=6161)
    ClientAccountFactory(partner=other, name="other-shop")
    return partner


def upload(client, partner, content: bytes, period="2024-10", name="billing.csv"):
    return client.post(
        reverse("admin:billing_reconciliation_add"),
        {
            "partner": partner.pk,
            "period": period,
            "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        },
        headers={"accept-language": "en"},
    )


def test_an_upload_is_matched_stored_and_shown(operator_client, partner):
    response = upload(operator_client, partner, (HEADER + line("s1") + line("x9")).encode())
    reconciliation = Reconciliation.objects.get(partner=partner)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:billing_reconciliation_change", args=[reconciliation.pk]
    )
    outcomes = dict(ReconciliationRow.objects.values_list("serwersms_id", "outcome"))
    assert outcomes == {"s1": "confirmed", "s2": "missing_at_serwersms", "x9": "missing_here"}
    assert (reconciliation.file_name, reconciliation.uploaded_by) == ("billing.csv", "op")
    assert AuditEntry.objects.get(action="reconcile").actor == "op"
    page = operator_client.get(response["Location"], headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "missing at SerwerSMS" in page.content.decode()
    rows = operator_client.get(
        reverse("admin:billing_reconciliationrow_changelist"),
        {"reconciliation__exact": reconciliation.pk, "outcome": "missing_here"},
    )
    assert rows.status_code == 200
    assert [r.serwersms_id for r in rows.context["cl"].result_list] == ["x9"]


def test_the_upload_form_is_the_add_page(operator_client, partner):
    page = operator_client.get(
        reverse("admin:billing_reconciliation_add"), headers={"accept-language": "en"}
    )
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()


@pytest.mark.parametrize(
    ("content", "period", "expected"),
    [
        (b"id,account\ns1,acme\n", "2024-10", "missing column"),
        ((HEADER + line("s1", ic=6161)).encode(), "2024-10", "carry ic 6161"),
        ((HEADER + line("o1", account="other-shop")).encode(), "2024-10", "another partner"),
        ((HEADER + line("s1")).encode(), "2024-11", "outside 2024-11"),
        ((HEADER + line("s1", account="zażółć")).encode("cp1250"), "2024-10", "not UTF-8"),
        (None, "2024-10", "too large"),
        ((HEADER + line("s1")).encode(), "2024-13", "YYYY-MM"),
    ],
    ids=["columns", "other ic", "other account", "other month", "encoding", "50 MB", "period"],
)
def test_a_bad_upload_is_a_clear_error_that_writes_nothing(
    operator_client, partner, content, period, expected
):
    if content is None:  # 50 MB of well-formed rows: over RECONCILE_MAX_FILE_BYTES by default
        body = line("s1").encode()
        content = HEADER.encode() + body * (FIFTY_MB // len(body) + 1)
    response = upload(operator_client, partner, content, period=period)
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not Reconciliation.objects.exists()
    assert not ReconciliationRow.objects.exists()
    assert not AuditEntry.objects.exists()


def test_partner_staff_without_admin_rights_cannot_upload(client, django_user_model, partner):
    user = django_user_model.objects.create_user("clerk", password="pw-clerk-123456", is_staff=True)
    client.force_login(user)
    response = upload(client, partner, (HEADER + line("s1")).encode())
    assert response.status_code == 403
    assert not Reconciliation.objects.exists()
