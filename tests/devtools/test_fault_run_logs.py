"""A small fault run's worker and beat logs (real subprocesses, a faulty simulator, a SIGKILL):
every line JSON, no account token, password, Email2SMS key or callback secret in any line."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from billing.models import ClientAccount
from devtools.fault_run import FaultRun, format_result

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.mark.django_db(transaction=True)
def test_a_fault_runs_worker_and_beat_log_json_lines_without_secrets():
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the fault run needs the Redis broker of CELERY_BROKER_URL")
    run = FaultRun(
        messages=40, fault_rate=0.3, kills=1, seed=11, accounts=2, settle_timeout=300,
        concurrency=4,
    )  # fmt: skip
    result = run.run()
    report = "\n".join(format_result(result, fault_rate=0.3))
    assert result.failures() == 0, report
    accounts = ClientAccount.objects.filter(name__startswith=run.tag)
    secrets = [
        value
        for account in accounts
        for value in (account.api_token, account.password, account.email2sms_key,
                      account.callback_secret)
        if value
    ]  # fmt: skip
    assert len(secrets) == 8
    logs = sorted(run.logs.glob(f"{run.tag}-*.log"))
    assert {p.name for p in logs} == {f"{run.tag}-worker.log", f"{run.tag}-beat.log"}
    lines = []
    for path in logs:
        text = path.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"a secret is in {path.name}"
        for line in text.splitlines():
            if line.strip():
                lines.append(json.loads(line))  # raises on a line that is not JSON
    # The faults made the worker log its retries, each naming its account and messages.
    retries = [x for x in lines if "SerwerSMS call failed" in x.get("event", "")]
    assert retries and all("account_id" in x and "task_id" in x for x in retries)
