"""Operator commands: create_partner, create_account, send_sms."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import ClientAccount, Message, Partner
from tests.factories import ClientAccountFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_partner():
    assert "ic 123" in run("create_partner", "--ic", "123", "--name", "Soft Ltd")
    assert Partner.objects.get(ic=123).name == "Soft Ltd"


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1.5", "", "١٢"])
def test_create_partner_refuses_an_ic_that_is_not_a_positive_integer(bad):
    with pytest.raises(CommandError, match="positive integer"):
        run("create_partner", "--ic", bad, "--name", "X")
    assert not Partner.objects.exists()


def test_create_partner_refuses_a_taken_ic():
    PartnerFactory(ic=5)
    with pytest.raises(CommandError, match="already exists"):
        run("create_partner", "--ic", "5", "--name", "Again")


def test_create_account_with_token_or_username_and_password():
    PartnerFactory(ic=9)
    run("create_account", "--partner", "9", "--name", "a1", "--token", "T")
    run(
        "create_account",
        "--partner",
        "9",
        "--name",
        "a2",
        "--username",
        "u",
        "--password",
        "p",
        "--email2sms-sender",
        "shop@example.com",
        "--email2sms-key",
        "Key123",
    )
    assert ClientAccount.objects.get(name="a1").api_token == "T"
    a2 = ClientAccount.objects.get(name="a2")
    assert (a2.email2sms_sender, a2.email2sms_key) == ("shop@example.com", "Key123")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--partner", "9", "--name", "a"], "API token, or a username and a password"),
        (["--partner", "9", "--name", "a", "--username", "u"], "API token, or a username"),
        (["--partner", "77", "--name", "a", "--token", "T"], "No partner has ic 77"),
        (["--partner", "x", "--name", "a", "--token", "T"], "positive integer"),
        (["--partner", "9", "--name", "a", "--token", "T", "--email2sms-sender", "nope"], "email"),
        (["--partner", "9", "--name", "a", "--token", "T", "--email2sms-key", "no-key!"], "key"),
    ],
)
def test_create_account_refuses_bad_input(args, expected):
    PartnerFactory(ic=9)
    with pytest.raises(CommandError, match=expected):
        run("create_account", *args)
    assert not ClientAccount.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_sms_waits_for_the_send_task_and_prints_one_line_per_recipient(
    simulator_settings, celery_eager
):
    simulator_settings.register_account(token="cli-token")
    account = ClientAccountFactory(partner=PartnerFactory(ic=31), api_token="cli-token")
    out = run(
        "send_sms",
        "--account",
        account.name,
        "--to",
        "+48500600700",
        "--to",
        "+48500600701",
        "--text",
        "Hi",
        "--unique-id",
        "cli1",
        "--no-progress",
    )
    lines = out.strip().splitlines()
    assert len(lines) == 2
    first = Message.objects.get(unique_id="cli1R1")
    assert lines[0].split("\t")[:3] == [f"#{first.pk} cli1R1", first.serwersms_id, "queued"]
    assert {m["ic"] for m in simulator_settings.messages()} == {31}


def test_send_sms_without_a_worker_says_the_messages_wait_in_the_outbox(simulator_settings):
    account = ClientAccountFactory()
    err = StringIO()
    out = StringIO()
    call_command(
        "send_sms", "--account", account.name, "--to", "+48500600700", "--text", "Hi",
        "--wait", "0", "--no-progress", stdout=out, stderr=err,
    )  # fmt: skip
    assert "\tsubmitting\t" in out.getvalue()
    assert "still submitting" in err.getvalue() and "Celery worker" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--account", "ghost", "--to", "+48500600700", "--text", "Hi"], "Unknown client account"),
        (["--to", "12", "--text", "Hi"], "not a valid phone number"),
        (["--to", "+48500600700", "--text", ""], "text is empty"),
        (["--to", "+48500600700", "--text", "x" * 2000], "too long"),
        (["--to", "+48500600700", "--text", "Hi", "--unique-id", "order-1"], "Invalid unique id"),
    ],
)
def test_send_sms_refuses_bad_input_and_writes_nothing(simulator_settings, args, expected):
    account = ClientAccountFactory()
    if "--account" not in args:
        args = ["--account", account.name, *args]
    with pytest.raises(CommandError, match=expected):
        run("send_sms", *args)
    assert not Message.objects.exists() and simulator_settings.requests() == []


@pytest.mark.django_db(transaction=True)
def test_send_sms_shows_a_serwersms_refusal(simulator_settings, celery_eager):
    account = ClientAccountFactory(api_token="not-registered")
    out = run(
        "send_sms", "--account", account.name, "--to", "+48500600700", "--text", "Hi",
        "--no-progress",
    )  # fmt: skip
    assert "unsent" in out and "1001: " in out
