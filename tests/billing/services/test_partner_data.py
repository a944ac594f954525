"""A partner's data on request: exported as a zip of JSON and CSV (no secrets, nothing of
another partner), erased (personal data goes, statements and totals stay), both audited."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.models import AuditAction, AuditEntry, Message, PartnerStaff, Statement
from billing.services import partner_data, retention
from billing.services.statement_closing import close_statement
from partner_portal.team import invite_colleague
from tests.factories import (
    AgreementFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    PartnerStaffFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2025, 1, 10, tzinfo=UTC)
NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def two_partners(mailoutbox):
    alpha, beta = PartnerFactory(name="Alpha", ic=8101), PartnerFactory(name="Beta", ic=8102)
    for partner in (alpha, beta):
        AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
    account = ClientAccountFactory(
        partner=alpha, api_token="alpha-secret-token-1", username="alpha-user",
        password="alpha-secret-pass-1", email2sms_sender="shop@alpha.example",
        email2sms_key="alphaKey123456",
    )  # fmt: skip
    beta_account = ClientAccountFactory(partner=beta, api_token="beta-secret-token-1")
    MessageFactory(account=account, created_at=JAN, sent_at=JAN, status="delivered",
                   phone="+48500600701", text="Alpha says hi")  # fmt: skip
    MessageFactory(account=account, created_at=NOW, phone="+48500600702")
    MessageFactory(account=beta_account, created_at=JAN, sent_at=JAN, status="delivered",
                   phone="+48500600799", text="Beta's own")  # fmt: skip
    manager = PartnerStaffFactory(
        partner=alpha, role="billing_manager", user__email="anna@alpha.example",
        user__first_name="Anna",
    )  # fmt: skip
    PartnerStaffFactory(partner=beta, user__email="bob@beta.example")
    invite_colleague(inviter=manager, email="new@alpha.example", role="viewer", base_url="http://x")
    close_statement(alpha, date(2025, 1, 1), actor="test", now=NOW)
    close_statement(beta, date(2025, 1, 1), actor="test", now=NOW)
    return alpha, beta


def _zip(path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_the_export_holds_the_partners_data_and_no_secret_nor_other_partner(two_partners, tmp_path):
    alpha, beta = two_partners
    out = tmp_path / "alpha.zip"
    call_command("export_partner_data", "--partner", "8101", "--output", str(out))
    files = _zip(out)
    assert set(files) == {
        "partner.json", "accounts.json", "accounts.csv", "staff.json", "statements.json",
        "statements.csv", "messages.csv", "messages.jsonl",
    }  # fmt: skip
    assert json.loads(files["partner.json"])["ic"] == 8101
    messages = list(csv.DictReader(io.StringIO(files["messages.csv"])))
    assert sorted(m["phone"] for m in messages) == ["+48500600701", "+48500600702"]
    lines = [json.loads(line) for line in files["messages.jsonl"].splitlines()]
    assert sorted(m["phone"] for m in lines) == ["+48500600701", "+48500600702"]
    assert [a["email2sms_sender"] for a in json.loads(files["accounts.json"])] == [
        "shop@alpha.example"
    ]
    statements = json.loads(files["statements.json"])
    assert [(s["period"], s["status"]) for s in statements] == [("2025-01-01", "closed")]
    assert statements[0]["checksum"] == Statement.objects.get(partner=alpha).checksum
    assert [s["user_email"] for s in json.loads(files["staff.json"])] == ["anna@alpha.example"]
    everything = "".join(files.values())
    for secret in ("alpha-secret-token-1", "alpha-secret-pass-1", "alphaKey123456",
                   alpha.accounts.get().callback_secret):  # fmt: skip
        assert secret not in everything
    for other in ("+48500600799", "Beta's own", "bob@beta.example", "beta-secret-token-1"):
        assert other not in everything
    entry = AuditEntry.objects.get(action=AuditAction.PARTNER_EXPORT)
    assert entry.partner == alpha and entry.detail["messages"] == 2


def test_the_erasure_removes_personal_data_and_keeps_statements(two_partners, settings):
    alpha, beta = two_partners
    settings.STORE_MESSAGE_TEXT = True
    statements = sorted(
        Statement.objects.values_list("partner_id", "period", "status", "total", "checksum")
    )
    with pytest.raises(CommandError, match="--confirm"):
        call_command("erase_partner_data", "--partner", "8101")
    assert not Message.objects.exclude(phone_hash="").exists()

    call_command("erase_partner_data", "--partner", "8101", "--confirm")

    alpha_messages = Message.objects.filter(partner=alpha)
    assert sorted(alpha_messages.values_list("phone", flat=True)) == [
        "+48*****0701", "+48*****0702",
    ]  # fmt: skip
    assert set(alpha_messages.values_list("text", flat=True)) == {""}
    assert retention.phone_hash("+48500600701") in alpha_messages.values_list(
        "phone_hash", flat=True
    )
    user = PartnerStaff.objects.get(partner=alpha).user
    assert (user.email, user.first_name, user.is_active) == ("", "", False)
    assert user.username == f"erased-{user.pk}" and not user.has_usable_password()
    assert not alpha.invitations.exists()
    assert alpha.accounts.get().email2sms_sender == ""
    audit_text = json.dumps(list(AuditEntry.objects.filter(partner=alpha).values("detail")))
    assert "@alpha.example" not in audit_text
    assert (
        sorted(Statement.objects.values_list("partner_id", "period", "status", "total", "checksum"))
        == statements
    )
    # The other partner keeps everything.
    beta_message = Message.objects.get(partner=beta)
    assert (beta_message.phone, beta_message.text) == ("+48500600799", "Beta's own")
    assert PartnerStaff.objects.get(partner=beta).user.email == "bob@beta.example"
    entry = AuditEntry.objects.get(action=AuditAction.PARTNER_ERASE)
    assert entry.partner == alpha and entry.detail["messages"] == 2
    # Again: nothing more to erase, one more audit entry.
    assert partner_data.erase_partner_data(alpha, actor="test").messages == 0


def test_the_admin_actions_export_and_erase_after_confirmation(two_partners, admin_client):
    alpha, _beta = two_partners
    url = reverse("admin:billing_partner_changelist")
    export = admin_client.post(url, {"action": "export_data", "_selected_action": [alpha.pk]})
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content)))
    assert "messages.csv" in archive.namelist()
    ask = admin_client.post(url, {"action": "erase_personal_data", "_selected_action": [alpha.pk]})
    assert ask.status_code == 200 and b'name="confirm" value="yes"' in ask.content
    assert not Message.objects.exclude(phone_hash="").exists()  # nothing erased yet
    done = admin_client.post(
        url, {"action": "erase_personal_data", "_selected_action": [alpha.pk], "confirm": "yes"}
    )
    assert done.status_code == 302
    assert Message.objects.filter(partner=alpha).exclude(phone_hash="").count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.PARTNER_ERASE, partner=alpha).exists()
