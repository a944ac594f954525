"""The simulator account the outbox and delivery tests send through (every channel), and the
simulator's record of the sends it took."""

import pytest

from tests.factories import ClientAccountFactory, PartnerFactory

IC = 4242
PHONE = "+48500600700"
PHONES = [PHONE, "+48500600701"]
SENDS = {"messages/send_sms", "messages/send_personalized", "xml:wyslij_sms", "smtp"}


@pytest.fixture
def account(simulator_settings, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    simulator_settings.register_account(
        token="sim-token",
        username="sim-user",
        password="sim-pass",
        email="shop@example.com",
        email2sms_key="ShopKey1",
    )
    return ClientAccountFactory(
        partner=PartnerFactory(ic=IC),
        api_token="sim-token",
        username="sim-user",
        password="sim-pass",
        email2sms_sender="shop@example.com",
        email2sms_key="ShopKey1",
    )


def sends(simulator) -> list[dict]:
    return [r for r in simulator.requests() if r["action"] in SENDS]
