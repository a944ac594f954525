"""Account pages: log in (with an optional second factor), passwords, the security page
(sessions, TOTP), the team and invitations, error pages. Thin callers of .team and .sessions."""

from __future__ import annotations

import base64
from functools import partial

import segno
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from billing.models import PartnerStaff, StaffRole

from . import team
from .access import (
    billing_manager_required,
    get_partner_object_or_404,
    partner_optional,
    partner_required,
    second_factor_redirect,
)
from .account_forms import AcceptInvitationForm, InviteForm, PortalPasswordResetForm, TokenForm
from .export_jobs import export_path
from .login_security import remember_device
from .models import ExportJob, Invitation
from .sessions import end_all_sessions, live_sessions, record_login

team_manager_required = partial(billing_manager_required, reason="team")


class PortalLoginView(auth_views.LoginView):
    """Django's login; then the session is recorded, the browser remembered as a known device,
    and a user with a second factor is sent on to enter its code."""

    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        record_login(self.request)
        user = form.get_user()
        if user_has_device(user, confirmed=True):
            response = second_factor_redirect(self.get_success_url())
        remember_device(self.request, response, user.get_username())
        return response


def otp_verify(request: HttpRequest) -> HttpResponse:
    """Second step of the login for users with a TOTP device."""
    if not request.user.is_authenticated:
        return redirect("login")
    devices = list(devices_for_user(request.user, confirmed=True))
    next_url = request.POST.get("next") or request.GET.get("next")
    if not next_url or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse(settings.LOGIN_REDIRECT_URL)
    if not devices or request.user.is_verified():
        return HttpResponseRedirect(next_url)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in devices:
            allowed, _info = device.verify_is_allowed()
            if allowed and device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                return HttpResponseRedirect(next_url)
        form.add_error(
            "token", _("This code is not right or too old. Wait for the next one and try again.")
        )
    return render(request, "portal/otp_verify.html", {"form": form, "next": next_url})


@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this user, on every device, this one included."""
    if request.user.is_authenticated:
        end_all_sessions(user=request.user)
        auth.logout(request)
    return redirect("login")


class PasswordRulesMixin:
    """The password rules beside the new password's fields (in the request's language)."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(rules=password_validators_help_texts(), **kwargs)


class PortalPasswordChangeView(PasswordRulesMixin, auth_views.PasswordChangeView):
    template_name = "portal/password_change.html"
    extra_context = {"nav": "account"}


class PortalPasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    form_class = PortalPasswordResetForm
    email_template_name = "portal/mail/password_reset.txt"
    subject_template_name = "portal/mail/password_reset_subject.txt"


class PortalPasswordResetConfirmView(PasswordRulesMixin, auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        # A reset proves the mailbox: lift any lock-out of this username and end its sessions.
        axes_reset(username=form.user.get_username())
        end_all_sessions(user=form.user)
        return response


password_change = partner_optional(PortalPasswordChangeView.as_view())
password_change_done = partner_optional(
    auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html")
)


@partner_optional
def security(request: HttpRequest) -> HttpResponse:
    """Sessions (log out everywhere) and, for billing managers, the optional TOTP second factor."""
    staff = getattr(request, "staff", None)
    may_use_totp = staff is not None and staff.role == StaffRole.BILLING_MANAGER
    confirmed = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    context = {
        "nav": "account",
        "sessions": live_sessions(request.user),
        "current_session": request.session.session_key,
        "may_use_totp": may_use_totp,
        "totp": confirmed,
        "pending": pending,
        "form": TokenForm(),
    }
    if pending is not None and may_use_totp and confirmed is None:
        qr = segno.make(pending.config_url, error="m")
        context["qr"] = mark_safe(qr.svg_inline(scale=4, border=2))  # noqa: S308
        context["secret"] = base64.b32encode(pending.bin_key).decode()
    return render(request, "portal/security.html", context)


@require_POST
@partner_required
def totp_start(request: HttpRequest) -> HttpResponse:
    if request.staff.role != StaffRole.BILLING_MANAGER:
        raise PermissionDenied
    if not TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
        TOTPDevice.objects.create(user=request.user, name=_("Authenticator app"), confirmed=False)
    return redirect("security")


@require_POST
@partner_required
def totp_confirm(request: HttpRequest) -> HttpResponse:
    if request.staff.role != StaffRole.BILLING_MANAGER:
        raise PermissionDenied
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    form = TokenForm(request.POST)
    if device is None:
        return redirect("security")
    if form.is_valid() and device.verify_token(form.cleaned_data["token"]):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        messages.success(request, _("Second factor switched on. Logins now ask for a code."))
    else:
        messages.error(request, _("The code did not match; scan the QR code again and retry."))
    return redirect("security")


@require_POST
@partner_required
def totp_disable(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is not None and form.is_valid() and device.verify_token(form.cleaned_data["token"]):
        TOTPDevice.objects.filter(user=request.user).delete()
        messages.success(request, _("Second factor switched off."))
    else:
        messages.error(request, _("The code did not match; the second factor stays on."))
    return redirect("security")


@partner_required
def team_page(request: HttpRequest) -> HttpResponse:
    is_manager = request.staff.role == StaffRole.BILLING_MANAGER
    if request.method == "POST" and not is_manager:
        raise PermissionDenied
    form = InviteForm(request.POST or None)
    if form.is_valid():
        try:
            invitation = team.invite_colleague(
                inviter=request.staff,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            notice = _("Invitation sent to %(email)s.") % {"email": invitation.email}
            messages.success(request, notice)
            return redirect("team")
    return render(
        request,
        "portal/team.html",
        {
            "nav": "team",
            "is_manager": is_manager,
            "members": team.team_of(request.partner),
            "invitations": team.open_invitations_of(request.partner) if is_manager else [],
            "audit": team.team_audit(request.partner) if is_manager else [],
            "form": form,
        },
    )


@require_POST
@team_manager_required
def team_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        username = team.remove_colleague(manager=request.staff, staff_id=pk)
    except PartnerStaff.DoesNotExist as error:
        raise Http404 from error
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(user)s no longer has access.") % {"user": username})
    return redirect("team")


@require_POST
@team_manager_required
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation = team.revoke_invitation(manager=request.staff, invitation_id=pk)
    except Invitation.DoesNotExist as error:
        raise Http404 from error
    messages.success(request, _("Invitation for %(email)s revoked.") % {"email": invitation.email})
    return redirect("team")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time link: choose a username and password, then you are logged in."""
    invitation = team.open_invitation(token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    if request.user.is_authenticated:
        auth.logout(request)
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = team.accept_invitation(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            record_login(request)
            notice = _("Welcome to the %(partner)s portal.") % {"partner": invitation.partner.name}
            messages.success(request, notice)
            response = redirect("dashboard")
            remember_device(request, response, user.get_username())
            return response
    return render(
        request,
        "portal/invitation_accept.html",
        {"form": form, "invitation": invitation, "rules": password_validators_help_texts()},
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403.html", {"csrf": True}, status=403)


@partner_required
def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_partner_object_or_404(request, ExportJob, pk=pk)
    return render(request, "portal/export_status.html", {"job": job, "nav": "messages"})


@partner_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_partner_object_or_404(request, ExportJob, pk=pk)
    path = export_path(job)
    if path is None:
        raise Http404("The export is not ready or has expired.")
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 - closed by the response
        as_attachment=True,
        filename=path.name.split("-", 1)[1],
    )
