"""Contract tests: one test per fact of serwersms-api.md the product depends on, each naming its
section and source mark (C = confirmed, I = inferred), each run on both sides:

- `client`: our code (billing/serwersms) against the documented example, served verbatim by a
  canned loopback answerer, or the request it builds checked against the documented form;
- `simulator`: serwersms_sim asked over the wire, without our client, its answer checked
  against the documented shape.

A misunderstanding in either reading fails here, not in production.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from defusedxml import ElementTree

from billing.serwersms import errors, unique_ids
from billing.serwersms.callbacks import parse_callback
from billing.serwersms.client import ApiV2Client
from billing.serwersms.email2sms import Email2SMSClient
from billing.serwersms.xml_api import XmlApiClient
from serwersms_sim.smtp import Email2SMSHandler

pytestmark = pytest.mark.contract
SIDES = pytest.mark.parametrize("side", ["client", "simulator"])
TOKEN = "contract-token"
PHONE = "+48511222333"

# §3 (C): the documented send answer, verbatim.
SEND_ANSWER = {
    "success": True,
    "queued": 1,
    "unsent": 1,
    "items": [
        {
            "id": "5e0c7a1b93",
            "phone": "+48511222333",
            "status": "queued",
            "queued": "2025-03-04 10:15:02",
            "parts": 1,
            "text": "Kod 4417",
        },
        {
            "id": "5e0c7a1b94",
            "phone": "+48123",
            "status": "unsent",
            "parts": 1,
            "error_code": 2001,
            "error_message": "…",
            "text": "Kod 4417",
        },
    ],
}
# §3 (C): the documented reports answer.
REPORTS_ANSWER = {
    "paging": {"page": 1, "count": 4},
    "items": [
        {
            "id": "5e0c7a1b93",
            "phone": "+48511222333",
            "status": "delivered",
            "queued": "2025-03-04 10:15:02",
            "sent": "2025-03-04 10:15:04",
            "delivered": "2025-03-04 10:15:11",
            "sender": "SKLEP",
            "type": "full",
            "text": "Kod 4417",
            "flash": False,
            "utf": False,
            "parts": 1,
            "cost": 0.0,
        },
    ],
}


@pytest.fixture
def sim(simulator):
    simulator.register_account(token=TOKEN, username="xmluser", password="xmlpass")
    return simulator


def api(sim, action, body, *, token=TOKEN, suffix=".json", form=False):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{sim.api_url}{action}{suffix}"
    if form:
        return requests.post(url, data=body, headers=headers, timeout=5)
    return requests.post(url, json=body, headers=headers, timeout=5)


def xml(sim, **fields):
    response = requests.post(
        sim.xml_url, data={"login": "xmluser", "haslo": "xmlpass", **fields}, timeout=5
    )
    return ElementTree.fromstring(response.content)


def client_on(canned, **kwargs) -> ApiV2Client:
    kwargs.setdefault("token", TOKEN)
    return ApiV2Client(ic=77, base_url=canned.url, **kwargs)


# --- §1 transport -----------------------------------------------------------------------------


@SIDES
def test_c_1_url_is_base_plus_action_plus_json_and_the_suffix_may_be_left_out(side, request):
    """C §1: URL = base + action + `.json`; the suffix may be left out."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(REPORTS_ANSWER | {"paging": {"page": 1, "count": 1}})
        list(client_on(canned).reports(ids=["5e0c7a1b93"]))
        assert canned.requests[0].path == "/messages/reports.json"
    else:
        sim = request.getfixturevalue("sim")
        with_suffix = api(sim, "messages/reports", {}).json()
        without = api(sim, "messages/reports", {}, suffix="").json()
        assert "paging" in with_suffix and "paging" in without


