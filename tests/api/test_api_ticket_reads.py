"""GET /api/tickets (filters, pagination, fixed query count) and GET /api/tickets/{number}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.base import ContentFile

from firstcall.tickets.actions import Actor, add_message, assign, transition
from firstcall.tickets.models import Attachment, Channel, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


def numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["items"]]


@pytest.fixture
def desk(make_ticket, dana, carl, priya, bob, erin) -> dict[str, Ticket]:
    """Four tickets of two clients, created a day apart, oldest first."""
    scanner = make_ticket(dana, "Scanner offline", created_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    email = make_ticket(
        carl, "Email bounces", channel=Channel.WEB, created_at=datetime(2026, 3, 3, 9, tzinfo=UTC)
    )
    server = make_ticket(
        priya, "File server down", is_emergency=True, created_at=datetime(2026, 3, 4, 9, tzinfo=UTC)
    )
    printer = make_ticket(priya, "Printer toner", created_at=datetime(2026, 3, 5, 9, tzinfo=UTC))
    assign(scanner, bob, actor=Actor(user=erin))
    assign(server, erin, actor=Actor(user=erin))
    transition(email, Status.OPEN, actor=Actor(user=bob))
    transition(printer, Status.RESOLVED, actor=Actor(user=erin))
    return {"scanner": scanner, "email": email, "server": server, "printer": printer}


def expect(desk: dict[str, Ticket], *names: str) -> list[str]:
    return [desk[name].number for name in names]


def test_lists_newest_first_with_count(api, desk) -> None:
    response = api.get("/api/tickets")
    assert numbers(response) == expect(desk, "printer", "server", "email", "scanner")
    assert response.json()["count"] == 4
    first = response.json()["items"][0]
    assert first["client"]["name"] == "Hale & Porter Law" and first["status"] == "resolved"


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"status": "new"}, ("server", "scanner")),
        ({"status": ["open", "resolved"]}, ("printer", "email")),
        ({"priority": "P1"}, ("server",)),
        ({"channel": "web"}, ("email",)),
        ({"assignee": "bob"}, ("scanner",)),
        ({"assignee": "none"}, ("printer", "email")),
        ({"assignee": "nobody-by-that-name"}, ()),
        ({"requester_email": "Priya@HalePorter.example"}, ("printer", "server")),
        ({"created_after": "2026-03-03T09:00:00Z"}, ("printer", "server", "email")),
        ({"created_before": "2026-03-04T09:00:00+00:00"}, ("email", "scanner")),
        (
            {"created_after": "2026-03-03T00:00:00", "created_before": "2026-03-05T00:00:00"},
            ("server", "email"),
        ),
        ({"q": "SERVER"}, ("server",)),
        ({"status": "new", "q": "offline"}, ("scanner",)),
    ],
)
def test_filters(api, desk, params, names) -> None:
    response = api.get("/api/tickets", params)
    assert numbers(response) == expect(desk, *names)
    assert response.json()["count"] == len(names)


def test_client_filter(api, desk, dental, law) -> None:
    assert numbers(api.get("/api/tickets", {"client": dental.pk})) == expect(desk, "email", "scanner")
    assert numbers(api.get("/api/tickets", {"client": law.pk})) == expect(desk, "printer", "server")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": ["new", "pending"]}, "status.1"),
        ({"priority": "P9"}, "priority"),
        ({"client": "dental"}, "client"),
        ({"client": str(2**64)}, "client"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"page": "0"}, "page"),
        ({"page_size": "-1"}, "page_size"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_filters_are_422(api, desk, params, field) -> None:
    response = api.get("/api/tickets", params)
    assert response.status_code == 422
    assert [issue["field"] for issue in response.json()["detail"]] == [field]


def test_pagination(api, make_ticket, dana) -> None:
    made = [make_ticket(dana, f"Ticket {i}") for i in range(7)]
    newest_first = [ticket.number for ticket in reversed(made)]
    page_one = api.get("/api/tickets", {"page_size": 3})
    page_three = api.get("/api/tickets", {"page_size": 3, "page": 3})
    beyond = api.get("/api/tickets", {"page_size": 3, "page": 4})
    assert numbers(page_one) == newest_first[:3] and page_one.json()["count"] == 7
    assert numbers(page_three) == newest_first[6:]
    assert numbers(beyond) == []
    assert len(numbers(api.get("/api/tickets"))) == 7


def test_page_size_is_capped_at_100(api, make_ticket, dana) -> None:
    for i in range(101):
        make_ticket(dana, f"Ticket {i}")
    response = api.get("/api/tickets", {"page_size": 500})
    assert len(numbers(response)) == 100 and response.json()["count"] == 101
    assert len(numbers(api.get("/api/tickets"))) == 25  # the default page size


@pytest.mark.parametrize("how_many", [3, 60])
def test_list_takes_three_queries_whatever_the_size(
    api, make_ticket, dana, priya, bob, how_many, django_assert_num_queries
) -> None:
    for i in range(how_many):
        ticket = make_ticket(dana if i % 2 else priya, f"Ticket {i}")
        if i % 3 == 0:
            assign(ticket, bob, actor=Actor.system("test"))
    api.get("/api/tickets")  # the first use of a token also records last_used_at
    # token lookup, count, page
    with django_assert_num_queries(3):
        response = api.get("/api/tickets", {"page_size": 100})
    assert len(numbers(response)) == how_many


def attach(message_id: int, filename: str, content: bytes) -> Attachment:
    attachment = Attachment(
        message_id=message_id,
        filename=filename,
        content_type="text/plain",
        size=len(content),
        sha256="ab" * 32,
    )
    attachment.file.save(filename, ContentFile(content), save=True)
    return attachment


def test_one_ticket_with_timeline_and_attachments(api, rmm, desk, bob) -> None:
    scanner = desk["scanner"]
    posted = rmm.post(f"/api/tickets/{scanner.number}/messages", {"body": "Photo of the error attached."})
    log = attach(posted.json()["id"], "scanner.log", b"E42 paper path")
    add_message(
        scanner,
        kind=MessageKind.NOTE,
        channel=Channel.CONSOLE,
        body_text="Vendor case 77",
        actor=Actor(user=bob),
    )

    response = api.get(f"/api/tickets/{scanner.number}")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["number"] == scanner.number and data["assignee"] == "bob"
    assert data["requester"] == {"name": "Dana Reyes", "email": "dana@brightsmile.example"}
    assert [m["kind"] for m in data["messages"]] == ["inbound"]
    assert data["messages"][0]["attachments"] == [
        {
            "id": log.pk,
            "filename": "scanner.log",
            "content_type": "text/plain",
            "size": 14,
            "sha256": "ab" * 32,
        }
    ]
    with_notes = api.get(f"/api/tickets/{scanner.number}", {"include_notes": "true"}).json()
    assert [m["kind"] for m in with_notes["messages"]] == ["inbound", "note"]
    assert with_notes["messages"][1]["author"]["username"] == "bob"


@pytest.mark.parametrize("extra_messages", [0, 20])
def test_one_ticket_takes_four_queries_whatever_the_timeline(
    api, desk, bob, extra_messages, django_assert_num_queries
) -> None:
    scanner = desk["scanner"]
    for i in range(extra_messages + 1):
        message = add_message(
            scanner,
            kind=MessageKind.REPLY,
            channel=Channel.EMAIL,
            body_text=f"Reply {i}",
            actor=Actor(user=bob),
        )
        attach(message.pk, f"file-{i}.txt", b"x" * i)
    api.get(f"/api/tickets/{scanner.number}")
    # token lookup, ticket, timeline, attachments
    with django_assert_num_queries(4):
        response = api.get(f"/api/tickets/{scanner.number}", {"include_notes": "true"})
    assert len(response.json()["messages"]) == extra_messages + 1


@pytest.mark.parametrize("number", ["T-424242", "T-1", "ticket-1", "T-99999999999999999999999"])
def test_unknown_ticket_is_404(api, desk, number) -> None:
    response = api.get(f"/api/tickets/{number}")
    assert response.status_code == 404
    assert number in response.json()["detail"]


def test_unknown_endpoint_is_json_404(api) -> None:
    response = api.get("/api/tickets/T-000001/history")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "There is no API endpoint at /api/tickets/T-000001/history; see /api/docs."
    }


def test_post_to_a_ticket_is_405(api, desk) -> None:
    response = api.post(f"/api/tickets/{desk['scanner'].number}", {})
    assert response.status_code == 405
    assert response.json() == {
        "detail": f"POST is not allowed on /api/tickets/{desk['scanner'].number}; allowed: GET."
    }


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        # Offsets PostgreSQL does not take (beyond ±15:59) are converted to UTC first.
        ("2026-03-04T00:00:00-17:25", 200),
        ("2026-03-04T00:00:00+23:59", 200),
        # Before the first representable moment once in UTC: refused, not a database error.
        ("0001-01-01T00:00:00+05:00", 422),
    ],
)
def test_date_filters_with_any_offset_are_read_in_utc(api, desk, moment: str, status: int) -> None:
    response = api.get("/api/tickets", {"created_after": moment})
    assert response.status_code == status, response.content
    if status == 422:
        assert response.json()["detail"][0]["field"] == "created_after"
