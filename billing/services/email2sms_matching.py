"""Email2SMS mails matched one-to-one to SerwerSMS's reports (a mail gets no id back): same
account, phone and text digest, queued in the mail's window; docs/status.md gives the rule. Ids
the account's messages already carry are never offered again, and within a batch mails take
reports in time order, so a report of another text or mail can never be taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from billing.models import ClientAccount, MatchMethod, Message
from billing.services.outbox import text_digest
from billing.services.status_updates import StatusChange
from billing.serwersms.matching import digits, ends_with_number
from billing.serwersms.types import ReportItem

CLOCK_SLACK = timedelta(seconds=60)
NO_REPORT_REASON = "email2sms_no_report"


def _window(message: Message) -> tuple[datetime, datetime]:
    handed_over = message.queued_at or message.send_attempted_at or message.created_at
    latest = max(handed_over, message.send_attempted_at or handed_over)
    return (
        message.created_at - CLOCK_SLACK,
        latest + timedelta(minutes=settings.STATUS_EMAIL2SMS_MATCH_MINUTES),
    )


def pair(
    messages: Sequence[Message], items: Sequence[ReportItem], taken: set[str]
) -> list[tuple[Message, ReportItem]]:
    """Pair mails with report items one-to-one (pure): earliest mail, earliest fitting item."""
    free = sorted(
        (i for i in items if i.serwersms_id and i.serwersms_id not in taken),
        key=lambda i: (i.queued_at or i.sent_at or timezone.now(), i.serwersms_id),
    )
    digests = {id(i): text_digest(i.text) for i in free}  # the outbox's match key
    pairs = []
    used: set[str] = set()
    for message in sorted(messages, key=lambda m: (m.created_at, m.pk)):
        low, high = _window(message)
        for item in free:
            at = item.queued_at or item.sent_at
            if (
                item.serwersms_id in used
                or at is None
                or not low <= at <= high
                or len(digits(item.phone)) < 9
                or not ends_with_number(item.phone, message.phone)
                or digests[id(item)] != message.text_digest
            ):
                continue
            used.add(item.serwersms_id)
            pairs.append((message, item))
            break
    return pairs


def match_messages(
    account: ClientAccount, messages: Sequence[Message], *, client
) -> list[StatusChange]:
    """The mails' matches in SerwerSMS's reports (`client.reports(phones=, date_from=, date_to=)`)
    as status changes to apply. One read: the callers retry (the poll's reports source, the
    send's policy), so a read is never retried twice over."""
    messages = [m for m in messages if not m.serwersms_id]
    if not messages:
        return []
    lows, highs = zip(*(_window(m) for m in messages), strict=True)
    phones = sorted({m.phone for m in messages})
    items = list(client.reports(phones=phones, date_from=min(lows), date_to=max(highs)))
    taken = set(
        Message.objects.filter(
            account=account, serwersms_id__in=[i.serwersms_id for i in items]
        ).values_list("serwersms_id", flat=True)
    )
    return [
        StatusChange(m.pk, item, identify=True, match_method=MatchMethod.PHONE_TIME)
        for m, item in pair(messages, items, taken)
    ]


def no_report_changes(messages: Sequence[Message], now: datetime) -> list[StatusChange]:
    """Mails handed over longer than the grace ago that no report matched: unsent."""
    grace = timedelta(seconds=settings.STATUS_EMAIL2SMS_GRACE_SECONDS)
    minutes = settings.STATUS_EMAIL2SMS_GRACE_SECONDS // 60
    return [
        StatusChange(
            message.pk,
            ReportItem(
                serwersms_id="", phone=message.phone, status="unsent", reason=NO_REPORT_REASON
            ),
            error_message=(
                f"SerwerSMS reported no message for this mail within {minutes} min of"
                " handing it over: it did not receive or accept it."
            ),
        )
        for message in messages
        if not message.serwersms_id and (message.queued_at or message.created_at) <= now - grace
    ]
