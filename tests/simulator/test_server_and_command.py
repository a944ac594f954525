"""The control endpoints over HTTP, the state file, and the management command."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from serwersms_sim import SimulatorServer
from serwersms_sim.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_control_endpoints_register_accounts_advance_and_reset(simulator):
    base = simulator.api_url + "_sim/"
    registered = requests.post(
        base + "accounts", json={"token": "ctl", "email": "ctl@example.com", "limit": 10}, timeout=5
    ).json()
    assert registered["limit"] == 10 and registered["email"] == "ctl@example.com"
    sent = requests.post(
        simulator.api_url + "messages/send_sms.json",
        json={"phone": "500600700", "text": "Hi", "ic": 12},
        headers={"Authorization": "Bearer ctl"},
        timeout=5,
    )
    assert sent.status_code == 200
    assert requests.post(base + "advance?steps=2", timeout=5).json()["applied"] >= 1
    [record] = requests.get(base + "messages", timeout=5).json()
    assert (record["channel"], record["ic"]) == ("api_v2", 12)
    assert record["account"] == registered["name"]
    assert record["status"] in ("sent", "unsent")
    [request] = requests.get(base + "requests", timeout=5).json()
    assert set(request) >= {"action", "channel", "ic", "method", "at"}
    assert requests.post(base + "advance", json={"to": "final"}, timeout=5).status_code == 200
    assert requests.post(base + "reset", json={}, timeout=5).json() == {"reset": True}
    assert requests.get(base + "messages", timeout=5).json() == []
    assert requests.get(base + "nothing", timeout=5).status_code == 404


def test_bad_account_registration_is_refused(simulator):
    response = requests.post(
        simulator.api_url + "_sim/accounts", json={"limit": "many", "token": "x"}, timeout=5
    )
    assert response.status_code == 400
    assert simulator.sim.accounts == []


@pytest.mark.parametrize("body", [[{"token": "a"}, "not an object"], [1, 2], "text", [[]]])
def test_a_list_or_odd_body_to_the_accounts_endpoint_is_a_400_not_a_crash(simulator, body):
    response = requests.post(simulator.api_url + "_sim/accounts", json=body, timeout=5)
    assert response.status_code == 400 and "error" in response.json()
    listed = requests.post(
        simulator.api_url + "_sim/accounts", json=[{"token": "l1"}, {"token": "l2"}], timeout=5
    )
    assert [a["token"] for a in listed.json()] == ["l1", "l2"]


def test_the_simulator_tells_per_message_whether_it_took_it(simulator):
    base = simulator.api_url + "_sim/"
    simulator.register_account(token="rec")
    requests.post(
        simulator.api_url + "messages/send_sms.json",
        json={"phone": "500600700", "text": "Hi", "ic": 7, "unique_id": "rec001"},
        headers={"Authorization": "Bearer rec"},
        timeout=5,
    )
    known = requests.get(base + "message", params={"unique_id": "rec001"}, timeout=5).json()
    assert known["taken"] is True
    [record] = known["records"]
    assert {k: record[k] for k in ("unique_id", "phone", "ic", "status", "taken")} == {
        "unique_id": "rec001",
        "phone": "+48500600700",
        "ic": 7,
        "status": "queued",
        "taken": True,
    }
    assert record["id"]
    unknown = requests.get(base + "message", params={"unique_id": "never1"}, timeout=5).json()
    assert unknown == {"taken": False, "records": []}
    by_phone = requests.get(base + "message", params={"phone": "500600700"}, timeout=5).json()
    assert by_phone["taken"] is True
    assert requests.get(base + "message", timeout=5).status_code == 400


def test_state_file_keeps_accounts_and_messages_over_a_restart(tmp_path):
    state = tmp_path / "state.json"
    accounts = [{"token": "keep", "username": "keep", "password": "pw"}]
    first = SimulatorServer(port=0, speed=0, accounts=accounts, state_path=state)
    with first:
        answer = requests.post(
            first.api_url + "messages/send_sms.json",
            json={"phone": "500600700", "text": "Hi", "ic": 3, "unique_id": "s001", "details": 1},
            headers={"Authorization": "Bearer keep"},
            timeout=5,
        ).json()
        first.sim.advance(to_final=True)
    saved = json.loads(state.read_text())
    assert [m["id"] for m in saved["messages"]] == [answer["items"][0]["id"]]

    with SimulatorServer(port=0, speed=0, state_path=state) as second:
        [record] = second.sim.message_records()
        assert (record["unique_id"], record["ic"]) == ("s001", 3)
        assert record["status"] in ("delivered", "undelivered", "unsent")
        next_answer = requests.post(
            second.api_url + "messages/send_sms.json",
            json={"phone": "500600701", "text": "Again", "details": True},
            headers={"Authorization": "Bearer keep"},
            timeout=5,
        ).json()
        assert next_answer["items"][0]["id"] != record["id"]


def test_command_refuses_bad_options():
    with pytest.raises(CommandError):
        call_command("serwersms_simulator", "--speed", "-1")
    with pytest.raises(CommandError):
        call_command("serwersms_simulator", "--fault-rate", "2")
    with pytest.raises(CommandError, match="Unknown faults"):
        call_command("serwersms_simulator", "--fault-kinds", "http_500,fax")
    with pytest.raises(CommandError, match="Unknown faults"):
        call_command("serwersms_simulator", "--smtp-fault-kinds", "http_500")
    with pytest.raises(CommandError, match="callback-attempts"):
        call_command("serwersms_simulator", "--callback-attempts", "0")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_serves_until_stopped_and_saves_its_state(tmp_path, stop_signal):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"token": "cmd-token"}]))
    port, smtp_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serwersms_simulator", "--port", str(port)]
        + ["--smtp-port", str(smtp_port), "--seed", "5", "--accounts", str(accounts)]
        + ["--state", str(tmp_path / "state.json")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/account/limits.json",
                    json={},
                    headers={"Authorization": "Bearer cmd-token"},
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
        # Serving is not the same as having said so: wait for the banner's last line.
        while not any("Ctrl-C to stop" in line for line in list(lines)):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.send_signal(stop_signal)
        process.wait(timeout=30)
        reader.join(timeout=10)
    out = "".join(lines)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/" in out
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [a["token"] for a in saved["accounts"]] == ["cmd-token"]


def test_running_server_moves_statuses_on_its_own():
    with SimulatorServer(
        port=0, speed=1000, tick_seconds=0.01, accounts=[{"token": "fast"}]
    ) as server:
        requests.post(
            server.api_url + "messages/send_sms.json",
            json={"phone": "500600700", "text": "Hi"},
            headers={"Authorization": "Bearer fast"},
            timeout=5,
        )
        deadline = time.monotonic() + 5
        while server.sim.message_records()[0]["status"] not in (
            "delivered",
            "undelivered",
            "unsent",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_command_fault_options_reach_the_running_simulator(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"token": "cmd-faults"}]))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serwersms_simulator", "--port", str(port)]
        + ["--accounts", str(accounts), "--fault-rate", "1", "--fault-kinds", "http_429"]
        + ["--faults-sending-only", "--fault-seed", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base, headers = f"http://127.0.0.1:{port}/", {"Authorization": "Bearer cmd-faults"}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                read = requests.post(base + "account/limits.json", json={}, headers=headers)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        send = requests.post(
            base + "messages/send_sms.json",
            json={"phone": "500600700", "text": "x"},
            headers=headers,
        )
        faults = requests.get(base + "_sim/faults", timeout=5).json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert (read.status_code, send.status_code) == (200, 429)
    assert faults["seed"] == 3
    assert faults["channels"]["api_v2"]["injected"] == {"http_429": 1}


def test_the_simulator_imports_nothing_from_billing_partner_portal_or_django():
    """An independent reading of the protocol: a misunderstanding in the product cannot leak in."""
    code = (
        "import sys, serwersms_sim, serwersms_sim.server, serwersms_sim.smtp;"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'billing', 'partner_portal', 'partner_api', 'django'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
