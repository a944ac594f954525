"""URL map: the operators' admin, the SerwerSMS callback endpoint, the partner portal."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("billing.urls")),
    path("", include("partner_portal.portal_urls")),
]
