"""One mechanism for derived data (docs/derived-data.md): billing/services/derived.py keeps the
daily rollups, the late-change queue and the draft refresh, in the writer's transaction; no
other module writes them; the closed-statement guard is the database's alone."""

import ast
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from billing.models import EventSource, LateChange, Message, Statement
from billing.services import derived, rollups
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import Status
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory, PartnerFactory

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing", "partner_api", "partner_portal", "ops", "devtools", "serwersms_sim")
KEEPERS = {"billing/services/derived.py", "billing/services/rollups.py"}
OCT, NOV = date(2024, 10, 1), date(2024, 11, 1)
AFTER_OCT_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)

# --- no other writer ---------------------------------------------------------------------------

ROLLUP_WRITES = {"record_changes", "record_created", "apply_deltas", "snapshot"}
MODEL_WRITES = {
    "create",
    "bulk_create",
    "bulk_update",
    "update",
    "delete",
    "get_or_create",
    "update_or_create",
    "save",
    "_meta",  # the table name: what a raw SQL writer needs
}
DERIVED_MODELS = {"DailyRollup", "LateChange"}
TABLES = ("billing_dailyrollup", "billing_latechange")
REFRESH = {
    "request_draft_refresh",
    "refresh_drafts_on_commit",
    "enqueue_draft_refresh",
    "refresh_drafts",
}


def _root_name(node: ast.AST) -> str | None:
    """The name a chain like `LateChange.objects.filter(...).update` starts from."""
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return node.id if isinstance(node, ast.Name) else None


