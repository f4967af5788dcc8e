"""Bearer tokens (who gets in, and the message when not), the token command, and the OpenAPI docs."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from firstcall.accounts.models import ApiToken, User
from firstcall.tickets.models import Ticket

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("GET", "/api/tickets"),
    ("POST", "/api/tickets"),
    ("GET", "/api/tickets/T-000001"),
    ("POST", "/api/tickets/T-000001/messages"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_token_is_401_everywhere(api_with_token, method, path) -> None:
    response = api_with_token(None).request(method, path)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication required: send the header 'Authorization: Bearer <token>'."
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="firstcall"'


def test_wrong_token_is_401(api_with_token, alice_token) -> None:
    response = api_with_token(alice_token[:-2] + "xx").get("/api/tickets")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token is not valid: check that it was copied whole."}


def test_other_scheme_is_401(api, alice_token) -> None:
    response = api.get("/api/tickets", Authorization=f"Token {alice_token}")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("The Authorization header is not a bearer token")


def test_revoked_token_is_401(api_with_token, bob) -> None:
    token, plain = ApiToken.issue(bob, "old RMM")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now() - timedelta(days=1))
    response = api_with_token(plain).get("/api/tickets")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API token was revoked on ")


def test_token_of_a_deactivated_user_is_refused(api_with_token, bob, rmm_token, dana) -> None:
    User.objects.filter(pk=bob.pk).update(is_active=False)
    response = api_with_token(rmm_token).post(
        "/api/tickets", {"requester_email": dana.email, "subject": "x", "body": "y"}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token belongs to a deactivated user."}
    assert not Ticket.objects.exists()


def test_technician_integration_token_works_and_records_use(rmm, bob) -> None:
    assert ApiToken.objects.get(user=bob).last_used_at is None
    response = rmm.get("/api/tickets")
    assert response.status_code == 200
    assert response.json() == {"items": [], "count": 0}
    assert ApiToken.objects.get(user=bob).last_used_at is not None


def test_create_api_token_command_prints_a_working_token(api_with_token, bob) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "bob", "PSA sync", stdout=out, stderr=err)
    plain = out.getvalue().strip()
    assert plain.startswith("fc_") and "\n" not in plain
    assert "shown only this once" in err.getvalue()
    token = ApiToken.objects.get(user=bob)
    assert token.name == "PSA sync" and plain not in token.token_hash
    assert api_with_token(plain).get("/api/tickets").status_code == 200
    from firstcall.tickets.models import AuditEvent

    issued = AuditEvent.objects.get(action="api_token_issued")
    assert issued.after == {"user": "bob", "name": "PSA sync", "client_id": None}
    assert plain not in str(issued.after)


@pytest.mark.parametrize(
    ("username", "name", "message"),
    [
        ("mallory", "x", "There is no user 'mallory'"),
        ("bob", "   ", "Give the token a name"),
        ("bob", "n" * 101, "at most 100 fit"),
    ],
)
def test_create_api_token_command_refuses_clearly(bob, username, name, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", username, name, stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_create_api_token_command_refuses_deactivated_users(bob) -> None:
    User.objects.filter(pk=bob.pk).update(is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_token", "bob", "RMM", stdout=io.StringIO())


def test_docs_and_schema_are_served_without_a_token(client) -> None:
    assert client.get("/api/docs").status_code == 200
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"] == {"StaffToken": {"type": "http", "scheme": "bearer"}}
    operations = {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("/api/tickets", "get"),
        ("/api/tickets", "post"),
        ("/api/tickets/{number}", "get"),
        ("/api/tickets/{number}/messages", "post"),
    }
    for operation in operations.values():
        assert operation["security"] == [{"StaffToken": []}]
        assert "401" in operation["responses"]
    create = operations[("/api/tickets", "post")]
    assert create["parameters"][0]["name"] == "Idempotency-Key"
    required = schema["components"]["schemas"]["TicketCreate"]["required"]
    assert set(required) == {"requester_email", "subject", "body"}


def test_schema_passes_the_openapi_validator(client) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/api/openapi.json").json())
