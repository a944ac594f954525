"""Bad input that used to be a 500 answers 400 with a clear message and writes nothing: a form or
multipart body, a UTC offset past +-15:59 (reported `sent_at`, a tampered cursor)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Message, StatusEvent
from partner_api.models import IdempotentRequest
from tests.api.conftest import post
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db
SEND = {"recipients": [{"phone": "+48500600700"}], "text": "Hi"}


def _nothing_written() -> bool:
    return not (
        Message.objects.exists()
        or StatusEvent.objects.exists()
        or IdempotentRequest.objects.exists()
    )


def _reported(sent_at: str) -> dict:
    return {
        "messages": [
            {"serwersms_id": "abc123", "phone": "+48500600700", "ic": 7001, "sent_at": sent_at}
        ]
    }


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/messages/reported"])
@pytest.mark.parametrize("kind", ["multipart", "form"])
def test_a_form_or_multipart_body_is_400_asking_for_json(sim, alpha, path, kind):
    fields = {"text": "Hi", "recipients": "+48500600700"}
    if kind == "multipart":  # the test client's default body encoding
        response = alpha.client.post(path, fields, headers={"Idempotency-Key": "k1"})
    else:
        response = alpha.client.post(
            path,
            "text=Hi&recipients=%2B48500600700",
            content_type="application/x-www-form-urlencoded",
            headers={"Idempotency-Key": "k1"},
        )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "JSON" in body["message"]
    assert _nothing_written()


@pytest.mark.parametrize(
    "offset", ["+16:00", "-16:00", "+23:59", "-20:30"], ids=["+16", "-16", "+23:59", "-20:30"]
)
def test_a_sent_at_offset_past_15_59_is_400_on_the_field(alpha, offset):
    stamp = (timezone.now() - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S") + offset
    response = post(alpha.client, "/api/v1/messages/reported", _reported(stamp))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "messages[0].sent_at"
    assert error["code"] == "utc_offset_out_of_range"
    assert error["message"] == "The UTC offset must be from -15:59 to +15:59."
    assert _nothing_written()


@pytest.mark.parametrize("offset", [15, -15], ids=["+15:59", "-15:59"])
def test_a_sent_at_offset_of_15_59_is_taken(alpha, offset):
    zone = dt.timezone(dt.timedelta(hours=offset, minutes=59 if offset > 0 else -59))
    stamp = (timezone.now() - dt.timedelta(minutes=5)).astimezone(zone).isoformat()
    response = post(alpha.client, "/api/v1/messages/reported", _reported(stamp))
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    ["2026-01-01T00:00:00+16:00|5", "2026-01-01T00:00:00-23:59|5"],
    ids=["+16:00", "-23:59"],
)
def test_a_tampered_cursor_with_an_offset_past_15_59_is_400(alpha, raw):
    MessageFactory(account=alpha.account)
    response = alpha.client.get("/api/v1/messages", {"cursor": _cursor(raw)})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


def test_a_cursor_the_api_gave_still_pages(alpha):
    for _ in range(3):
        MessageFactory(account=alpha.account)
    first = alpha.client.get("/api/v1/messages", {"limit": 2}).json()
    rest = alpha.client.get("/api/v1/messages", {"limit": 2, "cursor": first["next_cursor"]})
    assert rest.status_code == 200
    assert len(first["items"]) + len(rest.json()["items"]) == 3
