"""The simulator's servers: HTTP (API v2, XML API, the `/_sim/` control surface) and SMTP.

The control surface is the simulator's own, not SerwerSMS's (docs/simulator.md lists it).
"""

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

from . import api_v2, xml_api
from .accounts import Account
from .callbacks import FINAL_STATUSES, CallbackSender
from .core import Simulator
from .faults import expand_channels, split_fault
from .protocol import ControlError, SimulatorError, format_time, parse_params, parse_time
from .sending import Message

logger = logging.getLogger(__name__)

XML_PATHS = ("zdalnie/index.php", "zdalnie/", "zdalnie")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SerwerSMS-Simulator/2.0"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    # --- SerwerSMS ------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        path = url.path.lstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if path.startswith("_sim/") or path == "_sim":
            self._control(method, path.removeprefix("_sim").strip("/"), url.query, body)
            return
        xml = path in XML_PATHS
        try:
            params, parse_error = parse_params(url.query, body, content_type), None
        except SimulatorError as error:
            params, parse_error = {}, error
        if xml:
            channel = "xml_api"
            action = f"xml:{params.get('akcja', '')}"
            sending = params.get("akcja") == "wyslij_sms"
        else:
            channel = "api_v2"
            action = api_v2.action_name(path)
            sending = api_v2.is_sending(action)
        fault = sim.faults.next(channel, sending=sending)
        generation = sim.generation  # before the request is seen: a reset after it drops it
        sim.record_request(action, channel, method, params.get("ic"), fault=fault)

        def run() -> tuple[str, bytes]:
            if xml:
                if parse_error is not None:
                    return XML_TYPE, xml_api.error_document(
                        parse_error.message, None, numeric=False
                    )
                return XML_TYPE, xml_api.handle(sim, params)
            if parse_error is not None:
                return JSON_TYPE, _json(parse_error.as_json())
            auth = self.headers.get("Authorization", "")
            return JSON_TYPE, _json(api_v2.handle(sim, action, params, auth))

        self._serve_with_fault(fault, run, generation)

    def _serve_with_fault(self, fault: str | None, run, generation: int) -> None:
        sim = self.server.sim
        kind = split_fault(fault)[0] if fault else None
        if kind == "drop":
            self.close_connection = True  # no answer at all, nothing done
            return
        if kind in ("http_500", "http_503", "http_429"):
            status = int(kind.removeprefix("http_"))
            headers = {"Retry-After": "1"} if status == 429 else {}
            self._send(status, "text/plain; charset=utf-8", b"Simulated failure", headers)
            return
        slow = kind in ("slow", "slow_take")
        if slow:
            sim.faults.slow_started()
        try:
            if kind == "slow_take":
                # SerwerSMS is busy: it takes the message only after the delay, whether or not
                # the caller still waits (a client that timed out meanwhile never hears of it).
                time.sleep(sim.faults.delay_of(fault))
                if sim.generation != generation:
                    self.close_connection = True  # reset meanwhile: a world now gone
                    return
            content_type, payload = run()
            if kind == "slow":
                # Taken at once (above); only the answer is late.
                time.sleep(sim.faults.delay_of(fault))
                if sim.generation != generation:
                    self.close_connection = True
                    return
        finally:
            if slow:
                sim.faults.slow_finished()
        if kind == "accept_then_drop":
            self.close_connection = True  # the message was taken; the caller never hears of it
            return
        if kind == "accept_then_500":
            self._send(500, "text/plain; charset=utf-8", b"Simulated failure after taking")
            return
        if kind == "malformed":
            payload = payload[: max(1, len(payload) // 2)]
        try:
            self._send(200, content_type, payload)
        except OSError:
            self.close_connection = True  # the caller gave up waiting (a slow answer)

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

    def _control(self, method: str, name: str, query: str, body: bytes) -> None:
        try:
            status, content_type, payload = 200, JSON_TYPE, None
            answer = self.server.owner.control(method, name, query, body)
            if isinstance(answer, tuple):
                content_type, payload = answer
            elif answer is None:
                status, answer = 404, {"error": f"No control endpoint {method} /_sim/{name}."}
        except (ControlError, SimulatorError, ValueError, TypeError, KeyError) as error:
            status = 400
            answer = {"error": getattr(error, "message", None) or str(error)}
        self._send(status, content_type, payload if payload is not None else _json(answer))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _control_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ControlError("The control body must be JSON.") from None


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
        fault_seed: int | None = None,
        callback_timeout: float = 2.0,
        callback_method: str = "POST",
        callback_words: str = "v2",
        callback_attempts: int = 3,
        callback_statuses: tuple[str, ...] = FINAL_STATUSES,
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
            fault_seed=fault_seed,
        )
        self.sim.listeners.append(self._status_changed)
        self.callbacks = CallbackSender(
            timeout=callback_timeout,
            attempts=callback_attempts,
            method=callback_method,
            words=callback_words,
            statuses=callback_statuses,
        )
        self.accounts = accounts
        self.state_path = Path(state_path) if state_path else None
        self.tick_seconds = tick_seconds
        self.save_seconds = save_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._httpd: _HTTPServer | None = None
        self._smtp = None
        self._smtp_handler = None

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

    # --- the control surface --------------------------------------------------------------

    def control(self, method: str, name: str, query: str, body: bytes) -> Any:
        """One `/_sim/<name>` call: the JSON answer, (content type, bytes), or None (404)."""
        sim = self.sim
        params: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()
        }
        if method == "GET":
            if name == "messages":
                return sim.message_records(**params)
            if name == "message":
                return self.message_record(params)
            if name == "requests":
                with sim.lock:
                    return list(sim.requests)
            if name == "mails":
                with sim.lock:
                    return list(sim.mails)
            if name == "accounts":
                return [a.as_json() for a in sim.accounts]
            if name == "faults":
                return sim.faults.as_json()
            if name == "callbacks":
                return list(self.callbacks.log)
            if name == "partner_billing.csv":
                ic = params.get("ic", "")
                if not str(ic).isdigit() or int(ic) < 1:
                    raise ControlError("ic must be a positive integer")
                text = sim.billing_csv(int(ic), str(params.get("period", "")))
                return "text/csv; charset=utf-8", text.encode()
            return None
        data = _control_body(body)
        if method == "DELETE" and name == "faults" or method == "POST" and name == "faults/clear":
            sim.faults.reset()
            return sim.faults.as_json()
        if method != "POST":
            return None
        if name == "accounts":
            if isinstance(data, list):
                return [sim.register_account(entry).as_json() for entry in data]
            return sim.register_account(data).as_json()
        if not isinstance(data, dict):
            raise ControlError("The control body must be a JSON object.")
        if name == "faults":
            return self.set_faults(data)
        if name == "advance":
            to_final = str(data.get("to", params.get("to", ""))) == "final"
            steps = int(data.get("steps", params.get("steps", 1)))
            return {"applied": sim.advance(steps=steps, to_final=to_final)}
        if name == "reset":
            sim.reset(accounts=bool(data.get("accounts")))
            self.callbacks.clear()
            return {"reset": True}
        if name == "clock":
            now = data.get("now")
            sim.set_now(parse_time(now) if now else None)
            return {"now": now}
        if name == "incoming":
            account = sim.account_named(str(data.get("account", "")))
            if account is None:
                raise ControlError("account: no such account name.")
            return sim.receive(
                account, str(data["phone"]), str(data["text"]), str(data.get("type", "eco"))
            )
        return None

    def set_faults(self, data: dict[str, Any]) -> dict[str, Any]:
        """`POST /_sim/faults`: {channel?, faults?, rate?, kinds?, sending_only?, seed?,
        slow_seconds?}; `faults` are queued for the next requests of the channel, in order."""
        unknown = set(data) - {
            "channel",
            "faults",
            "rate",
            "kinds",
            "sending_only",
            "seed",
            "slow_seconds",
        }
        if unknown:
            raise ControlError(f"Unknown fault fields: {', '.join(sorted(unknown))}.")
        queue = data.get("faults") or []
        kinds = data.get("kinds")
        if not isinstance(queue, list) or (kinds is not None and not isinstance(kinds, list)):
            raise ControlError("faults and kinds must be lists of fault names.")
        channel = data.get("channel", "http")
        expand_channels(channel)
        rate = data.get("rate")
        self.sim.faults.configure(
            channel,
            queue=[str(q) for q in queue],
            rate=float(rate) if rate is not None else None,
            kinds=[str(k) for k in kinds] if kinds else None,
            sending_only=data.get("sending_only"),
            seed=data.get("seed"),
        )
        if data.get("slow_seconds") is not None:
            self.sim.slow_seconds = float(data["slow_seconds"])
        return self.sim.faults.as_json()

    def message_record(self, params: dict[str, Any]) -> dict[str, Any]:
        """`GET /_sim/message?id=|unique_id=|phone=[&account=]`: taken or not, and the records."""
        keys = {k: v for k, v in params.items() if k in ("id", "unique_id", "phone", "account")}
        if not set(keys) - {"account"}:
            raise ControlError("Give id, unique_id or phone.")
        records = self.sim.message_records(**keys)
        return {"taken": bool(records), "records": records}

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        if self.state_path and self.state_path.exists():
            self.sim.load_state(json.loads(self.state_path.read_text(encoding="utf-8")))
        for entry in self._account_entries():
            self.sim.register_account(entry)
        # SMTP first: once HTTP answers, callers take the whole simulator as ready.
        if self._smtp_port is not None:
            from aiosmtpd.controller import Controller

            from .smtp import Email2SMSHandler

            if self._smtp_port == 0:
                self._smtp_port = free_port(self.host)
            self._smtp_handler = Email2SMSHandler(self.sim)
            self._smtp = Controller(self._smtp_handler, hostname=self.host, port=self._smtp_port)
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
        if not account.callback_url:
            return
        at = message.delivered or message.changed or message.sent or message.queued
        fields = self.callbacks.fields(message.id, message.status, format_time(at) or "")
        if fields is not None:
            self.callbacks.submit(account.callback_url, fields)

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
