"""The clients send `answer_received` for every answer; a failing receiver cannot fail the call."""

import logging

import pytest

from billing.serwersms.client import ApiV2Client
from billing.serwersms.errors import SerwerSMSError
from billing.serwersms.hooks import answer_received


def test_receivers_hear_each_answer_and_a_failing_one_is_only_logged(simulator_settings, caplog):
    simulator_settings.register_account(token="hook-token")
    heard = []

    def listen(sender, *, channel, error, **kwargs):
        heard.append((channel, type(error).__name__ if error else None))

    def fail(sender, **kwargs):
        raise RuntimeError("a broken receiver")

    answer_received.connect(listen, weak=False, dispatch_uid="test.listen")
    answer_received.connect(fail, weak=False, dispatch_uid="test.fail")
    try:
        with caplog.at_level(logging.WARNING, logger="billing.serwersms.hooks"):
            answer = ApiV2Client(ic=77, token="hook-token").call("account/limits")
            with pytest.raises(SerwerSMSError):
                ApiV2Client(ic=77, token="not-a-token").call("account/limits")
    finally:
        answer_received.disconnect(dispatch_uid="test.listen")
        answer_received.disconnect(dispatch_uid="test.fail")
    assert answer  # the failing receiver did not fail the call
    assert [channel for channel, _ in heard] == ["api_v2", "api_v2"]
    assert heard[0][1] is None and heard[1][1] is not None
    assert [r.getMessage() for r in caplog.records].count(
        f"SerwerSMS answer receiver {fail!r} failed"
    ) == 2