@SIDES
def test_c_1_always_post_with_a_json_body_or_a_form(side, request):
    """C §1: always POST; JSON body, form-urlencoded also used."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        client_on(canned).send_sms([PHONE, "+48123"], "Kod 4417")
        recorded = canned.requests[0]
        assert recorded.headers["Content-Type"] == "application/json"
        assert recorded.json["phone"] == [PHONE, "+48123"]
    else:
        sim = request.getfixturevalue("sim")
        as_form = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x"}, form=True)
        assert as_form.json()["queued"] == 1


@SIDES
def test_c_1_auth_by_bearer_token_or_username_and_password_in_the_body(side, request):
    """C §1: `Authorization: Bearer <token>`, or `username` + `password` in the body."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        canned.answer(SEND_ANSWER)
        client_on(canned).send_sms([PHONE, "+48123"], "x")
        client_on(canned, token="", username="u", password="p").send_sms([PHONE, "+48123"], "x")
        first, second = canned.requests
        assert first.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "Authorization" not in second.headers
        assert (second.json["username"], second.json["password"]) == ("u", "p")
    else:
        sim = request.getfixturevalue("sim")
        body = {"phone": PHONE, "text": "x", "username": "xmluser", "password": "xmlpass"}
        assert api(sim, "messages/send_sms", {"phone": PHONE, "text": "x"}).json()["success"]
        assert api(sim, "messages/send_sms", body, token=None).json()["success"]


@SIDES
def test_c_1_booleans_come_as_true_the_string_true_or_1(side, request):
    """C §1: booleans come as `true`, `"true"` or `"1"`."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        client_on(canned).send_sms([PHONE, "+48123"], "x")
        assert canned.requests[0].json["details"] is True
    else:
        sim = request.getfixturevalue("sim")
        for value in (True, "true", "1"):
            answer = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "details": value})
            assert "items" in answer.json()


# --- §2 errors --------------------------------------------------------------------------------


@SIDES
def test_c_2_errors_come_in_the_envelope_with_an_int_code_and_http_200(side, request):
    """C §2: `{"error": {"code": int, "type", "message"}}`; I: sent with HTTP 200."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer({"error": {"code": 1001, "type": "InvalidUser", "message": "Nope"}})
        with pytest.raises(errors.InvalidCredentials) as caught:
            client_on(canned).send_sms([PHONE], "x")
        assert (caught.value.code, caught.value.message) == ("1001", "Nope")
    else:
        sim = request.getfixturevalue("sim")
        response = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x"}, token="bad")
        assert response.status_code == 200
        error = response.json()["error"]
        assert (error["code"], error["type"]) == (1001, "InvalidUser")
        assert isinstance(error["message"], str)


CODES = [
    (1000, errors.InvalidAction),
    (1001, errors.InvalidCredentials),
    (1002, errors.PermissionDenied),
    (1004, errors.NotFound),
    (1006, errors.InvalidInput),
    (2001, errors.InvalidInput),
    (3000, errors.LimitExhausted),
    (3002, errors.LimitExhausted),
    (3001, errors.SendingNotAllowed),
    (3003, errors.SendingNotAllowed),
    (3100, errors.SendingNotAllowed),
    (3101, errors.InvalidInput),
    (3102, errors.InvalidInput),
]


@SIDES
def test_c_2_the_documented_codes_and_what_each_means(side, request):
    """C §2: the code table; every coded error is a refusal (nothing was sent)."""
    if side == "client":
        for code, expected in CODES:
            assert errors.error_class_for(code) is expected
            assert expected.outcome == errors.Outcome.REFUSED
        assert errors.error_class_for(4201) is errors.SerwerSMSError  # meaning unknown (§2)
    else:
        sim = request.getfixturevalue("sim")
        for code, _expected in CODES:
            answer = api(sim, f"error/{code}", {}, token=None).json()
            assert answer["error"]["code"] == code  # error/{code}: the same envelope (C)
        sim.register_account(token=TOKEN, limit=0)
        eco = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x"}).json()
        full = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "sender": "SKLEP"})
        assert (eco["error"]["code"], full.json()["error"]["code"]) == (3000, 3002)
        sim.register_account(token=TOKEN, limit=None)
        assert api(sim, "messages/send_sms", {"phone": PHONE, "text": ""}).json()["error"][
            "code"
        ] in (3101, 2000)
        long = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x" * 1000}).json()
        assert long["error"]["code"] == 3102


# --- §3 sending -------------------------------------------------------------------------------


