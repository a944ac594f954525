"""Pytest fixtures for the bundled SerwerSMS simulator: one server per session, reset per test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from serwersms_sim import SimulatorServer

SEED = 20240601


class SimulatorControl:
    """What a test needs from the simulator: its addresses, accounts, records, schedule, faults."""

    def __init__(self, server: SimulatorServer):
        self.server = server
        self.sim = server.sim

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def xml_url(self) -> str:
        return self.server.xml_url

    @property
    def smtp_host(self) -> str:
        return self.server.host

    @property
    def smtp_port(self) -> int:
        return self.server.smtp_port

    def register_account(
        self,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        limit: int | None = None,
        callback_url: str | None = None,
        name: str | None = None,
        email2sms_key: str | None = None,
        **more: Any,
    ) -> dict[str, Any]:
        values = {
            "email2sms_key": email2sms_key,
            **more,
            "name": name,
            "token": token,
            "username": username,
            "password": password,
            "email": email,
            "callback_url": callback_url,
        }
        data: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        data["limit"] = limit
        return self.sim.register_account(data).as_json()

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        return self.sim.message_records(**filters)

    def requests(self) -> list[dict[str, Any]]:
        with self.sim.lock:
            return list(self.sim.requests)

    def advance(self, steps: int = 1, to: str | None = None) -> int:
        return self.sim.advance(steps=steps, to_final=to == "final")

    def faults(
        self, names: list[str], slow_seconds: float | None = None, channel: str = "http"
    ) -> None:
        """Queue faults for the next requests of `channel` (one per request, in order)."""
        self.sim.faults.configure(channel, queue=list(names))
        if slow_seconds is not None:
            self.sim.slow_seconds = slow_seconds

    def mails(self) -> list[dict[str, Any]]:
        with self.sim.lock:
            return list(self.sim.mails)

    def billing_csv(self, ic: int, period: str) -> str:
        return self.sim.billing_csv(ic, period)

    def callbacks(self) -> list[dict[str, Any]]:
        return list(self.server.callbacks.log)

    def set_time(self, now: datetime | None) -> None:
        """Freeze the simulator's clock (aware datetime), or None for real time."""
        self.sim.set_now(now)


@pytest.fixture(scope="session")
def simulator_server():
    server = SimulatorServer(
        port=0, smtp_port=0, seed=SEED, speed=0, slow_seconds=3.0, callback_timeout=1.0
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def simulator(simulator_server) -> SimulatorControl:
    """The live simulator (manual schedule: statuses move on `advance`), empty for each test."""
    sim = simulator_server.sim
    sim.reset(accounts=True)
    sim.slow_seconds = 3.0
    simulator_server.callbacks.clear()
    return SimulatorControl(simulator_server)


@pytest.fixture
def simulator_settings(settings, simulator) -> SimulatorControl:
    """Point the SerwerSMS settings (API v2, XML API, Email2SMS SMTP) at the live simulator."""
    settings.SERWERSMS_API_URL = simulator.api_url
    settings.SERWERSMS_XML_API_URL = simulator.xml_url
    settings.SERWERSMS_EMAIL2SMS_HOST = simulator.smtp_host
    settings.SERWERSMS_EMAIL2SMS_PORT = simulator.smtp_port
    settings.EMAIL_HOST = simulator.smtp_host
    settings.EMAIL_PORT = simulator.smtp_port
    return simulator
