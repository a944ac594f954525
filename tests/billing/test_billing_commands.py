"""The operator commands: build, close, export, reconcile; clear errors."""

from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from billing.models import AuditEntry, Statement
from billing.statuses import Status
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    partner = PartnerFactory(ic=5151)
    AgreementFactory(partner=partner, valid_from=date(2020, 1, 1))
    account = ClientAccountFactory(partner=partner, name="acme")
    MessageFactory(
        account=account,
        serwersms_id="s1",
        status=Status.DELIVERED,
        dispatched_at=datetime(2024, 10, 5, tzinfo=UTC),
    )
    return partner


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_build_close_export_reconcile(partner, tmp_path):
    assert "1 counted" in run(
        "build_statements", "--period", "2024-10", "--partner", "5151", "--no-progress"
    )
    assert "Closed" in run(
        "close_statement", "--partner", "5151", "--period", "2024-10", "--actor", "ops"
    )
    assert "already closed" in run("close_statement", "--partner", "5151", "--period", "2024-10")
    assert Statement.objects.get(partner=partner).closed_by == "ops"
    output = tmp_path / "s.xlsx"
    run(
        "export_statement",
        "--partner",
        "5151",
        "--period",
        "2024-10",
        "--format",
        "xlsx",
        "--output",
        str(output),
        "--language",
        "en",
    )
    assert load_workbook(output)["Messages"].max_row == 2
    assert AuditEntry.objects.filter(partner=partner, action="export").exists()
    upload = tmp_path / "serwersms.csv"
    upload.write_text(
        "id,account,phone,type,parts,status,dispatched_at\n"
        "s1,acme,+48500600700,eco,1,delivered,2024-10-05 02:00:00\n"
    )
    assert "No differences" in run(
        "reconcile", "--partner", "5151", "--period", "2024-10", "--file", str(upload)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("build_statements", "--period", "2024-13"), "No such billing month"),
        (("build_statements", "--period", "2024-10", "--partner", "x"), "ic \\(a number\\)"),
        (("close_statement", "--partner", "999", "--period", "2024-10"), "No partner with ic 999"),
        (
            (
                "export_statement",
                "--partner",
                "5151",
                "--period",
                "2024-09",
                "--format",
                "csv",
                "--output",
                "/tmp/x.csv",
            ),
            "run build_statements first",
        ),
        (
            ("reconcile", "--partner", "5151", "--period", "2024-10", "--file", "/nonexistent.csv"),
            "No such file",
        ),
    ],
)
def test_commands_give_clear_errors(partner, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_close_before_the_review_window_is_a_command_error(partner):
    MessageFactory(account=partner.accounts.get(), status=Status.SENT)  # this month
    from django.utils import timezone

    period = timezone.localdate().strftime("%Y-%m")
    with pytest.raises(CommandError, match="cannot be closed yet"):
        run("close_statement", "--partner", "5151", "--period", period)


def test_broken_reconcile_upload_is_a_command_error(partner, tmp_path):
    upload = tmp_path / "bad.csv"
    upload.write_text("nope\n")
    with pytest.raises(CommandError, match="missing column"):
        run("reconcile", "--partner", "5151", "--period", "2024-10", "--file", str(upload))
