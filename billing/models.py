"""Data and invariants; the rules are in statuses.py and commission.py, the work in services/."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .commission import month_bounds_utc
from .figures import claim_difference
from .statuses import (
    COUNTED,
    NEVER_COUNTED,
    NOT_FINAL,
    PENDING,
    PROVEN,
    BillingClass,
    IcProof,
    Status,
    billing_class,
)

# The shapes of money, each defined once: rates (commission.RATE_DECIMALS), SerwerSMS's cost of a
# message (None: not known), exact sums (commission.AMOUNT_DECIMALS), amounts as printed (grosz).
_rate = partial(models.DecimalField, max_digits=14, decimal_places=6, default=0)
_cost = partial(models.DecimalField, max_digits=12, decimal_places=4, null=True, blank=True)
_exact = partial(models.DecimalField, max_digits=26, decimal_places=12, default=0)
_printed = partial(models.DecimalField, max_digits=14, decimal_places=2, default=0)
# A partner's VAT rate; each build of a statement copies it.
_vat_rate = partial(
    models.DecimalField, _("VAT rate (%)"), max_digits=5, decimal_places=2, null=True, blank=True
)


def validate_ic(value) -> None:
    """The ic is a positive integer (bools and strings of digits are not accepted here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            _("The ic must be a positive integer, got %(value)r."),
            code="invalid_ic",
            params={"value": value},
        )


def new_callback_secret() -> str:
    return secrets.token_urlsafe(24)


def validate_nip(value: str) -> None:
    """A Polish tax id (NIP): ten digits (dashes and spaces allowed) with a valid check digit."""
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    if len(digits) != 10 or not set(str(value)) <= set("0123456789- "):
        raise ValidationError(_("A NIP has ten digits."), code="invalid_nip")
    if sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 != int(digits[9]):
        raise ValidationError(_("This NIP's check digit is wrong."), code="invalid_nip")


