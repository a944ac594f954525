"""Two partners, each with a viewer and a billing manager: every portal test checks scoping."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from billing.models import ClientAccount, Partner, PartnerStaff, StaffRole
from tests.factories import ClientAccountFactory, PartnerFactory, PartnerStaffFactory

PASSWORD = "portal-pass-123"


@dataclass
class Side:
    partner: Partner
    account: ClientAccount
    viewer: PartnerStaff
    manager: PartnerStaff


def _side(name: str, ic: int) -> Side:
    partner = PartnerFactory(name=name, ic=ic)
    return Side(
        partner=partner,
        account=ClientAccountFactory(partner=partner, name=f"{name.lower()}-shop"),
        viewer=PartnerStaffFactory(partner=partner, user__username=f"{name.lower()}-viewer"),
        manager=PartnerStaffFactory(
            partner=partner,
            user__username=f"{name.lower()}-manager",
            role=StaffRole.BILLING_MANAGER,
        ),
    )


@pytest.fixture
def alpha(db) -> Side:
    return _side("Alpha", 5001)


@pytest.fixture
def beta(db) -> Side:
    return _side("Beta", 5002)


def client_for(staff: PartnerStaff, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(staff.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def viewer_client(alpha) -> Client:
    return client_for(alpha.viewer)


@pytest.fixture
def manager_client(alpha) -> Client:
    return client_for(alpha.manager)
