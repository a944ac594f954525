"""URLs of the partner portal (mounted at the root by partner_portal.urls)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from partner_api import portal_views as api_key_views

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(template_name="portal/password_change.html"),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html"),
        name="password_change_done",
    ),
    path("messages/", views.message_list, name="message_list"),
    path("messages/export.<str:fmt>", views.message_export, name="message_export"),
    path("messages/<int:pk>/", views.message_detail, name="message_detail"),
    path("statements/", views.statement_list, name="statement_list"),
    path("statements/<int:pk>/", views.statement_detail, name="statement_detail"),
    path(
        "statements/<int:pk>/download/<str:fmt>/",
        views.statement_download,
        name="statement_download",
    ),
    path("client-accounts/", views.account_list, name="account_list"),
    path("api-keys/", api_key_views.api_keys, name="api_keys"),
    path("api-keys/new/", api_key_views.api_key_create, name="api_key_create"),
    path("api-keys/<int:pk>/revoke/", api_key_views.api_key_revoke, name="api_key_revoke"),
]
