"""API v2 sending actions: credentials, validation, limits, unique ids, test mode."""

import requests

TOKEN = "token-a"


def call(simulator, action, body, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{simulator.api_url}{action}.json", json=body, headers=headers, timeout=5)


def test_send_sms_queues_one_message_per_recipient_and_records_the_ic(simulator):
    simulator.register_account(token=TOKEN)
    response = call(
        simulator,
        "messages/send_sms",
        {"phone": ["500600700", "+48 501 602 703"], "text": "Hello", "ic": 4321},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is True
    assert (answer["queued"], answer["unsent"]) == (2, 0)
    assert [item["phone"] for item in answer["items"]] == ["+48500600700", "+48501602703"]
    assert all(item["status"] == "queued" and item["parts"] == 1 for item in answer["items"])
    records = simulator.messages()
    assert {r["id"] for r in records} == {item["id"] for item in answer["items"]}
    assert {(r["ic"], r["channel"], r["type"], r["status"]) for r in records} == {
        (4321, "api_v2", "eco", "queued")
    }
    assert simulator.requests()[-1]["action"] == "messages/send_sms"
    assert simulator.requests()[-1]["ic"] == 4321


def test_path_without_json_suffix_and_body_credentials_are_accepted(simulator):
    simulator.register_account(username="user", password="secret")
    response = requests.post(
        f"{simulator.api_url}messages/send_sms",
        json={"username": "user", "password": "secret", "phone": "500600700", "text": "Hi"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["queued"] == 1


def test_unknown_token_is_refused_with_invalid_credentials(simulator):
    simulator.register_account(token=TOKEN)
    response = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi"}, "nope")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": {"code": 1001, "type": "InvalidCredentials", "message": "Invalid credentials."},
    }
    assert simulator.messages() == []


def test_bad_phone_of_a_single_recipient_is_a_validation_error(simulator):
    simulator.register_account(token=TOKEN)
    response = call(simulator, "messages/send_sms", {"phone": "12", "text": "Hi"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001
    assert response.json()["error"]["type"] == "ValidationError"
    assert simulator.messages() == []


def test_bad_phone_among_several_is_unsent_and_the_rest_queued(simulator):
    simulator.register_account(token=TOKEN)
    response = call(
        simulator,
        "messages/send_sms",
        {"phone": ["500600700", "12"], "text": "Hi", "unique_id": ["u1", "u2"]},
    )
    answer = response.json()
    assert response.status_code == 200
    assert (answer["queued"], answer["unsent"]) == (1, 1)
    bad = answer["items"][1]
    assert (bad["status"], bad["error_code"], bad["unique_id"], bad["id"]) == (
        "unsent",
        2001,
        "u2",
        None,
    )
    assert [r["unique_id"] for r in simulator.messages()] == ["u1"]


def test_text_longer_than_six_parts_is_refused(simulator):
    simulator.register_account(token=TOKEN)
    response = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "x" * 919})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2002


def test_empty_text_is_refused(simulator):
    simulator.register_account(token=TOKEN)
    response = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "  "})
    assert response.json()["error"]["code"] == 2002


def test_long_or_odd_sender_is_refused_and_a_good_one_makes_full_sms(simulator):
    simulator.register_account(token=TOKEN)
    for sender in ("TwelveChars1", "Bad!Sender"):
        response = call(
            simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "sender": sender}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 2003
    response = call(
        simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "sender": "Shop-1.pl"}
    )
    assert response.status_code == 200
    assert simulator.messages()[0]["type"] == "full"
    assert simulator.messages()[0]["sender"] == "Shop-1.pl"


def test_ic_must_be_a_positive_integer(simulator):
    simulator.register_account(token=TOKEN)
    for ic in (0, -3, "abc", 1.5, True):
        response = call(
            simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "ic": ic}
        )
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": 2004,
            "type": "ValidationError",
            "message": "ic must be a positive integer",
        }
    assert simulator.messages() == []


def test_ic_as_a_digit_string_is_accepted(simulator):
    simulator.register_account(token=TOKEN)
    call(simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "ic": "77"})
    assert simulator.messages()[0]["ic"] == 77


def test_unique_id_count_must_match_recipients(simulator):
    simulator.register_account(token=TOKEN)
    response = call(
        simulator,
        "messages/send_sms",
        {"phone": ["500600700", "500600701"], "text": "Hi", "unique_id": ["only-one"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2004


def test_string_unique_id_is_echoed_for_one_recipient(simulator):
    simulator.register_account(token=TOKEN)
    answer = call(
        simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "unique_id": "abc-1"}
    ).json()
    assert answer["items"][0]["unique_id"] == "abc-1"
    assert simulator.messages()[0]["unique_id"] == "abc-1"


def test_test_mode_validates_without_sending(simulator):
    simulator.register_account(token=TOKEN, limit=5)
    answer = call(
        simulator, "messages/send_sms", {"phone": "500600700", "text": "Hi", "test": True}
    ).json()
    assert answer["test"] is True
    assert answer["items"][0]["status"] == "queued"
    assert answer["items"][0]["id"] is None
    assert simulator.messages() == []
    assert simulator.sim.accounts[0].limit == 5


def test_limit_counts_parts_and_refuses_the_whole_call_when_exhausted(simulator):
    simulator.register_account(token=TOKEN, limit=3)
    ok = call(simulator, "messages/send_sms", {"phone": "500600700", "text": "y" * 200})
    assert ok.status_code == 200  # two parts
    refused = call(
        simulator, "messages/send_sms", {"phone": ["500600700", "500600701"], "text": "Hi"}
    )
    assert refused.status_code == 402
    assert refused.json()["error"]["type"] == "LimitExhausted"
    assert refused.json()["error"]["code"] == 3001
    assert len(simulator.messages()) == 1
    limits = call(simulator, "account/limits", {}).json()
    assert {item["type"]: item["value"] for item in limits["items"]}["eco"] == 1


def test_send_personalized_takes_a_list_or_the_official_string_form(simulator):
    simulator.register_account(token=TOKEN)
    listed = call(
        simulator,
        "messages/send_personalized",
        {"messages": [{"phone": "500600700", "text": "A"}, {"phone": "500600701", "text": "B"}]},
    ).json()
    joined = call(
        simulator, "messages/send_personalized", {"messages": "500600702:C]|[500600703:D"}
    ).json()
    assert listed["queued"] == joined["queued"] == 2
    assert [m["text"] for m in simulator.messages()] == ["A", "B", "C", "D"]


def test_voice_and_mms_have_their_types(simulator):
    simulator.register_account(token=TOKEN)
    call(simulator, "messages/send_voice", {"phone": "500600700", "text": "Call me"})
    call(simulator, "messages/send_mms", {"phone": "500600700", "title": "Photo", "file_id": "f"})
    assert [m["type"] for m in simulator.messages()] == ["voice", "mms"]


def test_error_view_describes_a_code(simulator):
    response = call(simulator, "error/3001", {})
    assert response.json() == {
        "code": 3001,
        "type": "LimitExhausted",
        "message": "The SMS limit of the account is exhausted.",
    }


def test_body_that_is_not_json_is_a_validation_error(simulator):
    simulator.register_account(token=TOKEN)
    response = requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2004
