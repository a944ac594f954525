"""API keys: shown once, stored hashed, revocable; managed in the admin and by billing managers."""

import pytest
from django.test import Client

from billing.models import AuditAction, AuditEntry, StaffRole
from partner_api.keys import create_api_key, hash_key, key_for
from partner_api.models import ApiKey
from tests.factories import PartnerStaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_only_as_a_hash_and_notes_its_last_use(alpha):
    key, raw = create_api_key(account=alpha.account, name="till 1", actor="op")
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in {stored.prefix, stored.key_hash} and stored.key_hash == hash_key(raw)
    assert stored.last_used_at is None
    assert key_for(raw).pk == key.pk
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None
    assert key_for(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert AuditEntry.objects.filter(
        action=AuditAction.API_KEY_CREATED, partner=alpha.partner
    ).exists()


def _staff_client(side, role):
    staff = PartnerStaffFactory(partner=side.partner, role=role)
    client = Client(headers={"accept-language": "en"})
    client.force_login(staff.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_a_billing_manager_creates_a_key_shown_once_and_revokes_it(alpha):
    client = _staff_client(alpha, StaffRole.BILLING_MANAGER)
    response = client.post("/api-keys/new/", {"name": "web shop", "account": alpha.account.pk})
    assert response.status_code == 200
    raw = response.context["new_key"]
    assert raw.startswith("ppk_") and raw in response.content.decode()
    key = ApiKey.objects.get(name="web shop")
    assert raw not in client.get("/api-keys/").content.decode()  # never again
    assert Client(headers={"authorization": f"Bearer {raw}"}).get("/api/v1/me").status_code == 200
    assert client.post(f"/api-keys/{key.pk}/revoke/").status_code == 302
    assert Client(headers={"authorization": f"Bearer {raw}"}).get("/api/v1/me").status_code == 401


def test_a_viewer_sees_keys_but_cannot_create_or_revoke(alpha):
    client = _staff_client(alpha, StaffRole.VIEWER)
    page = client.get("/api-keys/")
    assert page.status_code == 200 and alpha.key.name in page.content.decode()
    assert (
        client.post("/api-keys/new/", {"name": "x", "account": alpha.account.pk}).status_code == 403
    )
    assert client.post(f"/api-keys/{alpha.key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_manager_cannot_touch_another_partners_keys_or_accounts(alpha, beta):
    client = _staff_client(beta, StaffRole.BILLING_MANAGER)
    assert alpha.key.name not in client.get("/api-keys/").content.decode()
    assert client.post(f"/api-keys/{alpha.key.pk}/revoke/").status_code == 404
    response = client.post("/api-keys/new/", {"name": "x", "account": alpha.account.pk})
    assert response.status_code == 400
    assert not ApiKey.objects.filter(name="x").exists()
    assert ApiKey.objects.get(pk=alpha.key.pk).revoked_at is None


def test_the_admin_creates_a_key_shown_once_and_revokes_it(alpha):
    admin = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client = Client(headers={"accept-language": "en"})
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        "/admin/partner_api/apikey/add/",
        {"account": alpha.account.pk, "name": "from admin"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    raw = shown[0].split("is ")[1].split(" ")[0]
    key = ApiKey.objects.get(name="from admin")
    assert key.key_hash == hash_key(raw)
    client.post(
        "/admin/partner_api/apikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
