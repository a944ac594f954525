"""The embedded SQLite database (bin/demo): WAL, a busy timeout and IMMEDIATE transactions, so
simulator callbacks arriving while the demo seeds wait their turn instead of failing with
"database is locked"."""

from __future__ import annotations

import runpy
import threading
from pathlib import Path

from django.db.backends.sqlite3.base import DatabaseWrapper


def _embedded_database(monkeypatch, tmp_path: Path) -> dict:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT", "10")
    return runpy.run_path(
        str(Path(__file__).resolve().parents[2] / "partner_portal" / "settings.py")
    )["DATABASES"]["default"]


def _connection(settings_dict: dict, alias: str) -> DatabaseWrapper:
    settings_dict = {
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "TEST": {},
        **settings_dict,
    }
    return DatabaseWrapper(settings_dict, alias=alias)


def test_embedded_sqlite_uses_wal_and_waits_for_a_writer(monkeypatch, tmp_path, django_db_blocker):
    database = _embedded_database(monkeypatch, tmp_path)
    with django_db_blocker.unblock():
        _check(database)


def _check(database: dict) -> None:
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] == 10

    seeder = _connection(database, "seeder")
    with seeder.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cursor.execute("CREATE TABLE t (n INTEGER)")
        cursor.execute("INSERT INTO t VALUES (0)")

    read_done = threading.Event()
    errors: list[Exception] = []

    def callback():  # another process's write arriving mid-transaction
        read_done.wait(5)
        try:
            other = _connection(database, "callback")
            with other.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (2)")
            other.close()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=callback)
    thread.start()
    seeder.set_autocommit(False)
    with seeder.cursor() as cursor:
        cursor.execute("BEGIN " + database["OPTIONS"]["transaction_mode"])
        cursor.execute("SELECT count(*) FROM t").fetchone()
        read_done.set()
        threading.Event().wait(0.3)  # the callback tries to write now
        cursor.execute("INSERT INTO t VALUES (1)")  # deferred mode: "database is locked"
    seeder.commit()
    seeder.set_autocommit(True)
    thread.join(10)
    assert errors == []
    with seeder.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM t").fetchone()[0] == 3
    seeder.close()
