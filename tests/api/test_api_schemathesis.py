"""Schemathesis against the served OpenAPI schema (/api/openapi.json), through the WSGI app (no
network): for every operation, inputs generated from the schema — valid and invalid — never make
the API answer with a server error. Bounded and derandomized, so CI is quick and stable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from firstcall.accounts.models import ApiToken, User
from firstcall.clients.models import Contact

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request; the test's
    transaction lives on it (Django's test client disconnects the same signal handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(alice: User, dana: Contact, priya: Contact) -> str:
    return ApiToken.issue(alice, "schemathesis")[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_generated_request_makes_the_api_fail(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text[:300]
