"""Email2SMS failures: a refused connection surely sent nothing; a refused mail is input error."""

import pytest

from billing.serwersms.email2sms import Email2SMSClient
from billing.serwersms.errors import TransportError
from tests.conftest import free_port


def test_no_smtp_server_surely_sent_nothing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SERWERSMS_EMAIL2SMS_HOST = "127.0.0.1"
    settings.SERWERSMS_EMAIL2SMS_PORT = free_port()
    with pytest.raises(TransportError) as caught:
        Email2SMSClient(ic=5, from_address="a@example.com", timeout=1).send("+48500600700", "x")
    assert not caught.value.may_have_been_sent


def test_default_from_address_is_the_setting(settings):
    settings.SERWERSMS_EMAIL2SMS_FROM = "portal@example.com"
    mail = Email2SMSClient(ic=5, from_address="").build("+48500600700", "x")
    assert mail.from_email == "portal@example.com"
