"""The portal's API keys page: partner staff see their keys; billing managers create and revoke."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing import selectors
from partner_api.keys import ApiKeyError, create_api_key, keys_for_partner, revoke_api_key
from partner_portal.access import billing_manager_required, partner_required


class NewKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    account = forms.ModelChoiceField(label=gettext_lazy("Client account"), queryset=None)

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = selectors.accounts_for(partner).filter(is_active=True)


def _page(request: HttpRequest, form: NewKeyForm, new_key: str = "", status: int = 200):
    return render(
        request,
        "portal/api_keys.html",
        {
            "keys": keys_for_partner(request.partner),
            "form": form,
            "new_key": new_key,
            "can_manage": request.staff.can_download_statements,
            "nav": "api_keys",
        },
        status=status,
    )


@partner_required
def api_keys(request: HttpRequest) -> HttpResponse:
    return _page(request, NewKeyForm(partner=request.partner))


@billing_manager_required
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = NewKeyForm(request.POST, partner=request.partner)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        _key, raw = create_api_key(
            account=form.cleaned_data["account"],
            name=form.cleaned_data["name"],
            actor=request.user.get_username(),
        )
    except ApiKeyError as exc:
        form.add_error("name", str(exc))
        return _page(request, form, status=400)
    # Shown in this answer only: never stored, never put in the session.
    return _page(request, NewKeyForm(partner=request.partner), new_key=raw)


@billing_manager_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = keys_for_partner(request.partner).filter(pk=pk).first()
    if key is None:
        raise Http404(_("No such API key."))
    revoke_api_key(key=key, actor=request.user.get_username())
    return redirect("api_keys")
