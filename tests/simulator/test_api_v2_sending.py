"""API v2 sending actions (serwersms-api.md §1-§3): credentials, validation, limits, unique ids."""

import requests

TOKEN = "token-a"


def call(simulator, action, body, token=TOKEN, suffix=".json"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{simulator.api_url}{action}{suffix}", json=body, headers=headers, timeout=5
    )


def send(simulator, **body):
    body.setdefault("text", "Hello")
    body.setdefault("details", True)
    return call(simulator, "messages/send_sms", body).json()


def test_send_sms_queues_one_message_per_recipient_and_records_the_ic(simulator):
    simulator.register_account(token=TOKEN)
    response = call(
        simulator,
        "messages/send_sms",
        {"phone": ["500600700", "+48 501 602 703"], "text": "Hello", "ic": 4321, "details": True},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is True
    assert (answer["queued"], answer["unsent"]) == (2, 0)
    assert [item["phone"] for item in answer["items"]] == ["+48500600700", "+48501602703"]
    assert all(
        set(item) == {"id", "phone", "status", "queued", "parts", "text"}
        for item in answer["items"]
    )
    assert {m["ic"] for m in simulator.messages()} == {4321}
    assert simulator.requests()[-1]["ic"] == 4321


def test_items_come_only_with_details_and_the_suffix_may_be_left_out(simulator):
    simulator.register_account(token=TOKEN)
    answer = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "x"}, suffix="")
    assert answer.json() == {"success": True, "queued": 1, "unsent": 0}


def test_unknown_token_is_refused_with_1001_in_an_http_200_envelope(simulator):
    response = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "x"}, "nope")
    assert response.status_code == 200
    assert response.json() == {
        "error": {"code": 1001, "type": "InvalidUser", "message": "Wrong login or password."}
    }


def test_username_and_password_in_the_body_and_form_bodies_work(simulator):
    simulator.register_account(username="u", password="p")
    response = requests.post(
        f"{simulator.api_url}messages/send_sms",
        data={"username": "u", "password": "p", "phone": "500600700", "text": "x", "details": "1"},
        timeout=5,
    )
    assert response.json()["items"][0]["status"] == "queued"


def test_bad_phone_makes_its_item_unsent_with_an_id_and_the_rest_queued(simulator):
    simulator.register_account(token=TOKEN)
    answer = send(simulator, phone=["500600700", "12"])
    assert (answer["queued"], answer["unsent"]) == (1, 1)
    bad = answer["items"][1]
    assert bad["status"] == "unsent" and bad["error_code"] == 2001 and bad["id"]
    assert simulator.messages(id=bad["id"])[0]["status"] == "unsent"


def test_text_longer_than_six_parts_is_3102_and_empty_text_3101(simulator):
    simulator.register_account(token=TOKEN)
    assert send(simulator, phone="500600700", text="x" * (153 * 6 + 1))["error"]["code"] == 3102
    assert send(simulator, phone="500600700", text=" ")["error"]["code"] == 3101
    assert simulator.messages() == []


def test_parts_follow_gsm_and_unicode_lengths(simulator):
    simulator.register_account(token=TOKEN)
    assert send(simulator, phone="500600700", text="x" * 160)["items"][0]["parts"] == 1
    assert send(simulator, phone="500600700", text="x" * 161)["items"][0]["parts"] == 2
    utf = send(simulator, phone="500600700", text="ż" * 71, sender="SKLEP", utf=True)
    assert utf["items"][0]["parts"] == 2


def test_a_sender_makes_full_sms_and_a_bad_one_refuses_the_send(simulator):
    simulator.register_account(token=TOKEN)
    assert send(simulator, phone="500600700", sender="Far too long name")["error"]["code"] == 1006
    send(simulator, phone="500600700", sender="SKLEP")
    send(simulator, phone="500600701")
    assert [m["type"] for m in simulator.messages()] == ["full", "eco"]


def test_ic_must_be_a_positive_integer(simulator):
    simulator.register_account(token=TOKEN)
    for bad in (0, -1, "abc", True):
        assert send(simulator, phone="500600700", ic=bad)["error"]["code"] == 1006
    assert send(simulator, phone="500600700", ic="77")["success"] is True
    assert simulator.messages()[0]["ic"] == 77


def test_unique_ids_follow_the_documented_alphabet_and_count(simulator):
    simulator.register_account(token=TOKEN)
    for bad in ("ab", "x" * 51, "order-1", "order_1", "a.b.c", "a:bc"):
        assert send(simulator, phone="500600700", unique_id=bad)["error"]["code"] == 1006
    wrong_count = send(simulator, phone=["500600700", "500600701"], unique_id=["abc"])
    assert wrong_count["error"]["code"] == 1006
    # One bad id refuses the whole send: nothing is kept.
    mixed = send(simulator, phone=["500600700", "500600701"], unique_id=["good1", "bad-2"])
    assert mixed["error"]["code"] == 1006
    assert simulator.messages() == []
    send(simulator, phone=["500600700", "500600701"], unique_id=["Ok1", "x" * 50])
    assert [m["unique_id"] for m in simulator.messages()] == ["Ok1", "x" * 50]


def test_send_answers_do_not_echo_unique_ids(simulator):
    simulator.register_account(token=TOKEN)
    answer = send(simulator, phone="500600700", unique_id="abc123")
    assert "unique_id" not in answer["items"][0]


def test_test_mode_answers_the_same_without_sending(simulator):
    simulator.register_account(token=TOKEN)
    answer = send(simulator, phone="500600700", test=True)
    assert answer["queued"] == 1 and simulator.messages() == []


def test_limit_counts_parts_and_refuses_the_whole_call_by_type(simulator):
    simulator.register_account(token=TOKEN, limit=3)
    assert send(simulator, phone=["500600700", "500600701"])["queued"] == 2
    assert send(simulator, phone=["500600702", "500600703"])["error"]["code"] == 3000
    assert (
        send(simulator, phone=["500600702", "500600703"], sender="SKLEP")["error"]["code"] == 3002
    )
    assert len(simulator.messages()) == 2


def test_a_type_without_permission_is_refused(simulator):
    simulator.register_account(token=TOKEN, denied_types=["full"])
    assert send(simulator, phone="500600700", sender="SKLEP")["error"]["code"] == 3003


def test_send_personalized_takes_an_array_or_the_string_form(simulator):
    simulator.register_account(token=TOKEN)
    array = call(
        simulator,
        "messages/send_personalized",
        {
            "messages": [{"phone": "500600700", "text": "A"}, {"phone": "500600701", "text": "B"}],
            "details": True,
        },
    ).json()
    string = call(
        simulator,
        "messages/send_personalized",
        {"messages": "500600702:C]|[500600703:D", "details": True},
    ).json()
    assert [i["text"] for i in array["items"] + string["items"]] == ["A", "B", "C", "D"]


def test_error_view_answers_the_envelope_for_that_code(simulator):
    answer = call(simulator, "error/1000", {}, token=None).json()
    assert answer == {
        "error": {"code": 1000, "type": "InvalidAction", "message": "No such action."}
    }


def test_unknown_action_is_1000_and_a_body_that_is_not_json_1006(simulator):
    simulator.register_account(token=TOKEN)
    assert call(simulator, "messages/nothing", {}).json()["error"]["code"] == 1000
    response = requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200 and response.json()["error"]["code"] == 1006
    listed = requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json=[1, 2],
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert listed.json()["error"]["code"] == 1006
