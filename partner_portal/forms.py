"""Forms of the portal (the login and password forms are Django's own)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class MessageFilterForm(forms.Form):
    """The messages filter's form: a date range must not run backwards."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned
