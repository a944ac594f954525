"""API v2 client against the live simulator: answers, documented errors, the three failure
classes (nothing done / may have been done / refused) through the simulator's faults."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.serwersms.client import ApiV2Client
from billing.serwersms.errors import (
    InvalidAction,
    InvalidCredentials,
    InvalidInput,
    LimitExhausted,
    MalformedResponse,
    NotFound,
    Outcome,
    RateLimited,
    SendingNotAllowed,
    ServerError,
    TransportError,
)
from tests.conftest import free_port

TOKEN = "tok-client"
PHONE = "+48500600700"


@pytest.fixture
def sim(simulator_settings):
    simulator_settings.register_account(token=TOKEN, username="user", password="pass")
    return simulator_settings


def client(**kwargs) -> ApiV2Client:
    kwargs.setdefault("token", TOKEN)
    return ApiV2Client(ic=4242, **kwargs)


def sends(sim) -> list:
    return [r for r in sim.requests() if r["action"] == "messages/send_sms"]


def test_send_sms_asks_for_details_and_reads_items_with_utc_times(sim):
    sim.set_time(datetime(2026, 7, 1, 8, 0, 5, tzinfo=UTC))
    [item] = client().send_sms([PHONE], "Hello", unique_ids=["abc123"])
    assert item.status == "queued" and item.serwersms_id and item.parts == 1
    assert item.queued_at == datetime(2026, 7, 1, 8, 0, 5, tzinfo=UTC)  # Warsaw CEST -> UTC
    assert sim.messages()[0]["unique_id"] == "abc123"
    assert sends(sim)[0]["ic"] == 4242


def test_username_and_password_work_in_the_body(sim):
    [item] = client(token="", username="user", password="pass").send_sms([PHONE], "x")
    assert item.status == "queued"


def test_items_come_back_in_the_order_asked_and_an_unsent_item_keeps_its_error(sim):
    items = client().send_sms(["500600701", "12", PHONE], "x")
    assert [i.status for i in items] == ["queued", "unsent", "queued"]
    assert items[0].phone == "+48500600701" and items[2].phone == PHONE
    assert items[1].error_code == "2001" and items[1].error_message


@pytest.mark.parametrize(
    ("account", "call", "expected", "code"),
    [
        ({"token": "nobody"}, lambda c: c.send_sms([PHONE], "x"), InvalidCredentials, "1001"),
        ({"limit": 0}, lambda c: c.send_sms([PHONE], "x"), LimitExhausted, "3000"),
        (
            {"denied_types": ["full"]},
            lambda c: c.send_sms([PHONE], "x", "SKLEP"),
            SendingNotAllowed,
            "3003",
        ),
        ({}, lambda c: c.send_sms([PHONE], " "), InvalidInput, "3101"),
        ({}, lambda c: c.send_sms([PHONE], "x" * 1000), InvalidInput, "3102"),
        ({}, lambda c: c.send_sms([PHONE], "x", unique_ids=["no-dashes"]), InvalidInput, "1006"),
        ({}, lambda c: c.call("messages/nothing"), InvalidAction, "1000"),
        ({}, lambda c: c.view(serwersms_id="nope"), NotFound, "1004"),
    ],
    ids=["1001", "3000", "3003", "3101", "3102", "1006", "1000", "1004"],
)
def test_documented_error_codes_are_refusals_of_their_class(sim, account, call, expected, code):
    token = account.pop("token", TOKEN)
    if account:
        sim.register_account(token=TOKEN, **account)
    with pytest.raises(expected) as caught:
        call(client(token=token))
    assert caught.value.code == code and caught.value.outcome == Outcome.REFUSED
    assert sim.messages() == []


@pytest.mark.parametrize(
    ("fault", "expected", "outcome"),
    [
        ("http_500", ServerError, Outcome.MAYBE_DONE),
        ("accept_then_500", ServerError, Outcome.MAYBE_DONE),
        ("malformed", MalformedResponse, Outcome.MAYBE_DONE),
        ("drop", TransportError, Outcome.MAYBE_DONE),
        ("accept_then_drop", TransportError, Outcome.MAYBE_DONE),
    ],
)
def test_a_send_that_may_have_been_done_is_never_sent_again(sim, fault, expected, outcome):
    sim.faults([fault])
    with pytest.raises(expected) as caught:
        client().send_sms([PHONE], "x")
    assert caught.value.outcome == outcome and caught.value.may_have_been_sent
    assert len(sends(sim)) == 1


def test_a_timeout_may_have_sent(sim):
    sim.faults(["slow"], slow_seconds=1.0)
    with pytest.raises(TransportError) as caught:
        client(timeout=0.3).send_sms([PHONE], "x")
    assert caught.value.may_have_been_sent


def test_connection_refused_surely_did_nothing():
    with pytest.raises(TransportError) as caught:
        client(base_url=f"http://127.0.0.1:{free_port()}/").send_sms([PHONE], "x")
    assert caught.value.outcome == Outcome.NOTHING_DONE


def test_a_rate_limited_send_is_nothing_done_and_asked_once(sim):
    """One attempt per call: asking again is the one retry policy's job (retry.py)."""
    sim.faults(["http_429"])
    with pytest.raises(RateLimited) as caught:
        client().send_sms([PHONE], "x")
    assert caught.value.outcome == Outcome.NOTHING_DONE and caught.value.retry_after == 1.0
    assert [r["fault"] for r in sends(sim)] == ["http_429"] and sim.messages() == []