class Partner(models.Model):
    name = models.CharField(_("name"), max_length=200)
    ic = models.PositiveIntegerField(
        _("ic"),
        unique=True,
        validators=[MinValueValidator(1)],
        help_text=_("The partner's numeric id in the SerwerSMS partner programme."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # What a statement needs to be invoiced from (the partner invoices SerwerSMS).
    legal_name = models.CharField(_("legal name"), max_length=255, blank=True)
    address = models.TextField(_("address"), blank=True)
    tax_id = models.CharField(
        _("tax id (NIP)"), max_length=13, blank=True, validators=[validate_nip]
    )
    vat_rate = _vat_rate(
        validators=[MinValueValidator(0)],
        help_text=_("Leave empty when the partner's statements carry no VAT."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [models.CheckConstraint(condition=Q(ic__gte=1), name="partner_ic_positive")]

    def __str__(self) -> str:
        return f"{self.name} (ic {self.ic})"

    def save(self, *args, **kwargs) -> None:
        validate_ic(self.ic)
        if self._stored_ic_in_use():
            raise ValidationError(_("The ic cannot change once messages reference it."))
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.ic is not None:
            validate_ic(self.ic)
        if stored_ic := self._stored_ic_in_use():
            raise ValidationError(
                {"ic": _("The ic cannot change: messages already carry ic %(ic)s.")},
                params={"ic": stored_ic},
            )

    def _stored_ic_in_use(self) -> int | None:
        """The stored ic when this save would change it although messages carry it."""
        if self.pk and self.ic is not None:
            stored_ic = Partner.objects.filter(pk=self.pk).values_list("ic", flat=True).first()
            if stored_ic not in (None, self.ic) and self.messages.exists():
                return stored_ic
        return None


_partner = partial(models.ForeignKey, Partner, on_delete=models.PROTECT, verbose_name=_("partner"))


class ClientAccount(models.Model):
    """A SerwerSMS customer account whose traffic carries the partner's ic."""

    partner = _partner(related_name="accounts")
    name = models.CharField(_("name"), max_length=100, unique=True)
    api_token = models.CharField(_("API token"), max_length=255, blank=True)
    username = models.CharField(_("username"), max_length=100, blank=True)
    password = models.CharField(_("password"), max_length=255, blank=True)
    email2sms_sender = models.EmailField(
        _("Email2SMS sender address"),
        blank=True,
        help_text=_("The address authorised for Email2SMS in the SerwerSMS panel of this account."),
    )
    email2sms_key = models.CharField(
        _("Email2SMS key"),
        max_length=64,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9]+$", _("The Email2SMS key takes only letters a-z, A-Z and digits.")
            )
        ],
        help_text=_("The key made for the sender address in the SerwerSMS panel (write-only)."),
    )
    callback_secret = models.CharField(
        _("callback secret"), max_length=64, unique=True, default=new_callback_secret
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("client account")
        verbose_name_plural = _("client accounts")
        constraints = [
            models.CheckConstraint(
                condition=~Q(api_token="") | (~Q(username="") & ~Q(password="")),
                name="account_has_credentials",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if not self.api_token and not (self.username and self.password):
            raise ValidationError(_("Give an API token, or a username and a password."))


class Channel(models.TextChoices):
    API_V2 = "api_v2", _("API v2")
    XML_API = "xml_api", _("XML API")
    EMAIL2SMS = "email2sms", _("Email2SMS")
    REPORTED = "reported", _("reported by partner software")


class MessageType(models.TextChoices):
    ECO = "eco", _("ECO")
    FULL = "full", _("FULL")
    MMS = "mms", _("MMS")
    VOICE = "voice", _("voice")


class MatchMethod(models.TextChoices):
    SEND = "send", _("id returned by the send call")
    UNIQUE_ID = "unique_id", _("looked up by our unique_id")
    PHONE_TIME = "phone_time", _("matched by account, phone and time window")
    REPORTED = "reported", _("id reported by partner software")


def _values(statuses) -> list[str]:
    return sorted(s.value for s in statuses)


# The counting rule as a condition, for aggregates (Count(..., filter=IS_COUNTED)); status and
# ic proof decide together (statuses.billing_class).
IS_COUNTED = Q(status__in=_values(COUNTED), ic_proof__in=_values(PROVEN))
# A reported message whose claim differs from SerwerSMS's figures (Message.claim_difference).
CLAIM_DIFFERS = Q(channel="reported", serwersms_figures_at__isnull=False) & (
    ~Q(claimed_type=F("message_type"))
    | ~Q(claimed_parts=F("parts"))
    | Q(claimed_cost__isnull=False, cost__isnull=True)
    | Q(claimed_cost__gt=F("cost"))
    | Q(claimed_cost__lt=F("cost"))
)


class MessageQuerySet(models.QuerySet):
    """The counting rule and the billing month as queries (from statuses.py and commission.py)."""

    def counted(self) -> MessageQuerySet:
        """Messages SerwerSMS dispatched: they earn commission."""
        return self.filter(IS_COUNTED)

    def pending(self) -> MessageQuerySet:
        """Messages not dispatched yet: shown as a forecast, not billed."""
        return self.filter(Q(status__in=_values(PENDING)) & ~Q(ic_proof=IcProof.REFUTED))

    def unsent(self) -> MessageQuerySet:
        """Messages SerwerSMS could not send: never counted."""
        return self.filter(status__in=_values(NEVER_COUNTED))

    def dispatched(self) -> MessageQuerySet:
        """Messages SerwerSMS dispatched, whatever proves the ic (what reconciliation compares)."""
        return self.filter(status__in=_values(COUNTED))

    def unconfirmed(self) -> MessageQuerySet:
        """Dispatched reported messages whose ic SerwerSMS has not confirmed: shown, not billed."""
        return self.filter(status__in=_values(COUNTED), ic_proof=IcProof.REPORTED)

    def pollable(self, *, created_since) -> MessageQuerySet:
        """Messages whose status may still change (not final), created since then."""
        return self.filter(status__in=_values(NOT_FINAL), created_at__gte=created_since)

    def in_billing_month(self, period) -> MessageQuerySet:
        """Messages of a Europe/Warsaw billing month (commission.billing_instant)."""
        return self.billed_between(*month_bounds_utc(period))

    def billed_between(self, start, end) -> MessageQuerySet:
        """Messages whose billing instant is in [start, end)."""
        return self.filter(billing_at__gte=start, billing_at__lt=end)


class Message(models.Model):
    """One row per recipient; the history of its status is in StatusEvent."""

    partner = _partner(related_name="messages")
    account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="messages", verbose_name=_("account")
    )
    ic = models.PositiveIntegerField(_("ic sent"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    serwersms_id = models.CharField(_("SerwerSMS id"), max_length=64, null=True, blank=True)
    unique_id = models.CharField(_("unique id"), max_length=64)
    phone = models.CharField(_("phone"), max_length=20)
    # Set when the phone was reduced to its last digits (retention, erasure): HMAC-SHA256 of
    # the full number with PHONE_HASH_PEPPER, so a known number can still be found.
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True)
    sender = models.CharField(_("sender"), max_length=32, blank=True)
    message_type = models.CharField(
        _("type"), max_length=8, choices=MessageType.choices, default=MessageType.ECO
    )
    text_length = models.PositiveIntegerField(_("text length"), default=0)
    text_digest = models.CharField(max_length=64, blank=True)  # sha256: idempotency check
    text = models.TextField(_("text"), blank=True)  # only with STORE_MESSAGE_TEXT
    unicode = models.BooleanField(_("unicode"), default=False)
    parts = models.PositiveSmallIntegerField(_("parts"), default=1)
    cost = _cost(_("cost"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SUBMITTING
    )
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    error_message = models.CharField(_("error"), max_length=255, blank=True)
    match_method = models.CharField(
        _("matched by"), max_length=16, choices=MatchMethod.choices, blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    # sent_at, else queued_at: the billing month is this instant's month in Europe/Warsaw.
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    # commission.billing_instant: dispatch time, else (never dispatched) the submission time.
    billing_at = models.GeneratedField(
        expression=Coalesce("dispatched_at", "created_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name=_("billing time"),
    )
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    # When SerwerSMS's own record (a send answer, a reports poll, a look-up) first gave this
    # message's figures; a callback alone never does (it moves only the status).
    serwersms_figures_at = models.DateTimeField(_("figures from SerwerSMS"), null=True, blank=True)
    # What proves the ic (statuses.IcProof): counted only when sent or confirmed.
    ic_proof = models.CharField(
        _("ic proof"),
        max_length=16,
        choices=IcProof.choices,
        default=IcProof.SENT,
        db_default=IcProof.SENT,  # rows written by raw SQL are the product's own
    )
    # What partner software declared for a reported message: kept beside SerwerSMS's figures,
    # shown, never priced.
    claimed_status = models.CharField(_("claimed status"), max_length=16, blank=True)
    claimed_type = models.CharField(_("claimed type"), max_length=8, blank=True)
    claimed_parts = models.PositiveSmallIntegerField(_("claimed parts"), null=True, blank=True)
    claimed_cost = _cost(_("claimed cost"))
    claimed_sent_at = models.DateTimeField(_("claimed send time"), null=True, blank=True)
    # The outbox (services/outbox.py writes, services/delivery.py sends): which send task holds
    # the message, until when; when a call that may have reached SerwerSMS last left (then it is
    # looked up before any resend).
    send_claim = models.CharField(max_length=32, blank=True)
    send_claimed_until = models.DateTimeField(null=True, blank=True)
    send_attempted_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "serwersms_id"],
                condition=Q(serwersms_id__isnull=False),
                name="message_serwersms_id_unique_per_account",
            ),
            # Our unique_id names one message within its account, as SerwerSMS scopes it; also
            # the index of every look-up by (account, unique_id): the outbox's idempotency
            # check, the API's conflict answer, reports found by unique_id.
            models.UniqueConstraint(
                fields=["account", "unique_id"], name="message_unique_id_unique_per_account"
            ),
            models.CheckConstraint(
                condition=Q(ic__isnull=True) | Q(ic__gte=1), name="message_ic_positive"
            ),
        ]
        indexes = [
            # in_billing_month(): statements, dashboard, reconcile.
            models.Index(fields=["partner", "billing_at"], name="message_partner_billing"),
            # The messages table's keyset pages: WHERE partner [AND created_at range]
            # ORDER BY created_at, id, resumed after the last (created_at, id). docs/scale.md.
            models.Index(fields=["partner", "created_at", "id"], name="message_partner_created_id"),
            # ... filtered by one status (status=unsent, =undelivered, ...); docs/scale.md.
            models.Index(
                fields=["partner", "status", "created_at", "id"], name="message_partner_status"
            ),
            # ... filtered by one client account (an account belongs to one partner).
            models.Index(fields=["account", "created_at", "id"], name="message_account_created"),
            models.Index(fields=["status", "created_at"], name="message_status_created"),
            models.Index(
                fields=["account", "created_at"],
                condition=Q(status__in=_values(NOT_FINAL)),
                name="message_pollable",
            ),
            models.Index(fields=["account", "phone", "created_at"], name="message_account_phone"),
            # retention.reduce_messages: a partner's month, rows whose phone is still whole
            # (erased rows leave it, so the daily run reads only what is left to do).
            models.Index(
                fields=["partner", "billing_at", "id"],
                condition=Q(phone_hash=""),
                name="message_retention",
            ),
            # resume_sends: the outbox, messages still submitting.
            models.Index(
                fields=["created_at"],
                condition=Q(status="submitting"),
                name="message_outbox",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unique_id} → {self.phone} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        if self.ic is not None:
            validate_ic(self.ic)
        super().save(*args, **kwargs)

    @property
    def billing_class(self) -> BillingClass:
        return billing_class(self.status, self.ic_proof)

    @property
    def is_counted(self) -> bool:
        return self.billing_class == BillingClass.COUNTED

    @property
    def claim_difference(self) -> str:
        """figures.claim_difference; "" when the claim agrees or SerwerSMS has not given figures."""
        if self.channel != Channel.REPORTED or self.serwersms_figures_at is None:
            return ""
        return claim_difference(
            claimed_type=self.claimed_type,
            claimed_parts=self.claimed_parts,
            claimed_cost=self.claimed_cost,
            claimed_sent_at=self.claimed_sent_at,
            message_type=self.message_type,
            parts=self.parts,
            cost=self.cost,
            sent_at=self.dispatched_at,
            skew=timedelta(seconds=settings.STATUS_REPORT_TIME_SLACK_SECONDS),
        )


class EventSource(models.TextChoices):
    SEND = "send", _("send")
    POLL = "poll", _("poll")
    CALLBACK = "callback", _("callback")
    MANUAL = "manual", _("manual")
    RECONCILE = "reconcile", _("SerwerSMS partner billing")


class StatusEvent(models.Model):
    """Every status report a message received; `applied` is False when it was ignored."""

    message = models.ForeignKey(
        Message, on_delete=models.PROTECT, related_name="events", verbose_name=_("message")
    )
    source = models.CharField(_("source"), max_length=16, choices=EventSource.choices)
    old_status = models.CharField(_("old status"), max_length=16, blank=True)
    new_status = models.CharField(_("new status"), max_length=32)
    applied = models.BooleanField(_("applied"), default=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    status_at = models.DateTimeField(_("status time"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("status event")
        verbose_name_plural = _("status events")
        indexes = [models.Index(fields=["message", "created_at"], name="event_message_created")]

    def __str__(self) -> str:
        return f"{self.old_status or '∅'} → {self.new_status} ({self.source})"


class DailyRollup(models.Model):
    """Messages, parts, known cost per partner, account, type, status and Warsaw billing day, kept
    exact by each writer (services/derived.py) so pages need not count; `rollups --check` audits."""

    # The unique key below starts with the partner.
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(ClientAccount, on_delete=models.CASCADE, related_name="+")
    message_type = models.CharField(max_length=8, choices=MessageType.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    ic_proof = models.CharField(
        max_length=16, choices=IcProof.choices, default=IcProof.SENT, db_default=IcProof.SENT
    )
    day = models.DateField()
    # Signed: a row below zero is drift for `rollups --check`, never a failed status change.
    messages = models.IntegerField(default=0)
    parts = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=4, default=0)  # known costs only

    class Meta:
        ordering = ["partner", "day", "account", "message_type", "status", "ic_proof"]
        constraints = [
            # The upsert's conflict target, and (partner first, then day) the index of every
            # read: a partner's days of one month or of the last 90 days.
            models.UniqueConstraint(
                fields=["partner", "day", "account", "message_type", "status", "ic_proof"],
                name="rollup_partner_day_proof_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.account_id} {self.message_type} {self.status}: {self.messages}"


class CommissionBasis(models.TextChoices):
    PER_MESSAGE = "per_message", _("per message")
    PER_PART = "per_part", _("per SMS part")
    PERCENT_OF_COST = "percent_of_cost", _("percentage of the message cost")


class Agreement(models.Model):
    """Commission terms, one version per validity range (dates in Europe/Warsaw, inclusive)."""

    partner = _partner(related_name="agreements")
    version = models.PositiveIntegerField(_("version"), default=1)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    basis = models.CharField(_("basis"), max_length=20, choices=CommissionBasis.choices)
    # Per message / per part: PLN. Percent of cost: a percentage (5 = 5 %).
    rate_eco = _rate(_("rate ECO"))
    rate_full = _rate(_("rate FULL"))
    rate_mms = _rate(_("rate MMS"))
    rate_voice = _rate(_("rate voice"))
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["partner", "valid_from"]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        constraints = [
            models.UniqueConstraint(fields=["partner", "version"], name="agreement_version_unique"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="agreement_valid_range",
            ),
        ]

    def __str__(self) -> str:
        end = self.valid_to.isoformat() if self.valid_to else "…"
        return f"{self.partner.name} v{self.version} ({self.valid_from.isoformat()} – {end})"

    def clean(self) -> None:
        super().clean()
        if self.valid_to and self.valid_from and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("The end date is before the start date.")})
        if self.partner_id and self.valid_from:
            others = Agreement.objects.filter(partner_id=self.partner_id).exclude(pk=self.pk)
            if self.valid_to:
                others = others.filter(valid_from__lte=self.valid_to)
            others = others.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=self.valid_from))
            if clash := others.first():
                raise ValidationError(
                    _("This validity overlaps agreement version %(version)s (%(range)s)."),
                    code="overlap",
                    params={"version": clash.version, "range": str(clash)},
                )


class AgreementTier(models.Model):
    """Graduated rates: from the (from_volume+1)-th counted message of a month on, these rates."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="tiers")
    from_volume = models.PositiveIntegerField(_("after this many counted messages"))
    rate_eco = _rate(_("rate ECO"))
    rate_full = _rate(_("rate FULL"))
    rate_mms = _rate(_("rate MMS"))
    rate_voice = _rate(_("rate voice"))

    class Meta:
        ordering = ["agreement", "from_volume"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "from_volume"], name="tier_unique_volume")
        ]

    def __str__(self) -> str:
        return f"> {self.from_volume}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    CLOSED = "closed", _("closed")


class Statement(models.Model):
    """One partner's billing month; once closed, frozen by the database (_FrozenWithStatement)."""

    partner = _partner(related_name="statements")
    period = models.DateField(_("period"), help_text=_("First day of the billing month."))
    status = models.CharField(
        _("status"), max_length=8, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    counted_messages = models.PositiveIntegerField(_("counted messages"), default=0)
    counted_parts = models.PositiveIntegerField(_("counted parts"), default=0)
    pending_messages = models.PositiveIntegerField(_("pending messages"), default=0)
    unsent_messages = models.PositiveIntegerField(_("unsent messages"), default=0)
    # Reported, dispatched, ic not yet confirmed by SerwerSMS: shown apart, not in the total.
    unconfirmed_messages = models.PositiveIntegerField(_("not yet confirmed"), default=0)
    unconfirmed_parts = models.PositiveIntegerField(_("parts not yet confirmed"), default=0)
    unconfirmed_commission = _exact(_("commission not yet confirmed"))
    # Exact sums (commission.AMOUNT_DECIMALS); what is printed is rounded by present_statement.
    commission = _exact(_("commission"))
    adjustments_total = _exact(_("adjustments"))
    forecast_commission = _exact(_("pending forecast"))
    opening_credit = _printed(_("credit brought forward"))
    opening_credit_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credit from statement"),
    )
    # As printed: the sums of the lines and adjustments each rounded half-up to the grosz.
    printed_commission = _printed(_("commission as printed"))
    printed_adjustments = _printed(_("adjustments as printed"))
    rounding = _printed(_("rounding"))
    carried_forward = _printed(_("credit carried forward"))
    total = _printed(_("total"))
    vat_rate = _vat_rate()
    vat = _printed(_("VAT"))
    gross = _printed(_("gross"))
    number = models.CharField(_("number"), max_length=40, blank=True)
    checksum = models.CharField(_("checksum"), max_length=64, blank=True)
    built_at = models.DateTimeField(_("built"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=150, blank=True)

    class Meta:
        ordering = ["-period", "partner"]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        constraints = [
            models.UniqueConstraint(fields=["partner", "period"], name="statement_partner_period")
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} {self.period:%Y-%m} ({self.status})"

    @property
    def is_closed(self) -> bool:
        return self.status == StatementStatus.CLOSED

    @property
    def printed_other(self):
        """Adjustments, credits and rounding as printed: commission + this = total."""
        return self.printed_adjustments + self.opening_credit + self.rounding + self.carried_forward

    @property
    def payout_or_none(self):
        return getattr(self, "payout", None)  # the missing related object is an AttributeError


class _FrozenWithStatement(models.Model):
    """Rows of a statement, frozen once it is closed by database triggers (docs/derived-data.md)."""

    class Meta:
        abstract = True


class StatementLine(_FrozenWithStatement):
    """Client account x message type x agreement version of one statement."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    account = models.ForeignKey(ClientAccount, on_delete=models.PROTECT, related_name="+")
    message_type = models.CharField(max_length=8, choices=MessageType.choices)
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted_messages = models.PositiveIntegerField(default=0)
    counted_parts = models.PositiveIntegerField(default=0)
    pending_messages = models.PositiveIntegerField(default=0)
    unsent_messages = models.PositiveIntegerField(default=0)
    # Of the counted ones, by their status at the build (a closed month's pages show these).
    delivered_messages = models.PositiveIntegerField(default=0)
    undelivered_messages = models.PositiveIntegerField(default=0)
    commission = _exact()
    # Reported, dispatched, ic not yet confirmed: apart from the counted figures above.
    unconfirmed_messages = models.PositiveIntegerField(default=0)
    unconfirmed_parts = models.PositiveIntegerField(default=0)
    unconfirmed_commission = _exact()

    class Meta:
        ordering = ["account__name", "message_type"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.message_type}: {self.commission}"


class StatementItem(_FrozenWithStatement):
    """The commission of one counted message on one statement: the statement explained."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="items")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="statement_items")
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    parts = models.PositiveSmallIntegerField(default=1)
    # The rate and cost the amount was computed from: a late change is re-priced at this rate.
    rate = _rate()
    cost = _cost()
    amount = models.DecimalField(max_digits=24, decimal_places=12)  # exact, never rounded

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "message"], name="statement_item_unique")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id}: {self.amount}"


class StatementDay(_FrozenWithStatement):
    """A statement's items of one Europe/Warsaw billing day: how many, their exact commission.
    Written by the build, so the dashboard's daily series need not join items to messages."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    counted_messages = models.PositiveIntegerField(default=0)
    commission = models.DecimalField(max_digits=24, decimal_places=12)  # exact, never rounded

    class Meta:
        ordering = ["statement", "day"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "day"], name="statement_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.counted_messages} counted, {self.commission}"


class Adjustment(_FrozenWithStatement):
    """A late change to a closed month, carried on the partner's next open statement."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="adjustments")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="adjustments")
    original_period = models.DateField()
    old_status = models.CharField(max_length=16)
    new_status = models.CharField(max_length=16)
    old_amount = models.DecimalField(max_digits=24, decimal_places=12)
    new_amount = models.DecimalField(max_digits=24, decimal_places=12)
    amount = models.DecimalField(max_digits=24, decimal_places=12)  # new - old, exact
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.message_id} ({self.original_period:%Y-%m}): {self.amount}"


class LateChange(models.Model):
    """The late-change queue, adjustments' work list: kept, never consumed (docs/commission.md)."""

    # Both covered by the index and the unique constraint below.
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_index=False)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="late_changes", db_index=False
    )
    period = models.DateField(help_text="The closed billing month the change touched.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["period", "message"]
        constraints = [
            # Inserted ON CONFLICT DO NOTHING: a message changing twice is one row.
            models.UniqueConstraint(fields=["message", "period"], name="late_change_unique")
        ]
        indexes = [
            # The draft build: a partner's entries for the closed months it carries.
            models.Index(fields=["partner", "period"], name="late_change_partner_period")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} changed after {self.period:%Y-%m} closed"


class PayoutStatus(models.TextChoices):
    INVOICED = "invoiced", _("invoiced")
    PAID = "paid", _("paid")


class Payout(models.Model):
    """Where the payment of a closed statement stands (set by operators, seen by partner staff);
    apart from Statement because a closed statement never changes, its payout does."""

    statement = models.OneToOneField(
        Statement, on_delete=models.PROTECT, related_name="payout", verbose_name=_("statement")
    )
    status = models.CharField(_("payout state"), max_length=16, choices=PayoutStatus.choices)
    invoice_number = models.CharField(_("partner's invoice number"), max_length=64, blank=True)
    invoiced_on = models.DateField(_("invoiced on"), null=True, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_on__isnull=False), name="payout_paid_has_date"
            ),
            models.CheckConstraint(
                condition=~Q(status="invoiced") | Q(invoiced_on__isnull=False),
                name="payout_invoiced_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement}: {self.get_status_display()}"

    def clean(self) -> None:
        super().clean()
        if self.statement_id and not self.statement.is_closed:
            raise ValidationError(_("Only a closed statement can be invoiced or paid."))
        if self.status == PayoutStatus.INVOICED and not self.invoiced_on:
            raise ValidationError({"invoiced_on": _("Give the date of the invoice.")})
        if self.status == PayoutStatus.PAID and not self.paid_on:
            raise ValidationError({"paid_on": _("Give the date of the payment.")})
        if self.invoiced_on and self.paid_on and self.paid_on < self.invoiced_on:
            raise ValidationError({"paid_on": _("The payment date is before the invoice date.")})


class AuditAction(models.TextChoices):
    BUILD = "build", _("statement built")
    ADJUST = "adjust", _("late changes carried as adjustments")
    CLOSE = "close", _("statement closed")
    DOWNLOAD = "download", _("statement downloaded")
    EXPORT = "export", _("statement exported")
    RECONCILE = "reconcile", _("reconciled with SerwerSMS")
    PAYOUT = "payout", _("payout state changed")
    NOTIFY = "notify", _("billing managers notified")
    AGREEMENT_CREATE = "agreement_create", _("agreement created")
    STAFF_INVITED = "staff_invited", _("colleague invited")
    STAFF_JOINED = "staff_joined", _("colleague joined")
    STAFF_REMOVED = "staff_removed", _("colleague removed")
    INVITATION_REVOKED = "invitation_revoked", _("invitation revoked")
    API_KEY_CREATED = "api_key_created", _("API key created")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
    IC_PROOF = "ic_proof", _("reported messages confirmed or refuted by SerwerSMS")
    RETENTION = "retention", _("personal data past retention erased")
    PARTNER_EXPORT = "partner_export", _("partner data exported")
    PARTNER_ERASE = "partner_erase", _("partner personal data erased")


class AuditEntry(models.Model):
    """Who built, closed, adjusted, exported or reconciled what, and when."""

    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="audit_entries", null=True, blank=True
    )
    statement = models.ForeignKey(
        Statement, on_delete=models.SET_NULL, related_name="audit_entries", null=True, blank=True
    )
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    actor = models.CharField(_("who"), max_length=150)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_action_display()} by {self.actor}"


