"""The one place that scopes a portal request to its partner.

Every portal view is wrapped in `partner_required` (or `billing_manager_required`): anonymous
users go to the login page, users without a PartnerStaff record (operators) get a 403 page that
points them to the admin, partner staff get `request.partner` and `request.staff`. Objects named
in a URL are looked up with `get_partner_object_or_404`, so another partner's object is a 404.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django_otp import user_has_device

from billing.models import PartnerStaff


def staff_for(user) -> PartnerStaff | None:
    if not user.is_authenticated:
        return None
    try:
        return PartnerStaff.objects.select_related("partner").get(user=user)
    except ObjectDoesNotExist:
        return None


def _forbidden(request: HttpRequest, reason: str):
    return render(request, "portal/forbidden.html", {"reason": reason}, status=403)


def needs_second_factor(request: HttpRequest) -> bool:
    """The user set up a second factor (TOTP) and has not entered a code in this session."""
    user = request.user
    return (
        user.is_authenticated
        and not (hasattr(user, "is_verified") and user.is_verified())
        and user_has_device(user, confirmed=True)
    )


def second_factor_redirect(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        reverse("otp_verify") + "?" + urlencode({"next": request.get_full_path()})
    )


def partner_optional(view):
    """Logged-in users (partner staff or not): set request.partner / request.staff when the user
    is partner staff, so pages such as the password change keep the portal's navigation."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request):
            return second_factor_redirect(request)
        staff = staff_for(request.user)
        if staff is not None and staff.partner.is_active:
            request.staff = staff
            request.partner = staff.partner
        return view(request, *args, **kwargs)

    return wrapper


def partner_required(view):
    """Allow partner staff only; set request.partner / request.staff."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request):
            return second_factor_redirect(request)
        staff = staff_for(request.user)
        if staff is None or not staff.partner.is_active:
            return _forbidden(request, "no_partner" if staff is None else "inactive")
        request.staff = staff
        request.partner = staff.partner
        return view(request, *args, **kwargs)

    return wrapper


def billing_manager_required(view, reason: str = "role"):
    """Partner staff with the billing manager role only (statement downloads, the team)."""

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        if not request.staff.can_download_statements:
            return _forbidden(request, reason)
        return view(request, *args, **kwargs)

    return partner_required(inner)


def get_partner_object_or_404(request: HttpRequest, model: type[Model] | QuerySet, **lookup):
    """The object of `model` with `lookup` that belongs to request.partner, else 404."""
    queryset = model if isinstance(model, QuerySet) else model._default_manager.all()
    try:
        return queryset.get(partner=request.partner, **lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as error:
        raise Http404("No such object for this partner.") from error
