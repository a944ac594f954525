"""Email2SMS over SMTP: the From address picks the account, the header carries the ic."""

import smtplib
from email.message import EmailMessage

import pytest


def mail(sender, phone, text, ic=None):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sms@email2sms.serwersms.pl"
    message["Subject"] = phone
    if ic is not None:
        message["SerwerSMS-Dealer"] = str(ic)
    message.set_content(text)
    return message


def test_mail_from_a_registered_address_queues_a_message_with_its_ic(simulator):
    simulator.register_account(token="t", email="shop@example.com")
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        smtp.send_message(mail("shop@example.com", "+48500600700", "Zażółć gęślą", ic=321))
    [message] = simulator.messages()
    assert (message["channel"], message["ic"], message["phone"]) == (
        "email2sms",
        321,
        "+48500600700",
    )
    assert message["text"] == "Zażółć gęślą"
    assert message["id"] and message["status"] == "queued"
    assert simulator.requests()[-1]["action"] == "smtp"
    assert simulator.requests()[-1]["ic"] == 321


def test_mail_without_dealer_header_has_no_ic(simulator):
    simulator.register_account(token="t", email="shop@example.com")
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        smtp.send_message(mail("shop@example.com", "500600700", "Hi"))
    assert simulator.messages()[0]["ic"] is None


def test_unknown_sender_is_rejected(simulator):
    simulator.register_account(token="t", email="shop@example.com")
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.send_message(mail("stranger@example.com", "500600700", "Hi"))
    assert refused.value.smtp_code == 550
    assert simulator.messages() == []


def test_bad_ic_or_phone_rejects_the_mail(simulator):
    simulator.register_account(token="t", email="shop@example.com")
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as bad_ic:
            smtp.send_message(mail("shop@example.com", "500600700", "Hi", ic="x1"))
        with pytest.raises(smtplib.SMTPDataError) as bad_phone:
            smtp.send_message(mail("shop@example.com", "not a phone", "Hi"))
    assert bad_ic.value.smtp_code == 550
    assert b"ic must be a positive integer" in bad_ic.value.smtp_error
    assert bad_phone.value.smtp_code == 550
    assert simulator.messages() == []