class StaffRole(models.TextChoices):
    VIEWER = "viewer", _("viewer")
    BILLING_MANAGER = "billing_manager", _("billing manager")


class PartnerStaff(models.Model):
    """A portal user: belongs to exactly one partner, with a role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_staff"
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=20, choices=StaffRole.choices, default=StaffRole.VIEWER)

    class Meta:
        verbose_name = _("partner staff member")
        verbose_name_plural = _("partner staff")

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner.name} ({self.role})"

    @property
    def can_download_statements(self) -> bool:
        return self.role == StaffRole.BILLING_MANAGER


class ReconciliationOutcome(models.TextChoices):
    """How one message compares with SerwerSMS's partner billing (services/reconcile.py)."""

    CONFIRMED = "confirmed", _("confirmed")  # both sides count it with the same figures
    MISSING_AT_SERWERSMS = "missing_at_serwersms", _("missing at SerwerSMS")  # we count it only
    MISSING_HERE = "missing_here", _("missing here")  # SerwerSMS bills it, we do not this month
    STATUS_DIFFERENT = "status_different", _("status different")
    AMOUNT_DIFFERENT = "amount_different", _("amount different")  # parts, cost or type
    DETAILS_DIFFERENT = "details_different", _("phone or time different")  # e.g. a swapped pair


