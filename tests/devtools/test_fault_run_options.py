"""The fault run's slow answers: which fault kinds it draws from, and bad options refused."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devtools.fault_run import FaultRun


def test_slow_answers_replace_the_slow_kinds_on_every_channel():
    kinds = FaultRun(messages=1, fault_rate=0.3, kills=0, slow_answers=(16, 20, 60))._fault_kinds()
    for channel in ("api_v2", "xml_api"):
        assert {"slow:16", "slow:20", "slow:60", "slow_take:16", "slow_take:60"} <= set(
            kinds[channel]
        )
        assert "slow" not in kinds[channel] and "slow_take" not in kinds[channel]
        assert {"http_500", "drop", "accept_then_drop", "malformed"} <= set(kinds[channel])
    assert {"smtp_slow:16", "smtp_slow:20", "smtp_slow:60"} <= set(kinds["email2sms"])
    assert "smtp_slow" not in kinds["email2sms"]
    plain = FaultRun(messages=1, fault_rate=0.3, kills=0)._fault_kinds()
    assert "slow" in plain["api_v2"] and not any(":" in k for k in plain["api_v2"])


@pytest.mark.parametrize("value", ["abc", "0", "16,-1", "601"])
def test_bad_slow_answers_are_refused(value):
    with pytest.raises(CommandError):
        call_command("fault_run", "--messages", "1", "--slow-answers", value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--messages", "0"], "messages >= 1"), (["--fault-rate", "1.5"], "fault rate")],
)
def test_bad_sizes_are_a_clear_error(args, expected):
    with pytest.raises(CommandError, match=expected):
        call_command("fault_run", *args, stdout=StringIO(), stderr=StringIO())
