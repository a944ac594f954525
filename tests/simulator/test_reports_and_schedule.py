"""Reports, view, delete, and the seeded status schedule."""

import time
from datetime import UTC, datetime

import pytest
import requests

from serwersms_sim import Simulator
from serwersms_sim.sending import Recipient, SendRequest

TOKEN = "token-r"


def call(simulator, action, body, token=TOKEN):
    return requests.post(
        f"{simulator.api_url}{action}.json",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def send(simulator, phones, **extra):
    body = {"phone": phones, "text": "Hi", "details": True, **extra}
    return call(simulator, "messages/send_sms", body).json()


def test_reports_by_id_give_the_report_fields(simulator):
    simulator.register_account(token=TOKEN)
    ids = [item["id"] for item in send(simulator, ["500600700", "500600701"])["items"]]
    answer = call(simulator, "messages/reports", {"id": ids}).json()
    assert answer["paging"] == {"page": 1, "count": 1}
    item = answer["items"][0]
    for field in ("id", "phone", "status", "queued", "sent", "delivered", "sender", "type"):
        assert field in item
    for field in ("text", "flash", "utf", "parts", "cost", "method", "reason"):
        assert field in item
    assert "unique_id" not in item  # no source documents it in report items (§3)
    assert [i["id"] for i in answer["items"]] == ids
    # §3 (C): reports say in_progress for a message queued for sending, never `queued`.
    assert item["status"] == "in_progress" and item["sent"] is None and item["cost"] == 0.0
    assert simulator.messages()[0]["status"] == "queued"  # its own record: not moved on yet


def test_reports_only_show_the_callers_messages(simulator):
    simulator.register_account(token=TOKEN)
    simulator.register_account(token="other")
    mine = send(simulator, "500600700")["items"][0]["id"]
    body = {"phone": "500600701", "text": "x", "details": True}
    theirs = call(simulator, "messages/send_sms", body, "other")
    other_id = theirs.json()["items"][0]["id"]
    answer = call(simulator, "messages/reports", {"id": [mine, other_id]}).json()
    assert [i["id"] for i in answer["items"]] == [mine]
    assert len(call(simulator, "messages/reports", {}).json()["items"]) == 1


def test_reports_filter_by_unique_id_phone_status_and_page(simulator):
    simulator.register_account(token=TOKEN)
    phones = [f"50060070{n}" for n in range(5)]
    sent = send(simulator, phones, unique_id=[f"uid{n}" for n in range(5)])
    ids = [item["id"] for item in sent["items"]]
    by_unique = call(simulator, "messages/reports", {"unique_id": ["uid1", "uid3"]}).json()
    assert sorted(i["id"] for i in by_unique["items"]) == [ids[1], ids[3]]
    by_phone = call(simulator, "messages/reports", {"phone": "+48500600704"}).json()
    assert [i["id"] for i in by_phone["items"]] == [ids[4]]
    page = call(simulator, "messages/reports", {"limit": 2, "page": 3, "order": "asc"}).json()
    assert page["paging"] == {"page": 3, "count": 3}
    assert [i["id"] for i in page["items"]] == [ids[4]]
    in_progress = call(simulator, "messages/reports", {"status": "in_progress"}).json()
    assert len(in_progress["items"]) == 5
    assert call(simulator, "messages/reports", {"status": "saved"}).json()["items"] == []
    assert call(simulator, "messages/reports", {"status": "pending"}).json()["items"] == []
    assert call(simulator, "messages/reports", {"status": "delivered"}).json()["items"] == []


def test_more_than_500_ids_is_a_validation_error(simulator):
    simulator.register_account(token=TOKEN)
    response = call(simulator, "messages/reports", {"id": [str(n) for n in range(501)]})
    assert response.status_code == 200
    assert response.json()["error"]["code"] == 1006


def test_reports_date_filter_uses_warsaw_time(simulator):
    simulator.register_account(token=TOKEN)
    simulator.set_time(datetime(2025, 3, 31, 22, 30, tzinfo=UTC))  # 1 April 00:30 in Warsaw
    send(simulator, "500600700")
    april = call(simulator, "messages/reports", {"date_from": "2025-04-01"}).json()
    march = call(simulator, "messages/reports", {"date_to": "2025-03-31"}).json()
    assert len(april["items"]) == 1 and march["items"] == []
    assert april["items"][0]["queued"] == "2025-04-01 00:30:00"


def test_view_gives_one_message_and_delete_removes_only_scheduled_ones(simulator):
    simulator.register_account(token=TOKEN)
    now_id = send(simulator, "500600700")["items"][0]["id"]
    later = send(simulator, "500600701", date="2099-01-01 12:00:00", unique_id="later")
    later_id = later["items"][0]["id"]
    viewed = call(simulator, "messages/view", {"id": later_id}).json()
    assert viewed["status"] == "saved" and viewed["id"] == later_id  # one unwrapped object
    narrowed = {"id": later_id, "unique_id": "later"}
    assert call(simulator, "messages/view", narrowed).json()["id"] == later_id
    # No id: the §2 envelope for a missing required field, whatever else is given.
    missing = call(simulator, "messages/view", {"unique_id": "later"}).json()
    assert missing["error"]["code"] == 2000
    # Deleting a message already sent answers success false, not an error (§3, C).
    assert call(simulator, "messages/delete", {"id": now_id}).json() == {"success": False}
    assert call(simulator, "messages/delete", {"unique_id": "later"}).json() == {"success": True}
    assert [m["id"] for m in simulator.messages()] == [now_id]
    assert call(simulator, "messages/view", {"id": later_id}).json()["error"]["code"] == 1004


def test_advance_moves_every_message_one_step_and_fills_times_and_cost(simulator):
    simulator.register_account(token=TOKEN)
    send(simulator, ["500600700", "500600701"], sender="Shop")
    simulator.advance()
    assert {m["status"] for m in simulator.messages()} <= {"in_progress", "unsent"}
    simulator.advance(to="final")
    for message in simulator.messages():
        assert message["status"] in ("delivered", "undelivered", "unsent")
        if message["status"] == "delivered":
            assert message["sent"] and message["delivered"]
            assert message["cost"] == "0.1600"
        if message["status"] != "delivered":
            assert message["reason"]


def test_the_same_seed_gives_the_same_fates():
    def fates(seed):
        sim = Simulator(seed=seed, speed=0)
        account = sim.register_account({"token": "t"})
        phones = [f"+4850060{n:04d}" for n in range(200)]
        request = SendRequest(recipients=[Recipient(p, "Hi") for p in phones], channel="api_v2")
        sim.send(account, request)
        sim.advance(to_final=True)
        return [(m["status"], m["reason"]) for m in sim.message_records()]

    first, again, other = fates(7), fates(7), fates(8)
    assert first == again
    assert first != other
    statuses = {status for status, _ in first}
    assert {"delivered", "undelivered", "unsent"} <= statuses


def test_statuses_advance_on_their_own_with_time():
    sim = Simulator(seed=3, speed=1000)  # the schedule's seconds become milliseconds
    account = sim.register_account({"token": "t"})
    sim.send(account, SendRequest(recipients=[Recipient("500600700", "Hi")], channel="api_v2"))
    deadline = time.monotonic() + 5
    while sim.message_records()[0]["status"] not in ("delivered", "undelivered", "unsent"):
        assert time.monotonic() < deadline, "the message never reached a final status"
        sim.tick()
        time.sleep(0.01)


@pytest.mark.slow
def test_report_queries_stay_fast_with_many_messages():
    sim = Simulator(seed=1, speed=0)
    account = sim.register_account({"token": "t"})
    phones = [f"+4850{n:07d}" for n in range(1000)]
    for _ in range(100):  # 100,000 messages
        sim.send(account, SendRequest([Recipient(p, "Hi") for p in phones], channel="api_v2"))
    assert len(sim.messages) == 100_000
    ids = list(sim.messages)[50_000:50_500]
    started = time.perf_counter()
    for _ in range(20):
        answer = sim.reports(account, {"id": ids, "limit": 500})
    elapsed = time.perf_counter() - started
    assert len(answer["items"]) == 500
    assert elapsed < 1.0
