"""Request and response shapes of /api/v1/ (pydantic via django-ninja; they make the schema)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from billing.serwersms import unique_ids
from billing.statuses import REPORTABLE, Status, values

# Plain pydantic models: the API builds its answers from dicts, so ninja.Schema's ORM attribute
# resolution is not needed, and it costs a third of a 10,000-item request.
Schema = BaseModel

MAX_RECIPIENTS = 1000
MAX_REPORTED = 10_000

UniqueId = Annotated[
    str,
    Field(
        pattern=unique_ids.UNIQUE_ID.pattern,  # the protocol's rule (3-50 a-z A-Z 0-9)
        description="Your id for this recipient: 3-50 letters and digits (SerwerSMS's alphabet).",
    ),
]


# PostgreSQL takes UTC offsets up to 15:59:59 either way; Python's datetime allows up to 23:59,
# which the database would refuse in the query (a DataError): such a time is refused at parsing.
MAX_UTC_OFFSET = dt.timedelta(hours=16)


def _storable_offset(value: dt.datetime) -> dt.datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
        raise PydanticCustomError(
            "utc_offset_out_of_range", "The UTC offset must be from -15:59 to +15:59."
        )
    return value


# A time given to the API: ISO 8601, with an offset the database can store.
ApiDateTime = Annotated[dt.datetime, AfterValidator(_storable_offset)]
StatusWord = Literal[tuple(Status.values)]
ReportableStatusWord = Literal[values(REPORTABLE)]
MessageTypeWord = Literal["eco", "full", "mms", "voice"]


class ErrorItem(Schema):
    field: str = Field(description="Where the problem is, e.g. `recipients[3].phone`.")
    code: str
    message: str


class Error(Schema):
    error: str = Field(description="A stable code: invalid_request, unauthorized, conflict, …")
    message: str
    errors: list[ErrorItem] = Field(default_factory=list)


# --- sending -----------------------------------------------------------------------------------


class RecipientIn(Schema):
    phone: str = Field(min_length=1, max_length=32, description="E.164, or a Polish number.")
    unique_id: UniqueId | None = None


class SendIn(Schema):
    recipients: list[RecipientIn] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    text: str = Field(min_length=1, max_length=5000, pattern=r"^[^\x00]*$")
    sender: str | None = Field(
        default=None, max_length=16, description="Sender name (FULL); none sends ECO."
    )
    channel: Literal["api_v2", "xml_api", "email2sms"] = "api_v2"


class AccountRef(Schema):
    id: int
    name: str


class ClaimOut(Schema):
    """What partner software declared for a reported message: kept, shown, never priced."""

    status: str
    type: str
    parts: int | None
    cost: Decimal | None
    sent_at: dt.datetime | None


class MessageOut(Schema):
    id: int
    account: AccountRef
    channel: str
    ic: int | None
    unique_id: str
    serwersms_id: str | None
    phone: str
    sender: str
    type: MessageTypeWord
    parts: int
    cost: Decimal | None
    status: StatusWord
    billing: Literal["counted", "pending", "unconfirmed", "never"] = Field(
        description="counted: earns commission; pending: not dispatched yet (or, reported, not"
        " yet reported by SerwerSMS); unconfirmed: reported and dispatched, its ic not yet"
        " confirmed by SerwerSMS's partner billing (shown apart, not billed); never: unsent or"
        " its ic refuted."
    )
    ic_proof: Literal["sent", "reported", "confirmed", "refuted"] = Field(
        description="What proves the ic: sent by the product; reported (the partner's word);"
        " confirmed / refuted by SerwerSMS's partner billing."
    )
    figures_from_serwersms: bool = Field(
        description="SerwerSMS's own record (send answer, reports, look-up) gave the figures"
        " (type, parts, cost, times) shown here."
    )
    claim: ClaimOut | None = Field(description="Reported messages: what your software declared.")
    claim_difference: str = Field(
        description="How the claim differs from SerwerSMS's figures, e.g. \"claimed FULL x100,"
        ' SerwerSMS: ECO x1"; empty when it agrees or SerwerSMS has not reported it yet.'
    )
    reason: str
    error: str
    created_at: dt.datetime
    queued_at: dt.datetime | None
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    last_checked_at: dt.datetime | None


class EventOut(Schema):
    source: str
    old_status: str
    new_status: str
    applied: bool
    note: str
    status_at: dt.datetime | None
    created_at: dt.datetime


class MessageDetail(MessageOut):
    events: list[EventOut]


class SendOut(Schema):
    messages: list[MessageOut]


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done.")


# --- reported messages -------------------------------------------------------------------------


class ReportedIn(Schema):
    serwersms_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="SerwerSMS's id."
    )
    phone: str = Field(min_length=1, max_length=32)
    ic: int = Field(ge=1, le=2_147_483_647, description="The ic your software sent it with.")
    sent_at: ApiDateTime = Field(
        description="When your software sent it to SerwerSMS (ISO 8601 with an offset)."
    )
    account: int | None = Field(
        default=None, ge=1, le=2**62, description="Defaults to the key's account."
    )
    type: MessageTypeWord = "eco"
    parts: int = Field(default=1, ge=1, le=100)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    unique_id: UniqueId | None = None
    sender: str = Field(default="", max_length=32, pattern=r"^[^\x00]*$")
    status: ReportableStatusWord = Field(
        default="queued",
        description="What SerwerSMS answered the send. Dispatch (sent, delivered) is only ever "
        "taken from SerwerSMS's own reports.",
    )


class ReportIn(Schema):
    messages: list[ReportedIn] = Field(min_length=1, max_length=MAX_REPORTED)


class ReportedResult(Schema):
    index: int
    serwersms_id: str
    outcome: Literal["created", "existing", "refused"]
    id: int | None
    ic_proof: Literal["reported", "confirmed", "refuted"] | None = Field(
        description="reported until SerwerSMS's partner billing confirms the ic; null: refused."
    )
    billing: Literal["pending"] | None = Field(
        description="Pending until SerwerSMS's own report gives the figures; null: refused."
    )
    claim: ClaimOut | None = Field(
        description="What is kept as your claim (never priced: SerwerSMS's figures are)."
    )
    errors: list[ErrorItem]


class ReportOut(Schema):
    created: int
    existing: int
    refused: int
    results: list[ReportedResult]


# --- commission and statements -----------------------------------------------------------------


class AccountFiguresOut(Schema):
    account: AccountRef
    commission: Decimal | None
    counted: int
    counted_parts: int
    pending: int
    unsent: int
    delivered: int
    undelivered: int
    unconfirmed: int
    unconfirmed_parts: int
    unconfirmed_commission: Decimal | None


class CommissionOut(Schema):
    period: str = Field(description="YYYY-MM, a Europe/Warsaw billing month.")
    currency: str
    counts_live: bool = Field(
        description="True: an open month, its messages counted now; false: a closed month,"
        " every figure as its statement billed it."
    )
    counted: int
    counted_parts: int
    pending: int
    unsent: int
    delivered: int
    undelivered: int
    commission: Decimal | None = Field(
        description="As the month's statement prints it; null until one is built."
    )
    forecast: Decimal | None = Field(description="What the pending messages would earn.")
    unconfirmed: int = Field(
        description="Reported, not yet confirmed: dispatched messages your software reported"
        " whose ic SerwerSMS's partner billing has not confirmed yet. Not billed."
    )
    unconfirmed_parts: int
    unconfirmed_commission: Decimal | None = Field(
        description="What they would earn once confirmed (not in commission or total)."
    )
    total: Decimal | None = Field(description="The statement's net total.")
    as_of: dt.datetime | None = Field(
        description="When the statement's figures (the money) were last rebuilt."
    )
    statement_id: int | None
    statement_status: str | None
    accounts: list[AccountFiguresOut]


class DocumentOut(Schema):
    format: Literal["csv", "xlsx", "pdf"]
    url: str


class StatementOut(Schema):
    id: int
    number: str
    period: str
    status: str
    currency: str
    counted_messages: int
    counted_parts: int
    pending_messages: int
    unsent_messages: int
    unconfirmed_messages: int = Field(description="Reported, not yet confirmed (not billed).")
    unconfirmed_parts: int
    unconfirmed_commission: Decimal = Field(
        description="What the not yet confirmed messages would earn; not in the total."
    )
    commission: Decimal = Field(description="As printed (rounded half-up to 0.01).")
    adjustments: Decimal
    opening_credit: Decimal
    rounding: Decimal
    carried_forward: Decimal
    total: Decimal = Field(description="Net.")
    vat_rate: Decimal | None
    vat: Decimal
    gross: Decimal
    payout: str | None = Field(description="invoiced / paid, set by the operator; null: not yet.")
    built_at: dt.datetime | None
    closed_at: dt.datetime | None
    documents: list[DocumentOut]


class StatementList(Schema):
    items: list[StatementOut]


class KeyOut(Schema):
    name: str
    prefix: str
    account: AccountRef
    partner: str
    ic: int
