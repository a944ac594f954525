"""URLs of the partner portal (mounted at the root by config.urls)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import account_views, api_key_views, reconciliation_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", account_views.PortalLoginView.as_view(), name="login"),
    path("login/verify/", account_views.otp_verify, name="otp_verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("logout/everywhere/", account_views.logout_everywhere, name="logout_everywhere"),
    path("password/", account_views.password_change, name="password_change"),
    path("password/done/", account_views.password_change_done, name="password_change_done"),
    path("password/reset/", account_views.PortalPasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        account_views.PortalPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("security/", account_views.security, name="security"),
    path("security/totp/start/", account_views.totp_start, name="totp_start"),
    path("security/totp/confirm/", account_views.totp_confirm, name="totp_confirm"),
    path("security/totp/disable/", account_views.totp_disable, name="totp_disable"),
    path("team/", account_views.team_page, name="team"),
    path("team/<int:pk>/remove/", account_views.team_remove, name="team_remove"),
    path(
        "team/invitations/<int:pk>/revoke/",
        account_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("exports/<int:pk>/", account_views.export_status, name="export_status"),
    path("exports/<int:pk>/download/", account_views.export_download, name="export_download"),
    path("invitation/<str:token>/", account_views.invitation_accept, name="invitation_accept"),
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
    path(
        "statements/<int:pk>/reconciliation/",
        reconciliation_views.reconciliation_rows,
        name="reconciliation_rows",
    ),
    path(
        "statements/<int:pk>/reconciliation.<str:fmt>",
        reconciliation_views.reconciliation_download,
        name="reconciliation_download",
    ),
    path("client-accounts/", views.account_list, name="account_list"),
    path("api-keys/", api_key_views.api_keys, name="api_keys"),
    path("api-keys/new/", api_key_views.api_key_create, name="api_key_create"),
    path("api-keys/<int:pk>/revoke/", api_key_views.api_key_revoke, name="api_key_revoke"),
]
