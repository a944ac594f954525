"""Creating agreement versions: no overlapping validity for one partner, numbered versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from billing.commission import BASES, MESSAGE_TYPES, PERCENT_OF_COST, RATE_DECIMALS
from billing.models import Agreement, AgreementTier, AuditAction, AuditEntry, Partner


def _rate(value, label: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{label}: {value!r} is not a number.") from None
    if not rate.is_finite() or rate < 0:
        raise ValidationError(f"{label}: a rate cannot be negative, got {value!r}.")
    if rate.as_tuple().exponent < -RATE_DECIMALS:
        raise ValidationError(
            f"{label}: a rate has at most {RATE_DECIMALS} decimals, got {value!r}."
        )
    return rate


def _rates(rates: Mapping[str, object], basis: str, label: str) -> dict[str, Decimal]:
    unknown = set(rates) - set(MESSAGE_TYPES)
    if unknown:
        raise ValidationError(f"{label}: unknown message types {sorted(unknown)}.")
    result = {f"rate_{t}": _rate(rates.get(t, 0), f"{label} {t}") for t in MESSAGE_TYPES}
    if basis == PERCENT_OF_COST and any(v > 100 for v in result.values()):
        raise ValidationError(f"{label}: a percentage of the cost cannot exceed 100.")
    return result


def create_agreement(
    partner: Partner,
    *,
    valid_from: date,
    valid_to: date | None,
    basis: str,
    rates: Mapping[str, object],
    tiers: Iterable[tuple[int, Mapping[str, object]]] = (),
    notes: str = "",
    actor: str,
) -> Agreement:
    """A new agreement version (in PLN); a validity that overlaps another version is refused.

    The partner row is locked so that two concurrent creations cannot both pass the overlap check.
    """
    if basis not in BASES:
        raise ValidationError(f"Unknown commission basis {basis!r}; use one of {', '.join(BASES)}.")
    base_rates = _rates(rates, basis, "rate")
    tier_rates: dict[int, dict[str, Decimal]] = {}
    for from_volume, rates_from in tiers:
        if isinstance(from_volume, bool) or not isinstance(from_volume, int) or from_volume < 0:
            raise ValidationError(
                f"A tier starts after a whole number of messages: {from_volume!r}."
            )
        if from_volume in tier_rates:
            raise ValidationError(f"Two tiers start after {from_volume} messages.")
        tier_rates[from_volume] = _rates(rates_from, basis, f"tier > {from_volume}")

    with transaction.atomic():
        Partner.objects.select_for_update().get(pk=partner.pk)
        last = Agreement.objects.filter(partner=partner).aggregate(v=Max("version"))["v"] or 0
        agreement = Agreement(
            partner=partner,
            version=last + 1,
            valid_from=valid_from,
            valid_to=valid_to,
            basis=basis,
            notes=notes,
            **base_rates,
        )
        agreement.full_clean()
        agreement.save()
        AgreementTier.objects.bulk_create(
            AgreementTier(agreement=agreement, from_volume=v, **r) for v, r in tier_rates.items()
        )
        AuditEntry.objects.create(
            partner=partner,
            action=AuditAction.AGREEMENT_CREATE,
            actor=actor,
            detail={
                "version": agreement.version,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
                "basis": basis,
                "rates": {k: str(v) for k, v in base_rates.items()},
                "tiers": [[v, {k: str(x) for k, x in r.items()}] for v, r in tier_rates.items()],
            },
        )
    return agreement
