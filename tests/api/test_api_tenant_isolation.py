"""API tokens scoped to one client: a generated walk of every API operation, from the OpenAPI
schema, with a token scoped to Bright Smile Dental (client A) aimed at everything of Hale &
Porter Law (client B): its ticket in each path, its values in each filter and search parameter,
its people in each body. Nothing of B is in any answer, an answer about B's ticket reads exactly
like one about a ticket that never existed, and nothing of B changes. A new operation or
parameter the walk does not know fails the walk, so it cannot be left out.

Then the scope's rules one by one: what a scoped token may create, idempotency keys per scope,
the command that issues scoped tokens.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from firstcall.accounts.models import ApiToken, User
from firstcall.api.api import api as ninja_api
from firstcall.clients.models import Client, Contact
from firstcall.tickets.actions import Actor, add_message
from firstcall.tickets.models import AuditEvent, Channel, Message, MessageKind, Ticket
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

NEVER_EXISTED = "T-999999"


@dataclass
class Tenants:
    dental_ticket: Ticket
    law_ticket: Ticket
    law_note: Message
    # Strings only client B's data holds: none may reach a token scoped to client A.
    law_secrets: list[str] = field(default_factory=list)


@pytest.fixture
def tenants(make_ticket: Callable[..., Ticket], dana: Contact, priya: Contact, erin: User) -> Tenants:
    dental_ticket = make_ticket(dana, "Dental scanner offline")
    law_ticket = make_ticket(priya, "Courtroom laptop encrypted by ransomware", is_emergency=True)
    add_message(
        law_ticket,
        kind=MessageKind.INBOUND,
        channel=Channel.EMAIL,
        body_text="Opposing counsel's exhibits are on that laptop.",
        actor=Actor(contact=priya),
    )
    note = add_message(
        law_ticket,
        kind=MessageKind.NOTE,
        channel=Channel.API,
        body_text="Law firm backup key is in vault 7.",
        actor=Actor(user=erin),
    )
    return Tenants(
        dental_ticket,
        law_ticket,
        note,
        law_secrets=[
            law_ticket.number,
            "Courtroom laptop",
            "Opposing counsel",
            "vault 7",
            "Hale & Porter",
            "Hale \\u0026 Porter",
            "priya@haleporter.example",
            "Priya Shah",
        ],
    )


@pytest.fixture
def dental_token(bob: User, dental: Client) -> str:
    return ApiToken.issue(bob, "Bright Smile RMM", client=dental)[1]


@pytest.fixture
def scoped(dental_token: str) -> ApiClient:
    return ApiClient(dental_token)


# --- The generated walk --------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request of the walk: an operation with client B's value in one place."""

    operation: str
    method: str
    path: str
    params: dict[str, Any]
    body: dict[str, Any] | None
    # The B values this probe sends (they may be echoed back, like any input), and the same
    # request with values that match nothing, whose answer must be the same.
    sent: tuple[str, ...]
    nothing_path: str
    nothing_params: dict[str, Any]
    nothing_body: dict[str, Any] | None
    nothing_sent: tuple[str, ...]


