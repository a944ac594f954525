"""Model invariants: the ic, credentials, uniqueness."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import ClientAccount, Partner
from tests.factories import ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bad_ic", [0, -5, "12", 1.5, True])
def test_partner_ic_must_be_a_positive_integer(bad_ic):
    with pytest.raises(ValidationError):
        Partner(name="X", ic=bad_ic).save()
    assert not Partner.objects.exists()


def test_partner_ic_unique():
    PartnerFactory(ic=77)
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="Dup", ic=77)


def test_partner_ic_cannot_change_once_messages_reference_it():
    message = MessageFactory()
    partner = message.partner
    partner.ic = partner.ic + 1
    with pytest.raises(ValidationError):
        partner.save()


def test_account_needs_credentials_at_database_level():
    partner = PartnerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientAccount.objects.create(partner=partner, name="nocreds")


def test_serwersms_id_unique_per_account_but_not_across_accounts():
    first = MessageFactory(serwersms_id="abc")
    MessageFactory(serwersms_id="abc")  # another account: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(account=first.account, serwersms_id="abc")


def test_account_with_username_and_password_is_fine():
    account = ClientAccountFactory(api_token="", username="demo", password="secret")
    account.full_clean()