@SIDES
def test_c_3_the_send_answer_shape(side, request):
    """C §3: success, queued, unsent (ints); items of id, phone, status, queued, parts, text;
    an unsent item has error_code (int) and error_message; status only queued|unsent."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        queued, unsent = client_on(canned).send_sms([PHONE, "+48123"], "Kod 4417")
        assert (queued.serwersms_id, queued.status, queued.parts) == ("5e0c7a1b93", "queued", 1)
        assert queued.queued_at == datetime(2025, 3, 4, 9, 15, 2, tzinfo=UTC)
        assert (unsent.status, unsent.error_code) == ("unsent", "2001")
    else:
        sim = request.getfixturevalue("sim")
        body = {"phone": [PHONE, "+48123"], "text": "Kod 4417", "details": True}
        answer = api(sim, "messages/send_sms", body).json()
        assert answer["success"] is True
        assert all(isinstance(answer[k], int) for k in ("queued", "unsent"))
        queued, unsent = answer["items"]
        assert set(queued) == {"id", "phone", "status", "queued", "parts", "text"}
        assert {"id", "phone", "status", "parts", "error_code", "error_message"} <= set(unsent)
        assert isinstance(unsent["error_code"], int) and isinstance(queued["parts"], int)
        assert {queued["status"], unsent["status"]} == {"queued", "unsent"}


@SIDES
def test_c_3_items_are_matched_by_phone_not_by_position(side, request):
    """C §3: each item carries its phone; no source says items keep the request's order."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        reversed_answer = SEND_ANSWER | {"items": list(reversed(SEND_ANSWER["items"]))}
        canned.answer(reversed_answer)
        first, second = client_on(canned).send_sms([PHONE, "+48123"], "x")
        assert (first.phone, second.phone) == (PHONE, "+48123")
    else:
        sim = request.getfixturevalue("sim")
        body = {"phone": ["500600700", PHONE], "text": "x", "details": True}
        items = api(sim, "messages/send_sms", body).json()["items"]
        assert [i["phone"] for i in items] == ["+48500600700", PHONE]


@SIDES
def test_c_3_unique_id_is_a_to_z_and_digits_3_to_50_and_one_bad_id_refuses_the_send(side, request):
    """C §3: unique_id a–z A–Z 0–9, 3–50 characters; an array must match the numbers."""
    bad = ["ab", "x" * 51, "order-1", "a_b_c", "a.b.c", "a:b:c"]
    if side == "client":
        for value in bad:
            with pytest.raises(unique_ids.UniqueIdError):
                unique_ids.check_unique_id(value)
        generated = unique_ids.per_recipient(None, 3) + unique_ids.per_recipient("order7", 3)
        assert all(unique_ids.UNIQUE_ID.match(value) for value in generated)
        assert len(set(generated)) == 6
        assert unique_ids.per_recipient("x" * 48, 9) == [f"{'x' * 48}R{n}" for n in range(1, 10)]
    else:
        sim = request.getfixturevalue("sim")
        for value in bad:
            body = {"phone": [PHONE, "500600700"], "text": "x", "unique_id": ["good1", value]}
            assert api(sim, "messages/send_sms", body).json()["error"]["code"] == 1006
        short = {"phone": [PHONE, "500600700"], "text": "x", "unique_id": ["good1"]}
        assert "error" in api(sim, "messages/send_sms", short).json()
        assert sim.messages() == []


