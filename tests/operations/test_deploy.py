"""Deployment files that can be tried here: the release command on a fresh database, and the
systemd units and Procfile naming commands that exist (systemd-analyze verify where present)."""

from __future__ import annotations

import configparser
import importlib
import os
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
APP_DIR = "/opt/partner-portal"


def _server_url(database: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    # A socket directory (the embedded PostgreSQL's) is a host only percent-encoded.
    host = f"{quote(db.get('HOST') or '127.0.0.1', safe='')}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{database}"


@pytest.fixture
def fresh_database():
    """An empty PostgreSQL database of its own, dropped afterwards."""
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("the release test creates a PostgreSQL database")
    name = f"pp_release_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _release(database: str, var_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "DJANGO_SETTINGS_MODULE")}
    env.update(DATABASE_URL=_server_url(database), VAR_DIR=str(var_dir), LOG_LEVEL="WARNING")
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "release", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.services
def test_the_release_command_migrates_collects_and_seeds_a_fresh_database(fresh_database, tmp_path):
    done = _release(fresh_database, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "release: done"
    assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()
    with psycopg.connect(_server_url(fresh_database)) as conn:
        tasks = {row[0] for row in conn.execute("SELECT task FROM django_celery_beat_periodictask")}
        unapplied = conn.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'billing' AND name LIKE '0013_%'"
        ).fetchone()[0]
    assert {
        "billing.tasks.poll_all_accounts",
        "billing.tasks.resume_sends",
        "billing.tasks.apply_retention",
    } <= tasks
    assert unapplied == 1
    again = _release(fresh_database, tmp_path)  # every deploy runs it: a second run is fine
    assert again.returncode == 0, again.stderr[-3000:]


def _service(unit: Path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(unit)
    return parser["Service"]


def _exec_lines(unit: Path) -> list[list[str]]:
    service = _service(unit)
    return [shlex.split(service[key]) for key in ("ExecStart",) if key in service]


def _without_devtools(argv: list[str]) -> list[str]:
    """A Procfile line starts with DEVTOOLS=0: the workshop app is not installed there."""
    assert argv[0] == "DEVTOOLS=0", argv
    return argv[1:]


def _local(path: str) -> Path:
    return Path(path.replace(APP_DIR, str(ROOT)))


def _check_command(argv: list[str]) -> None:
    """The program exists here, and what it is asked to run exists in the product."""
    program = Path(argv[0]).name
    if argv[0].startswith("/"):
        assert _local(argv[0]).exists(), argv[0]
    else:
        assert (ROOT / ".venv" / "bin" / program).exists() or shutil.which(program), program
    if program == "gunicorn":
        config = argv[argv.index("--config") + 1]
        assert _local(config).exists() or (ROOT / config).exists(), config
        module, _, attribute = argv[-1].partition(":")
        assert hasattr(importlib.import_module(module), attribute or "application")
    elif program == "celery":
        # --quiet: no start-up banner, so every line of the unit's output is JSON.
        assert argv[1:4] == ["-A", "config", "--quiet"] and argv[4] in ("worker", "beat")
        assert importlib.import_module("config.celery").app.main == "partner_portal"
    elif program.startswith("python"):
        manage = next(a for a in argv if a.endswith("manage.py"))
        assert _local(manage).exists() or (ROOT / manage).exists()
        assert argv[argv.index(manage) + 1] in get_commands()
    else:
        raise AssertionError(f"unexpected program {argv[0]}")


def test_there_are_units_for_web_worker_beat_and_the_release_step():
    assert [u.name for u in UNITS] == [
        "partner-portal-beat.service", "partner-portal-release.service",
        "partner-portal-web.service", "partner-portal-worker.service",
    ]  # fmt: skip


@pytest.mark.parametrize("unit", UNITS, ids=[u.stem for u in UNITS])
def test_each_unit_runs_a_command_that_exists(unit):
    lines = _exec_lines(unit)
    assert lines
    for argv in lines:
        _check_command(argv)
    # The workshop (devtools: bench, fault run, demo data) is left out of an installation.
    assert _service(unit)["Environment"] == "DEVTOOLS=0"


def test_the_procfile_runs_the_same_commands():
    entries = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert set(entries) == {"release", "web", "worker", "beat"}
    for command in entries.values():
        _check_command(_without_devtools(shlex.split(command.replace("${PORT:-8000}", "8000"))))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("DATABASE_URL=postgres://localhost/pp\n")
    for unit in UNITS:
        text = unit.read_text().replace(APP_DIR, str(ROOT))
        (tmp_path / unit.name).write_text(text.replace("/etc/partner-portal/env", str(env_file)))
    units = sorted(str(p) for p in tmp_path.glob("*.service"))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
