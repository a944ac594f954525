"""A tiny SerwerSMS stand-in on a loopback port for client tests: canned answers and faults.

It remembers what it "sent" so that reports / sprawdz_sms can find it again, records every
request, and can be told to answer the next requests with a status, a body, a delay or a drop.
The full simulator lives in billing/simulator; this stub covers shapes the simulator need not.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

import pytest


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body or b"{}")

    @property
    def form(self) -> dict:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}

    @property
    def action(self) -> str:
        if self.path.startswith("/zdalnie"):
            return self.form.get("akcja", "")
        return self.path.strip("/").removesuffix(".json")


@dataclass
class Canned:
    status: int = 200
    body: bytes | str | dict | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    then_default: bool = False  # do the default work first (e.g. "send"), then apply the fault


@dataclass
class StubServer:
    url: str = ""
    xml_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    queue: deque = field(default_factory=deque)
    sent: list[dict] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))

    def answer(self, **kwargs) -> None:
        self.queue.append(Canned(**kwargs))

    # The default behaviour: a well-behaved SerwerSMS.
    def default(self, recorded: Recorded) -> Canned:
        action = recorded.action
        if recorded.path.startswith("/zdalnie"):
            return self._xml(action, recorded.form)
        body = recorded.json
        if action in ("messages/send_sms", "messages/send_personalized") and (
            "phone" in body or "messages" in body
        ):
            if action == "messages/send_sms":
                phones = body["phone"] if isinstance(body["phone"], list) else [body["phone"]]
            else:
                phones = [item["phone"] for item in body["messages"]]
            unique_ids = body.get("unique_id") or [None] * len(phones)
            if isinstance(unique_ids, str):
                unique_ids = [unique_ids]
            items = []
            for phone, unique_id in zip(phones, unique_ids, strict=True):
                item = self._remember(phone, unique_id)
                items.append(
                    {
                        "id": item["id"],
                        "phone": phone,
                        "status": "queued",
                        "queued": "2026-03-10 12:00:00",
                        "parts": 1,
                    }
                )
            return Canned(body={"success": True, "queued": len(items), "unsent": 0, "items": items})
        if action == "messages/reports":
            wanted_ids = body.get("id") or []
            wanted_unique = body.get("unique_id") or []
            items = [
                m
                for m in self.sent
                if (not wanted_ids or m["id"] in wanted_ids)
                and (not wanted_unique or m["unique_id"] in wanted_unique)
            ]
            return Canned(
                body={
                    "paging": {"page": 1, "count": 1},
                    "items": [
                        dict(m, status="queued", queued="2026-03-10 12:00:00") for m in items
                    ],
                }
            )
        return Canned(body={"success": True})

    def _remember(self, phone: str, unique_id: str | None) -> dict:
        item = {"id": f"s{next(self._ids)}", "phone": phone, "unique_id": unique_id}
        self.sent.append(item)
        return item

    def _xml(self, action: str, form: dict) -> Canned:
        if action == "wyslij_sms":
            phones = form["numer"].split(",")
            unique_ids = form["usmsid"].split(",") if form.get("usmsid") else [None] * len(phones)
            rows = "".join(
                f'<SMS id="{m["id"]}" numer="{m["phone"]}" usmsid={quoteattr(m["unique_id"] or "")}'
                ' godzina_skolejkowania="2026-03-10 12:00:00"/>'
                for m in (self._remember(p, u) for p, u in zip(phones, unique_ids, strict=True))
            )
            body = (
                f"<SerwerSMS><Odbiorcy><Skolejkowane>{rows}</Skolejkowane></Odbiorcy></SerwerSMS>"
            )
            return Canned(body=body, content_type="text/xml")
        if action == "sprawdz_sms":
            wanted = (form.get("usmsid") or "").split(",")
            rows = "".join(
                f'<SMS id="{m["id"]}" numer="{m["phone"]}" usmsid="{m["unique_id"]}"'
                ' stan="skolejkowana" godzina_skolejkowania="2026-03-10 12:00:00"/>'
                for m in self.sent
                if m["unique_id"] in wanted
            )
            return Canned(body=f"<SerwerSMS>{rows}</SerwerSMS>", content_type="text/xml")
        return Canned(body="<SerwerSMS><Konto/></SerwerSMS>", content_type="text/xml")


def _handler_for(stub: StubServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            self._handle()

        def do_POST(self):
            self._handle()

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "GET":
                body = urlsplit(self.path).query.encode()
            recorded = Recorded(self.command, urlsplit(self.path).path, dict(self.headers), body)
            stub.requests.append(recorded)
            canned = stub.queue.popleft() if stub.queue else None
            if canned is None or canned.then_default:
                default = stub.default(recorded)
                if canned is None:
                    canned = default
            if canned.delay:
                time.sleep(canned.delay)
            if canned.drop:
                self.close_connection = True
                return
            payload = canned.body
            if isinstance(payload, dict | list):
                payload = json.dumps(payload)
            if isinstance(payload, str):
                payload = payload.encode()
            payload = payload or b""
            try:
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    return Handler


@pytest.fixture
def stub(settings):
    """A running stub; settings point API v2 and the XML API at it."""
    stub = StubServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(stub))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    port = server.server_address[1]
    stub.url = f"http://127.0.0.1:{port}/"
    stub.xml_url = f"http://127.0.0.1:{port}/zdalnie/index.php"
    settings.SERWERSMS_API_URL = stub.url
    settings.SERWERSMS_XML_API_URL = stub.xml_url
    settings.SERWERSMS_RETRIES = 0
    yield stub
    server.shutdown()
    server.server_close()
