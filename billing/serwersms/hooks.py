"""The Django signal `answer_received`, sent by the clients after every request, ok or not.

billing imports nothing above it: ops (its AppConfig.ready) connects its counter. Receivers run
in the calling thread, so must be cheap; with `send_robust`, what one raises is logged, never
passed on, so a receiver cannot fail the call it hears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# kwargs: the client's channel (str), the error the call raised (None: the answer was read)
answer_received = Signal()


def answered(channel: str, error: BaseException | None) -> None:
    for receiver, result in answer_received.send_robust(None, channel=channel, error=error):
        if isinstance(result, Exception):
            logger.warning(
                "SerwerSMS answer receiver %r failed",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


def reports_answers(call: Callable) -> Callable:
    """Decorate a client's single request method: receivers hear each answer, by the client's
    `channel`. The call's result or error is untouched."""

    @wraps(call)
    def heard(self, *args, **kwargs):
        channel = str(getattr(self, "channel", "") or "unknown")
        try:
            result = call(self, *args, **kwargs)
        except Exception as exc:
            answered(channel, exc)
            raise
        answered(channel, None)
        return result

    return heard
