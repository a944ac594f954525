"""XML API client: wyslij_sms, sprawdz_sms, errors, and safe parsing."""

from datetime import UTC, datetime

import pytest

from billing.serwersms.errors import (
    InvalidCredentials,
    LimitExhausted,
    MalformedResponse,
    ServerError,
    TransportError,
)
from billing.serwersms.xml_api import XmlApiClient


def client(**kwargs) -> XmlApiClient:
    return XmlApiClient(ic=4242, username="user", password="pass", **kwargs)


def test_wyslij_sms_sends_form_fields_and_reads_queued_and_unsent(stub):
    stub.answer(
        body=(
            "<SerwerSMS><Odbiorcy><Skolejkowane>"
            '<SMS id="x1" numer="48500600700" usmsid="u1"'
            ' godzina_skolejkowania="2026-03-10 12:00:00"/>'
            "</Skolejkowane><Niewyslane>"
            '<SMS numer="48500600701" usmsid="u2" przyczyna="wrong_number"/>'
            "</Niewyslane></Odbiorcy></SerwerSMS>"
        ),
        content_type="text/xml",
    )
    # Asked in the opposite order: the answer is put back in our order.
    items = client().send_sms(["+48500600701", "+48500600700"], "hi", "Shop", ["u2", "u1"])
    assert [(i.status, i.unique_id) for i in items] == [("unsent", "u2"), ("queued", "u1")]
    assert items[0].error_code == "wrong_number"
    assert items[1].queued_at == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    form = stub.requests[0].form
    assert form["akcja"] == "wyslij_sms"
    assert (form["login"], form["haslo"], form["nadawca"]) == ("user", "pass", "Shop")
    assert form["usmsid"] == "u2,u1"


def test_sprawdz_sms_maps_polish_states(stub):
    stub.answer(
        body=(
            '<SerwerSMS><SMS id="x1" numer="48500600700" usmsid="u1" stan="doreczona"'
            ' godzina_doreczenia="2026-03-10 12:01:00" czesci="2"/>'
            '<SMS id="x2" numer="48500600701" stan="niewyslana" przyczyna="wrong_number"/>'
            "</SerwerSMS>"
        ),
        content_type="text/xml",
    )
    items = client().sprawdz_sms(smsids=["x1", "x2"])
    assert [(i.serwersms_id, i.status) for i in items] == [("x1", "delivered"), ("x2", "unsent")]
    assert items[0].parts == 2 and items[1].reason == "wrong_number"
    assert stub.requests[0].form["smsid"] == "x1,x2"


@pytest.mark.parametrize(
    ("code", "expected"), [("1001", InvalidCredentials), ("3001", LimitExhausted)]
)
def test_blad_becomes_a_typed_error(stub, code, expected):
    stub.answer(
        body=f'<SerwerSMS><Blad kod="{code}">Nope</Blad></SerwerSMS>', content_type="text/xml"
    )
    with pytest.raises(expected) as caught:
        client().send_sms(["+48500600700"], "x")
    assert (caught.value.code, caught.value.message) == (code, "Nope")


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
def test_malformed_or_unsafe_xml_is_a_malformed_response(stub, body):
    stub.answer(body=body, content_type="text/xml")
    with pytest.raises(MalformedResponse):
        client().send_sms(["+48500600700"], "x")


def test_http_500_is_a_server_error(stub):
    stub.answer(status=500, body="Internal error", content_type="text/plain")
    with pytest.raises(ServerError):
        client().sprawdz_sms(smsids=["1"])


def test_timeout_may_have_sent(stub):
    stub.answer(delay=1.0)
    with pytest.raises(TransportError) as caught:
        client(timeout=0.2).send_sms(["+48500600700"], "x")
    assert caught.value.may_have_been_sent
