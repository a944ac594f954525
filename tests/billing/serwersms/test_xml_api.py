"""XML API client against the live simulator: wyslij_sms, sprawdz_sms, <Blad>, safe parsing."""

from datetime import UTC, datetime

import pytest

from billing.serwersms.errors import (
    InvalidCredentials,
    LimitExhausted,
    MalformedResponse,
    Outcome,
    ServerError,
    SerwerSMSError,
    TransportError,
)
from billing.serwersms.xml_api import XmlApiClient

PHONE = "+48500600700"


@pytest.fixture
def sim(simulator_settings):
    simulator_settings.register_account(username="user", password="pass")
    return simulator_settings


def client(**kwargs) -> XmlApiClient:
    kwargs.setdefault("password", "pass")
    return XmlApiClient(ic=4242, username="user", **kwargs)


def test_wyslij_sms_sends_the_ic_and_matches_queued_and_unsent_by_number(sim):
    sim.set_time(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    items = client().send_sms(["500600701", "12", PHONE], "Czesc", unique_ids=["a01", "a02", "a03"])
    assert [i.status for i in items] == ["queued", "unsent", "queued"]
    assert items[0].phone == "+48500600701" and items[2].phone == PHONE
    assert items[0].queued_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert items[1].error_code == "wrong_number"
    assert sorted(m["unique_id"] for m in sim.messages()) == ["a01", "a02", "a03"]
    assert sim.requests()[-1]["ic"] == 4242


def test_sprawdz_sms_by_id_and_by_number_and_time(sim):
    [sent] = client().send_sms([PHONE], "x")
    [by_id] = client().sprawdz_sms(smsids=[sent.serwersms_id])
    assert (by_id.serwersms_id, by_id.status) == (sent.serwersms_id, "queued")
    sim.advance(to="final")
    since = datetime(2000, 1, 1, tzinfo=UTC)
    [by_phone] = client().sprawdz_sms(phones=[PHONE], date_from=since)
    assert by_phone.status in ("delivered", "undelivered", "unsent")
    assert by_phone.status == sim.messages()[0]["status"]
    assert "ic" not in str(sim.requests()[-1]["ic"] or "")


def test_the_xml_stan_words_are_a_setting(sim, settings):
    [sent] = client().send_sms([PHONE], "x")
    settings.SERWERSMS_XML_STAN_WORDS = {"skolejkowane": "in_progress"}
    assert client().sprawdz_sms(smsids=[sent.serwersms_id])[0].status == "in_progress"


def test_a_text_blad_is_a_refusal(sim):
    with pytest.raises(SerwerSMSError) as caught:
        client(password="wrong").send_sms([PHONE], "x")
    assert caught.value.outcome == Outcome.REFUSED and caught.value.message


@pytest.mark.parametrize(
    ("account", "password", "expected", "code"),
    [({}, "wrong", SerwerSMSError, None), ({"limit": 0}, "pass", LimitExhausted, "1000")],
)
def test_a_numeric_blad_has_its_class(sim, account, password, expected, code):
    sim.register_account(username="user", xml_numeric_errors=True, **account)
    with pytest.raises(expected) as caught:
        client(password=password).send_sms([PHONE], "x")
    if code:
        assert caught.value.code == code
    assert caught.value.outcome == Outcome.REFUSED


def test_blad_101_and_100_are_invalid_credentials(canned):
    for number in ("100", "101"):
        canned.answer(f"<SerwerSMS><Blad>{number}</Blad></SerwerSMS>")
        with pytest.raises(InvalidCredentials):
            XmlApiClient(ic=1, username="u", password="p", url=canned.url).send_sms([PHONE], "x")


@pytest.mark.parametrize(
    "body",
    [
        "<SerwerSMS><Odbiorcy>",  # truncated
        "not xml at all",
        "<Other/>",
        "<SerwerSMS/>",  # no <Odbiorcy>
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><SerwerSMS>&a;</SerwerSMS>',
    ],
)
def test_malformed_or_unsafe_xml_is_a_malformed_response(canned, body):
    canned.answer(body)
    with pytest.raises(MalformedResponse) as caught:
        XmlApiClient(ic=1, username="u", password="p", url=canned.url).send_sms([PHONE], "x")
    assert caught.value.may_have_been_sent


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("http_500", ServerError),
        ("malformed", MalformedResponse),
        ("accept_then_drop", TransportError),
    ],
)
def test_http_faults_may_have_sent(sim, fault, expected):
    sim.faults([fault], channel="xml_api")
    with pytest.raises(expected) as caught:
        client().send_sms([PHONE], "x")
    assert caught.value.may_have_been_sent


def test_timeout_may_have_sent(sim):
    sim.faults(["slow"], slow_seconds=1.0, channel="xml_api")
    with pytest.raises(TransportError) as caught:
        client(timeout=0.3).send_sms([PHONE], "x")
    assert caught.value.may_have_been_sent
