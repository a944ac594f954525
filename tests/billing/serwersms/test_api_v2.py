"""API v2 client against a canned loopback stand-in: answers, errors, transport failures."""

import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.serwersms.client import ApiV2Client
from billing.serwersms.errors import (
    InvalidCredentials,
    InvalidInput,
    LimitExhausted,
    MalformedResponse,
    RateLimited,
    ServerError,
    TransportError,
)
from tests.conftest import free_port


def client(**kwargs) -> ApiV2Client:
    return ApiV2Client(ic=4242, token="tok", **kwargs)


def test_send_sms_parses_items_and_utc_times(stub):
    items = client().send_sms(["+48500600700", "+48500600701"], "hi", unique_ids=["u1", "u2"])
    assert [i.status for i in items] == ["queued", "queued"]
    assert items[0].serwersms_id and items[0].serwersms_id != items[1].serwersms_id
    # 12:00 Warsaw in March (CET, UTC+1) is 11:00 UTC.
    assert items[0].queued_at == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    request = stub.requests[0]
    assert request.path == "/messages/send_sms.json"
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.json["unique_id"] == ["u1", "u2"]


def test_username_password_go_in_the_body(stub):
    ApiV2Client(ic=7, username="user", password="secret").send_sms(["+48500600700"], "x")
    body = stub.requests[0].json
    assert (body["username"], body["password"]) == ("user", "secret")
    assert "Authorization" not in stub.requests[0].headers


def test_unsent_item_keeps_error_code_and_message(stub):
    stub.answer(
        body={
            "success": True,
            "items": [
                {
                    "phone": "+48500600700",
                    "status": "unsent",
                    "error_code": 2001,
                    "error_message": "wrong number",
                }
            ],
        }
    )
    (item,) = client().send_sms(["+48500600700"], "x")
    assert (item.status, item.error_code, item.error_message) == ("unsent", "2001", "wrong number")
    assert item.serwersms_id is None


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (
            401,
            {"code": 1001, "type": "InvalidCredentials", "message": "Bad login"},
            InvalidCredentials,
        ),
        (402, {"code": 3001, "type": "LimitExhausted", "message": "No SMS left"}, LimitExhausted),
        (400, {"code": 2002, "type": "ValidationError", "message": "Empty text"}, InvalidInput),
        (
            200,
            {"code": 1001, "type": "InvalidCredentials", "message": "Bad login"},
            InvalidCredentials,
        ),
        (500, {"code": 5000, "type": "Internal", "message": "Oops"}, ServerError),
        (429, {"code": 429, "type": "TooMany", "message": "Slow down"}, RateLimited),
    ],
)
def test_error_answers_become_typed_errors_with_code_and_message(stub, status, error, expected):
    stub.answer(status=status, body={"success": False, "error": error})
    with pytest.raises(expected) as caught:
        client().send_sms(["+48500600700"], "x")
    assert caught.value.code == str(error["code"])
    assert caught.value.message == error["message"]
    assert caught.value.http_status == status
    assert not caught.value.may_have_been_sent


def test_http_500_with_an_html_body_is_a_server_error(stub):
    stub.answer(status=500, body="<html>Internal Server Error</html>", content_type="text/html")
    with pytest.raises(ServerError) as caught:
        client().send_sms(["+48500600700"], "x")
    assert caught.value.http_status == 500


@pytest.mark.parametrize(
    "body", ["{not json", "[1, 2]", '{"success": true}', '{"success": true, "items": [1]}']
)
def test_malformed_json_is_a_malformed_response(stub, body):
    stub.answer(body=body)
    with pytest.raises(MalformedResponse):
        client().send_sms(["+48500600700"], "x")


def test_a_timeout_after_sending_may_have_sent(stub):
    stub.answer(delay=1.0)
    with pytest.raises(TransportError) as caught:
        client(timeout=0.2).send_sms(["+48500600700"], "x")
    assert caught.value.may_have_been_sent
    assert "did not answer within 0.2" in caught.value.message


