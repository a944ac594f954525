"""confirm_reported_messages: reconciliation's verdict on reported messages, explainable message
by message (StatusEvent, audit trail), flowing into the rollups and drafts, idempotent."""

import datetime as dt
from decimal import Decimal

import pytest

from billing import selectors
from billing.models import AuditAction, AuditEntry, Channel, StatusEvent
from billing.services.ic_proof import IcProofError, confirm_reported_messages
from billing.services.statements import build_statement
from billing.statuses import BillingClass, IcProof, Status, billing_class
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC
AT = dt.datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
NOV = dt.date(2026, 11, 1)


@pytest.mark.parametrize(
    ("status", "proof", "expected"),
    [
        (Status.DELIVERED, IcProof.SENT, BillingClass.COUNTED),
        (Status.DELIVERED, IcProof.CONFIRMED, BillingClass.COUNTED),
        (Status.UNDELIVERED, IcProof.REPORTED, BillingClass.UNCONFIRMED),
        (Status.SENT, IcProof.REFUTED, BillingClass.NEVER),
        (Status.QUEUED, IcProof.REPORTED, BillingClass.PENDING),
        (Status.QUEUED, IcProof.REFUTED, BillingClass.NEVER),
        (Status.UNSENT, IcProof.CONFIRMED, BillingClass.NEVER),
    ],
    ids=[
        "sent by us counts",
        "confirmed counts",
        "reported is shown apart",
        "refuted never",
        "reported pending stays pending",
        "refuted pending never",
        "unsent never, even confirmed",
    ],
)
def test_status_and_ic_proof_decide_together(status, proof, expected):
    assert billing_class(status, proof) == expected


def reported(account, **extra):
    return MessageFactory(
        account=account,
        channel=Channel.REPORTED,
        ic_proof=IcProof.REPORTED,
        status=Status.DELIVERED,
        created_at=AT,
        serwersms_figures_at=AT,
        **extra,
    )


def test_confirming_counts_refuting_never_and_a_second_call_changes_nothing():
    account = ClientAccountFactory()
    AgreementFactory(partner=account.partner, rate_eco="0.5000")
    confirmed, refuted = reported(account), reported(account)
    ours = MessageFactory(account=account, status=Status.DELIVERED, created_at=AT)
    build_statement(account.partner, NOV, actor="op")
    summary = confirm_reported_messages(
        confirmed_ids=[confirmed.pk, ours.pk], refuted_ids=[refuted.pk], actor="op", now=AT
    )
    assert (summary.confirmed, summary.refuted, summary.not_reported) == (1, 1, 1)
    figures = selectors.live_counts(account.partner, NOV)
    assert (figures.counted, figures.unconfirmed) == (2, 0)  # ours and the confirmed one
    statement = build_statement(account.partner, NOV, actor="op").statement
    assert (statement.counted_messages, statement.commission) == (2, Decimal("1"))
    event = StatusEvent.objects.get(message=refuted, source="reconcile")
    assert (event.old_status, event.new_status, event.applied) == ("delivered", "delivered", True)
    assert event.note.startswith("ic refuted: SerwerSMS's partner billing")
    entry = AuditEntry.objects.get(action=AuditAction.IC_PROOF)
    assert entry.detail == {
        "confirmed": {"count": 1, "message_ids": [confirmed.pk]},
        "refuted": {"count": 1, "message_ids": [refuted.pk]},
    }

    again = confirm_reported_messages(
        confirmed_ids=[confirmed.pk], refuted_ids=[refuted.pk], actor="op", now=AT
    )
    assert (again.confirmed, again.refuted, again.unchanged) == (0, 0, 2)
    assert StatusEvent.objects.filter(source="reconcile").count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.IC_PROOF).count() == 1


def test_an_id_both_confirmed_and_refuted_writes_nothing():
    message = reported(ClientAccountFactory())
    with pytest.raises(IcProofError, match="both confirmed and refuted"):
        confirm_reported_messages(
            confirmed_ids=[message.pk], refuted_ids=[message.pk], actor="op", now=AT
        )
    message.refresh_from_db()
    assert message.ic_proof == IcProof.REPORTED
    assert not StatusEvent.objects.filter(source="reconcile").exists()
