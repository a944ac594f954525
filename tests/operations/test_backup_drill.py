"""The README's backup drill, run for real: pg_dump -Fc of the seeded test database, restore
into a scratch database, `rollups --check` and the statement checksum equal, scratch dropped."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory, PartnerFactory

ROOT = Path(__file__).resolve().parents[2]
JAN = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs the PostgreSQL client"),
]


def _url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    # A socket directory (the embedded PostgreSQL's) is a host only percent-encoded.
    host = f"{quote(db.get('HOST') or '127.0.0.1', safe='')}:{db.get('PORT') or 5432}"
    return f"postgres://{quote(db.get('USER') or 'postgres')}{password}@{host}/{db['NAME']}"


def _drill(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _url(), "TESTING": "1"}
    return subprocess.run(
        [str(ROOT / "bin" / "backup-drill"), str(tmp_path / "backup.dump"), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _scratch_databases() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [connection.settings_dict["NAME"] + "_drill_%"],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_backup_drill_restores_a_copy_with_equal_rollups_and_statements(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the drill is for PostgreSQL")
    for n, ic in enumerate((8201, 8202)):
        partner = PartnerFactory(ic=ic)
        AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
        account = ClientAccountFactory(partner=partner)
        for i in range(5 + n):
            MessageFactory(
                account=account, created_at=JAN, sent_at=JAN,
                status=("delivered", "undelivered", "unsent")[i % 3], phone=f"+4850060{i:04d}",
            )  # fmt: skip
        MessageFactory(account=account, created_at=datetime(2025, 2, 3, tzinfo=UTC))
        close_statement(
            partner, date(2025, 1, 1), actor="test", now=datetime(2025, 3, 1, tzinfo=UTC)
        )
        build_statement(partner, date(2025, 2, 1), actor="test")

    done = _drill(tmp_path)

    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "backup drill passed" in done.stdout
    lines = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("   ")]
    assert len(lines) == 2 and lines[0] == lines[1] and lines[0].startswith("4 statements")
    assert (tmp_path / "backup.dump").stat().st_size > 0
    assert _scratch_databases() == []  # dropped after the drill
