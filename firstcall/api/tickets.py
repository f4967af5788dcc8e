"""/api/tickets: create, list, read, and add messages or notes. Thin: parse, check, call, render."""

# No "from __future__ import annotations": ninja reads the view annotations at runtime.
from typing import Annotated, Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from firstcall.api import operations
from firstcall.api.auth import ApiCaller, api_caller
from firstcall.api.schemas import (
    MAX_ID,
    ErrorOut,
    MessageCreate,
    MessageOut,
    TicketCreate,
    TicketDetailOut,
    TicketFilters,
    TicketOut,
    ValidationErrorOut,
)
from firstcall.tickets.models import MessageKind, Ticket, format_ticket_number, parse_ticket_number

router = Router(tags=["tickets"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x20-\x7e]+$",
        description="Any unique string (≤ 200 printable ASCII characters), e.g. a UUID. A retry with "
        "the same key returns the first result instead of acting twice.",
    ),
]

# Documented in the OpenAPI schema; every error body is {"detail": ...}.
READ_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
WRITE_ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    404: ErrorOut,
    422: ErrorOut | ValidationErrorOut,
}


class TicketPages(PageNumberPagination):
    """?page=1&page_size=25; page_size is capped at 100. Returns {items, count}."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int | None = Field(None, ge=1, description="At most 100; larger asks get 100")


def tickets_for(caller: ApiCaller) -> QuerySet[Ticket]:
    """The tickets the caller may see — a client-scoped token's client's only — with everything
    their representation reads, in one query. Every endpoint starts from here."""
    tickets = Ticket.objects.select_related("client", "requester", "assignee")
    if caller.client_id is not None:
        tickets = tickets.filter(client_id=caller.client_id)
    return tickets


def find_ticket(number: str, tickets: QuerySet[Ticket]) -> Ticket:
    """The ticket among ``tickets``; another client's ticket is as unknown as a missing one."""
    pk = parse_ticket_number(number)
    if pk is None or format_ticket_number(pk) != number or pk > MAX_ID:
        raise Http404(f"{number!r} is not a ticket number: ticket numbers look like T-000123.")
    ticket = tickets.filter(pk=pk).first()
    if ticket is None:
        raise Http404(f"There is no ticket {number}.")
    return ticket


def filter_tickets(tickets: QuerySet[Ticket], filters: TicketFilters) -> QuerySet[Ticket]:
    """``tickets`` narrowed by the filters (a scoped token naming another client finds none)."""
    conditions = Q()
    if filters.status:
        conditions &= Q(status__in=filters.status)
    if filters.client is not None:
        conditions &= Q(client_id=filters.client)
    if filters.priority is not None:
        conditions &= Q(priority=filters.priority)
    if filters.channel is not None:
        conditions &= Q(channel=filters.channel)
    if filters.assignee is not None:
        conditions &= (
            Q(assignee__isnull=True)
            if filters.assignee.lower() == "none"
            else Q(assignee__username=filters.assignee)
        )
    if filters.requester_email:
        conditions &= Q(requester__email=filters.requester_email)
    if filters.created_after is not None:
        conditions &= Q(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        conditions &= Q(created_at__lt=filters.created_before)
    if filters.q:
        conditions &= Q(subject__icontains=filters.q)
    return tickets.filter(conditions).order_by("-created_at", "-id")


@router.post(
    "/tickets",
    operation_id="create_ticket",
    response={201: TicketOut, 200: TicketOut, **WRITE_ERRORS},
    summary="Create a ticket on behalf of a requester",
    description="Goes through the same intake as email: the requester is identified by address, "
    "the ticket is triaged and, unless acknowledge is false, the requester gets an acknowledgment. "
    "A repeat with the same Idempotency-Key returns 200 with the first ticket and the header "
    "'Idempotent-Replayed: true'.",
)
def create_ticket(
    request: HttpRequest,
    response: HttpResponse,
    payload: TicketCreate,
    idempotency_key: IdempotencyKey = None,
) -> Status[Ticket] | Status[ErrorOut]:
    caller = api_caller(request)
    try:
        submitted = operations.submit(caller, idempotency_key, payload.model_dump())
    except operations.Refused as refusal:
        return Status(422, ErrorOut(detail=str(refusal)))
    # Intake opened it for the requester's client, which submit checked is a scoped token's own.
    ticket = find_ticket(format_ticket_number(submitted.ticket_id), tickets_for(caller))
    response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{ticket.number}")
    if submitted.replayed:
        response["Idempotent-Replayed"] = "true"
        return Status(200, ticket)
    return Status(201, ticket)


@router.get(
    "/tickets",
    operation_id="list_tickets",
    response={200: list[TicketOut], **READ_ERRORS},
    summary="List tickets, newest first",
)
@paginate(TicketPages, page_size=25, max_page_size=100)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]) -> QuerySet[Ticket]:
    return filter_tickets(tickets_for(api_caller(request)), filters)


@router.get(
    "/tickets/{number}",
    operation_id="get_ticket",
    response={200: TicketDetailOut, **READ_ERRORS},
    summary="One ticket with its timeline",
    description="Internal notes are left out unless include_notes=true.",
)
def get_ticket(request: HttpRequest, number: str, include_notes: bool = False) -> Ticket:
    caller = api_caller(request)
    timeline = operations.timeline_messages()
    if not include_notes:
        timeline = timeline.exclude(kind=MessageKind.NOTE)
    return find_ticket(
        number, tickets_for(caller).prefetch_related(Prefetch("messages", timeline, to_attr="timeline"))
    )


@router.post(
    "/tickets/{number}/messages",
    operation_id="add_ticket_message",
    response={201: MessageOut, 200: MessageOut, **WRITE_ERRORS},
    summary="Add a message from the requester, or an internal note",
    description="kind 'inbound' (default) goes through intake as a message from the requester (or "
    "from_email) and reopens a resolved ticket; kind 'note' adds an internal note by the API user. "
    "Same Idempotency-Key semantics as creating a ticket.",
)
def post_ticket_message(
    request: HttpRequest,
    response: HttpResponse,
    number: str,
    payload: MessageCreate,
    idempotency_key: IdempotencyKey = None,
) -> Status[object]:
    caller = api_caller(request)
    ticket = find_ticket(number, tickets_for(caller))
    try:
        if payload.kind == "note":
            message, replayed = operations.add_note(caller, idempotency_key, ticket, payload.body)
        else:
            message, replayed = operations.post_message(
                caller, idempotency_key, ticket, payload.body, payload.from_email
            )
    except operations.Refused as refusal:
        return Status(422, ErrorOut(detail=str(refusal)))
    if replayed:
        response["Idempotent-Replayed"] = "true"
        return Status(200, message)
    return Status(201, message)
