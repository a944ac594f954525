"""The one place that scopes a portal request to its partner (docs/portal.md): every portal view
is wrapped in `partner_required` (or `billing_manager_required`), which sets `request.partner`
and `request.staff`; objects named in a URL come from `get_partner_object_or_404`."""

from __future__ import annotations

from functools import partial, wraps
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
    return PartnerStaff.objects.select_related("partner").filter(user=user).first()


def _forbidden(request: HttpRequest, reason: str):
    return render(request, "portal/forbidden.html", {"reason": reason}, status=403)


def second_factor_redirect(next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("otp_verify") + "?" + urlencode({"next": next_url}))


def partner_required(view, *, optional: bool = False):
    """Allow partner staff only; set request.partner / request.staff. With `optional`, any
    logged-in user passes, and partner staff still get both (so pages such as the password
    change keep the portal's navigation)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # The user set up a second factor (TOTP) and has not entered a code in this session.
        if not user.is_verified() and user_has_device(user, confirmed=True):
            return second_factor_redirect(request.get_full_path())
        staff = staff_for(user)
        if staff is not None and staff.partner.is_active:
            request.staff = staff
            request.partner = staff.partner
        elif not optional:
            return _forbidden(request, "no_partner" if staff is None else "inactive")
        return view(request, *args, **kwargs)

    return wrapper


partner_optional = partial(partner_required, optional=True)


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
