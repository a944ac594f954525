"""Email2SMS client: the mail as §6 documents it, and what each SMTP failure may have done."""

import smtplib

import pytest
from django.core import mail

from billing.serwersms.email2sms import Email2SMSClient, MailDeferred
from billing.serwersms.errors import ConfigurationError, InvalidInput, Outcome, TransportError
from tests.conftest import free_port

FROM, KEY, PHONE = "shop@example.com", "Key123", "+48500600700"


def client(**kwargs) -> Email2SMSClient:
    return Email2SMSClient(ic=5, from_address=FROM, key=KEY, timeout=5, **kwargs)


def test_the_mail_carries_key_number_report_flag_text_and_end(settings):
    built = client().build(PHONE, "Hello\nsecond line", sender="SKLEP")
    assert built.subject == "klucz=Key123 numer=+48500600700 nadawca=SKLEP raport=1"
    assert built.body == "Hello\nsecond line\nEND\n"
    assert built.from_email == FROM and built.to == [settings.SERWERSMS_EMAIL2SMS_ADDRESS]
    assert built.extra_headers == {"SerwerSMS-Dealer": "5"}


def test_the_subject_syntax_is_a_setting(settings):
    settings.SERWERSMS_EMAIL2SMS_SUBJECT_ASSIGN = ":"
    settings.SERWERSMS_EMAIL2SMS_SUBJECT_SEPARATOR = ", "
    settings.SERWERSMS_EMAIL2SMS_REPORT = False
    assert client().build(PHONE, "x").subject == "klucz:Key123, numer:+48500600700"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"from_address": ""}, "no_email2sms_key"),
        ({"key": ""}, "no_email2sms_key"),
        ({"key": "bad key!"}, "bad_email2sms_key"),
    ],
)
def test_an_account_without_address_or_valid_key_cannot_send(kwargs, code):
    values = {"ic": 5, "from_address": FROM, "key": KEY, **kwargs}
    with pytest.raises(ConfigurationError) as caught:
        Email2SMSClient(**values)
    assert caught.value.code == code


def test_a_text_with_its_own_end_line_is_refused_before_sending(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with pytest.raises(InvalidInput):
        client().send(PHONE, "Hello\nEND\nmore")
    assert mail.outbox == []


def test_no_smtp_server_surely_sent_nothing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SERWERSMS_EMAIL2SMS_HOST = "127.0.0.1"
    settings.SERWERSMS_EMAIL2SMS_PORT = free_port()
    with pytest.raises(TransportError) as caught:
        client().send(PHONE, "x")
    assert caught.value.outcome == Outcome.NOTHING_DONE


@pytest.fixture
def sim(simulator_settings, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    simulator_settings.register_account(token="t", email=FROM, email2sms_key=KEY)
    return simulator_settings


def test_the_simulator_takes_the_mail_as_documented(sim):
    client().send(PHONE, "Hello")
    [message] = sim.messages()
    assert (message["phone"], message["text"], message["ic"]) == (PHONE, "Hello", 5)
    assert sim.mails()[-1]["result"] == "taken"


@pytest.mark.parametrize(
    ("fault", "expected", "outcome", "taken"),
    [
        ("smtp_421", MailDeferred, Outcome.NOTHING_DONE, False),
        ("smtp_451", MailDeferred, Outcome.NOTHING_DONE, False),
        ("smtp_554", InvalidInput, Outcome.REFUSED, False),
        ("smtp_drop", TransportError, Outcome.MAYBE_DONE, False),
        ("smtp_accept_then_drop", TransportError, Outcome.MAYBE_DONE, True),
    ],
)
def test_smtp_faults_have_their_outcome(sim, fault, expected, outcome, taken):
    sim.faults([fault], channel="email2sms")
    with pytest.raises(expected) as caught:
        client().send(PHONE, "x")
    assert caught.value.outcome == outcome
    assert bool(sim.messages()) is taken


def test_a_wrong_key_is_accepted_by_the_mail_server_and_ignored(sim):
    Email2SMSClient(ic=5, from_address=FROM, key="Wrong1").send(PHONE, "x")
    assert sim.messages() == []
    assert "key" in sim.mails()[-1]["result"]


def test_smtplib_is_what_raises(sim):
    """The classes above come from smtplib's own exceptions (no mock in between)."""
    sim.faults(["smtp_554"], channel="email2sms")
    with pytest.raises(InvalidInput) as caught:
        client().send(PHONE, "x")
    assert isinstance(caught.value.__cause__, smtplib.SMTPDataError)