def law_values(tenants: Tenants, law: Client) -> dict[str, tuple[Any, Any]]:
    """For each parameter name: (client B's value, a value that matches nothing)."""
    return {
        "number": (tenants.law_ticket.number, NEVER_EXISTED),
        "client": (law.pk, 999_999),
        "requester_email": ("priya@haleporter.example", "nobody@nowhere.example"),
        "q": ("Courtroom", "Zanzibar"),
        "assignee": ("erin", "nobody-by-that-name"),
        "status": ("new", "closed"),
        "priority": ("P1", "P4"),
        "channel": ("email", "sms"),
        "created_after": ("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
        "created_before": ("2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
        "page": (1, 1),
        "page_size": (100, 100),
        "include_notes": ("true", "true"),
        "Idempotency-Key": ("law-key-1", "law-key-1"),
    }


def law_bodies(tenants: Tenants) -> dict[str, list[tuple[dict[str, Any], dict[str, Any], str, str]]]:
    """For each operation with a body: (body with B's people, body naming nobody, sent, nothing sent)."""
    return {
        "create_ticket": [
            (
                {"requester_email": "priya@haleporter.example", "subject": "Hi", "body": "Help"},
                {"requester_email": "nobody@nowhere.example", "subject": "Hi", "body": "Help"},
                "priya@haleporter.example",
                "nobody@nowhere.example",
            ),
            # A new address at B's domain would become B's contact: refused alike.
            (
                {"requester_email": "newhire@haleporter.example", "subject": "Hi", "body": "Help"},
                {"requester_email": "newhire@nowhere.example", "subject": "Hi", "body": "Help"},
                "newhire@haleporter.example",
                "newhire@nowhere.example",
            ),
        ],
        "add_ticket_message": [
            ({"body": "Any news?"}, {"body": "Any news?"}, "", ""),
            ({"body": "Note", "kind": "note"}, {"body": "Note", "kind": "note"}, "", ""),
        ],
    }


def probes(tenants: Tenants, law: Client) -> Iterator[Probe]:
    values = law_values(tenants, law)
    bodies = law_bodies(tenants)
    schema = ninja_api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            operation_id = operation["operationId"]
            parameters = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
            unknown = [name for _, name in parameters if name not in values]
            assert not unknown, f"the walk has no client-B value for {operation_id}'s parameters {unknown}"
            in_path = [name for where, name in parameters if where == "path"]
            path_sent = tuple(str(values[name][0]) for name in in_path)
            path_nothing = tuple(str(values[name][1]) for name in in_path)
            law_path, nothing_path = path, path
            for name in in_path:
                law_path = law_path.replace(f"{{{name}}}", str(values[name][0]))
                nothing_path = nothing_path.replace(f"{{{name}}}", str(values[name][1]))
            body_cases: list[tuple[dict[str, Any], dict[str, Any], str, str] | None] = [None]
            if "requestBody" in operation:
                assert operation_id in bodies, f"the walk has no client-B body for {operation_id}"
                body_cases = list(bodies[operation_id])
            queries = [name for where, name in parameters if where == "query"]
            for body_case in body_cases:
                law_body, nothing_body, body_sent, nothing_body_sent = body_case or (None, None, "", "")
                # B's ticket in the path (if any) with no other parameter, then each parameter alone.
                yield Probe(
                    operation_id,
                    method,
                    law_path,
                    {},
                    law_body,
                    (*path_sent, body_sent),
                    nothing_path,
                    {},
                    nothing_body,
                    (*path_nothing, nothing_body_sent),
                )
            for name in queries:
                law_value, nothing_value = values[name]
                yield Probe(
                    operation_id,
                    method,
                    law_path,
                    {name: law_value},
                    body_cases[0][0] if body_cases[0] else None,
                    (*path_sent, str(law_value), body_cases[0][2] if body_cases[0] else ""),
                    nothing_path,
                    {name: nothing_value},
                    body_cases[0][1] if body_cases[0] else None,
                    (*path_nothing, str(nothing_value), body_cases[0][3] if body_cases[0] else ""),
                )


def send(
    client: ApiClient, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
) -> Any:
    if method == "get":
        return client.get(path, params)
    assert method == "post", method
    return client.post(path + (f"?{_query(params)}" if params else ""), body or {})


def _masked(text: str, values: tuple[str, ...]) -> str:
    for n, value in enumerate(values):
        if value:
            text = text.replace(value, f"<value {n}>")
    return text


def _query(params: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def test_a_token_scoped_to_one_client_reaches_nothing_of_another_on_any_route(
    scoped: ApiClient, tenants: Tenants, law: Client, dental: Client
) -> None:
    law_messages = list(tenants.law_ticket.messages.values_list("pk", flat=True))
    law_contacts = Contact.objects.filter(client=law).count()
    walked: set[str] = set()
    count = 0
    for probe in probes(tenants, law):
        walked.add(probe.operation)
        count += 1
        answer = send(scoped, probe.method, probe.path, probe.params, probe.body)
        nothing = send(scoped, probe.method, probe.nothing_path, probe.nothing_params, probe.nothing_body)
        text = answer.content.decode()
        where = f"{probe.method.upper()} {probe.path} {probe.params} {probe.body}"

        for secret in tenants.law_secrets:
            if not any(secret in value for value in probe.sent):
                assert secret not in text, f"{where} shows client B's {secret!r}: {text[:400]}"
        assert answer.status_code < 500, where
        if answer.status_code == 200 and "items" in answer.json():
            clients = {item["client"]["id"] for item in answer.json()["items"]}
            assert clients <= {dental.pk}, where
        else:
            # About B's ticket or people, the answer is the one about nothing at all.
            assert answer.status_code == nothing.status_code, where
            assert _masked(text, probe.sent) == _masked(nothing.content.decode(), probe.nothing_sent), where

    assert walked == {
        operation["operationId"]
        for operations in ninja_api.get_openapi_schema()["paths"].values()
        for operation in operations.values()
    }
    assert count >= 15
    # Nothing of B changed: no message, ticket or contact was added for it.
    assert list(tenants.law_ticket.messages.values_list("pk", flat=True)) == law_messages
    assert Ticket.objects.filter(client=law).count() == 1
    assert Contact.objects.filter(client=law).count() == law_contacts


def test_the_walk_is_not_vacuous_the_scoped_token_sees_its_own_client(
    scoped: ApiClient, tenants: Tenants, dental: Client
) -> None:
    listed = scoped.get("/api/tickets", {"client": dental.pk, "q": "scanner"}).json()
    assert [item["number"] for item in listed["items"]] == [tenants.dental_ticket.number]
    assert scoped.get(f"/api/tickets/{tenants.dental_ticket.number}").status_code == 200
    added = scoped.post(f"/api/tickets/{tenants.dental_ticket.number}/messages", {"body": "Rebooted it."})
    assert added.status_code == 201, added.content
    created = scoped.post(
        "/api/tickets",
        {"requester_email": "dana@brightsmile.example", "subject": "Disk full", "body": "C: 99%"},
    )
    assert created.status_code == 201, created.content
    assert created.json()["client"]["id"] == dental.pk


def test_an_unscoped_token_still_sees_every_client(api: ApiClient, tenants: Tenants) -> None:
    listed = api.get("/api/tickets").json()
    assert {item["number"] for item in listed["items"]} == {
        tenants.dental_ticket.number,
        tenants.law_ticket.number,
    }


# --- Creating with a scoped token ---------------------------------------------------------------


@pytest.mark.parametrize(
    "requester",
    [
        "dana@brightsmile.example",  # a contact of the client
        "new.hygienist@brightsmile.example",  # a new address at its domain: becomes its contact
    ],
)
def test_a_scoped_token_opens_tickets_for_its_own_client(
    scoped: ApiClient, dental: Client, dana: Contact, requester: str
) -> None:
    response = scoped.post(
        "/api/tickets", {"requester_email": requester, "subject": "Slow PC", "body": "Very"}
    )

    assert response.status_code == 201, response.content
    assert Ticket.objects.get(subject="Slow PC").client == dental


@pytest.mark.parametrize(
    "requester",
    [
        "priya@haleporter.example",  # another client's contact
        "someone@haleporter.example",  # a new address at another client's domain
        "stranger@gmail.example",  # nobody's: would be an unverified requester of no client
    ],
)
def test_a_scoped_token_cannot_open_a_ticket_for_anyone_else(
    scoped: ApiClient, dental: Client, priya: Contact, requester: str
) -> None:
    response = scoped.post(
        "/api/tickets", {"requester_email": requester, "subject": "Slow PC", "body": "Very"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "This API token is for Bright Smile Dental only: requester_email must be a contact of "
        "Bright Smile Dental or an address at one of its email domains."
    }
    assert not Ticket.objects.filter(subject="Slow PC").exists()
    assert not Contact.objects.filter(email=requester).exclude(pk=priya.pk).exists()


def test_idempotency_keys_of_two_scopes_never_meet(
    bob: User, dental: Client, law: Client, dana: Contact, priya: Contact
) -> None:
    as_law = ApiClient(ApiToken.issue(bob, "Law RMM", client=law)[1])
    as_dental = ApiClient(ApiToken.issue(bob, "Dental RMM", client=dental)[1])
    same = {"subject": "Backup failed", "body": "Job 12 failed."}

    law_ticket = as_law.post(
        "/api/tickets", {**same, "requester_email": priya.email}, **{"Idempotency-Key": "k1"}
    )
    dental_ticket = as_dental.post(
        "/api/tickets", {**same, "requester_email": dana.email}, **{"Idempotency-Key": "k1"}
    )

    assert law_ticket.status_code == dental_ticket.status_code == 201
    assert law_ticket.json()["number"] != dental_ticket.json()["number"]
    assert dental_ticket.json()["client"]["id"] == dental.pk


# --- Issuing scoped tokens -------------------------------------------------------------------------


def issue(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_create_api_token_scopes_a_token_to_a_client_by_name_or_id(bob: User, dental: Client) -> None:
    plain, said = issue("bob", "Dental RMM", "--client", "bright smile dental")
    token = ApiToken.authenticate(plain)
    assert token is not None and token.client == dental
    assert f"scoped to Bright Smile Dental (client {dental.pk})" in said
    event = AuditEvent.objects.filter(action="api_token_issued").latest("pk")
    assert event.after == {"user": "bob", "name": "Dental RMM", "client_id": dental.pk}

    by_id, _ = issue("bob", "Dental backups", "--client", str(dental.pk))
    found = ApiToken.authenticate(by_id)
    assert found is not None and found.client == dental

    unscoped, said = issue("bob", "Console script")
    found = ApiToken.authenticate(unscoped)
    assert found is not None and found.client is None and "scoped" not in said


def test_create_api_token_refuses_an_unknown_or_ambiguous_client(bob: User, dental: Client) -> None:
    with pytest.raises(CommandError, match="There is no client with the id or name 'Dentl'"):
        issue("bob", "RMM", "--client", "Dentl")
    twin = Client.objects.create(name="BRIGHT SMILE DENTAL", time_zone="America/Chicago")
    with pytest.raises(CommandError, match=f"ids {dental.pk}, {twin.pk}"):
        issue("bob", "RMM", "--client", "bright smile dental")
    assert not ApiToken.objects.exists()


def test_a_scoped_token_dies_with_its_client(bob: User, dental: Client) -> None:
    plain = ApiToken.issue(bob, "Dental RMM", client=dental)[1]
    dental.delete()

    assert ApiToken.authenticate(plain) is None
    assert json.loads(ApiClient(plain).get("/api/tickets").content)["detail"].startswith(
        "This API token is not valid"
    )