class Reconciliation(models.Model):
    """SerwerSMS's partner billing of one partner and month, matched with our messages; a new
    upload replaces it (the audit trail keeps each upload)."""

    partner = _partner(related_name="reconciliations")
    period = models.DateField(_("billing month"))
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_sha256 = models.CharField(_("file checksum (SHA-256)"), max_length=64)
    file_size = models.PositiveBigIntegerField(_("file size (bytes)"), default=0)
    uploaded_by = models.CharField(_("uploaded by"), max_length=150)
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    their_messages = models.PositiveIntegerField(_("SerwerSMS's messages"), default=0)
    their_parts = models.PositiveIntegerField(_("SerwerSMS's parts"), default=0)
    their_cost = models.DecimalField(
        _("SerwerSMS's cost"), max_digits=20, decimal_places=4, default=0
    )
    our_messages = models.PositiveIntegerField(_("our counted messages"), default=0)
    our_parts = models.PositiveIntegerField(_("our counted parts"), default=0)
    our_cost = models.DecimalField(_("our cost"), max_digits=20, decimal_places=4, default=0)
    # Per outcome: {"confirmed": {"messages": n, "their_parts": .., "our_parts": ..,
    # "their_cost": "0.0000", "our_cost": "0.0000"}, ...}; written once with the rows.
    totals = models.JSONField(_("totals per outcome"), default=dict, blank=True)

    class Meta:
        ordering = ["-period", "partner"]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period"], name="reconciliation_partner_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} {self.period:%Y-%m}"

    def outcome_total(self, outcome: str, figure: str = "messages"):
        return self.totals.get(outcome, {}).get(figure, 0)


