"""Login sessions of a user: recorded at login, all ended by "log out everywhere"."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .login_security import client_address
from .models import LoginSession


def record_login(request: HttpRequest) -> None:
    """Record the session the user just logged in with (call after django's login())."""
    if not request.session.session_key:
        request.session.save()
    LoginSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": request.user,
            "ip_address": client_address(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
        },
    )


@transaction.atomic
def end_all_sessions(*, user) -> int:
    """End every recorded session of `user` (this one too); returns how many were live."""
    recorded = LoginSession.objects.filter(user=user)
    ended, _ = Session.objects.filter(session_key__in=recorded.values("session_key")).delete()
    recorded.delete()
    return ended


def live_sessions(user):
    """The user's recorded sessions that have not expired or been ended."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return LoginSession.objects.filter(user=user, session_key__in=live)
