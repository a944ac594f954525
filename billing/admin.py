"""The operators' admin: partners, client accounts (secrets write-only), messages (read-only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from billing.models import ClientAccount, Message, Partner, StatusEvent
from billing.services.accounts import parse_ic


class PartnerAdminForm(forms.ModelForm):
    # A text field, so that "abc", "0" or "-3" get the same clear message as everywhere else.
    ic = forms.CharField(
        label=_("ic"),
        max_length=12,
        required=False,  # an empty ic gets the positive-integer message below
        help_text=_("The partner's numeric id in the SerwerSMS partner programme."),
    )

    class Meta:
        model = Partner
        fields = ["name", "ic", "is_active"]

    def clean_ic(self) -> int:
        try:
            return parse_ic(self.cleaned_data.get("ic"))
        except ValidationError as exc:
            raise ValidationError(
                _("The ic must be a positive integer (1, 2, 3, ...), got %(value)r."),
                code="invalid_ic",
                params={"value": self.cleaned_data.get("ic")},
            ) from exc


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerAdminForm
    list_display = ["name", "ic", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "ic"]


class SecretField(forms.CharField):
    """Typed in, never rendered back; blank keeps the stored value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        super().__init__(**kwargs)


class ClientAccountAdminForm(forms.ModelForm):
    api_token = SecretField(
        label=_("API token"), help_text=_("Write-only. Leave blank to keep the stored token.")
    )
    clear_api_token = forms.BooleanField(label=_("remove the stored API token"), required=False)
    password = SecretField(
        label=_("password"), help_text=_("Write-only. Leave blank to keep the stored password.")
    )
    clear_password = forms.BooleanField(label=_("remove the stored password"), required=False)

    class Meta:
        model = ClientAccount
        fields = [
            "partner",
            "name",
            "api_token",
            "clear_api_token",
            "username",
            "password",
            "clear_password",
            "email2sms_sender",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        stored = self.instance if self.instance.pk else None
        for field in ("api_token", "password"):
            if cleaned.get(f"clear_{field}"):
                cleaned[field] = ""
            elif not cleaned.get(field) and stored is not None:
                cleaned[field] = getattr(stored, field)
        return cleaned


@admin.register(ClientAccount)
class ClientAccountAdmin(admin.ModelAdmin):
    form = ClientAccountAdminForm
    list_display = ["name", "partner", "username", "has_token", "is_active", "created_at"]
    list_filter = ["is_active", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "username", "partner__name"]
    readonly_fields = ["callback_secret", "created_at"]

    @admin.display(boolean=True, description=_("token"))
    def has_token(self, account: ClientAccount) -> bool:
        return bool(account.api_token)


class StatusEventInline(admin.TabularInline):
    model = StatusEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "source", "old_status", "new_status", "applied", "status_at", "note"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: messages change only through sending, polling and callbacks."""

    list_display = [
        "unique_id",
        "serwersms_id",
        "partner",
        "account",
        "phone",
        "channel",
        "message_type",
        "parts",
        "status",
        "created_at",
        "dispatched_at",
    ]
    list_filter = [
        "partner",
        "account",
        "status",
        "channel",
        "message_type",
        ("created_at", admin.DateFieldListFilter),
        ("dispatched_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["partner", "account"]
    search_fields = ["unique_id", "serwersms_id", "phone"]
    date_hierarchy = "created_at"
    inlines = [StatusEventInline]
    exclude = ["text_digest"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
