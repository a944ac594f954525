"""The ic goes on every sending request of every channel, and on no other request."""

import pytest
from django.core import mail

from billing.serwersms import ic as ic_rules
from billing.serwersms.client import ApiV2Client
from billing.serwersms.email2sms import Email2SMSClient
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


def test_every_api_v2_sending_action_carries_the_ic_and_no_other_does(stub):
    client = ApiV2Client(ic=IC, token="t")
    client.send_sms(["+48500600700"], "a")
    client.send_personalized([("+48500600700", "b")])
    for action in ic_rules.SENDING_ACTIONS["api_v2"] | set(API_V2_READS):
        client.call(action, {"id": "1", "ic": 999})  # a stray ic in the input is never kept
    list(client.reports(ids=["1", "2"]))
    stub.answer(body={"id": "s1001", "phone": "+48500600700", "status": "queued"})
    client.view(serwersms_id="s1001")

    seen = {(r.action, r.json.get("ic")) for r in stub.requests}
    sending = {(a, IC) for a in ic_rules.SENDING_ACTIONS["api_v2"]}
    assert sending <= seen
    assert {a for a, ic in seen if ic is not None} == set(ic_rules.SENDING_ACTIONS["api_v2"])
    assert all(ic in (None, IC) for _, ic in seen)


def test_every_xml_sending_action_carries_the_ic_and_no_other_does(stub):
    client = XmlApiClient(ic=IC, username="u", password="p")
    client.send_sms(["+48500600700"], "a", unique_ids=["q1"])
    client.sprawdz_sms(usmsids=["q1"])
    for action in XML_READS:
        client.call(action, {"ic": "999"})

    forms = [r.form for r in stub.requests]
    with_ic = [(f["akcja"], f["ic"]) for f in forms if "ic" in f]
    assert with_ic == [("wyslij_sms", str(IC))]
    assert len(forms) == 2 + len(XML_READS)


def test_email2sms_mail_carries_the_dealer_header(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Email2SMSClient(ic=IC, from_address="shop@example.com").send("+48500600700", "Hello")
    (sent,) = mail.outbox
    assert sent.extra_headers["SerwerSMS-Dealer"] == str(IC)
    assert sent.message()["SerwerSMS-Dealer"] == str(IC)
    assert (sent.subject, sent.body, sent.from_email) == (
        "+48500600700",
        "Hello",
        "shop@example.com",
    )
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
