"""The partner billing export and delivery-report callbacks."""

import csv
import io
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests

TOKEN = "token-b"


def send(simulator, phones, **extra):
    return requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json={"phone": phones, "text": "Hi", **extra},
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
    assert list(rows[0]) == ["id", "account", "phone", "type", "parts", "status", "dispatched_at"]
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
    """A small local HTTP server that collects callback form posts."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append({k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback", received
    server.shutdown()
    server.server_close()


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_every_status_change_is_posted_to_the_callback_url(simulator, receiver):
    url, received = receiver
    simulator.register_account(token=TOKEN, callback_url=url)
    message_id = send(simulator, "500600700", unique_id="cb-1")["items"][0]["id"]
    simulator.advance(to="final")
    final = simulator.messages()[0]
    wait_for(lambda: any(r["status"] == final["status"] for r in received))
    assert {r["id"] for r in received} == {message_id}
    last = next(r for r in received if r["status"] == final["status"])
    assert set(last) == {
        "id",
        "unique_id",
        "phone",
        "status",
        "queued",
        "sent",
        "delivered",
        "reason",
        "parts",
        "cost",
    }
    assert (last["unique_id"], last["phone"], last["parts"]) == ("cb-1", "+48500600700", "1")
    assert last["queued"] == final["queued"]


def test_a_dead_callback_url_is_retried_and_logged_without_blocking(simulator):
    simulator.register_account(token=TOKEN, callback_url="http://127.0.0.1:9/nothing")
    send(simulator, "500600700")
    started = time.monotonic()
    simulator.advance()
    assert time.monotonic() - started < 0.5
    wait_for(lambda: simulator.callbacks(), seconds=10)
    [entry] = simulator.callbacks()
    assert entry["ok"] is False and entry["attempts"] == 3
