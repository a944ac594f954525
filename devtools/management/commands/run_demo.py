"""Start the whole product on embedded defaults: migrations and static files, simulator, web
server, demo data, worker, beat.

Used by `bin/demo` (one Django start-up for migrate, collectstatic and the launcher; the web
server boots while the simulator starts and the demo data is checked). Ctrl-C (or SIGTERM)
stops every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"Nothing answered on {host}:{port} after {timeout:.0f} s.")


def port_is_free(host: str, port: int) -> bool:
    """Nothing listens on host:port. SO_REUSEADDR, as every server of the demo uses: the
    TIME_WAIT connections a stopped demo leaves behind for a minute do not count as "in use"."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Run the demo: SerwerSMS simulator, demo data, Celery worker + beat, web on :8000."

    def add_arguments(self, parser):
        parser.add_argument("--web-port", type=int, default=8000)
        parser.add_argument("--sim-port", type=int, default=8025)
        parser.add_argument("--smtp-port", type=int, default=8026)
        parser.add_argument("--no-seed", action="store_true", help="Do not create demo data.")

    def handle(self, *args, **options):
        host = "127.0.0.1"
        for port in (options["web_port"], options["sim_port"], options["smtp_port"]):
            if not port_is_free(host, port):
                raise CommandError(f"Port {port} on {host} is in use: stop what runs there first.")

        base = Path(settings.BASE_DIR)
        python = sys.executable
        env = dict(os.environ)
        env.setdefault("SERWERSMS_API_URL", f"http://{host}:{options['sim_port']}/")
        env.setdefault(
            "SERWERSMS_XML_API_URL", f"http://{host}:{options['sim_port']}/zdalnie/index.php"
        )
        env.setdefault("SERWERSMS_EMAIL2SMS_PORT", str(options["smtp_port"]))
        env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{options['web_port']}")
        env.setdefault("SECURE_COOKIES", "0")  # plain HTTP on loopback
        # Mail to people (password resets, invitations) lands as files under var/mail/.
        env.setdefault("PORTAL_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
        env.setdefault("PORTAL_EMAIL_FILE_PATH", str(Path(settings.VAR_DIR) / "mail"))
        # This process sends the demo's recent messages too: same addresses as the children.
        settings.SERWERSMS_API_URL = env["SERWERSMS_API_URL"]
        settings.SERWERSMS_XML_API_URL = env["SERWERSMS_XML_API_URL"]
        settings.SERWERSMS_EMAIL2SMS_PORT = settings.EMAIL_PORT = int(
            env["SERWERSMS_EMAIL2SMS_PORT"]
        )
        settings.PUBLIC_BASE_URL = env["PUBLIC_BASE_URL"]
        settings.PORTAL_EMAIL_BACKEND = env["PORTAL_EMAIL_BACKEND"]  # closing mails while seeding
        settings.PORTAL_EMAIL_FILE_PATH = env["PORTAL_EMAIL_FILE_PATH"]
        var = Path(settings.VAR_DIR)
        logs = var / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout.write("Preparing the database and the static files…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)

        processes: list[tuple[str, subprocess.Popen]] = []

        def start(name: str, command: list[str]) -> None:
            log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child
            proc = subprocess.Popen(
                command,
                cwd=base,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append((name, proc))
            self.stdout.write(f"  started {name} (pid {proc.pid}, log {logs / (name + '.log')})")

        def stop_all(*_args) -> None:
            self.stdout.write("\nStopping…")
            for _name, proc in reversed(processes):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _name, proc in processes:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            self.stdout.write("Stopped.")
            sys.exit(0)

        signal.signal(signal.SIGINT, stop_all)
        signal.signal(signal.SIGTERM, stop_all)

        manage = str(base / "manage.py")
        start(
            "simulator",
            [
                python,
                manage,
                "serwersms_simulator",
                "--port",
                str(options["sim_port"]),
                "--smtp-port",
                str(options["smtp_port"]),
                "--seed",
                "42",
                "--state",
                str(var / "simulator-state.json"),
            ],
        )
        web = [
            python,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"{host}:{options['web_port']}",
            "--workers",
            "2",
            "--preload",  # the app is imported once, then the workers fork from it
            # gunicorn's own scheme headers: from the same proxies as the portal's, or none.
            "--forwarded-allow-ips",
            ",".join(settings.TRUSTED_PROXY_ADDRESSES),
            "--access-logfile",
            "-",
        ]
        start("web", web)  # boots while the simulator starts and the demo data is checked
        wait_for_port(host, options["sim_port"])
        wait_for_port(host, options["smtp_port"])

        if not options["no_seed"]:
            self.stdout.write(
                "Demo data: checking, or creating it on a first start (about a minute)…"
            )
            call_command("seed_demo", simulator=env["SERWERSMS_API_URL"], stdout=self.stdout)

        celery = [python, "-m", "celery", "-A", "config"]
        start("worker", [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"])
        start("beat", [*celery, "beat", "--loglevel", "INFO"])
        wait_for_port(host, options["web_port"])
        self.stdout.write(
            self.style.SUCCESS(f"\nPartner Portal: http://{host}:{options['web_port']}/")
        )
        self.stdout.write(
            f"Operator admin: http://{host}:{options['web_port']}/{settings.ADMIN_PATH}"
        )
        self.stdout.write(
            "Mail to people (password resets, invitations, statement closings): "
            f"{env['PORTAL_EMAIL_FILE_PATH']}"
        )
        call_command("demo_logins", stdout=self.stdout)
        self.stdout.write("Press Ctrl-C to stop everything.")
        while True:
            for name, proc in processes:
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with code {proc.returncode}; see its log.")
                    stop_all()
            time.sleep(1)