@SIDES
def test_c_3_a_sender_makes_full_none_makes_eco(side, request):
    """C §3: `sender` empty or absent ⇒ ECO+, set ⇒ FULL."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        canned.answer(SEND_ANSWER)
        client_on(canned).send_sms([PHONE, "+48123"], "x", "SKLEP")
        client_on(canned).send_sms([PHONE, "+48123"], "x")
        assert canned.requests[0].json["sender"] == "SKLEP"
        assert "sender" not in canned.requests[1].json
    else:
        sim = request.getfixturevalue("sim")
        api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "sender": "SKLEP"})
        api(sim, "messages/send_sms", {"phone": PHONE, "text": "x"})
        assert [m["type"] for m in sim.messages()] == ["full", "eco"]


@SIDES
def test_c_3_reports_page_count_is_the_number_of_pages(side, request):
    """C §3: `paging.count` = number of pages; items in the documented fields."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        second = REPORTS_ANSWER | {"paging": {"page": 2, "count": 2}}
        canned.answer(REPORTS_ANSWER | {"paging": {"page": 1, "count": 2}})
        canned.answer(second)
        items = list(client_on(canned).reports(ids=["5e0c7a1b93"]))
        assert [r.json["page"] for r in canned.requests] == [1, 2]
        assert items[0].status == "delivered" and items[0].message_type == "full"
        assert items[0].delivered_at == datetime(2025, 3, 4, 9, 15, 11, tzinfo=UTC)
    else:
        sim = request.getfixturevalue("sim")
        api(sim, "messages/send_sms", {"phone": [PHONE, "500600700", "500600701"], "text": "x"})
        page = api(sim, "messages/reports", {"limit": 2}).json()
        assert page["paging"] == {"page": 1, "count": 2}
        documented = set(REPORTS_ANSWER["items"][0])
        assert documented <= set(page["items"][0])


@SIDES
def test_c_3_report_statuses_and_filters(side, request):
    """C §3: statuses delivered, undelivered, sent, unsent, in_progress, saved; the status
    filter also takes `pending`."""
    words = ["delivered", "undelivered", "sent", "unsent", "in_progress", "saved"]
    if side == "client":
        canned = request.getfixturevalue("canned")
        items = [REPORTS_ANSWER["items"][0] | {"status": w, "id": w} for w in words]
        canned.answer({"paging": {"page": 1, "count": 1}, "items": items})
        parsed = list(client_on(canned).reports(ids=words))
        assert [i.status for i in parsed] == words
    else:
        sim = request.getfixturevalue("sim")
        for word in [*words, "pending"]:
            assert "items" in api(sim, "messages/reports", {"status": word}).json()


@SIDES
def test_c_3_view_answers_one_unwrapped_object(side, request):
    """C §3: `messages/view` takes the message's `id` (every official client sends it; PY
    `view(id, params)`) and answers the message itself. I: unknown id -> 1004; no id ->
    2000 ValidationRequiredError (§2: a required field is missing)."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(REPORTS_ANSWER["items"][0])
        item = client_on(canned).view("5e0c7a1b93")
        assert (item.serwersms_id, item.phone) == ("5e0c7a1b93", PHONE)
        assert canned.requests[0].json["id"] == "5e0c7a1b93"
        assert "unique_id" not in canned.requests[0].json
        with pytest.raises(ValueError):
            client_on(canned).view("")  # never asked without an id
        assert len(canned.requests) == 1
    else:
        sim = request.getfixturevalue("sim")
        sent = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "details": True})
        sent_id = sent.json()["items"][0]["id"]
        viewed = api(sim, "messages/view", {"id": sent_id}).json()
        assert viewed["phone"] == PHONE and viewed["id"] == sent_id and "items" not in viewed
        assert api(sim, "messages/view", {"id": "nope"}).json()["error"]["code"] == 1004
        missing = api(sim, "messages/view", {"unique_id": "abc123"}).json()["error"]
        assert (missing["code"], missing["type"]) == (2000, "ValidationRequiredError")


@SIDES
def test_c_3_reports_filtered_by_unique_id_find_a_lost_send(side, request):
    """C §3: `messages/reports` takes a `unique_id` filter. Its items echo no unique_id, so the
    look-up asks one id per call; no items = SerwerSMS has no message under that id."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(REPORTS_ANSWER | {"paging": {"page": 1, "count": 1}})
        canned.answer({"paging": {"page": 1, "count": 0}, "items": []})
        item = client_on(canned).find_by_unique_id("abc123", phone=PHONE)
        assert (item.serwersms_id, item.unique_id, item.status) == (
            "5e0c7a1b93",
            "abc123",
            "delivered",
        )
        assert client_on(canned).find_by_unique_id("nothing1") is None
        assert [r.path.strip("/") for r in canned.requests] == ["messages/reports.json"] * 2
        assert [r.json["unique_id"] for r in canned.requests] == ["abc123", "nothing1"]
    else:
        sim = request.getfixturevalue("sim")
        api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "unique_id": "abc123"})
        api(sim, "messages/send_sms", {"phone": PHONE, "text": "y", "unique_id": "other123"})
        [item] = api(sim, "messages/reports", {"unique_id": "abc123"}).json()["items"]
        assert item["phone"] == PHONE and item["text"] == "x"
        assert api(sim, "messages/reports", {"unique_id": "nothing1"}).json()["items"] == []


