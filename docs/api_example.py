"""Send, report, page through statuses and read commission with `requests` against bin/demo.

    bin/demo &
    export PP_API_KEY=$(.venv/bin/python manage.py create_api_key \
        --account acme-dental --name example)
    .venv/bin/python docs/api_example.py

PP_API_URL (http://127.0.0.1:8000/api/v1), SERWERSMS_API_URL (the demo's simulator,
http://127.0.0.1:8025/) and SERWERSMS_TOKEN (acme-dental-token) can be changed.
"""

import datetime as dt
import os
import sys
import uuid

import requests

BASE = os.environ.get("PP_API_URL", "http://127.0.0.1:8000/api/v1").rstrip("/")
SERWERSMS = os.environ.get("SERWERSMS_API_URL", "http://127.0.0.1:8025/")
SERWERSMS_TOKEN = os.environ.get("SERWERSMS_TOKEN", "acme-dental-token")


def main() -> int:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {os.environ['PP_API_KEY']}"
    me = api.get(f"{BASE}/me", timeout=30).json()
    print(f"key {me['name']!r}: account {me['account']['name']}, {me['partner']} (ic {me['ic']})")

    # 1. Send through the portal: it adds the ic; a unique_id per recipient makes retries safe.
    order = uuid.uuid4().hex[:12]
    body = {
        "recipients": [
            {"phone": "+48500600700", "unique_id": f"order{order}a"},
            {"phone": "+48500600701", "unique_id": f"order{order}b"},
        ],
        "text": f"Your order {order} is ready.",
    }
    headers = {"Idempotency-Key": f"order-{order}"}
    sent = api.post(f"{BASE}/messages", json=body, headers=headers, timeout=60)
    sent.raise_for_status()
    again = api.post(f"{BASE}/messages", json=body, headers=headers, timeout=60)
    assert again.json() == sent.json(), "a retry answers the same and sends nothing"
    for message in sent.json()["messages"]:
        print(f"sent     #{message['id']} {message['phone']} {message['status']}")

    # 2. Send straight to SerwerSMS (here the demo's simulator) with the ic, then report it.
    direct = requests.post(
        f"{SERWERSMS}messages/send_sms.json",
        json={"phone": "+48500600702", "text": "Sent directly", "details": True, "ic": me["ic"]},
        headers={"Authorization": f"Bearer {SERWERSMS_TOKEN}"},
        timeout=30,
    ).json()
    item = direct["items"][0]
    reported = api.post(
        f"{BASE}/messages/reported",
        json={
            "messages": [
                {
                    "serwersms_id": item["id"],
                    "phone": item["phone"],
                    "ic": me["ic"],
                    "sent_at": dt.datetime.now(dt.UTC).isoformat(),
                    "parts": item.get("parts") or 1,
                }
            ]
        },
        timeout=60,
    )
    reported.raise_for_status()
    result = reported.json()["results"][0]
    print(f"reported #{result['id']} SerwerSMS id {result['serwersms_id']}: {result['outcome']}")

    # 3. Page through statuses, newest first, with the cursor.
    cursor, pages, seen = None, 0, 0
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"{BASE}/messages", params=params, timeout=60).json()
        pages, seen = pages + 1, seen + len(page["items"])
        cursor = page["next_cursor"]
        if not cursor or pages >= 5:
            break
    print(f"paged    {seen} messages in {pages} pages")

    # 4. This month's running figures and commission.
    figures = api.get(f"{BASE}/commission", timeout=60).json()
    print(
        f"commission {figures['period']}: counted {figures['counted']}, pending"
        f" {figures['pending']}, commission {figures['commission']} {figures['currency']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
