"""The ic goes on every sending request of every channel, and on no other request."""

import pytest
from django.core import mail

from billing.serwersms import ic as ic_rules
from billing.serwersms.client import ApiV2Client
from billing.serwersms.email2sms import Email2SMSClient
from billing.serwersms.errors import SerwerSMSError
from billing.serwersms.xml_api import XmlApiClient

IC = 4242
API_V2_READS = [
    "messages/reports",
    "messages/view",
    "messages/delete",
    "messages/recived",
    "account/limits",
    "error/1001",
]
XML_READS = ["sprawdz_sms", "ilosc_sms", "sprawdz_odpowiedzi", "usun_zaplanowane", "nazwa_nadawcy"]


def test_every_api_v2_sending_action_carries_the_ic_and_no_other_does(simulator_settings):
    simulator_settings.register_account(token="t")
    client = ApiV2Client(ic=IC, token="t")
    client.send_sms(["+48500600700"], "a")
    client.send_personalized([("+48500600700", "b")])
    for action in ic_rules.SENDING_ACTIONS["api_v2"] | set(API_V2_READS):
        try:
            client.call(action, {"id": "1", "ic": 999, "phone": "500600700", "text": "x"})
        except SerwerSMSError:
            pass  # a stray ic in the input is never kept, whatever the answer
    list(client.reports(ids=["1", "2"]))

    seen = {(r["action"], r["ic"]) for r in simulator_settings.requests()}
    sending = {(a, IC) for a in ic_rules.SENDING_ACTIONS["api_v2"]}
    assert sending <= seen
    assert {a for a, ic in seen if ic is not None} == set(ic_rules.SENDING_ACTIONS["api_v2"])
    assert all(ic in (None, IC) for _, ic in seen)


def test_every_xml_sending_action_carries_the_ic_and_no_other_does(simulator_settings):
    simulator_settings.register_account(username="u", password="p")
    client = XmlApiClient(ic=IC, username="u", password="p")
    [item] = client.send_sms(["+48500600700"], "a", unique_ids=["q12"])
    client.sprawdz_sms(smsids=[item.serwersms_id])
    for action in XML_READS:
        try:
            client.call(action, {"ic": "999"})
        except SerwerSMSError:
            pass

    requests = simulator_settings.requests()
    with_ic = [(r["action"], r["ic"]) for r in requests if r["ic"] is not None]
    assert with_ic == [("xml:wyslij_sms", IC)]
    assert len(requests) == 2 + len(XML_READS)


def test_email2sms_mail_carries_the_dealer_header(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Email2SMSClient(ic=IC, from_address="shop@example.com", key="Key1").send(
        "+48500600700", "Hello"
    )
    (sent,) = mail.outbox
    assert sent.extra_headers["SerwerSMS-Dealer"] == str(IC)
    assert sent.message()["SerwerSMS-Dealer"] == str(IC)
    assert sent.from_email == "shop@example.com"
    assert sent.to == [settings.SERWERSMS_EMAIL2SMS_ADDRESS]


@pytest.mark.parametrize(
    ("channel", "action", "expected"),
    [
        ("api_v2", "messages/send_sms", True),
        ("api_v2", "messages/send_voice", True),
        ("api_v2", "messages/reports", False),
        ("xml_api", "wyslij_sms", True),
        ("xml_api", "sprawdz_sms", False),
        ("email2sms", "send", True),
    ],
)
def test_is_sending_table(channel, action, expected):
    assert ic_rules.is_sending(channel, action) is expected


@pytest.mark.parametrize("bad_ic", [None, 0, -1, "12", True])
def test_a_sending_request_without_a_valid_ic_is_refused(bad_ic):
    with pytest.raises(ValueError, match="positive integer"):
        ic_rules.with_ic("api_v2", "messages/send_sms", {}, bad_ic)


def test_a_read_is_stripped_of_any_ic_whatever_the_case():
    payload = {"IC": 5, "id": "1"}
    assert ic_rules.with_ic("api_v2", "messages/reports", payload, IC) == {"id": "1"}
    assert ic_rules.with_ic("email2sms", "send", {"serwersms-dealer": "1"}, IC) == {
        "SerwerSMS-Dealer": str(IC)
    }
