"""The operators' admin: secrets write-only, product-written rows read-only, actions by services."""

from __future__ import annotations

import tempfile

from django import forms
from django.contrib import admin
from django.contrib import messages as admin_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from billing.commission import parse_period
from billing.models import (
    Adjustment,
    Agreement,
    AgreementTier,
    AuditEntry,
    ClientAccount,
    Message,
    Partner,
    PartnerStaff,
    Payout,
    Reconciliation,
    ReconciliationOutcome,
    ReconciliationRow,
    Statement,
    StatementLine,
    StatementStatus,
    StatusEvent,
)
from billing.services import partner_data
from billing.services.accounts import parse_ic
from billing.services.payouts import set_payout
from billing.services.polling import poll_account
from billing.services.reconcile import ReconcileError, check_size, reconcile
from billing.services.statement_closing import close_statement
from billing.services.statements import StatementError, build_statement


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
        fields = ["name", "ic", "is_active", "legal_name", "address", "tax_id", "vat_rate"]

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
    actions = ["export_data", "erase_personal_data"]

    @admin.action(description=_("Export the partner's data (zip)"))
    def export_data(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, _("Select exactly one partner to export."), level=admin_messages.ERROR
            )
            return None
        partner = queryset.get()
        # A temporary file, not memory: a partner may have millions of messages.
        target = tempfile.TemporaryFile()
        partner_data.export_partner_data(partner, target=target, actor=request.user.get_username())
        target.seek(0)
        return FileResponse(target, as_attachment=True, filename=f"partner-{partner.ic}-data.zip")

    @admin.action(description=_("Erase the partner's personal data"))
    def erase_personal_data(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/billing/partner/erase_personal_data.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Erase personal data"),
                    "partners": queryset,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for partner in queryset:
            summary = partner_data.erase_partner_data(partner, actor=request.user.get_username())
            self.message_user(
                request,
                _(
                    "%(partner)s: personal data of %(messages)d messages and %(users)d users "
                    "erased; statements kept."
                )
                % {"partner": partner.name, "messages": summary.messages, "users": summary.users},
            )


class SecretField(forms.CharField):
    """Typed in, never rendered back; blank keeps the stored value."""

    def __init__(self, **kwargs):
        super().__init__(required=False, strip=False, widget=forms.PasswordInput, **kwargs)


class ClientAccountAdminForm(forms.ModelForm):
    api_token = SecretField(
        label=_("API token"), help_text=_("Write-only. Leave blank to keep the stored token.")
    )
    clear_api_token = forms.BooleanField(label=_("remove the stored API token"), required=False)
    password = SecretField(
        label=_("password"), help_text=_("Write-only. Leave blank to keep the stored password.")
    )
    clear_password = forms.BooleanField(label=_("remove the stored password"), required=False)
    email2sms_key = SecretField(
        label=_("Email2SMS key"),
        help_text=_("Write-only. Leave blank to keep the stored key."),
        validators=ClientAccount._meta.get_field("email2sms_key").validators,
    )
    clear_email2sms_key = forms.BooleanField(
        label=_("remove the stored Email2SMS key"), required=False
    )

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
            "email2sms_key",
            "clear_email2sms_key",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        for field in ("api_token", "password", "email2sms_key"):
            if cleaned.get(f"clear_{field}"):
                cleaned[field] = ""
            elif not cleaned.get(field):
                cleaned[field] = getattr(self.instance, field)  # "" on a new account
        return cleaned


@admin.register(ClientAccount)
class ClientAccountAdmin(admin.ModelAdmin):
    form = ClientAccountAdminForm
    list_display = ["name", "partner", "username", "has_token", "is_active", "created_at"]
    list_filter = ["is_active", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "username", "partner__name"]
    readonly_fields = ["callback_secret", "created_at"]
    actions = ["poll_now"]

    @admin.action(description=_("Poll SerwerSMS reports now"))
    def poll_now(self, request, queryset):
        for account in queryset.select_related("partner"):
            summary = poll_account(account)
            level = admin_messages.WARNING if summary.errors else admin_messages.INFO
            self.message_user(request, f"{account.name}: {summary.as_line()}", level=level)

    @admin.display(boolean=True, description=_("token"))
    def has_token(self, account: ClientAccount) -> bool:
        return bool(account.api_token)


def denied(self, request, obj=None) -> bool:
    return False


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows the product writes, never added or changed by hand (deleting stays possible)."""

    has_add_permission = has_change_permission = denied


class ReadOnlyAdmin(ViewOnlyAdmin):
    """Rows that change only through services (sending, polling, statements), never by hand."""

    has_delete_permission = denied


class ReadOnlyInline(admin.TabularInline):
    can_delete = False
    has_add_permission = has_change_permission = denied

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class StatusEventInline(ReadOnlyInline):
    model = StatusEvent
    fields = ["created_at", "source", "old_status", "new_status", "applied", "status_at", "note"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
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
    show_full_result_count = False  # no COUNT(*) over millions of rows
    inlines = [StatusEventInline]
    exclude = ["text_digest"]


class AgreementTierInline(admin.TabularInline):
    model = AgreementTier
    extra = 0


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["partner", "version", "valid_from", "valid_to", "basis", "currency"]
    list_filter = ["partner", "basis"]
    list_select_related = ["partner"]
    inlines = [AgreementTierInline]


class StatementLineInline(ReadOnlyInline):
    model = StatementLine
    fields = [
        "account",
        "message_type",
        "agreement",
        "counted_messages",
        "counted_parts",
        "pending_messages",
        "unsent_messages",
        "commission",
    ]


class AdjustmentInline(ReadOnlyInline):
    model = Adjustment
    fields = ["message", "original_period", "old_status", "new_status", "amount", "reason"]


class AuditEntryInline(ReadOnlyInline):
    model = AuditEntry
    fields = ["created_at", "action", "actor", "detail"]


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = [
        "partner",
        "period",
        "number",
        "status",
        "counted_messages",
        "pending_messages",
        "unsent_messages",
        "total",
        "gross",
        "closed_at",
        "built_at",
    ]
    list_filter = ["status", "partner", "period"]
    list_select_related = ["partner"]
    inlines = [StatementLineInline, AdjustmentInline, AuditEntryInline]
    actions = ["rebuild", "close"]

    @admin.action(description=_("Rebuild selected draft statements"))
    def rebuild(self, request, queryset):
        results = [
            build_statement(statement.partner, statement.period, actor=request.user.get_username())
            for statement in queryset.select_related("partner")
        ]
        skipped = sum(result.skipped_closed for result in results)
        self.message_user(
            request,
            _("%(rebuilt)d rebuilt, %(skipped)d closed left as they are.")
            % {"rebuilt": len(results) - skipped, "skipped": skipped},
        )

    @admin.action(description=_("Close selected statements"))
    def close(self, request, queryset):
        actor = request.user.get_username()
        for statement in queryset.select_related("partner"):
            try:
                result = close_statement(statement.partner, statement.period, actor=actor)
            except StatementError as exc:
                self.message_user(request, str(exc), level=admin_messages.ERROR)
                continue
            if result.changed:
                self.message_user(request, _("Closed %(statement)s.") % {"statement": statement})


class PayoutForm(forms.ModelForm):
    class Meta:
        model = Payout
        fields = ["statement", "status", "invoiced_on", "invoice_number", "paid_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "statement" in self.fields:
            self.fields["statement"].queryset = Statement.objects.filter(
                status=StatementStatus.CLOSED
            ).select_related("partner")


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    """Operators record when a closed statement was invoiced and paid; partner staff see it."""

    form = PayoutForm
    list_display = ["statement", "status", "invoiced_on", "invoice_number", "paid_on", "updated_by"]
    list_filter = ["status", "statement__partner"]
    list_select_related = ["statement__partner"]
    readonly_fields = ["updated_by", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The statement of an existing payout stays; only its state and dates change.
        return [*self.readonly_fields, "statement"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Through the service: checks, audit trail. It writes the row itself.
        saved = set_payout(
            obj.statement,
            status=obj.status,
            invoiced_on=obj.invoiced_on,
            paid_on=obj.paid_on,
            invoice_number=obj.invoice_number,
            actor=request.user.get_username(),
        )
        obj.pk, obj.updated_by, obj.updated_at = saved.pk, saved.updated_by, saved.updated_at

    has_delete_permission = denied


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "partner", "statement"]
    list_filter = ["action", "partner"]
    list_select_related = ["partner", "statement__partner"]  # a statement shows its partner
    readonly_fields = ["created_at", "action", "actor", "partner", "statement", "detail"]


@admin.register(PartnerStaff)
class PartnerStaffAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role"]
    list_filter = ["partner", "role"]
    list_select_related = ["user", "partner"]


class ReconciliationUploadForm(forms.Form):
    """SerwerSMS's partner billing of one partner and month (services/reconcile.py)."""

    partner = forms.ModelChoiceField(label=_("partner"), queryset=Partner.objects.all())
    period = forms.CharField(
        label=_("billing month"), max_length=7, help_text=_("YYYY-MM, e.g. 2026-10.")
    )
    file = forms.FileField(
        label=_("SerwerSMS's partner billing (CSV)"),
        help_text=_(
            "UTF-8 CSV with a header row; the column names are set by RECONCILE_COLUMNS. "
            "A new upload for the same partner and month replaces the previous result."
        ),
    )

    def clean_period(self):
        try:
            return parse_period(self.cleaned_data["period"])
        except ValueError:
            raise ValidationError(
                _("The billing month must look like YYYY-MM, e.g. 2026-10."), code="period"
            ) from None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_size(upload.size)  # before a byte of it is read
        except ReconcileError as error:
            raise ValidationError(str(error), code="too_large") from None
        return upload


def _outcome_column(outcome: ReconciliationOutcome):
    return admin.display(description=outcome.label)(lambda self, obj: obj.outcome_total(outcome))


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    """Stored reconciliations; "Add" is the upload form, which calls the reconcile service."""

    list_display = [
        "partner",
        "period",
        "their_messages",
        "our_messages",
        "confirmed",
        "missing_at_serwersms",
        "missing_here",
        "file_name",
        "uploaded_by",
        "uploaded_at",
    ]
    list_filter = ["partner", "period"]
    list_select_related = ["partner"]
    exclude = ["totals"]  # shown as the outcome table, after the other fields
    readonly_fields = ["outcome_table"]

    # ModelAdmin's own check (billing.add_reconciliation), not ReadOnlyAdmin's denial.
    has_add_permission = admin.ModelAdmin.has_add_permission

    confirmed = _outcome_column(ReconciliationOutcome.CONFIRMED)
    missing_at_serwersms = _outcome_column(ReconciliationOutcome.MISSING_AT_SERWERSMS)
    missing_here = _outcome_column(ReconciliationOutcome.MISSING_HERE)

    @admin.display(description=_("per outcome"))
    def outcome_table(self, obj: Reconciliation):
        rows_url = reverse("admin:billing_reconciliationrow_changelist")
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("outcome"),
            _("messages"),
            _("SerwerSMS's cost"),
            _("our cost"),
            format_html_join(
                "",
                '<tr><td><a href="{}?reconciliation__exact={}&amp;outcome={}">{}</a></td>'
                "<td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        rows_url,
                        obj.pk,
                        outcome.value,
                        outcome.label,
                        obj.outcome_total(outcome),
                        obj.outcome_total(outcome, "their_cost"),
                        obj.outcome_total(outcome, "our_cost"),
                    )
                    for outcome in ReconciliationOutcome
                ),
            ),
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReconciliationUploadForm(request.POST or None, request.FILES or None)
        if form.is_valid():  # never when unbound (a GET, an empty POST)
            upload = form.cleaned_data["file"]
            try:
                report = reconcile(
                    form.cleaned_data["partner"],
                    form.cleaned_data["period"],
                    upload.read(),
                    actor=request.user.get_username(),
                    file_name=upload.name,
                )
            except ReconcileError as error:
                form.add_error(None, str(error))
            else:
                result = report.reconciliation
                self.message_user(
                    request,
                    _("Reconciled %(reconciliation)s: %(confirmed)d confirmed of %(ours)d.")
                    % {
                        "reconciliation": result,
                        "confirmed": result.outcome_total(ReconciliationOutcome.CONFIRMED),
                        "ours": result.our_messages,
                    },
                )
                return redirect("admin:billing_reconciliation_change", result.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Upload SerwerSMS's partner billing"),
            "form": form,
            **(extra_context or {}),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/billing/reconciliation/upload.html", context, status=status
        )


@admin.register(ReconciliationRow)
class ReconciliationRowAdmin(ReadOnlyAdmin):
    list_display = [
        "reconciliation",
        "outcome",
        "account_name",
        "serwersms_id",
        "message",
        "our_status",
        "their_status",
        "our_parts",
        "their_parts",
        "our_cost",
        "their_cost",
        "differences",
    ]
    list_filter = ["outcome", "reconciliation__partner", "reconciliation__period"]
    list_select_related = ["reconciliation__partner", "message"]
    search_fields = ["serwersms_id", "account_name"]
    show_full_result_count = False  # a month's rows can be millions
