"""Email2SMS over SMTP as §6 describes it: authorised From + key, subject fields, text ended by
END, the ic in `SerwerSMS-Dealer`; anything else is accepted by the mail server and ignored."""

import smtplib
from email.message import EmailMessage

import pytest

FROM = "shop@example.com"


def mail(subject, text, sender=FROM, ic=None, to="sms@email2sms.serwersms.pl"):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if ic is not None:
        message["SerwerSMS-Dealer"] = str(ic)
    message.set_content(text)
    return message


def deliver(simulator, message):
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


@pytest.fixture
def account(simulator):
    simulator.register_account(token="t", email=FROM, email2sms_key="Key123")


def test_a_documented_mail_is_taken_with_its_ic_and_only_the_text_before_end(simulator, account):
    body = "Zażółć gęślą\nEND\n-- \nFree mail advert"
    deliver(simulator, mail("klucz=Key123 numer=+48500600700", body, ic=321))
    [message] = simulator.messages()
    assert (message["channel"], message["ic"], message["phone"]) == (
        "email2sms",
        321,
        "+48500600700",
    )
    assert message["text"] == "Zażółć gęślą"
    assert simulator.mails()[-1]["result"] == "taken"


def test_several_numbers_a_sender_and_the_dynamic_address(simulator, account):
    deliver(simulator, mail("klucz=Key123 numer=500600700;500600701 nadawca=SKLEP", "Hi\nEND"))
    deliver(simulator, mail("klucz:Key123", "Hi\nEND", to="500600702@email2sms.serwersms.pl"))
    records = simulator.messages()
    assert [r["phone"] for r in records] == ["+48500600700", "+48500600701", "+48500600702"]
    assert [r["type"] for r in records] == ["full", "full", "eco"]
    assert {r["ic"] for r in records} == {None}


@pytest.mark.parametrize(
    ("subject", "body", "sender", "why"),
    [
        ("klucz=Wrong numer=500600700", "Hi\nEND", FROM, "key"),
        ("numer=500600700", "Hi\nEND", FROM, "key"),
        ("klucz=Key123 numer=500600700", "Hi without the end line", FROM, "END"),
        ("klucz=Key123 numer=500600700", "Hi\nEND", "stranger@example.com", "authorised"),
        ("klucz=Key123", "Hi\nEND", FROM, "number"),
    ],
)
def test_a_mail_that_breaks_the_rules_is_accepted_and_ignored(
    simulator, account, subject, body, sender, why
):
    deliver(simulator, mail(subject, body, sender=sender))  # no SMTP error: SerwerSMS is silent
    assert simulator.messages() == []
    assert why in simulator.mails()[-1]["result"]
