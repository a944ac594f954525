"""The XML API: wyslij_sms, sprawdz_sms, ilosc_sms and <Blad> answers, parsed with defusedxml."""

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


def test_wyslij_sms_lists_queued_and_unsent_numbers(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    root = xml_call(
        simulator,
        "POST",
        akcja="wyslij_sms",
        numer="500600700,12,500600701",
        wiadomosc="Czesc",
        usmsid="a,b,c",
        ic="99",
    )
    queued = root.findall("./Odbiorcy/Skolejkowane/SMS")
    unsent = root.findall("./Odbiorcy/Niewyslane/SMS")
    assert [(s.get("numer"), s.get("usmsid")) for s in queued] == [
        ("+48500600700", "a"),
        ("+48500600701", "c"),
    ]
    assert all(s.get("id") and s.get("godzina_skolejkowania") for s in queued)
    assert [(s.get("numer"), s.get("usmsid")) for s in unsent] == [("12", "b")]
    assert unsent[0].get("przyczyna")
    records = simulator.messages()
    assert {(r["channel"], r["ic"]) for r in records} == {("xml_api", 99)}
    assert simulator.requests()[-1]["action"] == "xml:wyslij_sms"


def test_sprawdz_sms_gives_polish_states(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    sent = xml_call(simulator, akcja="wyslij_sms", numer="500600700", wiadomosc="x", usmsid="k1")
    sms_id = sent.find("./Odbiorcy/Skolejkowane/SMS").get("id")
    by_id = xml_call(simulator, akcja="sprawdz_sms", smsid=sms_id).findall("SMS")
    assert [(s.get("id"), s.get("stan"), s.get("usmsid")) for s in by_id] == [
        (sms_id, "skolejkowana", "k1")
    ]
    simulator.advance(to="final")
    final = xml_call(simulator, akcja="sprawdz_sms", usmsid="k1").find("SMS")
    assert final.get("stan") in ("doreczona", "niedoreczona", "niewyslana")
    assert final.get("czesci") == "1"


def test_xml_failures_answer_blad_with_the_api_code(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    bad_login = xml_call(simulator, akcja="ilosc_sms", haslo="wrong")
    assert bad_login.find("Blad").get("kod") == "1001"
    bad_ic = xml_call(simulator, akcja="wyslij_sms", numer="500600700", wiadomosc="x", ic="-1")
    assert bad_ic.find("Blad").get("kod") == "2004"
    assert bad_ic.find("Blad").text == "ic must be a positive integer"
    single_bad_phone = xml_call(simulator, akcja="wyslij_sms", numer="12", wiadomosc="x")
    assert single_bad_phone.find("Blad").get("kod") == "2001"
    assert simulator.messages() == []


def test_ilosc_sms_gives_the_remaining_limit(simulator):
    simulator.register_account(username="xmluser", password="xmlpass", limit=40)
    root = xml_call(simulator, akcja="ilosc_sms")
    assert {s.get("typ"): s.text for s in root.findall("SMS")}["full"] == "40"


def test_zdalnie_without_index_php_works_too(simulator):
    simulator.register_account(username="xmluser", password="xmlpass")
    response = requests.get(
        simulator.api_url + "zdalnie/", params={**LOGIN, "akcja": "ilosc_sms"}, timeout=5
    )
    assert ElementTree.fromstring(response.content).tag == "SerwerSMS"