def test_c_3_fresh_messages_are_in_progress_in_reports_never_queued(sim):
    """C §3: report (and view) statuses are delivered, undelivered, sent, unsent, in_progress
    ("queued for sending"), saved; `queued` is only the send answer's item status."""
    sent = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "details": True}).json()
    assert sent["items"][0]["status"] == "queued"
    [item] = api(sim, "messages/reports", {}).json()["items"]
    assert item["status"] == "in_progress"
    viewed = api(sim, "messages/view", {"id": sent["items"][0]["id"]}).json()
    assert viewed["status"] == "in_progress"


def test_c_3_report_items_carry_no_unique_id_so_lookups_ask_one_id_per_call(sim):
    """C §3 (simulator side): no source documents `unique_id` in report items, so the
    lost-answer look-up cannot rely on it."""
    api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "unique_id": "abc123"})
    [item] = api(sim, "messages/reports", {"unique_id": "abc123"}).json()["items"]
    assert "unique_id" not in item


def test_c_3_deleting_a_sent_message_answers_success_false(sim):
    """C §3: `messages/delete` of an already sent message gives `{"success": false}`."""
    sent = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "details": 1}).json()
    answer = api(sim, "messages/delete", {"id": sent["items"][0]["id"]})
    assert answer.status_code == 200 and answer.json() == {"success": False}


def test_c_3_account_limits_values_are_strings_eco_first(sim):
    """C §3: `account/limits` items, eco first, `value` a string; `account` with show_type."""
    answer = api(sim, "account/limits", {"show_type": True}).json()
    assert answer["items"][0]["type"] == "eco"
    assert all(isinstance(i["value"], str) for i in answer["items"])
    assert answer["account"] == {"type": "prepaid"}


# --- §4 XML API -------------------------------------------------------------------------------

WYSLIJ_ANSWER = (
    '<SerwerSMS login="u"><Wiadomosc>x</Wiadomosc><Odbiorcy>'
    '<Skolejkowane><SMS id="a1" numer="48500600701" godzina_skolejkowania="2025-03-04 10:15:02"/>'
    '</Skolejkowane><Niewyslane><SMS id="a2" numer="48123" przyczyna="wrong_number"/>'
    "</Niewyslane></Odbiorcy></SerwerSMS>"
)


