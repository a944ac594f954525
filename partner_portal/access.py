"""The one place that scopes a portal request to its partner.

Every portal view is wrapped in `partner_required` (or `billing_manager_required`): anonymous
users go to the login page, users without a PartnerStaff record (operators) get a 403 page that
points them to the admin, partner staff get `request.partner` and `request.staff`. Objects named
in a URL are looked up with `get_partner_object_or_404`, so another partner's object is a 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import render

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


def partner_required(view):
    """Allow partner staff only; set request.partner / request.staff."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        staff = staff_for(request.user)
        if staff is None or not staff.partner.is_active:
            return _forbidden(request, "no_partner" if staff is None else "inactive")
        request.staff = staff
        request.partner = staff.partner
        return view(request, *args, **kwargs)

    return wrapper


def billing_manager_required(view):
    """Partner staff with the billing manager role only (statement downloads)."""

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        if not request.staff.can_download_statements:
            return _forbidden(request, "role")
        return view(request, *args, **kwargs)

    return partner_required(inner)


def get_partner_object_or_404(request: HttpRequest, model: type[Model] | QuerySet, **lookup):
    """The object of `model` with `lookup` that belongs to request.partner, else 404."""
    queryset = model if isinstance(model, QuerySet) else model._default_manager.all()
    try:
        return queryset.get(partner=request.partner, **lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as error:
        raise Http404("No such object for this partner.") from error
