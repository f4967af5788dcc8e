"""POST /api/tickets: a ticket on behalf of a requester, through the one intake pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.tickets.models import Channel, MessageKind, Ticket

pytestmark = pytest.mark.django_db


def request_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requester_email": "dana@brightsmile.example",
        "subject": "Front desk PC shows a blue screen",
        "body": "It happened twice this morning; patients are waiting.",
    }
    body.update(fields)
    return body


def test_creates_ticket_stores_raw_and_acknowledges(rmm, bob, dana, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        response = rmm.post("/api/tickets", request_body())

    assert response.status_code == 201, response.content
    data = response.json()
    ticket = Ticket.objects.get(pk=data["id"])
    assert data["number"] == ticket.number
    assert response["Location"] == f"http://testserver/api/tickets/{ticket.number}"
    assert ticket.requester == dana and ticket.client == dana.client
    assert ticket.channel == Channel.API and not ticket.unverified_requester
    assert data["client"] == {"id": dana.client.pk, "name": "Bright Smile Dental"}
    assert data["requester"] == {"name": "Dana Reyes", "email": "dana@brightsmile.example"}
    # Dana is a VIP: urgency one step up, so P2 (triage's reasons say so).
    assert data["status"] == "new" and data["priority"] == "P2" and data["assignee"] is None
    assert "VIP requester" in data["priority_explanation"]
    assert data["url"] == f"http://127.0.0.1:8000/tickets/{ticket.number}/"
    assert data["first_response_due_at"] is not None

    inbound = InboundMessage.objects.get(timeline_message__ticket=ticket)
    assert inbound.channel == Channel.API and inbound.status == InboundStatus.PROCESSED
    assert json.loads(bytes(inbound.raw))["body"] == request_body()["body"]
    assert inbound.metadata == {"user_id": bob.pk, "token_name": "RMM integration"}
    assert inbound.external_id.startswith(f"api:{bob.pk}:")

    kinds = list(ticket.messages.values_list("kind", flat=True))
    assert kinds == [MessageKind.INBOUND, MessageKind.AUTO_REPLY]
    assert len(outbox) == 1
    assert outbox[0].to == ["dana@brightsmile.example"]
    assert ticket.number in outbox[0].subject


def test_emergency_is_urgent_and_unknown_sender_is_unverified(api, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        response = api.post(
            "/api/tickets",
            request_body(
                requester_email="  Someone@Elsewhere.Example ",
                requester_name="Sam Stranger",
                is_emergency=True,
            ),
        )
    assert response.status_code == 201, response.content
    data = response.json()
    # One person's emergency: urgency high, impact one person → P2.
    assert data["priority"] == "P2" and data["is_emergency"] is True
    assert "emergency" in data["priority_explanation"]
    assert data["client"] is None and data["unverified_requester"] is True
    assert data["requester"] == {"name": "Sam Stranger", "email": "someone@elsewhere.example"}


def test_same_idempotency_key_replays_the_first_ticket(rmm, dana, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        first = rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": "rmm-alert-4711"})
        again = rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": "rmm-alert-4711"})

    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert Ticket.objects.count() == 1
    assert len(outbox) == 1
    assert InboundMessage.objects.get().duplicate_deliveries == 1


def test_key_reused_for_a_different_request_is_refused(rmm, dana) -> None:
    rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": "k-1"})
    response = rmm.post("/api/tickets", request_body(subject="Another problem"), **{"Idempotency-Key": "k-1"})
    assert response.status_code == 422
    assert "already used for a different request" in response.json()["detail"]
    assert Ticket.objects.count() == 1


def test_two_integrations_with_the_same_key_never_collide(rmm, api, dana) -> None:
    from_rmm = rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": "42"})
    from_alice = api.post("/api/tickets", request_body(), **{"Idempotency-Key": "42"})
    assert from_rmm.status_code == from_alice.status_code == 201
    assert from_rmm.json()["number"] != from_alice.json()["number"]


def test_without_a_key_each_request_is_a_new_ticket(rmm, dana) -> None:
    first = rmm.post("/api/tickets", request_body())
    second = rmm.post("/api/tickets", request_body())
    assert first.status_code == second.status_code == 201
    assert Ticket.objects.count() == 2


def test_acknowledge_false_sends_no_email_and_says_why(rmm, dana, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        response = rmm.post("/api/tickets", request_body(acknowledge=False))
    assert response.status_code == 201
    assert outbox == []
    ticket = Ticket.objects.get()
    # A line for staff (an internal note), not for the client.
    notes = list(ticket.messages.filter(kind=MessageKind.NOTE).values_list("body_text", flat=True))
    assert notes == ["Acknowledgment not sent: the API caller asked for no acknowledgment."]


def test_invalid_json_is_400_with_the_parser_message(rmm) -> None:
    response = rmm.post("/api/tickets", raw=b'{"subject": "unterminated')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Request body is not valid JSON: Unterminated string")


def test_body_that_is_not_utf8_is_400(rmm) -> None:
    response = rmm.post("/api/tickets", raw=b"\xff\xfe{}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Request body is not valid JSON:")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "A JSON object body is required."),
        (b"[1, 2]", "The request body must be a JSON object."),
        (b'"text"', "The request body must be a JSON object."),
    ],
)
def test_body_that_is_not_an_object_is_422(rmm, raw, message) -> None:
    response = rmm.post("/api/tickets", raw=raw)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == message


def test_missing_fields_are_named(rmm) -> None:
    response = rmm.post("/api/tickets", {"subject": "No sender"})
    assert response.status_code == 422
    issues = {issue["field"]: issue["msg"] for issue in response.json()["detail"]}
    assert issues == {"requester_email": "This field is required.", "body": "This field is required."}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"requester_email": "not-an-address"},
            "requester_email",
            "'not-an-address' is not a valid email address",
        ),
        ({"subject": "   "}, "subject", "String should have at least 1 character"),
        ({"subject": "x" * 301}, "subject", "String should have at most 300 characters"),
        ({"body": "x" * 50_001}, "body", "String should have at most 50000 characters"),
        ({"body": "nul\x00byte"}, "body", "must not contain NUL (\\x00) characters"),
        (
            {"is_emergency": "very"},
            "is_emergency",
            "Input should be a valid boolean, unable to interpret input",
        ),
        ({"emergency": True}, "emergency", "Unknown field; check its spelling."),
    ],
)
def test_invalid_fields_are_422_with_a_clear_message(rmm, fields, field, message) -> None:
    response = rmm.post("/api/tickets", request_body(**fields))
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "field": field,
            "msg": message,
            "type": response.json()["detail"][0]["type"],
            "loc": ["body", "payload", field],
        }
    ]
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("key", ["k" * 201, "tab\tinside"])
def test_bad_idempotency_key_is_422(rmm, key) -> None:
    response = rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "Idempotency-Key"


def test_longest_idempotency_key_is_accepted(rmm, dana) -> None:
    response = rmm.post("/api/tickets", request_body(), **{"Idempotency-Key": "k" * 200})
    assert response.status_code == 201


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_json(rmm, method) -> None:
    response = rmm.request(method, "/api/tickets")
    assert response.status_code == 405
    assert response.json() == {"detail": f"{method} is not allowed on /api/tickets; allowed: GET, POST."}
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}
