"""The official SerwerSMS Python client (PyPI serwersmsv2api, import `serwersms`) drives the
simulator through every action it has for sending, reports, deletion, limits, errors, incoming
messages, senders and phone checks, unchanged but for its base URL (DESIGN.md)."""

import json

import pytest

serwersms = pytest.importorskip("serwersms")

TOKEN = "official-token"


@pytest.fixture
def client(simulator):
    simulator.register_account(token=TOKEN)
    official = serwersms.SerwerSMS(TOKEN)
    official.api_url = simulator.api_url
    return official


def answer(raw):
    return json.loads(raw)


def test_send_sms_and_its_report_view(simulator, client):
    sent = answer(client.message.send_sms("+48500600700", "Test", "Shop", {"details": True}))
    assert sent["success"] is True and sent["queued"] == 1
    [item] = sent["items"]
    assert simulator.requests()[-1]["action"] == "messages/send_sms"
    assert simulator.requests()[-1]["ic"] is None
    simulator.advance(to="final")
    [report] = answer(client.message.reports({"id": [item["id"]]}))["items"]
    assert report["id"] == item["id"] and report["sender"] == "Shop"
    assert report["status"] in ("delivered", "undelivered", "unsent")
    viewed = answer(client.message.view(item["id"], {}))
    assert viewed["id"] == item["id"] and viewed["status"] == report["status"]


def test_send_personalized_voice_and_mms(simulator, client):
    personalized = answer(
        client.message.send_personalized(
            [{"phone": "500600700", "text": "Ala"}, {"phone": "500600701", "text": "Ola"}],
            None,
            {"details": True},
        )
    )
    # The client builds `phone:text]|[...` and cuts four characters off its end: one too many.
    assert [i["text"] for i in personalized["items"]] == ["Ala", "Ol"]
    voice = answer(client.message.send_voice("500600702", {"text": "Call me", "details": True}))
    mms = answer(client.message.send_mms("500600703", "Title", {"details": True}))
    assert voice["queued"] == 1 and mms["queued"] == 1
    assert [m["type"] for m in simulator.messages()] == ["eco", "eco", "voice", "mms"]


def test_reports_accept_every_documented_status_filter(client):
    for status in ("delivered", "undelivered", "pending", "sent", "unsent", "in_progress", "saved"):
        page = answer(client.message.reports({"status": status}))
        assert page["paging"]["page"] == 1 and page["items"] == []


def test_delete_a_scheduled_message_and_not_a_sent_one(client):
    later = answer(
        client.message.send_sms(
            "500600700", "Later", None, {"date": "2099-01-01 10:00:00", "details": True}
        )
    )["items"][0]
    now = answer(client.message.send_sms("500600701", "Now", None, {"details": True}))["items"][0]
    assert answer(client.message.delete(now["id"], None)) == {"success": False}
    assert answer(client.message.delete(later["id"], None)) == {"success": True}


def test_account_limits_in_the_documented_shape(client):
    limits = answer(client.account.limits({"show_type": True}))
    assert limits["account"] == {"type": "prepaid"}
    assert limits["items"][0]["type"] == "eco"
    assert all(isinstance(item["value"], str) for item in limits["items"])
    assert {item["type"] for item in limits["items"]} >= {"eco", "full", "mms", "voice"}


def test_error_view_answers_the_envelope(client):
    assert answer(client.error.view(1000))["error"]["code"] == 1000
    assert answer(client.error.view(3102))["error"]["type"] == "SendError"


def test_incoming_messages_nd_and_ndi(client):
    assert answer(client.message.recived("eco", {}))["items"] == []
    assert answer(client.message.send_nd("500600700", "Reply")) == {"success": True}
    [incoming] = answer(client.message.recived("nd", {}))["items"]
    assert (incoming["phone"], incoming["text"]) == ("+48500600700", "Reply")
    assert "recived" in incoming
    assert answer(client.message.send_ndi("500600700", "x", "500600799"))["success"] is True


def test_senders_add_and_index(client):
    assert answer(client.sender.add("SKLEP")) == {"success": True}
    [sender] = answer(client.sender.index({}))["items"]
    assert sender["name"] == "SKLEP" and sender["status"] in ("authorized", "pending_authorization")


def test_phone_check_and_test(client):
    checked = answer(client.phone.check("500600700", None))
    assert checked["phone"] == "+48500600700"
    assert set(checked) == {"phone", "status", "imsi", "network", "ported", "network_ported"}
    assert answer(client.phone.test("500600700")) == {"correct": True}
    assert answer(client.phone.test("12")) == {"correct": False}


def test_official_client_sees_the_1001_envelope(simulator):
    client = serwersms.SerwerSMS("unknown-token")
    client.api_url = simulator.api_url
    error = answer(client.message.send_sms("+48500600700", "x", None, {}))["error"]
    assert (error["code"], error["type"]) == (1001, "InvalidUser")
