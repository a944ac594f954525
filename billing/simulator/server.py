"""The simulator's servers: HTTP (API v2, XML API, /_sim control) and SMTP, in threads."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from billing.simulator import api_v2, xml_api
from billing.simulator.callbacks import CallbackSender
from billing.simulator.core import Account, Message, Simulator, SimulatorError, parse_time

logger = logging.getLogger(__name__)

XML_PATHS = ("zdalnie/index.php", "zdalnie/", "zdalnie")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string and body (JSON or form) as one dict; `x[]` form keys become lists."""
    params: dict[str, Any] = {}

    def add_form(text: str) -> None:
        for key, values in parse_qs(text, keep_blank_values=True).items():
            if key.endswith("[]"):
                params[key[:-2]] = values
            else:
                params[key] = values[-1]

    add_form(query)
    if not body:
        return params
    if "json" in content_type or body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SimulatorError(2004, "The request body is not JSON.") from None
        if not isinstance(data, dict):
            raise SimulatorError(2004, "The request body must be a JSON object.")
        params.update(data)
    else:
        try:
            add_form(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise SimulatorError(2004, "The request body is not UTF-8.") from None
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SerwerSMS-Simulator/1.0"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    # --- routing --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        path = url.path.lstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if path.startswith("_sim/"):
            self._control(method, path.removeprefix("_sim/"), url.query, body, content_type)
            return
        xml = path in XML_PATHS
        try:
            params = parse_params(url.query, body, content_type)
        except SimulatorError as error:
            params, parse_error = {}, error
        else:
            parse_error = None
        if xml:
            action, channel = f"xml:{params.get('akcja', '')}", "xml_api"
        else:
            action, channel = api_v2.action_name(path), "api_v2"
        fault = sim.next_fault()
        sim.record_request(action, channel, method, params.get("ic"), fault=fault)

        def run() -> tuple[int, str, bytes]:
            if xml:
                if parse_error is not None:
                    return 200, XML_TYPE, xml_api.error_document(parse_error)
                status, payload = xml_api.handle(sim, params)
                return status, XML_TYPE, payload
            if parse_error is not None:
                return parse_error.http_status, JSON_TYPE, _json(parse_error.as_json())
            auth = self.headers.get("Authorization", "")
            status, answer = api_v2.handle(sim, action, params, auth)
            return status, JSON_TYPE, _json(answer)

        self._serve_with_fault(fault, run, xml)

    def _serve_with_fault(self, fault: str | None, run, xml: bool) -> None:
        if fault == "drop":
            self.close_connection = True  # no answer at all, nothing done
            return
        if fault in ("http_500", "http_429"):
            error = SimulatorError(5000 if fault == "http_500" else 5029)
            headers = {"Retry-After": "1"} if fault == "http_429" else {}
            self._send(error.http_status, JSON_TYPE, _json(error.as_json()), headers)
            return
        if fault == "slow":
            time.sleep(self.server.sim.slow_seconds)
        status, content_type, payload = run()
        if fault == "accept_then_drop":
            self.close_connection = True  # the send happened; the client never hears of it
            return
        if fault == "malformed":
            status, payload = 200, payload[: max(1, len(payload) // 2)]
            if xml:
                payload = b"<SerwerSMS><Odbiorcy><Skolejk"
        self._send(status, content_type, payload)

    def _send(
        self, status: int, content_type: str, payload: bytes, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    # --- /_sim control --------------------------------------------------------------------

    def _control(self, method: str, name: str, query: str, body: bytes, content_type: str):
        server = self.server.owner
        sim = self.server.sim
        try:
            params = parse_params(query, body, content_type or "application/json")
            status, ctype, payload = 200, JSON_TYPE, None
            if name == "messages" and method == "GET":
                answer: Any = sim.message_records(**params)
            elif name == "requests" and method == "GET":
                with sim.lock:
                    answer = list(sim.requests)
            elif name == "accounts" and method == "GET":
                answer = [a.as_json() for a in sim.accounts]
            elif name == "accounts" and method == "POST":
                entries = json.loads(body) if body else {}
                if isinstance(entries, list):
                    answer = [sim.register_account(e).as_json() for e in entries]
                else:
                    answer = sim.register_account(params).as_json()
            elif name == "advance" and method == "POST":
                to_final = str(params.get("to", "")) == "final"
                steps = int(params.get("steps", 1))
                answer = {"applied": sim.advance(steps=steps, to_final=to_final)}
            elif name == "faults" and method == "POST":
                faults = params.get("faults", [])
                if not isinstance(faults, list):
                    raise SimulatorError(2004, "faults must be a list of names.")
                slow = params.get("slow_seconds")
                sim.queue_faults(faults, float(slow) if slow is not None else None)
                answer = {"queued": list(sim._faults), "slow_seconds": sim.slow_seconds}
            elif name == "faults" and method == "GET":
                answer = {"queued": list(sim._faults), "fault_rate": sim.fault_rate}
            elif name == "reset" and method == "POST":
                sim.reset(accounts=bool(params.get("accounts")))
                server.callbacks.clear()
                answer = {"reset": True}
            elif name == "clock" and method == "POST":
                now = params.get("now")
                sim.set_now(parse_time(now) if now else None)
                answer = {"now": now}
            elif name == "callbacks" and method == "GET":
                answer = list(server.callbacks.log)
            elif name == "partner_billing.csv" and method == "GET":
                ic = params.get("ic", "")
                if not str(ic).isdigit() or int(ic) < 1:
                    raise SimulatorError(2004, "ic must be a positive integer")
                csv_text = sim.billing_csv(int(ic), str(params.get("period", "")))
                ctype, payload = "text/csv; charset=utf-8", csv_text.encode()
            else:
                status, answer = 404, {"error": f"No control endpoint {method} /_sim/{name}."}
        except SimulatorError as error:
            status, answer = 400, {"error": error.message}
        except (ValueError, TypeError, json.JSONDecodeError) as error:
            status, answer = 400, {"error": str(error)}
        if payload is None:
            payload = _json(answer)
        self._send(status, ctype, payload)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: Simulator
    owner: SimulatorServer


class SimulatorServer:
    """The simulator on loopback: HTTP on `port`, SMTP on `smtp_port` (0 = any free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8025,
        smtp_port: int | None = None,
        seed: int = 0,
        fault_rate: float = 0.0,
        *,
        speed: float = 1.0,
        accounts: list[dict[str, Any]] | str | Path | None = None,
        state_path: str | Path | None = None,
        max_parts: int = 6,
        slow_seconds: float = 20.0,
        callback_timeout: float = 2.0,
        tick_seconds: float = 0.2,
        save_seconds: float = 1.0,
    ):
        self.host = host
        self._port = port
        self._smtp_port = smtp_port
        self.sim = Simulator(
            seed=seed,
            fault_rate=fault_rate,
            speed=speed,
            max_parts=max_parts,
            slow_seconds=slow_seconds,
        )
        self.sim.listeners.append(self._status_changed)
        self.callbacks = CallbackSender(timeout=callback_timeout)
        self.accounts = accounts
        self.state_path = Path(state_path) if state_path else None
        self.tick_seconds = tick_seconds
        self.save_seconds = save_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._httpd: _HTTPServer | None = None
        self._smtp = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def smtp_port(self) -> int | None:
        return self._smtp_port

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def xml_url(self) -> str:
        return f"{self.api_url}zdalnie/index.php"

    def start(self) -> None:
        if self.state_path and self.state_path.exists():
            self.sim.load_state(json.loads(self.state_path.read_text(encoding="utf-8")))
        for entry in self._account_entries():
            self.sim.register_account(entry)
        # SMTP first: once HTTP answers, callers (and the demo launcher) take the whole
        # simulator as ready.
        if self._smtp_port is not None:
            from aiosmtpd.controller import Controller

            from billing.simulator.smtp import Email2SMSHandler

            if self._smtp_port == 0:
                self._smtp_port = free_port(self.host)
            self._smtp = Controller(
                Email2SMSHandler(self.sim), hostname=self.host, port=self._smtp_port
            )
            self._smtp.start()
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.sim, self._httpd.owner = self.sim, self
        self._spawn("sim-http", self._httpd.serve_forever)
        self._spawn("sim-ticker", self._tick_loop)
        if self.state_path:
            self._spawn("sim-saver", self._save_loop)

    def stop(self) -> None:
        self._stop.set()
        # Each stop step is bounded: a server caught half-started by a signal must not keep the
        # process alive (all our threads are daemons, so the process can always exit).
        if self._httpd is not None:
            _bounded(self._httpd.shutdown, seconds=5)
            self._httpd.server_close()
        if self._smtp is not None:
            _bounded(self._smtp.stop, seconds=5)
            self._smtp = None
        for thread in self._threads:
            thread.join(timeout=5)
        self.callbacks.close()
        if self.state_path:
            self.save_state()

    def save_state(self) -> None:
        """Write accounts and messages to the state file (atomically: a temp file, then rename)."""
        state = self.sim.dump_state()
        temporary = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.state_path)

    def _account_entries(self) -> list[dict[str, Any]]:
        if self.accounts is None:
            return []
        if isinstance(self.accounts, str | Path):
            entries = json.loads(Path(self.accounts).read_text(encoding="utf-8"))
        else:
            entries = self.accounts
        if not isinstance(entries, list):
            raise ValueError("The accounts file must hold a JSON list of accounts.")
        return entries

    def _spawn(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.sim.tick()
            except Exception:  # keep the demo alive; the next tick tries again
                logger.exception("Simulator tick failed")

    def _save_loop(self) -> None:
        saved = self.sim.changes
        while not self._stop.wait(self.save_seconds):
            if self.sim.changes != saved:
                saved = self.sim.changes
                try:
                    self.save_state()
                except OSError:
                    logger.exception("Could not save the simulator state")

    def _status_changed(self, account: Account, message: Message) -> None:
        if account.callback_url:
            self.callbacks.submit(account.callback_url, message.callback_fields())

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bounded(call, seconds: float) -> None:
    """Run `call` in a daemon thread and wait at most `seconds` for it."""
    thread = threading.Thread(target=call, name=f"sim-stop-{call.__name__}", daemon=True)
    thread.start()
    thread.join(timeout=seconds)
