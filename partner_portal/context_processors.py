"""Template context of every portal page."""

from __future__ import annotations

from django.http import HttpRequest

from .access import staff_for


def portal(request: HttpRequest) -> dict:
    """`portal_partner`: the partner of the logged-in staff member, also on pages that no
    partner view rendered (error pages), so the navigation is there too."""
    partner = getattr(request, "partner", None)
    if partner is None and getattr(request, "user", None) is not None:
        staff = staff_for(request.user)
        partner = staff.partner if staff is not None and staff.partner.is_active else None
    return {"portal_partner": partner}
