"""Factories for the domain objects (factory-boy): tests build their data here."""

import hashlib
import uuid

import factory
from django.db import transaction
from django.utils import timezone

from billing import models
from billing.services import derived
from billing.statuses import Status


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    ic = factory.Sequence(lambda n: 1000 + n)


class ClientAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ClientAccount

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"account-{n}")
    api_token = factory.Sequence(lambda n: f"token-{n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Message

    account = factory.SubFactory(ClientAccountFactory)
    partner = factory.SelfAttribute("account.partner")
    ic = factory.SelfAttribute("partner.ic")
    channel = models.Channel.API_V2
    serwersms_id = factory.LazyFunction(lambda: uuid.uuid4().hex[:10])
    unique_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    phone = "+48500600700"
    message_type = models.MessageType.ECO
    text_length = 20
    text_digest = hashlib.sha256(b"hello").hexdigest()
    parts = 1
    status = Status.QUEUED
    created_at = factory.LazyFunction(timezone.now)
    queued_at = factory.SelfAttribute("created_at")
    dispatched_at = factory.SelfAttribute("created_at")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Saved, with its derived data (rollups, late changes) as every product writer keeps
        it; the drafts are the test's to build."""
        with transaction.atomic():
            message = super()._create(model_class, *args, **kwargs)
            derived.messages_created([message], drafts=False)
        return message


def change_message(message: models.Message, **values) -> models.Message:
    """Set stored fields of a message directly: a test's shortcut past the status path (e.g. a
    state no report leads to). Its derived data (rollups, late changes) follows, as a product
    writer's would; the drafts are the test's to build."""
    with transaction.atomic():
        before = derived.snapshot([message])
        for name, value in values.items():
            setattr(message, name, value)
        message.save()
        derived.messages_changed(before, [message], drafts=False)
    return message


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Agreement

    partner = factory.SubFactory(PartnerFactory)
    version = 1
    valid_from = factory.LazyFunction(
        lambda: timezone.localdate().replace(year=2020, month=1, day=1)
    )
    basis = models.CommissionBasis.PER_MESSAGE
    rate_eco = "0.0100"
    rate_full = "0.0200"
    rate_mms = "0.0500"
    rate_voice = "0.0300"


class AgreementTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AgreementTier

    agreement = factory.SubFactory(AgreementFactory)
    from_volume = 10_000
    rate_eco = "0.0050"
    rate_full = "0.0100"
    rate_mms = "0.0250"
    rate_voice = "0.0150"


# --- portal: users, staff and statements -------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("portal-pass-123")


class PartnerStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PartnerStaff

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = models.StaffRole.VIEWER


class StatusEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StatusEvent

    message = factory.SubFactory(MessageFactory)
    source = models.EventSource.POLL
    old_status = Status.QUEUED
    new_status = Status.DELIVERED


class StatementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Statement

    partner = factory.SubFactory(PartnerFactory)
    period = factory.LazyFunction(lambda: timezone.localdate().replace(day=1))


class StatementLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StatementLine

    statement = factory.SubFactory(StatementFactory)
    account = factory.SubFactory(
        ClientAccountFactory, partner=factory.SelfAttribute("..statement.partner")
    )
    message_type = models.MessageType.ECO


class StatementItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StatementItem

    statement = factory.SubFactory(StatementFactory)
    message = factory.SubFactory(MessageFactory, status=Status.DELIVERED)
    status = factory.SelfAttribute("message.status")
    parts = factory.SelfAttribute("message.parts")
    amount = "0.0100"


class AuditEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AuditEntry

    partner = factory.SubFactory(PartnerFactory)
    action = models.AuditAction.BUILD
    actor = "operator"
