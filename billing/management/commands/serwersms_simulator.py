"""Run the bundled SerwerSMS simulator (API v2, XML API, Email2SMS SMTP) until Ctrl-C."""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.simulator import SimulatorServer


class Command(BaseCommand):
    help = "Run the SerwerSMS simulator on loopback (see docs/simulator.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025, help="HTTP port (API v2 and XML)")
        parser.add_argument("--smtp-port", type=int, default=None, help="Email2SMS SMTP port")
        parser.add_argument("--seed", type=int, default=0, help="seed of message fates")
        parser.add_argument(
            "--fault-rate", type=float, default=0.0, help="share of API requests given a fault"
        )
        parser.add_argument("--accounts", help="JSON file: a list of accounts to register")
        parser.add_argument("--state", help="JSON file keeping accounts and messages over restarts")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="time scale of the schedule; 0 = manual only"
        )
        parser.add_argument(
            "--max-parts", type=int, default=getattr(settings, "SERWERSMS_MAX_PARTS", 6)
        )

    def handle(self, *args, **options):
        if options["speed"] < 0:
            raise CommandError("--speed must be 0 or more.")
        if not 0 <= options["fault_rate"] <= 1:
            raise CommandError("--fault-rate must be between 0 and 1.")
        server = SimulatorServer(
            host=options["host"],
            port=options["port"],
            smtp_port=options["smtp_port"],
            seed=options["seed"],
            fault_rate=options["fault_rate"],
            speed=options["speed"],
            accounts=options["accounts"],
            state_path=options["state"],
            max_parts=options["max_parts"],
        )
        # A launcher stops us with SIGTERM: treat it like Ctrl-C so the state file is saved.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.start()
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot start the simulator: {exc}") from exc
        self.stdout.write(f"SerwerSMS simulator: API v2 {server.api_url}")
        self.stdout.write(f"XML API {server.xml_url}")
        if server.smtp_port:
            self.stdout.write(f"Email2SMS SMTP {server.host}:{server.smtp_port}")
        self.stdout.write(f"{len(server.sim.accounts)} accounts; Ctrl-C to stop.")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
        finally:
            server.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
