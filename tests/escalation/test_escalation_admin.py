"""The admin: schedules, policies and the runtime rows are listed; saving a schedule with its
rotation rebuilds the shifts that "who is on call" reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import start_escalation
from firstcall.escalation.models import OnCallSchedule
from firstcall.escalation.oncall import on_call_user
from tests.escalation.conftest import at_minute, minutes_after_t0, open_p1

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_as_owner(db: None) -> HttpClient:
    User.objects.create_superuser("root", "root@msp.example", "root-pass-123", role=Role.OWNER)
    client = HttpClient()
    client.login(username="root", password="root-pass-123")
    return client


def test_every_escalation_list_renders(
    admin_client_as_owner: HttpClient,
    dana: Contact,
    staff: dict[str, User],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        start_escalation(open_p1(dana, assignee=staff["bob"]), reason="P1 opened")
    for model in ("oncallschedule", "oncallshift", "escalationpolicy", "escalation", "page"):
        response = admin_client_as_owner.get(reverse(f"admin:escalation_{model}_changelist"))
        assert response.status_code == 200, model
    policy_page = admin_client_as_owner.get(reverse("admin:escalation_escalationpolicy_change", args=[1]))
    assert policy_page.status_code == 200
    assert b"Engineering on call" in policy_page.content


def test_saving_a_schedule_in_the_admin_rebuilds_its_shifts(
    admin_client_as_owner: HttpClient, staff: dict[str, User]
) -> None:
    schedule = OnCallSchedule.objects.get(name="Engineering on call")
    url = reverse("admin:escalation_oncallschedule_change", args=[schedule.pk])
    form = {
        "name": schedule.name,
        "time_zone": "America/Chicago",
        "rotation_starts_at_0": "2026-02-23",
        "rotation_starts_at_1": "15:00:00",  # 09:00 in Chicago (the admin edits in UTC)
        "shift_hours": "168",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "0",
        "members-0-user": str(staff["erin"].pk),
        "members-0-position": "0",
        "members-1-user": str(staff["mia"].pk),
        "members-1-position": "1",
        "overrides-TOTAL_FORMS": "0",
        "overrides-INITIAL_FORMS": "0",
    }
    with time_machine.travel(minutes_after_t0(-60), tick=False):
        response = admin_client_as_owner.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    # Week of 23 Feb: erin; from Monday 2 March 09:00 Chicago: mia.
    assert on_call_user(schedule.pk, minutes_after_t0(-1)) == staff["erin"]
    assert on_call_user(schedule.pk, minutes_after_t0(0)) == staff["mia"]
