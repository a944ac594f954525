"""Forms of the portal (the login and password forms are Django's own)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

# The dates a filter may name: the billing months that exist (commission.parse_period).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


class MessageFilterForm(forms.Form):
    """The messages filter's form: a date range must not run backwards."""

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            value = cleaned.get(name)
            if value and not FIRST_DAY <= value <= LAST_DAY:
                self.add_error(
                    name,
                    _("Give a date from %(first)s to %(last)s.")
                    % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
                )  # add_error also drops the value from cleaned_data
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned
