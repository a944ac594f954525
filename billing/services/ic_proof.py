"""Confirm or refute the ic of reported messages (only the partner's word) as reconciliation
with SerwerSMS's partner billing decided, and let it flow into counting like any other change
(services/derived.py; docs/commission.md): one StatusEvent per change, one audit per partner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from billing.models import AuditAction, AuditEntry, EventSource, Message, StatusEvent
from billing.services import derived
from billing.services.status_updates import insert_events, write_messages
from billing.statuses import IcProof

AUDIT_IDS_LIMIT = 200  # message ids listed in an audit entry; the rest only counted


@dataclass
class IcProofSummary:
    """What one call did; `changed_ids` are the messages whose ic proof moved."""

    confirmed: int = 0  # moved to confirmed
    refuted: int = 0  # moved to refuted
    unchanged: int = 0  # already so: nothing written
    not_reported: int = 0  # not a reported message (the product's own, or no such id)
    changed_ids: list[int] = field(default_factory=list)


class IcProofError(ValueError):
    """The request contradicts itself; nothing was written."""


NOTES = {
    IcProof.CONFIRMED: "ic confirmed: SerwerSMS's partner billing lists it",
    IcProof.REFUTED: "ic refuted: SerwerSMS's partner billing for its month does not list it",
}


def confirm_reported_messages(
    *,
    confirmed_ids: Sequence[int],
    refuted_ids: Sequence[int],
    actor: str,
    now: datetime,
) -> IcProofSummary:
    """Mark reported messages (ic proof not `sent`) confirmed or refuted; a corrected billing
    file may move one between them. Returns the summary. Raises IcProofError, writing nothing,
    when an id is in both lists. A second call with the same ids changes and records nothing."""
    wanted = {pk: IcProof.CONFIRMED for pk in confirmed_ids}
    both = sorted(set(wanted) & set(refuted_ids))
    if both:
        raise IcProofError(f"messages both confirmed and refuted: {both[:20]}")
    wanted.update({pk: IcProof.REFUTED for pk in refuted_ids})
    summary = IcProofSummary()
    if not wanted:
        return summary
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update()
            .filter(pk__in=list(wanted))
            .exclude(ic_proof=IcProof.SENT)
            .order_by("pk")
        )
        summary.not_reported = len(wanted) - len(messages)
        before = derived.snapshot(messages)
        changed = [m for m in messages if m.ic_proof != wanted[m.pk]]
        summary.unchanged = len(messages) - len(changed)
        events = [
            StatusEvent(
                message=message,
                source=EventSource.RECONCILE,
                old_status=message.status,
                new_status=message.status,
                applied=True,
                note=f"{NOTES[wanted[message.pk]]} (was {message.ic_proof}; by {actor})"[:255],
                created_at=now,
            )
            for message in changed
        ]
        by_partner: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for message in changed:
            message.ic_proof = wanted[message.pk]
            summary.changed_ids.append(message.pk)
            by_partner[message.partner_id][message.ic_proof.value].append(message.pk)
        summary.confirmed = sum(wanted[pk] == IcProof.CONFIRMED for pk in summary.changed_ids)
        summary.refuted = len(changed) - summary.confirmed
        if not changed:
            return summary
        write_messages(changed, ["ic_proof"])
        derived.messages_changed(before, changed)  # rollups, late changes, drafts on commit
        insert_events(events)
        AuditEntry.objects.bulk_create(
            AuditEntry(
                partner_id=partner_id,
                action=AuditAction.IC_PROOF,
                actor=actor,
                created_at=now,
                detail={
                    kind: {"count": len(ids), "message_ids": ids[:AUDIT_IDS_LIMIT]}
                    for kind, ids in sorted(kinds.items())
                },
            )
            for partner_id, kinds in sorted(by_partner.items())
        )
    return summary
