"""Demo data: two partners with agreements, client accounts, staff logins and 3 months of traffic.

History is written directly, shaped as the simulator would have produced it (final statuses with
their events); the most recent messages are sent through the running simulator on every channel.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from billing.commission import billing_month, can_close, previous_month
from billing.models import (
    Agreement,
    AgreementTier,
    Channel,
    ClientAccount,
    CommissionBasis,
    EventSource,
    MatchMethod,
    Message,
    Partner,
    PartnerStaff,
    StaffRole,
)
from billing.services import derived
from billing.services.outbox import send_sms
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statements
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import WITH_REASON, Status

DEMO_USERS = [
    # username, password, partner, role
    ("acme.billing", "acme-demo-2026", "Acme Software", StaffRole.BILLING_MANAGER),
    ("acme.viewer", "acme-view-2026", "Acme Software", StaffRole.VIEWER),
    ("beta.billing", "beta-demo-2026", "Beta Systems", StaffRole.BILLING_MANAGER),
    ("beta.viewer", "beta-view-2026", "Beta Systems", StaffRole.VIEWER),
]
DEMO_OPERATOR = ("operator", "operator-demo-2026")

REASONS = ["message_expired", "unsupported_number", "wrong_number", "operator_error", "other_error"]
UNIT_COST = {
    "eco": Decimal("0.0550"),
    "full": Decimal("0.1600"),
    "mms": Decimal("0.3000"),
    "voice": Decimal("0.1200"),
}


@dataclass(frozen=True)
class DemoAccount:
    name: str
    token: str = ""
    username: str = ""
    password: str = ""
    email: str = ""


DEMO_PARTNERS = {
    "Acme Software": (
        1001,
        [
            DemoAccount("acme-dental", token="acme-dental-token"),
            DemoAccount("acme-autoservice", username="acme-auto", password="auto-secret-1"),
            DemoAccount("acme-clinic", token="acme-clinic-token", email="clinic@acme.example"),
        ],
    ),
    "Beta Systems": (
        2002,
        [
            DemoAccount("beta-shop", token="beta-shop-token", email="shop@beta.example"),
            DemoAccount("beta-logistics", username="beta-log", password="log-secret-1"),
        ],
    ),
}


DEMO_LEGAL = {
    # ic: legal name, address, NIP, VAT rate (None: no VAT on the statements)
    1001: ("Acme Software sp. z o.o.", "ul. Przykładowa 12\n00-950 Warszawa", "5260250274", "23"),
    2002: ("Beta Systems Jan Kowalski", "ul. Długa 5/3\n80-827 Gdańsk", "5842068722", None),
}


def month_start(instant: datetime, months_back: int = 0) -> date:
    """The billing month `months_back` months before the one of `instant` (commission rules)."""
    period = billing_month(instant)
    for _ in range(months_back):
        period = previous_month(period)
    return period


@transaction.atomic
def create_partners_and_logins(now: datetime) -> list[ClientAccount]:
    """Partners, agreements, accounts and logins (idempotent)."""
    accounts: list[ClientAccount] = []
    first = month_start(now, 3)
    for name, (ic, demo_accounts) in DEMO_PARTNERS.items():
        legal_name, address, tax_id, vat_rate = DEMO_LEGAL[ic]
        partner, _ = Partner.objects.get_or_create(
            ic=ic,
            defaults={
                "name": name,
                "legal_name": legal_name,
                "address": address,
                "tax_id": tax_id,
                "vat_rate": Decimal(vat_rate) if vat_rate else None,
            },
        )
        if not partner.agreements.exists():
            if ic == 1001:
                agreement = Agreement.objects.create(
                    partner=partner,
                    version=1,
                    valid_from=first - timedelta(days=365),
                    basis=CommissionBasis.PER_MESSAGE,
                    rate_eco=Decimal("0.0100"),
                    rate_full=Decimal("0.0250"),
                    rate_mms=Decimal("0.0800"),
                    rate_voice=Decimal("0.0400"),
                )
                AgreementTier.objects.create(
                    agreement=agreement,
                    from_volume=1000,
                    rate_eco=Decimal("0.0080"),
                    rate_full=Decimal("0.0200"),
                    rate_mms=Decimal("0.0700"),
                    rate_voice=Decimal("0.0350"),
                )
            else:
                switch = month_start(now, 1)
                Agreement.objects.create(
                    partner=partner,
                    version=1,
                    valid_from=first - timedelta(days=365),
                    valid_to=switch - timedelta(days=1),
                    basis=CommissionBasis.PER_PART,
                    rate_eco=Decimal("0.0060"),
                    rate_full=Decimal("0.0150"),
                    rate_mms=Decimal("0.0500"),
                    rate_voice=Decimal("0.0300"),
                )
                Agreement.objects.create(
                    partner=partner,
                    version=2,
                    valid_from=switch,
                    basis=CommissionBasis.PERCENT_OF_COST,
                    rate_eco=Decimal("8"),
                    rate_full=Decimal("9"),
                    rate_mms=Decimal("10"),
                    rate_voice=Decimal("10"),
                )
        for demo in demo_accounts:
            account, _ = ClientAccount.objects.get_or_create(
                name=demo.name,
                defaults={
                    "partner": partner,
                    "api_token": demo.token,
                    "username": demo.username,
                    "password": demo.password,
                    "email2sms_sender": demo.email,
                    "email2sms_key": "Demo" + demo.name.title().replace("-", "")[:20]
                    if demo.email
                    else "",
                },
            )
            accounts.append(account)
    User = get_user_model()
    for username, password, partner_name, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.example"}
        )
        if created:
            user.set_password(password)
            user.save()
        PartnerStaff.objects.get_or_create(
            user=user, defaults={"partner": Partner.objects.get(name=partner_name), "role": role}
        )
    username, password = DEMO_OPERATOR
    if not User.objects.filter(username=username).exists():
        User.objects.create_superuser(username, f"{username}@localhost", password)
    return accounts


def write_history(
    accounts: list[ClientAccount], now: datetime, days: int = 92, per_day: int = 14, seed: int = 7
) -> int:
    """Final-status traffic of the last `days` days (up to 2 days ago), with status events."""
    rng = random.Random(seed)
    messages: list[Message] = []
    fates: list[list[tuple[str, str, datetime, str]]] = []
    for account in accounts:
        sender = account.partner.name.split()[0].upper()[:11]
        for day_back in range(days, 1, -1):
            for _ in range(rng.randint(per_day // 2, per_day * 2)):
                created = now - timedelta(days=day_back, seconds=rng.randint(0, 86399))
                kind = rng.random()
                mtype = (
                    "eco"
                    if kind < 0.6
                    else "full"
                    if kind < 0.95
                    else "mms"
                    if kind < 0.98
                    else "voice"
                )
                channel = rng.choices(
                    [Channel.API_V2, Channel.XML_API, Channel.EMAIL2SMS], [70, 20, 10]
                )[0]
                if channel == Channel.XML_API and not account.username:
                    channel = Channel.API_V2
                if channel == Channel.EMAIL2SMS and not account.email2sms_key:
                    channel = Channel.API_V2
                parts = rng.choices([1, 2, 3], [80, 15, 5])[0] if mtype in ("eco", "full") else 1
                text_length = rng.randint(20, 150) if parts == 1 else rng.randint(161, 153 * parts)
                queued = created + timedelta(seconds=1)
                roll = rng.random()
                sent_at = delivered_at = None
                reason = ""
                events = [("submitting", "queued", queued, EventSource.SEND)]
                if roll < 0.05:
                    status = Status.UNSENT
                    reason = rng.choice(REASONS)
                    events.append(
                        ("queued", "unsent", queued + timedelta(seconds=30), EventSource.POLL)
                    )
                else:
                    sent_at = queued + timedelta(seconds=rng.randint(3, 90))
                    events.append(("queued", "sent", sent_at, EventSource.POLL))
                    if roll < 0.10:
                        status = Status.UNDELIVERED
                        reason = rng.choice(["message_expired", "wrong_number"])
                        events.append(
                            (
                                "sent",
                                "undelivered",
                                sent_at + timedelta(minutes=rng.randint(1, 240)),
                                EventSource.CALLBACK,
                            )
                        )
                    elif roll < 0.12 and day_back > 7:
                        status = Status.SENT  # no delivery report ever came
                    else:
                        status = Status.DELIVERED
                        delivered_at = sent_at + timedelta(seconds=rng.randint(2, 600))
                        events.append(
                            (
                                "sent",
                                "delivered",
                                delivered_at,
                                rng.choice([EventSource.POLL, EventSource.CALLBACK]),
                            )
                        )
                cost = (UNIT_COST[mtype] * parts) if status != Status.UNSENT else Decimal("0")
                serwersms_id = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
                messages.append(
                    Message(
                        partner=account.partner,
                        account=account,
                        ic=account.partner.ic,
                        channel=channel,
                        unique_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                        phone=f"+4850{rng.randint(0, 9999999):07d}",
                        sender="" if mtype == "eco" else sender,
                        message_type=mtype,
                        text_length=text_length,
                        text_digest=hashlib.sha256(str(rng.random()).encode()).hexdigest(),
                        status=Status.SUBMITTING,
                        created_at=created,
                    )
                )
                reports = []
                for _old, new, _at, source in events:
                    item = ReportItem(
                        serwersms_id=serwersms_id,
                        phone="",
                        status=new,
                        queued_at=queued,
                        sent_at=sent_at if new != "queued" else None,
                        delivered_at=delivered_at if new == "delivered" else None,
                        parts=parts,
                        cost=cost if new != "queued" else None,
                        reason=reason if new in WITH_REASON else "",
                    )
                    reports.append((item, source))
                fates.append(reports)
    with transaction.atomic():
        created_messages = Message.objects.bulk_create(messages, batch_size=2000)
        derived.messages_created(created_messages)
        # The history goes through the one status path, step by step, like live reports do.
        match = {Channel.EMAIL2SMS: MatchMethod.PHONE_TIME}
        for step in range(max((len(f) for f in fates), default=0)):
            by_source: dict[str, list[StatusChange]] = {}
            for message, reports in zip(created_messages, fates, strict=True):
                if step < len(reports):
                    item, source = reports[step]
                    by_source.setdefault(source, []).append(
                        StatusChange(
                            message.pk,
                            item,
                            identify=step == 0,
                            match_method=match.get(message.channel, MatchMethod.SEND),
                        )
                    )
            for source, changes in by_source.items():
                apply_status_changes(changes, source, now=now)
    return len(created_messages)


def register_with_simulator(accounts: list[ClientAccount], api_url: str, public_url: str) -> None:
    """Tell the running simulator about the demo accounts, with our callback URL for each."""
    for account in accounts:
        response = requests.post(
            urljoin(api_url, "_sim/accounts"),
            json={
                "name": account.name,
                "token": account.api_token or None,
                "username": account.username or None,
                "password": account.password or None,
                "email": account.email2sms_sender or None,
                "email2sms_key": account.email2sms_key or None,
                "limit": None,
                "callback_url": urljoin(
                    public_url, f"/callbacks/serwersms/{account.callback_secret}/"
                ),
            },
            timeout=10,
        )
        response.raise_for_status()


def seed(now: datetime | None = None, stdout=None, simulator_url: str | None = None) -> None:
    """Create the demo data unless it is there already."""
    now = now or timezone.now()
    write = stdout.write if stdout else print
    accounts = create_partners_and_logins(now)
    if simulator_url:
        register_with_simulator(accounts, simulator_url, settings.PUBLIC_BASE_URL)
    if Message.objects.exists():
        write("Demo data already present: partners, accounts and logins checked.")
        return
    count = write_history(accounts, now)
    write(f"Demo history: {count} messages over the last 3 months.")
    if simulator_url:
        sent = send_recent(accounts)
        write(f"Sent {sent} messages through the simulator on every channel.")
    build_and_close(now)
    write("Statements built; months past their review window closed.")


RECENT_TEXTS = [
    "Przypominamy o wizycie jutro o 10:00. Odpowiedz TAK, aby potwierdzić.",
    "Twoje zamówienie zostało wysłane. Dziękujemy za zakupy!",
    "Samochód gotowy do odbioru. Zapraszamy w godz. 8-18.",
    "Kod weryfikacyjny: 482913",
]


def send_recent(accounts: list[ClientAccount]) -> int:
    """Send a few messages per account through the simulator, on every channel it can use."""
    rng = random.Random(11)
    total = 0
    for account in accounts:
        channels = [Channel.API_V2]
        if account.username:
            channels.append(Channel.XML_API)
        if account.email2sms_sender and account.email2sms_key:
            channels.append(Channel.EMAIL2SMS)
        for channel in channels:
            for n in range(3):
                phones = [f"+4851{rng.randint(0, 9999999):07d}" for _ in range(rng.randint(1, 3))]
                sender = ""
                if channel != Channel.EMAIL2SMS and n % 2:
                    sender = account.partner.name.split()[0].upper()[:11]
                messages = send_sms(
                    account,
                    phones,
                    rng.choice(RECENT_TEXTS),
                    sender=sender or None,
                    channel=channel,
                )
                total += len(messages)
    return total


def build_and_close(now: datetime) -> None:
    """Statements of the last three months and this one; close those past the review window."""
    for months_back in (3, 2, 1, 0):
        period = month_start(now, months_back)
        build_statements(period, actor="seed_demo")
        if can_close(period, now, settings.STATEMENT_REVIEW_WINDOW_DAYS):
            for partner in Partner.objects.all():
                close_statement(partner, period, actor="seed_demo", now=now)
