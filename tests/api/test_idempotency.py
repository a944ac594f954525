"""An Idempotency-Key whose first request is still running answers its own 409 with Retry-After.

The first request is held in flight for real: a transaction of the test holds the row its
insert must wait for, so the key's record stays "in progress" until the test lets go.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import requests
from django.db import transaction
from django.utils import timezone

from billing.models import Channel, Message
from partner_api.models import IdempotentRequest

URL = "/api/v1/messages/reported"


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


def test_a_key_still_in_progress_answers_409_in_progress_with_retry_after(live_server, alpha):
    sent_at = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    body = {"messages": [{"serwersms_id": "held1", "phone": "+48500600700", "ic": 7001}]}
    body["messages"][0]["sent_at"] = sent_at
    headers = {"Authorization": f"Bearer {alpha.raw_key}", "Idempotency-Key": "batch-7"}
    first: dict = {}

    def first_request():
        first["response"] = requests.post(
            live_server.url + URL, json=body, headers=headers, timeout=60
        )

    worker = threading.Thread(target=first_request)
    with transaction.atomic():
        # An uncommitted row with the same (account, serwersms_id): the first request's insert
        # waits for this transaction to end.
        Message.objects.create(
            partner=alpha.partner,
            account=alpha.account,
            ic=alpha.partner.ic,
            channel=Channel.REPORTED,
            serwersms_id="held1",
            unique_id="heldrow1",
            phone="+48500600700",
        )
        worker.start()
        _wait_until(lambda: IdempotentRequest.objects.filter(key="batch-7").exists())
        again = requests.post(live_server.url + URL, json=body, headers=headers, timeout=60)
        other = requests.post(
            live_server.url + URL,
            json={"messages": [{**body["messages"][0], "serwersms_id": "other1"}]},
            headers=headers,
            timeout=60,
        )
        transaction.set_rollback(True)
    worker.join(timeout=60)

    assert again.status_code == 409
    assert again.json()["error"] == "idempotency_in_progress"
    assert again.headers["Retry-After"] == "2"
    # Another body under the key is the other 409: a conflict, not worth retrying.
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_conflict"
    assert "Retry-After" not in other.headers
    # The first request went on once the row was let go; the in-progress answer wrote nothing.
    assert first["response"].status_code == 200
    assert first["response"].json()["created"] == 1
    assert Message.objects.filter(account=alpha.account).count() == 1
    replay = requests.post(live_server.url + URL, json=body, headers=headers, timeout=60)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first["response"].json()