@SIDES
def test_c_4_wyslij_sms_answer_lists_queued_and_unsent_apart(side, request):
    """C §4: `<Skolejkowane><SMS id numer godzina_skolejkowania/>`, `<Niewyslane><SMS id numer
    przyczyna/>`; no usmsid echoed, so numbers decide which is which."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(WYSLIJ_ANSWER)
        client = XmlApiClient(ic=77, username="u", password="p", url=canned.url)
        unsent, queued = client.send_sms(["+48123", "+48500600701"], "x", unique_ids=["q11", "q12"])
        assert (unsent.status, unsent.serwersms_id, unsent.error_code) == (
            "unsent",
            "a2",
            "wrong_number",
        )
        assert (queued.status, queued.serwersms_id) == ("queued", "a1")
        form = canned.requests[0].form
        assert (form["akcja"], form["numer"], form["usmsid"], form["ic"]) == (
            "wyslij_sms",
            "+48123,+48500600701",
            "q11,q12",
            "77",
        )
    else:
        sim = request.getfixturevalue("sim")
        root = xml(sim, akcja="wyslij_sms", numer="500600701,12", wiadomosc="x")
        assert root.tag == "SerwerSMS" and root.find("Wiadomosc") is not None
        [queued] = root.findall("Odbiorcy/Skolejkowane/SMS")
        [unsent] = root.findall("Odbiorcy/Niewyslane/SMS")
        assert set(queued.keys()) == {"id", "numer", "godzina_skolejkowania"}
        assert set(unsent.keys()) == {"id", "numer", "przyczyna"}


@SIDES
def test_c_4_blad_has_no_attributes_text_by_default_numbers_if_set(side, request):
    """C §4: `<SerwerSMS><Blad>…</Blad></SerwerSMS>`, text by default, numbers if set
    (101 wrong login, 1000/1002 limit)."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        client = XmlApiClient(ic=77, username="u", password="p", url=canned.url)
        for body, expected in [
            ("<SerwerSMS><Blad>Nieprawidłowy login</Blad></SerwerSMS>", errors.SerwerSMSError),
            ("<SerwerSMS><Blad>101</Blad></SerwerSMS>", errors.InvalidCredentials),
            ("<SerwerSMS><Blad>1002</Blad></SerwerSMS>", errors.LimitExhausted),
        ]:
            canned.answer(body)
            with pytest.raises(expected) as caught:
                client.send_sms([PHONE], "x")
            assert caught.value.outcome == errors.Outcome.REFUSED
    else:
        sim = request.getfixturevalue("sim")
        text = xml(sim, akcja="ilosc_sms", haslo="wrong").find("Blad")
        assert text is not None and not text.keys() and not text.text.isdigit()
        sim.register_account(
            username="xmluser", password="xmlpass", limit=0, xml_numeric_errors=True
        )
        numeric = xml(sim, akcja="wyslij_sms", numer="500600700", wiadomosc="x").find("Blad")
        assert numeric.text == "1000"


@SIDES
def test_c_4_sprawdz_sms_takes_smsid_numer_and_dates(side, request):
    """C §4: sprawdz_sms by `smsid`, `numer`, `data_od`, `data_do`; answers `<SMS id numer stan
    przyczyna/>` (I: the stan words other than `wyslane`)."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(
            '<SerwerSMS><SMS id="a1" numer="48500600701" stan="wyslane" przyczyna=""/></SerwerSMS>'
        )
        client = XmlApiClient(ic=77, username="u", password="p", url=canned.url)
        since = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
        [item] = client.sprawdz_sms(phones=["+48500600701"], date_from=since)
        assert (item.serwersms_id, item.status) == ("a1", "sent")
        form = canned.requests[0].form
        assert (form["numer"], form["data_od"]) == ("+48500600701", "2025-03-04 10:00:00")
        assert "ic" not in form
    else:
        sim = request.getfixturevalue("sim")
        sent = xml(sim, akcja="wyslij_sms", numer="500600701", wiadomosc="x")
        sms_id = sent.find("Odbiorcy/Skolejkowane/SMS").get("id")
        [by_id] = xml(sim, akcja="sprawdz_sms", smsid=sms_id).findall("SMS")
        [by_number] = xml(sim, akcja="sprawdz_sms", numer="500600701", data_od="2000-01-01")
        assert by_id.get("id") == by_number.get("id") == sms_id
        assert {"id", "numer", "stan", "przyczyna"} <= set(by_id.keys())


# --- §5 callbacks -----------------------------------------------------------------------------


@SIDES
def test_c_5_delivery_reports_carry_smsid_stan_data_and_expect_ok(side, request):
    """C §5: `smsid`, `stan`, `data`, GET or POST, answered `OK`; I: the stan words."""
    if side == "client":
        item = parse_callback(
            {"smsid": "5e0c7a1b93", "stan": "delivered", "data": "2025-03-04 10:15:11"}
        )
        assert (item.serwersms_id, item.status) == ("5e0c7a1b93", "delivered")
        assert item.delivered_at == datetime(2025, 3, 4, 9, 15, 11, tzinfo=UTC)
        assert parse_callback({"smsid": "1", "stan": "DELIVRD"}).status == "delivered"
    else:
        server = request.getfixturevalue("simulator_server")
        fields = server.callbacks.fields("5e0c7a1b93", "delivered", "2025-03-04 10:15:11")
        assert set(fields) == {"smsid", "stan", "data"}
        assert server.callbacks.method in ("GET", "POST")
        assert server.callbacks.fields("x", "in_progress", "") is None  # delivery or failure only


# --- §6 Email2SMS -----------------------------------------------------------------------------


@SIDES
def test_c_6_email2sms_key_number_end_and_dealer_header(side, request, settings):
    """C §6: From an authorised address, subject `klucz` + `numer` (+ `nadawca`, `raport`), text
    ended by a line END, `SerwerSMS-Dealer: <ic>`; I: the subject syntax."""
    mail = Email2SMSClient(ic=77, from_address="shop@example.com", key="Key123").build(
        PHONE, "Kod 4417", sender="SKLEP"
    )
    if side == "client":
        assert "klucz=Key123" in mail.subject and f"numer={PHONE}" in mail.subject
        assert "nadawca=SKLEP" in mail.subject
        assert mail.body.splitlines()[-1] == "END"
        assert mail.extra_headers["SerwerSMS-Dealer"] == "77"
    else:
        sim = request.getfixturevalue("sim")
        sim.register_account(token=TOKEN, email="shop@example.com", email2sms_key="Key123")
        parsed = email.message_from_bytes(mail.message().as_bytes(), policy=email.policy.default)
        handler = Email2SMSHandler(sim.sim)
        ids = handler.take(
            "shop@example.com", [settings.SERWERSMS_EMAIL2SMS_ADDRESS], parsed.as_bytes()
        )
        [message] = sim.messages()
        assert ids == [message["id"]]
        assert (message["text"], message["ic"], message["type"]) == ("Kod 4417", 77, "full")


# --- §7 partner programme ---------------------------------------------------------------------


@SIDES
def test_c_7_the_ic_goes_only_on_sending_requests_as_a_number(side, request):
    """C §7: `ic` only on sending requests; v2 body `"ic": 123` (a number), XML `&ic=123`."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        canned.answer(REPORTS_ANSWER | {"paging": {"page": 1, "count": 1}})
        client = client_on(canned)
        client.send_sms([PHONE, "+48123"], "x")
        list(client.reports(ids=["5e0c7a1b93"]))
        send, read = canned.requests
        assert send.json["ic"] == 77 and "ic" not in read.json
    else:
        sim = request.getfixturevalue("sim")
        api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "ic": 77})
        xml(sim, akcja="wyslij_sms", numer="500600701", wiadomosc="x", ic="77")
        assert {m["ic"] for m in sim.messages()} == {77}
        assert (
            api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "ic": "x"}).json()["error"][
                "code"
            ]
            == 1006
        )


