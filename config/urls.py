"""URL map: the operators' admin, the HTTP API, the SerwerSMS callback endpoint, the portal."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from partner_api.api import api, not_found

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/v1/", api.urls),
    path("api/<path:rest>", not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("ops.urls")),  # /healthz, /readyz, /metrics
    path("", include("billing.urls")),
    path("", include("partner_portal.portal_urls")),
]
