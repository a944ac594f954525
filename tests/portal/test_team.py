"""Team accounts: billing managers invite and remove colleagues of their own partner only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing.models import AuditEntry, PartnerStaff, StaffRole
from partner_portal.models import Invitation
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


def _invite(client: Client, email: str, role: str = StaffRole.VIEWER) -> str:
    response = client.post("/team/", {"email": email, "role": role})
    assert response.status_code == 302, response.content.decode()[:2000]
    return re.search(r"http://testserver(/invitation/\S+/)", mail.outbox[-1].body).group(1)


def test_billing_manager_invites_a_colleague_who_joins_with_the_role(alpha, manager_client):
    link = _invite(manager_client, "Ola@Alpha.example", StaffRole.BILLING_MANAGER)
    assert mail.outbox[-1].to == ["ola@alpha.example"]
    assert "Alpha" in mail.outbox[-1].subject
    invitation = Invitation.objects.get()
    assert invitation.token_digest not in link  # only a digest is stored

    newcomer = Client(headers={"accept-language": "en"})
    page = newcomer.get(link).content.decode()
    assert "Join your team" in page and "at least 8 characters" in page
    weak = newcomer.post(link, {"username": "ola", "password1": "123", "password2": "123"})
    assert "too short" in weak.content.decode()
    response = newcomer.post(
        link,
        {"username": "ola", "password1": "ola-strong-pass-9", "password2": "ola-strong-pass-9"},
    )
    assert response["Location"] == "/"
    assert newcomer.get("/").status_code == 200
    staff = PartnerStaff.objects.get(user__username="ola")
    assert (staff.partner, staff.role) == (alpha.partner, StaffRole.BILLING_MANAGER)
    assert staff.user.email == "ola@alpha.example"

    # The link works once.
    assert Client().get(link).status_code == 404
    actions = list(AuditEntry.objects.filter(partner=alpha.partner).values_list("action", "actor"))
    assert ("staff_invited", alpha.manager.user.username) in actions
    assert ("staff_joined", "ola") in actions
    team_page = manager_client.get("/team/").content.decode()
    assert "colleague joined" in team_page and "ola" in team_page


def test_viewers_see_the_team_but_cannot_invite_or_remove(alpha, viewer_client):
    page = viewer_client.get("/team/").content.decode()
    assert alpha.manager.user.username in page
    assert 'id="invite"' not in page
    assert viewer_client.post("/team/", {"email": "x@y.pl", "role": "viewer"}).status_code == 403
    assert viewer_client.post(f"/team/{alpha.manager.pk}/remove/").status_code == 403
    assert PartnerStaff.objects.filter(pk=alpha.manager.pk).exists()
    assert mail.outbox == []


def test_removing_a_colleague_ends_their_access_at_once(alpha, manager_client):
    colleague = Client(headers={"accept-language": "en"})
    colleague.post(
        "/login/", {"username": alpha.viewer.user.username, "password": "portal-pass-123"}
    )
    assert colleague.get("/").status_code == 200
    response = manager_client.post(f"/team/{alpha.viewer.pk}/remove/")
    assert response.status_code == 302
    assert colleague.get("/").status_code == 302  # session ended
    relogin = colleague.post(
        "/login/", {"username": alpha.viewer.user.username, "password": "portal-pass-123"}
    )
    assert relogin.status_code == 200  # inactive: refused
    assert not PartnerStaff.objects.filter(pk=alpha.viewer.pk).exists()
    entry = AuditEntry.objects.get(action="staff_removed")
    assert entry.partner == alpha.partner
    assert entry.detail["username"] == alpha.viewer.user.username


def test_a_manager_cannot_remove_another_partners_staff_or_themself(alpha, beta, manager_client):
    assert manager_client.post(f"/team/{beta.viewer.pk}/remove/").status_code == 404
    assert PartnerStaff.objects.filter(pk=beta.viewer.pk).exists()
    manager_client.post(f"/team/{alpha.manager.pk}/remove/")
    assert PartnerStaff.objects.filter(pk=alpha.manager.pk).exists()
    assert not AuditEntry.objects.filter(action="staff_removed").exists()


def test_the_team_page_shows_a_removed_colleague_in_its_audit_trail(alpha, manager_client):
    username = alpha.viewer.user.username
    assert manager_client.post(f"/team/{alpha.viewer.pk}/remove/").status_code == 302
    assert AuditEntry.objects.filter(action="staff_removed").exists()
    response = manager_client.get("/team/")
    assert response.status_code == 200
    trail = response.content.decode().split('id="team-audit"')[1]
    assert username in trail


def test_team_page_shows_only_the_own_partner(alpha, beta, manager_client):
    page = manager_client.get("/team/").content.decode()
    assert alpha.viewer.user.username in page
    assert beta.viewer.user.username not in page
    assert beta.manager.user.username not in page


def test_expired_and_revoked_invitations_do_not_work(alpha, beta, manager_client):
    first = _invite(manager_client, "late@alpha.example")
    second = _invite(manager_client, "revoked@alpha.example")
    Invitation.objects.filter(email="late@alpha.example").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    revoked = Invitation.objects.get(email="revoked@alpha.example")
    # Another partner's manager cannot revoke it.
    assert (
        client_for(beta.manager).post(f"/team/invitations/{revoked.pk}/revoke/").status_code == 404
    )
    manager_client.post(f"/team/invitations/{revoked.pk}/revoke/")
    for link in (first, second):
        response = Client(headers={"accept-language": "en"}).get(link)
        assert response.status_code == 404
        assert "no longer valid" in response.content.decode()
    assert AuditEntry.objects.filter(action="invitation_revoked").count() == 1


def test_inviting_an_existing_colleague_is_refused(alpha, manager_client):
    alpha.viewer.user.email = "viewer@alpha.example"
    alpha.viewer.user.save()
    response = manager_client.post("/team/", {"email": "viewer@alpha.example", "role": "viewer"})
    assert response.status_code == 200
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_operators_see_invitations_read_only_in_the_admin(alpha, manager_client):
    from django.contrib.auth import get_user_model

    _invite(manager_client, "adminview@alpha.example")
    operator = get_user_model().objects.create_superuser("op", "op@example.com", "op-pass-123")
    client = Client(headers={"accept-language": "en"})
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get("/admin/partner_portal/invitation/")
    assert page.status_code == 200 and "adminview@alpha.example" in page.content.decode()
    assert client.get("/admin/partner_portal/invitation/add/").status_code == 403