# --- times (§8, I) ----------------------------------------------------------------------------


@SIDES
def test_i_8_times_are_warsaw_local_yyyy_mm_dd_hh_mm_ss(side, request):
    """I §8: answers' times are "YYYY-MM-DD HH:MM:SS" in Europe/Warsaw."""
    if side == "client":
        canned = request.getfixturevalue("canned")
        canned.answer(SEND_ANSWER)
        [queued, _] = client_on(canned).send_sms([PHONE, "+48123"], "x")
        assert queued.queued_at.isoformat() == "2025-03-04T09:15:02+00:00"
    else:
        sim = request.getfixturevalue("sim")
        sim.set_time(datetime(2025, 7, 1, 8, 0, tzinfo=UTC))
        answer = api(sim, "messages/send_sms", {"phone": PHONE, "text": "x", "details": 1})
        assert answer.json()["items"][0]["queued"] == "2025-07-01 10:00:00"


def test_the_documented_examples_here_are_the_ones_in_serwersms_api_md():
    """The canned answers above are the reference's own examples, kept verbatim."""
    here = Path(__file__).resolve()
    candidates = [here.parents[n] / "shared" / "serwersms-api.md" for n in (3, 4)]
    reference = next((path for path in candidates if path.exists()), None)
    if reference is None:
        pytest.skip("serwersms-api.md is not beside the repository here")
    text = reference.read_text(encoding="utf-8")
    assert '"id": "5e0c7a1b93", "phone": "+48511222333", "status": "queued"' in text
    assert json.dumps(SEND_ANSWER["items"][1]["error_code"]) == "2001"
