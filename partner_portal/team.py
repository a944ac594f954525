"""Team accounts: a billing manager invites and removes colleagues of the same partner.
Services: keyword-only, each owns its transaction and leaves an audit entry."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import AuditAction, AuditEntry, Partner, PartnerStaff, StaffRole

from .mail import send_to_person
from .models import Invitation
from .sessions import end_all_sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(staff: PartnerStaff, action: AuditAction, **detail) -> None:
    """An audit entry of `staff`'s partner, by `staff` (a billing manager's team change)."""
    AuditEntry.objects.create(
        partner=staff.partner, action=action, actor=staff.user.get_username(), detail=detail
    )


def invite_colleague(*, inviter: PartnerStaff, email: str, role: str, base_url: str) -> Invitation:
    """Create an invitation for `email` with `role` and mail its one-time link; returns it.
    Raises PermissionDenied unless the inviter is a billing manager, ValidationError when the
    address already belongs to a colleague of this partner or an open invitation exists."""
    if inviter.role != StaffRole.BILLING_MANAGER:
        raise PermissionDenied(_("Only billing managers may invite colleagues."))
    if role not in StaffRole.values:
        raise ValidationError(_("Unknown role."))
    email = email.strip().lower()
    partner = inviter.partner
    if PartnerStaff.objects.filter(
        partner=partner, user__email__iexact=email, user__is_active=True
    ).exists():
        raise ValidationError(_("%(email)s is already a member of your team.") % {"email": email})
    if open_invitations_of(partner).filter(email__iexact=email).exists():
        raise ValidationError(
            _("%(email)s already has an open invitation; revoke it first.") % {"email": email}
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            partner=partner,
            email=email,
            role=role,
            token_digest=_digest(token),
            invited_by=inviter.user,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
        _audit(inviter, AuditAction.STAFF_INVITED, email=email, role=role)
    context = {
        "partner": partner,
        "inviter": inviter.user,
        "role": StaffRole(role).label,
        "url": base_url.rstrip("/") + reverse("invitation_accept", args=[token]),
        "days": settings.INVITATION_VALID_DAYS,
    }
    try:
        send_to_person(
            to=email,
            subject=_("Invitation to the %(partner)s partner portal") % {"partner": partner.name},
            body=render_to_string("portal/mail/invitation.txt", context),
        )
    except OSError as error:  # SMTP refused or unreachable: the link never left, void it
        Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
        raise ValidationError(_("The e-mail could not be sent; try again later.")) from error
    return invitation


def open_invitation(token: str, *, for_update: bool = False) -> Invitation | None:
    """The still open invitation of this link, else None (used, revoked, expired or unknown)."""
    invitations = Invitation.objects.select_for_update() if for_update else Invitation.objects
    invitation = invitations.select_related("partner").filter(token_digest=_digest(token)).first()
    return invitation if invitation is not None and invitation.is_open(timezone.now()) else None


def accept_invitation(*, token: str, username: str, password: str):
    """Create the colleague's login from an open invitation; returns the new user. The link
    works once: a second call raises ValidationError, as do an expired or revoked link and a
    taken username."""
    User = get_user_model()
    with transaction.atomic():
        invitation = open_invitation(token, for_update=True)
        if invitation is None:
            raise ValidationError(_("This invitation link is no longer valid."))
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This username is taken; choose another."))
        user = User.objects.create_user(
            username=username, email=invitation.email, password=password
        )
        PartnerStaff.objects.create(user=user, partner=invitation.partner, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        AuditEntry.objects.create(  # by the newcomer, as they typed their username
            partner=invitation.partner,
            action=AuditAction.STAFF_JOINED,
            actor=username,
            detail={"email": invitation.email, "role": invitation.role, "username": username},
        )
    return user


def revoke_invitation(*, manager: PartnerStaff, invitation_id: int) -> Invitation:
    """Revoke an open invitation of the manager's partner (a second call changes nothing)."""
    if manager.role != StaffRole.BILLING_MANAGER:
        raise PermissionDenied(_("Only billing managers may revoke invitations."))
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(
            pk=invitation_id, partner=manager.partner
        )
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            _audit(
                manager,
                AuditAction.INVITATION_REVOKED,
                email=invitation.email,
                role=invitation.role,
            )
    return invitation


def remove_colleague(*, manager: PartnerStaff, staff_id: int) -> str:
    """Remove a colleague of the manager's partner: no portal access, login disabled, sessions
    ended. Returns the removed username. A manager cannot remove themself; staff of another
    partner are PartnerStaff.DoesNotExist (a 404 to the caller)."""
    if manager.role != StaffRole.BILLING_MANAGER:
        raise PermissionDenied(_("Only billing managers may remove colleagues."))
    with transaction.atomic():
        staff = (
            PartnerStaff.objects.select_for_update()
            .select_related("user")
            .get(pk=staff_id, partner=manager.partner)
        )
        if staff.pk == manager.pk:
            raise ValidationError(_("You cannot remove yourself."))
        user = staff.user
        username = user.get_username()
        staff.delete()
        user.is_active = False
        user.save(update_fields=["is_active"])
        end_all_sessions(user=user)
        _audit(manager, AuditAction.STAFF_REMOVED, username=username, role=staff.role)
    return username


def team_of(partner: Partner):
    """The partner's active staff, billing managers first."""
    return (
        PartnerStaff.objects.filter(partner=partner, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )


def open_invitations_of(partner: Partner):
    return Invitation.objects.filter(
        partner=partner, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    )


TEAM_ACTIONS = (
    AuditAction.STAFF_INVITED,
    AuditAction.STAFF_JOINED,
    AuditAction.STAFF_REMOVED,
    AuditAction.INVITATION_REVOKED,
)


def team_audit(partner: Partner):
    """The latest 50 audit entries of the team's changes."""
    entries = AuditEntry.objects.filter(partner=partner, action__in=TEAM_ACTIONS)
    return entries.order_by("-created_at", "-id")[:50]
