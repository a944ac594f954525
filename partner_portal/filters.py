"""The messages table's filters. Choices are limited to the request's partner."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from billing.models import Channel, Message, MessageType, Partner
from billing.selectors import accounts_for, messages_for
from billing.statuses import COUNTED, PENDING, IcProof, Status
from partner_portal.forms import MessageFilterForm


def _labels(statuses) -> str:
    return ", ".join(str(s.label) for s in Status if s in statuses)


# Group labels name their statuses from statuses.py, so they cannot drift from the rule.
STATUS_CHOICES = [
    ("counted", format_lazy("{} ({})", _("counted"), lazy(_labels, str)(COUNTED))),
    ("pending", format_lazy("{} ({})", _("pending"), lazy(_labels, str)(PENDING))),
    ("unconfirmed", _("reported, not yet confirmed")),
    *Status.choices,
]


PHONE_MIN_DIGITS = 4  # a shorter substring matches too many numbers to find quickly


def validate_phone_digits(value: str) -> None:
    """A phone search needs PHONE_MIN_DIGITS digits: the trigram index (docs/scale.md) narrows
    by runs of three digits, and "600" alone matches one number in a hundred."""
    if value and sum(ch.isdigit() for ch in value) < PHONE_MIN_DIGITS:
        raise forms.ValidationError(
            _("Enter at least %(n)s digits of the phone number."),
            code="phone_too_short",
            params={"n": PHONE_MIN_DIGITS},
        )


class _PlainQueryChoices(django_filters.fields.ModelChoiceIterator):
    """The choices from one plain query. Django's ModelChoiceIterator reads its queryset with
    .iterator(): on PostgreSQL a server-side cursor, three round trips (DECLARE, FETCH, CLOSE)
    for a partner's handful of accounts, on every messages page."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        for obj in self.queryset:
            yield self.choice(obj)


class _AccountField(django_filters.fields.ModelChoiceField):
    iterator = _PlainQueryChoices


class AccountFilter(django_filters.ModelChoiceFilter):
    field_class = _AccountField


class MessageFilter(django_filters.FilterSet):
    """Parses and validates the query string; the query itself is billing.selectors.messages_for
    (`qs`), so the filters filter nothing themselves."""

    date_from = django_filters.DateFilter(
        label=_("From"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        label=_("To"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    period = django_filters.DateFilter(
        label=_("Billing month"),
        input_formats=["%Y-%m"],
        widget=forms.DateInput(format="%Y-%m", attrs={"type": "month"}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, empty_label=_("any")
    )
    account = AccountFilter(label=_("Client account"), queryset=None, empty_label=_("any"))
    message_type = django_filters.ChoiceFilter(
        label=_("Type"), choices=MessageType.choices, empty_label=_("any")
    )
    channel = django_filters.ChoiceFilter(
        label=_("Channel"), choices=Channel.choices, empty_label=_("any")
    )
    phone = django_filters.CharFilter(
        label=_("Phone"), max_length=20, validators=[validate_phone_digits]
    )
    ic_proof = django_filters.ChoiceFilter(
        label=_("ic proof"), choices=IcProof.choices, empty_label=_("any")
    )
    claim_differs = django_filters.BooleanFilter(
        label=_("Claim differs from SerwerSMS"), widget=forms.CheckboxInput
    )

    class Meta:
        model = Message
        fields: list[str] = []
        form = MessageFilterForm

    def __init__(self, data=None, *, partner: Partner, **kwargs):
        # A query string without a filter's key (e.g. only ?sort=) leaves the filters unbound.
        if data is not None and not any(key in data for key in self.base_filters):
            data = None
        self.partner = partner
        super().__init__(data, queryset=Message.objects.none(), **kwargs)
        self.filters["account"].queryset = accounts_for(partner)

    @property
    def qs(self):
        # Invalid input shows its errors and an empty table, never unfiltered data.
        if not self.is_bound:
            return messages_for(self.partner, {})
        if not self.form.is_valid():
            return Message.objects.none()
        return messages_for(self.partner, self.form.cleaned_data)
