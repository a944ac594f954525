"""The partner billing export and delivery-report callbacks."""

import csv
import io
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

TOKEN = "token-b"


def send(simulator, phones, **extra):
    return requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json={"phone": phones, "text": "Hi", "details": True, **extra},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()


def test_billing_lists_counted_messages_of_the_ic_in_the_warsaw_dispatch_month(simulator):
    simulator.register_account(token=TOKEN, name="shop")
    phones = [f"5006007{n:02d}" for n in range(30)]
    simulator.set_time(datetime(2025, 1, 31, 22, 30, tzinfo=UTC))  # 23:30 in Warsaw
    send(simulator, phones, ic=555)
    send(simulator, "500600799", ic=777)  # another partner
    simulator.advance()  # in_progress (or unsent) still in January
    simulator.set_time(datetime(2025, 1, 31, 23, 30, tzinfo=UTC))  # 1 February in Warsaw
    simulator.advance(to="final")

    counted = [
        m for m in simulator.messages(ic=555) if m["status"] in ("sent", "delivered", "undelivered")
    ]
    assert 0 < len(counted) < 30  # the seed makes some unsent
    february = simulator.billing_csv(555, "2025-02")
    rows = list(csv.DictReader(io.StringIO(february)))
    assert list(rows[0]) == [
        "id",
        "account",
        "phone",
        "type",
        "parts",
        "status",
        "dispatched_at",
        "cost",
        "ic",
    ]
    assert {r["ic"] for r in rows} == {"555"}
    assert all(Decimal(r["cost"]) > 0 for r in rows)
    assert sorted(r["id"] for r in rows) == sorted(m["id"] for m in counted)
    assert {r["dispatched_at"] for r in rows} == {"2025-02-01 00:30:00"}
    assert {r["account"] for r in rows} == {"shop"}
    assert simulator.billing_csv(555, "2025-01").splitlines()[1:] == []

    over_http = requests.get(
        f"{simulator.api_url}_sim/partner_billing.csv",
        params={"ic": 555, "period": "2025-02"},
        timeout=5,
    )
    assert over_http.headers["Content-Type"].startswith("text/csv")
    assert over_http.text == february


def test_billing_export_refuses_a_bad_ic_or_period(simulator):
    url = f"{simulator.api_url}_sim/partner_billing.csv"
    assert requests.get(url, params={"ic": "0", "period": "2025-02"}, timeout=5).status_code == 400
    assert requests.get(url, params={"ic": "5", "period": "2025-13"}, timeout=5).status_code == 400


@pytest.fixture
def receiver():
    """A small local HTTP server that collects callbacks (GET query or POST form), answering
    `answer` (OK, as SerwerSMS expects, unless a test changes it)."""
    received: list[dict[str, str]] = []
    state = {"answer": b"OK"}

    class Handler(BaseHTTPRequestHandler):
        def _collect(self, text):
            fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
            received.append({"method": self.command, **fields})
            self.send_response(200)
            self.send_header("Content-Length", str(len(state["answer"])))
            self.end_headers()
            self.wfile.write(state["answer"])

        def do_POST(self):
            self._collect(self.rfile.read(int(self.headers["Content-Length"])).decode())

        def do_GET(self):
            self._collect(urlsplit(self.path).query)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback", received, state
    server.shutdown()
    server.server_close()


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_final_status_calls_back_with_smsid_stan_and_data(simulator, receiver):
    url, received, _state = receiver
    simulator.register_account(token=TOKEN, callback_url=url)
    message_id = send(simulator, "500600700", unique_id="cb1")["items"][0]["id"]
    simulator.advance(to="final")
    final = simulator.messages()[0]
    wait_for(lambda: received)
    [report] = received  # §5 (C): on delivery or failure only
    assert report == {
        "method": "POST",
        "smsid": message_id,
        "stan": final["status"],
        "data": final["delivered"] or final["changed"],
    }
    wait_for(lambda: simulator.callbacks())
    assert simulator.callbacks()[0]["ok"] is True


def test_callbacks_can_use_get_and_the_nat_words(simulator_server, simulator, receiver):
    url, received, _state = receiver
    callbacks = simulator_server.callbacks
    callbacks.method, callbacks.words = "GET", "nat"
    try:
        simulator.register_account(token=TOKEN, callback_url=url)
        send(simulator, "500600700")
        simulator.advance(to="final")
        wait_for(lambda: received)
    finally:
        callbacks.method, callbacks.words = "POST", "v2"
    assert received[0]["method"] == "GET"
    assert received[0]["stan"] in ("DELIVRD", "UNDELIV", "ERR")


def test_an_answer_other_than_ok_is_retried(simulator, receiver):
    url, received, state = receiver
    state["answer"] = b"NO"
    simulator.register_account(token=TOKEN, callback_url=url)
    send(simulator, "500600700")
    simulator.advance(to="final")
    wait_for(lambda: simulator.callbacks(), seconds=10)
    assert len(received) == 3
    assert simulator.callbacks()[0]["ok"] is False


def test_a_dead_callback_url_is_retried_and_logged_without_blocking(simulator):
    simulator.register_account(token=TOKEN, callback_url="http://127.0.0.1:9/nothing")
    send(simulator, "500600700")
    started = time.monotonic()
    simulator.advance(to="final")
    assert time.monotonic() - started < 0.5
    wait_for(lambda: simulator.callbacks(), seconds=10)
    [entry] = simulator.callbacks()
    assert entry["ok"] is False and entry["attempts"] == 3
