"""Creating partners and client accounts (operator commands and admin share these rules)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.models import ClientAccount, Partner


def parse_ic(raw: object) -> int:
    """An ic given as text (command line, form) as a positive int, or ValidationError."""
    text = str(raw).strip() if raw is not None else ""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValidationError(f"The ic must be a positive integer, got {raw!r}.", code="invalid_ic")
    return int(text)


@transaction.atomic
def create_partner(*, name: str, ic: object) -> Partner:
    ic = parse_ic(ic)
    name = (name or "").strip()
    if not name:
        raise ValidationError("The partner name is empty.")
    if Partner.objects.filter(ic=ic).exists():
        raise ValidationError(f"A partner with ic {ic} already exists.")
    partner = Partner(name=name, ic=ic)
    partner.full_clean()
    partner.save()
    return partner


@transaction.atomic
def create_account(
    *,
    partner_ic: object,
    name: str,
    api_token: str = "",
    username: str = "",
    password: str = "",
    email2sms_sender: str = "",
    email2sms_key: str = "",
) -> ClientAccount:
    ic = parse_ic(partner_ic)
    partner = Partner.objects.filter(ic=ic).first()
    if partner is None:
        raise ValidationError(f"No partner has ic {ic}.")
    if api_token and (username or password):
        raise ValidationError("Give an API token, or a username and a password, not both.")
    if not api_token and not (username and password):
        raise ValidationError("Give an API token, or a username and a password.")
    stripped = (name or "").strip()
    if ClientAccount.objects.filter(name=stripped).exists():
        raise ValidationError(f"A client account named {name!r} already exists.")
    account = ClientAccount(
        partner=partner,
        name=stripped,
        api_token=api_token,
        username=username,
        password=password,
        email2sms_sender=email2sms_sender,
        email2sms_key=email2sms_key,
    )
    account.full_clean()
    account.save()
    return account


def error_text(exc: ValidationError) -> str:
    """A ValidationError as one readable line (commands print it)."""
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
        )
    return " ".join(exc.messages)
