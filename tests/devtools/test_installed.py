"""DEVTOOLS decides whether the workshop app is installed: on by default (development, the demo,
the tests), left out with DEVTOOLS=0 as the deployment files set it; the product whole without."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
WORKSHOP = {
    "bench",
    "bench_compare",
    "bench_exports",
    "bench_ingest",
    "bench_polling",
    "demo_logins",
    "fault_run",
    "run_demo",
    "seed_demo",
    "serwersms_simulator",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_workshop_is_installed_by_default():
    assert settings.DEVTOOLS and "devtools" in settings.INSTALLED_APPS
    assert {get_commands()[name] for name in WORKSHOP} == {"devtools"}


def test_devtools_0_leaves_the_workshop_out_and_the_product_whole():
    listed = _manage("help", "--commands", DEVTOOLS="0")
    assert listed.returncode == 0, listed.stderr[-3000:]
    commands = set(listed.stdout.split())
    assert not WORKSHOP & commands
    assert {"release", "send_sms", "close_statement", "poll_statuses", "check_health"} <= commands
    checked = _manage("check", "--fail-level", "WARNING", DEVTOOLS="0")
    assert checked.returncode == 0, checked.stdout + checked.stderr[-3000:]
