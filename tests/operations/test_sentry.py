"""Error reports: with SENTRY_DSN set, an error logged by the product reaches Sentry (here a
local stand-in for its ingest endpoint), redacted and without personal data; unset, nothing."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, django
django.setup()
import sentry_sdk
logging.getLogger("billing.tasks").error(
    "poll failed for https://x/callbacks/serwersms/cb-secret-0042/ password=hunter2-secret",
    extra={"api_key": "ppk-extra-secret"},
)
sentry_sdk.flush(10)
"""


class _Ingest(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest():
    _Ingest.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **env_extra)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_an_error_with_sentry_dsn_is_reported_redacted(ingest):
    port = ingest.server_address[1]
    done = _run({"SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/1", "LOG_LEVEL": "INFO"})
    assert done.returncode == 0, done.stderr
    sent = b"".join(_Ingest.bodies).decode("utf-8", "replace")
    assert "poll failed for" in sent  # the event arrived
    for secret in ("cb-secret-0042", "hunter2-secret", "ppk-extra-secret"):
        assert secret not in sent
        assert secret not in done.stderr  # nor in the JSON log line


def test_without_sentry_dsn_nothing_is_sent(ingest):
    done = _run({})
    assert done.returncode == 0, done.stderr
    assert "poll failed for" in done.stderr  # logged as usual
    assert _Ingest.bodies == []
