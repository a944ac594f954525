"""Two partners, each with a client account and an API key: every API test can check scoping."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from billing.models import ClientAccount, Partner
from partner_api import rate_limits
from partner_api.keys import create_api_key
from partner_api.models import ApiKey
from tests.factories import ClientAccountFactory, PartnerFactory


@dataclass
class Side:
    partner: Partner
    account: ClientAccount
    key: ApiKey
    raw_key: str
    client: Client


def _side(name: str, ic: int, token: str) -> Side:
    partner = PartnerFactory(name=name, ic=ic)
    account = ClientAccountFactory(partner=partner, name=f"{name.lower()}-shop", api_token=token)
    key, raw = create_api_key(account=account, name=f"{name} shop software", actor="test")
    client = Client(headers={"authorization": f"Bearer {raw}"})
    return Side(partner=partner, account=account, key=key, raw_key=raw, client=client)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    rate_limits.reset()
    yield
    cache.clear()
    rate_limits.reset()


@pytest.fixture
def alpha(db) -> Side:
    return _side("Alpha", 7001, "alpha-token")


@pytest.fixture
def beta(db) -> Side:
    return _side("Beta", 7002, "beta-token")


@pytest.fixture
def sim(simulator_settings, settings):
    """The live simulator, knowing both partners' SerwerSMS accounts."""
    simulator_settings.register_account(token="alpha-token")
    simulator_settings.register_account(token="beta-token")
    return simulator_settings


def post(client: Client, path: str, body, **headers):
    return client.post(path, body, content_type="application/json", headers=headers)
