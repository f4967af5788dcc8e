from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from firstcall.intake.models import AlertSource

pytestmark = pytest.mark.django_db


def test_creates_a_source_and_prints_its_secret_once(dental: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "create_alert_source",
        "Prometheus (dental)",
        "prom-dental",
        client="bright smile dental",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    source = AlertSource.objects.get(slug="prom-dental")
    assert source.default_client == dental and source.resolve_tickets
    assert secret and secret not in str(source.__dict__)
    assert "/hooks/alertmanager/prom-dental/" in err.getvalue()


def test_refuses_unknown_client_and_taken_slug(dental: Any) -> None:
    with pytest.raises(CommandError, match="no client named"):
        call_command(
            "create_alert_source", "X", "x", client="Nobody Inc", stdout=StringIO(), stderr=StringIO()
        )
    call_command("create_alert_source", "X", "x", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_alert_source", "Y", "x", stdout=StringIO(), stderr=StringIO())


def test_creating_a_source_is_audited(dental: Any) -> None:
    from firstcall.tickets.models import AuditEvent

    call_command("create_alert_source", "Grafana", "grafana", stdout=StringIO(), stderr=StringIO())
    event = AuditEvent.objects.get(action="alert_source_created")
    assert event.after["slug"] == "grafana" and event.ticket is None
