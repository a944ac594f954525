"""A canned HTTP answerer on loopback, only for answers the simulator must never give: the
documented examples of serwersms-api.md verbatim (items in another order, hostile XML...).
Everything else runs against the simulator (tests/simulator_fixtures.py) and its faults.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest


@dataclass
class Recorded:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body or b"{}")

    @property
    def form(self) -> dict:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Canned:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    queue: deque = field(default_factory=deque)

    def answer(self, body: bytes | str | dict, status: int = 200, content_type: str = "") -> None:
        """Answer the next request with `body` (a dict as JSON)."""
        if isinstance(body, dict):
            body, content_type = json.dumps(body), content_type or "application/json"
        if isinstance(body, str):
            body = body.encode()
        self.queue.append((status, content_type or "text/xml", body))


@pytest.fixture
def canned():
    state = Canned()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(Recorded(self.path, dict(self.headers), body))
            status, content_type, payload = (
                state.queue.popleft() if state.queue else (404, "text/plain", b"no answer queued")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield state
    server.shutdown()
    server.server_close()