class ReconciliationRow(models.Model):
    """One message of a reconciliation: SerwerSMS's figures, ours, and how they differ."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    outcome = models.CharField(_("outcome"), max_length=24, choices=ReconciliationOutcome.choices)
    message = models.ForeignKey(
        Message,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_rows",
        verbose_name=_("our message"),
    )
    account_name = models.CharField(_("client account"), max_length=100)
    serwersms_id = models.CharField(_("SerwerSMS id"), max_length=64, blank=True)
    line = models.PositiveIntegerField(_("line in the file"), null=True, blank=True)
    their_phone = models.CharField(_("SerwerSMS's phone"), max_length=32, blank=True)
    their_status = models.CharField(_("SerwerSMS's status"), max_length=16, blank=True)
    their_type = models.CharField(_("SerwerSMS's type"), max_length=8, blank=True)
    their_parts = models.PositiveSmallIntegerField(_("SerwerSMS's parts"), null=True, blank=True)
    their_cost = _cost(_("SerwerSMS's cost"))
    their_dispatched_at = models.DateTimeField(_("SerwerSMS's dispatch"), null=True, blank=True)
    our_phone = models.CharField(_("our phone"), max_length=20, blank=True)
    our_status = models.CharField(_("our status"), max_length=16, blank=True)
    our_type = models.CharField(_("our type"), max_length=8, blank=True)
    our_parts = models.PositiveSmallIntegerField(_("our parts"), null=True, blank=True)
    our_cost = _cost(_("our cost"))
    our_dispatched_at = models.DateTimeField(_("our dispatch"), null=True, blank=True)
    # [{"field": "parts", "ours": "2", "theirs": "3"}, ...]: every figure that disagrees.
    differences = models.JSONField(_("differences"), default=list, blank=True)

    class Meta:
        ordering = ["reconciliation", "id"]
        verbose_name = _("reconciliation row")
        verbose_name_plural = _("reconciliation rows")
        indexes = [
            # The rows page and download: one reconciliation, optionally one outcome, by id.
            models.Index(
                fields=["reconciliation", "outcome", "id"], name="reconciliation_row_outcome"
            ),
            models.Index(fields=["reconciliation", "id"], name="reconciliation_row_order"),
        ]

    def __str__(self) -> str:
        return f"{self.account_name} {self.serwersms_id or '-'}: {self.outcome}"
