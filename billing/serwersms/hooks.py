"""Who hears each SerwerSMS answer: a registry of listeners the clients call, ok or not.

billing imports nothing above it: `ops` (its AppConfig.ready) registers its counter here
(ops.counters.count_serwersms_answer), the clients never name it. A listener gets the client's
channel and the error the call raised (None for an answer that was read). It runs in the
calling thread after each request, so it must be cheap; whatever it raises is logged, never
passed on: a listener cannot fail the call it hears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

logger = logging.getLogger(__name__)

AnswerListener = Callable[[str, BaseException | None], None]
_listeners: list[AnswerListener] = []


def listen_to_answers(listener: AnswerListener) -> AnswerListener:
    """Call `listener(channel, error)` after every SerwerSMS request (once, however often
    registered)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def stop_listening(listener: AnswerListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def answered(channel: str, error: BaseException | None) -> None:
    """Tell every listener of one answer (error None: the answer was read)."""
    for listener in list(_listeners):
        try:
            listener(channel, error)
        except Exception:  # noqa: BLE001 - hearing an answer must never fail the call
            logger.warning("SerwerSMS answer listener %r failed", listener, exc_info=True)


def reports_answers(call: Callable) -> Callable:
    """Decorate a client's single request method: its listeners hear each answer, by the
    client's `channel`. The call's result or error is untouched."""

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
