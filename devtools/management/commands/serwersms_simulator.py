"""Run the bundled SerwerSMS simulator (API v2, XML API, Email2SMS SMTP) until Ctrl-C."""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from serwersms_sim import SimulatorServer
from serwersms_sim.callbacks import STAN_WORDS
from serwersms_sim.faults import HTTP_FAULTS, SMTP_FAULTS


def _kinds(value: str, allowed: dict) -> list[str]:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in allowed]
    if unknown:
        raise CommandError(
            f"Unknown faults {', '.join(unknown)}; choose from {', '.join(allowed)}."
        )
    return kinds


class Command(BaseCommand):
    help = "Run the SerwerSMS simulator on loopback (see docs/simulator.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025, help="HTTP port (API v2 and XML)")
        parser.add_argument("--smtp-port", type=int, default=None, help="Email2SMS SMTP port")
        parser.add_argument("--seed", type=int, default=0, help="seed of message fates")
        parser.add_argument(
            "--fault-rate", type=float, default=0.0, help="share of HTTP requests given a fault"
        )
        parser.add_argument(
            "--fault-kinds",
            default="",
            help=f"comma-separated HTTP faults (default all: {', '.join(HTTP_FAULTS)})",
        )
        parser.add_argument(
            "--smtp-fault-rate", type=float, default=0.0, help="share of mails given a fault"
        )
        parser.add_argument(
            "--smtp-fault-kinds",
            default="",
            help=f"comma-separated SMTP faults (default all: {', '.join(SMTP_FAULTS)})",
        )
        parser.add_argument(
            "--faults-sending-only",
            action="store_true",
            help="random faults only on sending requests (reads always answer)",
        )
        parser.add_argument(
            "--fault-seed", type=int, default=None, help="seed of the faults (default: --seed)"
        )
        parser.add_argument(
            "--slow-seconds",
            type=float,
            default=20.0,
            help="delay of the slow faults (one may name its own: slow:16, slow_take:60)",
        )
        parser.add_argument("--accounts", help="JSON file: a list of accounts to register")
        parser.add_argument("--state", help="JSON file keeping accounts and messages over restarts")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="time scale of the schedule; 0 = manual only"
        )
        parser.add_argument(
            "--max-parts", type=int, default=getattr(settings, "SERWERSMS_MAX_PARTS", 6)
        )
        parser.add_argument(
            "--callback-method", choices=("POST", "GET"), default="POST", help="report callbacks"
        )
        parser.add_argument(
            "--callback-words",
            choices=tuple(STAN_WORDS),
            default="v2",
            help="`stan` words of report callbacks: API v2 statuses or the XML nat words",
        )
        parser.add_argument(
            "--callback-attempts",
            type=int,
            default=3,
            help="tries per report callback until the answer is OK",
        )

    def handle(self, *args, **options):
        if options["speed"] < 0:
            raise CommandError("--speed must be 0 or more.")
        for name in ("fault_rate", "smtp_fault_rate"):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} must be between 0 and 1.")
        if options["callback_attempts"] < 1:
            raise CommandError("--callback-attempts must be at least 1.")
        http_kinds = _kinds(options["fault_kinds"], HTTP_FAULTS)
        smtp_kinds = _kinds(options["smtp_fault_kinds"], SMTP_FAULTS)
        server = SimulatorServer(
            host=options["host"],
            port=options["port"],
            smtp_port=options["smtp_port"],
            seed=options["seed"],
            speed=options["speed"],
            accounts=options["accounts"],
            state_path=options["state"],
            max_parts=options["max_parts"],
            slow_seconds=options["slow_seconds"],
            fault_seed=options["fault_seed"],
            callback_method=options["callback_method"],
            callback_words=options["callback_words"],
            callback_attempts=options["callback_attempts"],
        )
        sending_only = options["faults_sending_only"]
        server.sim.faults.configure(
            "http", rate=options["fault_rate"], kinds=http_kinds or None, sending_only=sending_only
        )
        server.sim.faults.configure(
            "email2sms", rate=options["smtp_fault_rate"], kinds=smtp_kinds or None
        )
        # A launcher stops us with SIGTERM: treat it like Ctrl-C so the state file is saved.
        # Installed before starting, and the whole run sits in one try: a signal that arrives
        # while the servers are still starting stops them cleanly too.
        signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C too, explicitly: a process started with SIGINT ignored (nohup, a launcher or a
        # test runner that ignores it) inherits that and would never stop on Ctrl-C.
        signal.signal(signal.SIGINT, _interrupt)
        try:
            try:
                server.start()
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot start the simulator: {exc}") from exc
            self.stdout.write(f"SerwerSMS simulator: API v2 {server.api_url}")
            self.stdout.write(f"XML API {server.xml_url}")
            if server.smtp_port:
                self.stdout.write(f"Email2SMS SMTP {server.host}:{server.smtp_port}")
            self.stdout.write(f"Control {server.api_url}_sim/ (docs/simulator.md)")
            self.stdout.write(f"{len(server.sim.accounts)} accounts; Ctrl-C to stop.")
            self.stdout.flush()
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
        finally:
            server.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