def test_a_dropped_connection_may_have_sent(stub):
    stub.answer(drop=True)
    with pytest.raises(TransportError) as caught:
        client().send_sms(["+48500600700"], "x")
    assert caught.value.may_have_been_sent


def test_connection_refused_surely_did_not_send(settings):
    settings.SERWERSMS_RETRIES = 0
    port = free_port()  # nothing listens there
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(TransportError) as caught:
        client(base_url=f"http://127.0.0.1:{port}/").send_sms(["+48500600700"], "x")
    assert not caught.value.may_have_been_sent


def test_rate_limited_send_is_retried_because_nothing_was_done(stub, settings):
    settings.SERWERSMS_RETRIES = 2
    stub.answer(status=429, body={"error": {"code": 429, "message": "slow"}})
    items = client().send_sms(["+48500600700"], "x")
    assert items[0].status == "queued"
    assert [r.action for r in stub.requests] == ["messages/send_sms", "messages/send_sms"]


def test_a_send_is_never_retried_after_a_timeout_or_500(stub, settings):
    settings.SERWERSMS_RETRIES = 3
    stub.answer(status=500, body="boom")
    with pytest.raises(ServerError):
        client().send_sms(["+48500600700"], "x")
    stub.answer(drop=True)
    with pytest.raises(TransportError):
        client().send_sms(["+48500600700"], "x")
    assert len(stub.requests) == 2


def test_reads_are_retried_after_a_500(stub, settings):
    settings.SERWERSMS_RETRIES = 1
    stub.answer(status=500, body="boom")
    assert list(client().reports(ids=["nothing"])) == []
    assert len(stub.requests) == 2


def _report_page(ids, page, pages):
    return {
        "paging": {"page": page, "count": pages},
        "items": [
            {
                "id": i,
                "phone": "+48500600700",
                "status": "delivered",
                "queued": "2026-07-01 10:00:00",
                "sent": "2026-07-01 10:00:05",
                "delivered": "",
                "parts": 2,
                "cost": 0.16,
                "type": "full",
                "sender": "Shop",
                "reason": "",
            }
            for i in ids
        ],
    }


def test_reports_walk_every_batch_and_every_page(stub, settings):
    settings.SERWERSMS_REPORTS_BATCH = 2
    ids = ["a", "b", "c"]
    stub.answer(body=_report_page(["a"], 1, 2))
    stub.answer(body=_report_page(["b"], 2, 2))
    stub.answer(body=_report_page(["c"], 1, 1))
    items = list(client().reports(ids=ids))
    assert [i.serwersms_id for i in items] == ["a", "b", "c"]
    bodies = [r.json for r in stub.requests]
    assert [(b["id"], b["page"]) for b in bodies] == [(["a", "b"], 1), (["a", "b"], 2), (["c"], 1)]
    first = items[0]
    assert first.cost == Decimal("0.16") and first.parts == 2 and first.message_type == "full"
    # July is CEST (UTC+2); an empty delivered time is None.
    assert first.sent_at == datetime(2026, 7, 1, 8, 0, 5, tzinfo=UTC)
    assert first.delivered_at is None


def test_reports_filter_by_unique_id_phone_and_dates(stub):
    start = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    end = datetime(2026, 1, 6, 23, 30, tzinfo=UTC)
    list(client().reports(unique_ids=["u1"], phones=["+48500600700"], date_from=start, date_to=end))
    body = stub.requests[0].json
    assert body["unique_id"] == ["u1"]
    assert body["phone"] == ["+48500600700"]
    # Filters go out in Warsaw local time.
    assert (body["date_from"], body["date_to"]) == ("2026-01-06 00:30:00", "2026-01-07 00:30:00")


def test_view_returns_a_report_item(stub):
    stub.answer(body=_report_page(["z9"], 1, 1)["items"][0])
    item = client().view(serwersms_id="z9")
    assert (item.serwersms_id, item.status) == ("z9", "delivered")


def test_malformed_report_item_is_a_malformed_response(stub):
    stub.answer(body={"paging": {"page": 1, "count": 1}, "items": [{"id": "1", "queued": "soon"}]})
    with pytest.raises(MalformedResponse):
        list(client().reports(ids=["1"]))
