"""What the API accepts and returns. Input is validated here, so intake only sees clean payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, StringConstraints, model_validator

from firstcall.clients.models import Client, Contact
from firstcall.tickets.models import (
    Attachment,
    Channel,
    Direction,
    Message,
    MessageKind,
    Status,
    Ticket,
    format_ticket_number,
)
from firstcall.triage.priority import Priority

# PostgreSQL bigint: a larger id in a path or filter must be a 404 or a 422, never a database error.
MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\x00) characters")
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError(f"{value!r} is not a valid email address") from None
    return value


def _utc(moment: datetime) -> datetime:
    # Without a zone, UTC; with one, converted to UTC: PostgreSQL refuses offsets beyond ±15:59.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first representable moment
        raise ValueError("is outside the range of dates") from None


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]

# Strings are stripped of surrounding whitespace, then length-checked, and never hold NUL.
Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), AfterValidator(_no_nul)
]
Body = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000), AfterValidator(_no_nul)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_nul)]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150), AfterValidator(_no_nul)
]
Search = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), AfterValidator(_no_nul)]
EmailFilter = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254), AfterValidator(_no_nul)
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254),
    AfterValidator(_no_nul),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]


class StrictInput(Schema):
    # A misspelt field ("requestor_email", "emergency") is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class TicketCreate(StrictInput):
    requester_email: Email = Field(description="Who asked; an unknown address becomes a new contact.")
    requester_name: Name = ""
    subject: Subject
    body: Body
    is_emergency: bool = Field(
        False, description="Raises the urgency to high (P2 for one person, P1 for a company-wide problem)."
    )
    acknowledge: bool = Field(True, description="Email the requester an acknowledgment.")


class MessageCreate(StrictInput):
    body: Body
    kind: Literal["inbound", "note"] = Field(
        "inbound",
        description="'inbound': a message from the requester (or from_email), threaded by intake; "
        "'note': an internal note by the API user, never shown to the client.",
    )
    from_email: Email | None = Field(
        None,
        description="Sender of an inbound message; defaults to the ticket's requester. Must be the "
        "requester, a participant or a contact of the ticket's client.",
    )

    @model_validator(mode="after")
    def _note_has_no_sender(self) -> MessageCreate:
        if self.kind == "note" and self.from_email is not None:
            raise ValueError("from_email cannot be given for a note: a note is written by the API user")
        return self


class TicketFilters(Schema):
    status: list[Status] | None = Field(None, description="Repeat for several: ?status=new&status=open")
    client: int | None = Field(None, ge=1, le=MAX_ID, description="Client id")
    priority: Priority | None = None
    channel: Channel | None = None
    assignee: Username | None = Field(None, description="A username, or 'none' for unassigned tickets")
    requester_email: EmailFilter | None = None
    created_after: UtcDateTime | None = Field(None, description="ISO 8601; without a zone, UTC")
    created_before: UtcDateTime | None = Field(None, description="ISO 8601; without a zone, UTC")
    q: Search | None = Field(None, description="Text the subject contains (any case)")


class ClientRef(Schema):
    id: int
    name: str


class PersonOut(Schema):
    name: str
    email: str


class TicketOut(Schema):
    number: str = Field(examples=["T-000123"])
    id: int
    subject: str
    status: Status
    priority: Priority
    priority_explanation: str
    is_emergency: bool
    channel: Channel
    client: ClientRef | None
    requester: PersonOut
    unverified_requester: bool
    assignee: str | None = Field(description="Username of the assigned staff member")
    follows_up: str | None = Field(description="Number of the earlier ticket this one follows up")
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    url: str = Field(description="The ticket in the staff console")

    @staticmethod
    def resolve_client(obj: Ticket) -> Client | None:
        return obj.client

    @staticmethod
    def resolve_requester(obj: Ticket) -> Contact:
        return obj.requester

    @staticmethod
    def resolve_assignee(obj: Ticket) -> str | None:
        return obj.assignee.username if obj.assignee is not None else None

    @staticmethod
    def resolve_follows_up(obj: Ticket) -> str | None:
        return format_ticket_number(obj.follows_up_id) if obj.follows_up_id is not None else None

    @staticmethod
    def resolve_url(obj: Ticket) -> str:
        return f"{settings.FIRSTCALL_PUBLIC_URL}/tickets/{obj.number}/"


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int = Field(description="Bytes")
    sha256: str


class AuthorOut(Schema):
    name: str
    email: str | None = Field(description="A client contact's address")
    username: str | None = Field(description="A staff member's username")


class MessageOut(Schema):
    id: int
    ticket: str = Field(description="Number of the ticket the message is on", examples=["T-000123"])
    kind: MessageKind
    direction: Direction
    channel: Channel
    author: AuthorOut | None = Field(description="Null for system events")
    subject: str
    body_text: str
    body_html: str
    created_at: datetime
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_ticket(obj: Message) -> str:
        return format_ticket_number(obj.ticket_id)

    @staticmethod
    def resolve_author(obj: Message) -> dict[str, Any] | None:
        if obj.author_user is not None:
            return {"name": obj.author_user.display_name, "email": None, "username": obj.author_user.username}
        if obj.author_contact is not None:
            contact = obj.author_contact
            return {"name": contact.name, "email": contact.email or None, "username": None}
        return None

    @staticmethod
    def resolve_attachments(obj: Message) -> list[Attachment]:
        return list(obj.attachments.all())  # prefetched by every query that renders messages


class TicketDetailOut(TicketOut):
    messages: list[MessageOut] = Field(description="The timeline, oldest first")

    @staticmethod
    def resolve_messages(obj: Ticket) -> list[Message]:
        # Normally set by the detail query's Prefetch(to_attr="timeline"), already filtered.
        timeline: list[Message] | None = getattr(obj, "timeline", None)
        if timeline is None:
            return list(obj.messages.exclude(kind=MessageKind.NOTE).prefetch_related("attachments"))
        return timeline


class ErrorOut(Schema):
    detail: str


class ValidationIssue(Schema):
    field: str = Field(description="Dotted path of the offending input, e.g. 'subject'")
    msg: str
    type: str
    loc: list[str | int]


class ValidationErrorOut(Schema):
    detail: list[ValidationIssue]
