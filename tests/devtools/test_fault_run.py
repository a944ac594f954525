"""The small fault run CI runs: 300 messages over every channel, a faulty simulator (30 % of
calls), a real Celery worker and beat, one SIGKILL; any lost, doubled, mismatched, stuck or
twice-counted message fails. PostgreSQL + Redis when the suite runs on them (CI), else the
embedded default (SQLite file + file-system broker) in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from devtools.fault_run import FaultRun, format_result

ROOT = Path(__file__).resolve().parents[2]
MESSAGES, FAULT_RATE, KILLS = 300, 0.3, 1

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.mark.django_db(transaction=True)
def test_small_fault_run_loses_doubles_and_mismatches_nothing(tmp_path, settings):
    if connection.vendor == "postgresql":
        broker = settings.CELERY_BROKER_URL
        if not broker.startswith("redis"):
            pytest.skip("the PostgreSQL fault run needs the Redis broker of CELERY_BROKER_URL")
        result = FaultRun(
            messages=MESSAGES, fault_rate=FAULT_RATE, kills=KILLS, seed=7, settle_timeout=600
        ).run()
        report = "\n".join(format_result(result, fault_rate=FAULT_RATE) + result.examples[:20])
        assert result.kills == KILLS, report
        assert result.total.messages == MESSAGES, report
        assert result.failures() == 0, report
        assert result.total.taken >= 0.999 * MESSAGES, report
        return
    # The embedded default: its own SQLite file and file-system broker, as `bin/demo` runs.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    done = subprocess.run(
        [*manage, "fault_run", "--messages", str(MESSAGES), "--fault-rate", str(FAULT_RATE),
         "--kills", str(KILLS), "--seed", "7", "--timeout", "600"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    report = done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, report
    total = next(line for line in done.stdout.splitlines() if line.startswith("total"))
    assert total.split()[1] == str(MESSAGES) and total.split()[5:] == ["0"] * 5, report