def keeper_uses(source: str) -> list[str]:
    """What in `source` writes derived data or asks for the draft refresh."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            if node.attr in ROLLUP_WRITES and _root_name(node) == "rollups":
                found.append(f"{line}: rollups.{node.attr}")
            if node.attr in MODEL_WRITES and _root_name(node) in DERIVED_MODELS:
                found.append(f"{line}: {_root_name(node)} ... .{node.attr}")
            if node.attr in REFRESH:
                found.append(f"{line}: .{node.attr}")
            if node.attr in ("delay", "apply_async", "apply") and (
                isinstance(node.value, ast.Attribute)
                and node.value.attr == "refresh_draft_statements"
            ):
                found.append(f"{line}: refresh_draft_statements.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in DERIVED_MODELS:
                found.append(f"{line}: {node.func.id}(...)")
            if node.func.id in REFRESH | ROLLUP_WRITES - {"snapshot"}:
                found.append(f"{line}: {node.func.id}(...)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith(
            ("services.rollups", "services.derived", "services.statements")
        ):
            names = {a.name for a in node.names} & (ROLLUP_WRITES | REFRESH)
            found += [f"{line}: import {name}" for name in sorted(names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            if any(t in text for t in TABLES) and any(
                w in text for w in ("insert", "update", "delete", "truncate", "copy")
            ):
                found.append(f"{line}: SQL writing {node.value[:40]!r}")
    return found


def product_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative:
                yield relative, path


def test_no_module_but_derived_writes_derived_data_or_asks_for_the_refresh():
    offenders = {
        relative: uses
        for relative, path in product_modules()
        if relative not in KEEPERS and (uses := keeper_uses(path.read_text()))
    }
    assert offenders == {}


def test_the_scan_sees_every_kind_of_writer():
    """The check above can fail: each way of writing derived data is seen."""
    keeper = (ROOT / "billing/services/derived.py").read_text()
    assert keeper_uses(keeper)  # the keeper itself writes them
    for source in (
        "rollups.record_created(messages)",
        "from billing.services.rollups import record_changes",
        "LateChange.objects.bulk_create(rows)",
        "DailyRollup.objects.filter(partner=p).update(parts=5)",
        "LateChange(partner_id=1, message_id=2, period=p).save()",
        "cursor.execute('INSERT INTO billing_latechange VALUES (1)')",
        "table = DailyRollup._meta.db_table",
        "statements.request_draft_refresh(messages)",
        "tasks.refresh_draft_statements.delay(1, [], '')",
        "derived.enqueue_draft_refresh({}, '')",
        "enqueue.refresh_drafts(1, ['2024-10'], '')",
    ):
        assert keeper_uses(source), source
    assert keeper_uses("DailyRollup.objects.filter(partner=p).values('day')") == []


# --- in the writer's transaction ---------------------------------------------------------------


@pytest.fixture
def account():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))  # eco 0.01
    return ClientAccountFactory(partner=partner)


def _deliver(message, now):
    return apply_status_changes(
        [
            StatusChange(
                message.pk,
                ReportItem(
                    serwersms_id=message.serwersms_id,
                    phone=message.phone,
                    status="delivered",
                    sent_at=message.dispatched_at,
                    delivered_at=message.dispatched_at,
                ),
            )
        ],
        EventSource.POLL,
        now=now,
    )


def _late(account):
    """A message of October still queued when October closed."""
    at = datetime(2024, 10, 31, 20, tzinfo=UTC)
    message = MessageFactory(account=account, created_at=at, dispatched_at=at, status="queued")
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    return message


class Abandoned(Exception):
    pass


@pytest.mark.django_db
def test_a_closed_months_late_change_is_queued_in_the_changes_transaction(account):
    message = _late(account)
    with pytest.raises(Abandoned), transaction.atomic():
        assert _deliver(message, AFTER_OCT_WINDOW).changed == 1
        # Written by the change itself, before anything commits.
        assert list(LateChange.objects.values_list("message_id", "period")) == [(message.pk, OCT)]
        raise Abandoned
    # Rolled back with it: neither the change nor its queue entry is left.
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert not LateChange.objects.exists()
    assert _deliver(message, AFTER_OCT_WINDOW).changed == 1
    assert list(LateChange.objects.values_list("message_id", "period")) == [(message.pk, OCT)]
    adjustment = build_statement(account.partner, NOV, actor="op").statement.adjustments.get()
    assert (adjustment.message_id, adjustment.amount) == (message.pk, Decimal("0.0100"))


@pytest.mark.django_db
def test_a_message_written_into_a_closed_month_is_queued(account):
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    at = datetime(2024, 10, 20, tzinfo=UTC)
    message = MessageFactory(account=account, created_at=at, dispatched_at=at)
    open_month = MessageFactory(account=account, dispatched_at=datetime(2024, 11, 2, tzinfo=UTC))
    assert list(LateChange.objects.values_list("message_id", "period")) == [(message.pk, OCT)]
    assert open_month.pk not in set(LateChange.objects.values_list("message_id", flat=True))


@pytest.mark.django_db
def test_drafts_are_refreshed_after_the_commit_only(
    account, queued_refreshes, django_capture_on_commit_callbacks
):
    at = datetime(2024, 11, 3, tzinfo=UTC)
    message = MessageFactory(account=account, created_at=at, dispatched_at=at, status="queued")
    draft = build_statement(account.partner, NOV, actor="op").statement
    assert (draft.counted_messages, draft.pending_messages) == (0, 1)

    with django_capture_on_commit_callbacks(execute=True):  # committed, but rolled back first
        with pytest.raises(Abandoned), transaction.atomic():
            _deliver(message, datetime(2024, 11, 4, tzinfo=UTC))
            raise Abandoned
    assert queued_refreshes == []

    with django_capture_on_commit_callbacks() as callbacks:  # not committed yet
        _deliver(message, datetime(2024, 11, 4, tzinfo=UTC))
        assert queued_refreshes == []
    draft.refresh_from_db()
    assert (draft.counted_messages, draft.pending_messages) == (0, 1)  # nothing ran yet
    assert len(callbacks) == 1
    callbacks[0]()  # the commit
    assert [(partner, months) for partner, months, _ in queued_refreshes] == [
        (account.partner_id, ["2024-11"])
    ]
    draft.refresh_from_db()
    assert (draft.counted_messages, draft.pending_messages) == (1, 0)


def test_derived_data_is_refused_outside_a_transaction():
    """An autocommit caller would write the rollups apart from its messages: refused."""
    stand_in = Message(pk=1, partner_id=1, account_id=1, created_at=AFTER_OCT_WINDOW)
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="writer's transaction"):
        derived.messages_created([stand_in])


# --- no triggers for derived data; the guard stays in the database -------------------------


@pytest.mark.django_db
def test_no_trigger_keeps_derived_data_and_the_freeze_triggers_stay():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
        )
        triggers = set(cursor.fetchall())
    assert not {t for t in triggers if t[0] == "billing_message"}
    assert {
        ("billing_statement", "billing_statement_frozen"),
        ("billing_statementline", "billing_statementline_frozen"),
        ("billing_statementitem", "billing_statementitem_frozen"),
        ("billing_statementday", "billing_statementday_frozen"),
        ("billing_adjustment", "billing_adjustment_frozen"),
    } <= triggers


# --- check and repair --------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_finds_a_late_change_a_raw_writer_left_out_and_rebuild_queues_it(account, capsys):
    billed = MessageFactory(
        account=account, dispatched_at=datetime(2024, 10, 5, tzinfo=UTC), status=Status.SENT
    )
    kept = MessageFactory(account=account, dispatched_at=datetime(2024, 10, 6, tzinfo=UTC))
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    call_command("rollups", "--check", "--no-progress")
    assert "late-change queue of 1 partner(s) complete" in capsys.readouterr().out

    with connection.cursor() as cursor:  # a writer past derived.py: nothing is queued
        cursor.execute("UPDATE billing_message SET status = 'unsent' WHERE id = %s", [billed.pk])
    assert not LateChange.objects.exists()
    assert derived.missing_late_changes() == [
        derived.MissingLateChange(account.partner_id, billed.pk, OCT)
    ]
    with pytest.raises(CommandError, match="1 message"):
        call_command("rollups", "--check", "--no-progress", "--partner", str(account.partner.ic))
    assert f"message {billed.pk}: differs from what 2024-10 billed" in capsys.readouterr().out

    call_command("rollups", "--rebuild", "--no-progress")
    assert "1 late change(s) queued" in capsys.readouterr().out
    assert list(LateChange.objects.values_list("message_id", "period")) == [(billed.pk, OCT)]
    call_command("rollups", "--check", "--no-progress")
    assert kept.pk not in set(LateChange.objects.values_list("message_id", flat=True))
    november = build_statement(account.partner, NOV, actor="op").statement
    assert november.adjustments.get().amount == Decimal("-0.0100")
    assert Statement.objects.get(partner=account.partner, period=OCT).is_closed


@pytest.mark.django_db
def test_the_check_sees_every_difference_from_a_closed_month(account):
    """A message counted now but billed on no closed statement, or moved out of the month."""
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    moved = MessageFactory(
        account=account, dispatched_at=datetime(2024, 11, 5, tzinfo=UTC), status=Status.SENT
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_message SET dispatched_at = %s WHERE id = %s",
            [datetime(2024, 10, 7, tzinfo=UTC), moved.pk],
        )
    assert [m.message_id for m in derived.missing_late_changes(account.partner)] == [moved.pk]
    assert derived.repair_late_changes(account.partner) == 1
    assert derived.missing_late_changes() == []
    assert Message.objects.get(pk=moved.pk).billing_at.month == 10
    rollups.rebuild(account.partner)  # the raw UPDATE moved it past its rollups too


@pytest.mark.django_db
def test_the_check_sees_a_billed_message_no_longer_counted_in_its_month(account):
    """Same status, parts, cost and month: only its ic proof now says it does not count."""
    billed = MessageFactory(
        account=account, dispatched_at=datetime(2024, 10, 5, tzinfo=UTC), status=Status.SENT
    )
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    with connection.cursor() as cursor:  # past derived.py
        cursor.execute("UPDATE billing_message SET ic_proof = 'refuted' WHERE id = %s", [billed.pk])
    assert not Message.objects.counted().filter(pk=billed.pk).exists()
    assert derived.missing_late_changes() == [
        derived.MissingLateChange(account.partner_id, billed.pk, OCT)
    ]
    assert derived.repair_late_changes() == 1
    rollups.rebuild(account.partner)