def test_a_failed_read_is_asked_once(sim):
    sim.faults(["http_500"])
    with pytest.raises(ServerError):
        list(client().reports(ids=["nothing"]))
    assert len([r for r in sim.requests() if r["action"] == "messages/reports"]) == 1


def test_reports_walk_every_batch_and_every_page(sim, settings):
    settings.SERWERSMS_REPORTS_BATCH = 2
    settings.SERWERSMS_REPORTS_PAGE_LIMIT = 1
    items = client().send_sms([f"+4850060070{n}" for n in range(3)], "x", "SKLEP")
    ids = [i.serwersms_id for i in items]
    sim.advance(steps=2)  # in_progress, then sent (or unsent)
    reports = list(client().reports(ids=ids))
    assert [r.serwersms_id for r in reports] == ids
    assert len([r for r in sim.requests() if r["action"] == "messages/reports"]) == 3
    sent = [r for r in reports if r.status == "sent"]
    assert sent and all(r.cost == Decimal("0.16") and r.message_type == "full" for r in sent)
    assert all(r.sent_at and r.sent_at.tzinfo is UTC for r in sent)


def test_a_lost_answer_is_found_by_unique_id_through_reports(sim):
    sim.faults(["accept_then_drop"])
    with pytest.raises(TransportError):
        client().send_sms([PHONE], "x", unique_ids=["lost1"])
    found = client().find_by_unique_ids({"lost1": PHONE, "never1": PHONE})
    assert list(found) == ["lost1"]
    assert found["lost1"].serwersms_id == sim.messages()[0]["id"]
    assert found["lost1"].unique_id == "lost1" and found["lost1"].phone == PHONE
    assert client().find_by_unique_id("never1") is None
    # messages/reports filtered by unique_id (documented, §3), one id per call; never view.
    reads = [r["action"] for r in sim.requests() if r["action"] != "messages/send_sms"]
    assert reads == ["messages/reports"] * 3


def test_a_reports_answer_naming_another_number_decides_nothing(sim):
    """Were the unique_id filter ignored, every message of the account would come back: a
    look-up must then conclude neither "found" nor "not there"."""
    client().send_sms(["+48500600701"], "x", unique_ids=["other1"])
    with pytest.raises(MalformedResponse):
        client().find_by_unique_id("other1", phone=PHONE)
    assert client().find_by_unique_id("other1", phone="+48500600701") is not None


def test_view_needs_the_serwersms_id(sim):
    [item] = client().send_sms([PHONE], "x", unique_ids=["viewed1"])
    assert client().view(item.serwersms_id).phone == PHONE
    with pytest.raises(ValueError):
        client().view("")
    with pytest.raises(NotFound):
        client().view("nope")


def test_reports_for_a_phone_in_a_time_range(sim):
    sim.set_time(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    client().send_sms([PHONE], "x")
    client().send_sms(["+48500600701"], "x")
    start = datetime(2026, 1, 5, 9, 59, tzinfo=UTC)
    [item] = client().reports_for_phone(PHONE, date_from=start)
    assert item.phone == PHONE
    assert client().reports_for_phone(PHONE, date_from=datetime(2026, 1, 6, tzinfo=UTC)) == []


def test_a_send_answer_with_a_queued_time_out_of_range_is_malformed(canned):
    """A `queued` number no clock can hold makes the answer unreadable: MAYBE_DONE, looked up."""
    canned.answer(
        {
            "success": True,
            "items": [{"id": "a1", "phone": PHONE, "status": "queued", "queued": 10**20}],
        }
    )
    with pytest.raises(MalformedResponse) as caught:
        client(base_url=canned.url).send_sms([PHONE], "x")
    assert caught.value.outcome == Outcome.MAYBE_DONE
