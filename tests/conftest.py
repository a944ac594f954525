"""Shared fixtures: factories, service checks for CI, a live simulator (see simulator fixtures)."""

import os
import socket

import pytest


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    """On CI (REQUIRE_SERVICES=1) a missing PostgreSQL or Redis is a failure, never a skip."""
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(f"REQUIRE_SERVICES=1 but the database engine is {engine}")
    if not _port_open("127.0.0.1", 5432):
        raise pytest.UsageError("REQUIRE_SERVICES=1 but PostgreSQL is not reachable on :5432")
    if not _port_open("127.0.0.1", 6379):
        raise pytest.UsageError("REQUIRE_SERVICES=1 but Redis is not reachable on :6379")


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages raised outside a request are asserted in English; the product's default
    language is Polish (requests pick theirs through LocaleMiddleware)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The live SerwerSMS simulator: `simulator`, `simulator_settings` (see tests/simulator_fixtures.py).
from tests.simulator_fixtures import simulator, simulator_server, simulator_settings  # noqa: E402, F401
