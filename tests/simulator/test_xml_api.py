"""The XML API (§4): wyslij_sms, sprawdz_sms, ilosc_sms, usun_zaplanowane, <Blad> answers."""

import requests
from defusedxml import ElementTree

LOGIN = {"login": "xmluser", "haslo": "xmlpass"}


def xml_call(simulator, method="GET", **params):
    fields = {**LOGIN, **params}
    if method == "GET":
        response = requests.get(simulator.xml_url, params=fields, timeout=5)
    else:
        response = requests.post(simulator.xml_url, data=fields, timeout=5)
    assert response.status_code == 200
    return ElementTree.fromstring(response.content)


def test_wyslij_sms_lists_queued_and_unsent_numbers_in_the_documented_shape(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    root = xml_call(
        simulator,
        "POST",
        akcja="wyslij_sms",
        numer="500600700,12,500600701",
        wiadomosc="Czesc",
        usmsid="aaa,bbb,ccc",
        ic="99",
    )
    assert root.tag == "SerwerSMS" and root.get("login") == "xmluser"
    assert root.find("Wiadomosc") is not None
    queued = root.findall("./Odbiorcy/Skolejkowane/SMS")
    unsent = root.findall("./Odbiorcy/Niewyslane/SMS")
    assert [s.get("numer") for s in queued] == ["+48500600700", "+48500600701"]
    assert all(set(s.keys()) == {"id", "numer", "godzina_skolejkowania"} for s in queued)
    assert [set(s.keys()) for s in unsent] == [{"id", "numer", "przyczyna"}]
    records = simulator.messages()
    assert {(r["channel"], r["ic"]) for r in records} == {("xml_api", 99)}
    assert sorted(r["unique_id"] for r in records) == ["aaa", "bbb", "ccc"]
    assert simulator.requests()[-1]["action"] == "xml:wyslij_sms"


def test_sprawdz_sms_by_smsid_or_number_and_dates(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    sent = xml_call(simulator, akcja="wyslij_sms", numer="500600700", wiadomosc="x")
    sms_id = sent.find("./Odbiorcy/Skolejkowane/SMS").get("id")
    [by_id] = xml_call(simulator, akcja="sprawdz_sms", smsid=sms_id).findall("SMS")
    assert (by_id.get("id"), by_id.get("numer"), by_id.get("stan")) == (
        sms_id,
        "+48500600700",
        "skolejkowane",
    )
    simulator.advance(to="final")
    [final] = xml_call(
        simulator, akcja="sprawdz_sms", numer="500600700", data_od="2000-01-01"
    ).findall("SMS")
    assert final.get("stan") in ("doreczone", "niedoreczone", "niewyslane")
    stan = final.get("stan")
    assert (
        xml_call(simulator, akcja="sprawdz_sms", numer="500600700", stan=stan).find("SMS")
        is not None
    )


def test_xml_failures_answer_blad_as_text_or_as_numbers(simulator):
    simulator.register_account(username="xmluser", password="xmlpass", limit=0)
    bad_login = xml_call(simulator, akcja="ilosc_sms", haslo="wrong").find("Blad")
    assert bad_login.text and not bad_login.keys()  # no attributes: <Blad> has none (§4)
    assert xml_call(simulator, login="", haslo="").find("Blad") is not None
    no_action = xml_call(simulator, akcja="nic").find("Blad")
    assert no_action.text
    simulator.register_account(username="xmluser", limit=0, xml_numeric_errors=True)
    exhausted = xml_call(simulator, akcja="wyslij_sms", numer="500600700", wiadomosc="x")
    assert exhausted.find("Blad").text == "1000"
    assert simulator.messages() == []


def test_ilosc_sms_gives_the_remaining_limit(simulator):
    simulator.register_account(username="xmluser", password="xmlpass", limit=40)
    root = xml_call(simulator, akcja="ilosc_sms")
    limits = {s.get("typ"): (s.text, s.get("limit_znakow")) for s in root.findall("SMS")}
    assert limits["FULL"] == ("40", "918/6")
    assert root.find("KONTO").text == "PREPAID"


def test_usun_zaplanowane_and_demo_login(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    later = xml_call(
        simulator,
        akcja="wyslij_sms",
        numer="500600700",
        wiadomosc="x",
        data_wysylki="2099-01-01 10:00:00",
        usmsid="later1",
    )
    assert later.find("./Odbiorcy/Skolejkowane/SMS") is not None
    deleted = xml_call(simulator, akcja="usun_zaplanowane", usmsid="later1")
    assert deleted.find("ZAPLANOWANE").text == "OK"
    assert simulator.messages() == []
    demo = xml_call(
        simulator, login="demo", haslo="demo", akcja="wyslij_sms", numer="500600700", wiadomosc="x"
    )
    assert demo.find("./Odbiorcy/Skolejkowane/SMS") is not None
    assert simulator.messages() == []  # demo/demo acts as test=1


def test_zdalnie_without_index_php_works_too(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    response = requests.get(
        simulator.api_url + "zdalnie/", params={**LOGIN, "akcja": "ilosc_sms"}, timeout=5
    )
    assert ElementTree.fromstring(response.content).tag == "SerwerSMS"
