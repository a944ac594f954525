"""Words for SerwerSMS's codes, in the user's language (pages and exports share them)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# SerwerSMS's reasons for an unsent or undelivered message (serwersms-api.md, "Reasons").
REASONS = {
    "message_expired": _("message expired before delivery"),
    "unsupported_number": _("number not supported"),
    "message_rejected": _("message rejected"),
    "missed_call": _("missed call"),
    "wrong_number": _("wrong phone number"),
    "limit_exhausted": _("account limit exhausted"),
    "lock_send": _("sending locked on the account"),
    "wrong_message": _("invalid message"),
    "operator_error": _("mobile operator error"),
    "wrong_sender_name": _("sender name not allowed"),
    "number_is_blacklisted": _("number is blacklisted"),
    "sending_to_foreign_networks_is_locked": _("sending abroad is locked"),
    "no_permission_to_send_messages": _("no permission to send messages"),
    "other_error": _("other error"),
}


def reason_label(code: str | None) -> str:
    """The words of a reason code; an unknown code is shown as SerwerSMS sent it."""
    return str(REASONS.get(code, code)) if code else ""
