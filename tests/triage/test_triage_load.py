"""Stored business processes and client figures, and loading the engine's facts in few queries."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from pytest_django import DjangoAssertNumQueries

from firstcall.clients.models import BusinessProcess, Client
from firstcall.triage.load import facts_for_new_ticket, processes_for, triage_with_stored_settings
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.models import MatrixCell, TriageRule
from firstcall.triage.priority import Priority
from tests.triage.payroll import PAYROLL, chicago

pytestmark = pytest.mark.django_db


def test_a_stored_process_becomes_the_engines_spec(payroll: BusinessProcess) -> None:
    assert str(payroll) == "Bright Smile Dental: Payroll submission"
    spec = payroll.spec()
    assert spec.keywords == ("payroll", "adp", "paychex")
    assert (spec.weekday, spec.at, spec.every_weeks, spec.anchor_date) == (
        4,
        time(14),
        2,
        PAYROLL.anchor_date,
    )
    assert (spec.time_zone, spec.warn_hours, spec.critical_hours) == ("America/Chicago", 48, 8)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"keywords": " , "}, "keywords", "Name at least one keyword."),
        ({"anchor_date": None}, "anchor_date", "Give a date on which it occurs"),
        ({"anchor_date": date(2026, 1, 8)}, "anchor_date", "Thursday 8 January 2026 is not a Friday."),
        ({"critical_hours": 72}, "critical_hours", "Critical hours must not exceed warning hours."),
    ],
)
def test_a_bad_process_is_a_clear_admin_error(
    payroll: BusinessProcess, changes: dict[str, object], field: str, message: str
) -> None:
    for name, value in changes.items():
        setattr(payroll, name, value)
    with pytest.raises(ValidationError) as refused:
        payroll.full_clean()
    assert any(message in text for text in refused.value.message_dict[field])


def test_a_weekly_process_needs_no_anchor(dental: Client) -> None:
    weekly = BusinessProcess(client=dental, name="Claims batch", keywords="claims", weekday=0, time=time(9))
    weekly.full_clean()
    weekly.save()
    assert weekly.spec().every_weeks == 1


@pytest.mark.parametrize(
    "changes",
    [{"every_weeks": 2, "anchor_date": None}, {"critical_hours": 50}, {"every_weeks": 0}, {"weekday": 7}],
)
def test_the_database_refuses_an_impossible_process(dental: Client, changes: dict[str, object]) -> None:
    values: dict[str, object] = {
        "client": dental,
        "name": "Payroll",
        "keywords": "payroll",
        "weekday": 4,
        "time": time(14),
        "anchor_date": PAYROLL.anchor_date,
    }
    with pytest.raises(IntegrityError):
        BusinessProcess.objects.create(**(values | changes))


def test_process_names_are_unique_per_client(payroll: BusinessProcess, law: Client) -> None:
    BusinessProcess.objects.create(
        client=law, name=payroll.name, keywords="payroll", weekday=4, time=time(12)
    )
    with pytest.raises(IntegrityError):
        BusinessProcess.objects.create(
            client=payroll.client, name=payroll.name, keywords="x", weekday=0, time=time(9)
        )


def test_client_costs_are_not_negative(dental: Client) -> None:
    dental.hourly_cost = Decimal("-1")
    with pytest.raises(ValidationError) as refused:
        dental.full_clean()
    assert set(refused.value.message_dict) == {"hourly_cost"}
    with pytest.raises(IntegrityError):
        dental.save()


def test_processes_for_a_client_in_one_query(
    payroll: BusinessProcess, law: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1):
        specs = processes_for(payroll.client_id)
    assert [s.name for s in specs] == ["Payroll submission"]
    with django_assert_num_queries(1):
        assert processes_for(law.pk) == ()
    with django_assert_num_queries(0):
        assert processes_for(None) == ()


def test_a_client_with_an_unknown_time_zone_has_its_processes_ignored(
    payroll: BusinessProcess, caplog: pytest.LogCaptureFixture
) -> None:
    Client.objects.filter(pk=payroll.client_id).update(time_zone="Mars/Olympus_Mons")
    assert processes_for(payroll.client_id) == ()
    assert facts_for_new_ticket(client_id=payroll.client_id, subject="payroll").processes == ()
    assert "unknown time zone 'Mars/Olympus_Mons'" in caplog.text


def test_facts_for_a_new_ticket_in_two_queries(
    payroll: BusinessProcess, dental_figures: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(2):
        facts = facts_for_new_ticket(
            client_id=dental_figures.pk,
            subject="PC broken",
            body="I need to submit payroll",
            channel="email",
            requester_is_vip=True,
        )
    assert facts.client_name == "Bright Smile Dental"
    assert (facts.headcount, facts.hourly_cost, facts.revenue_per_hour) == (
        25,
        Decimal("55.00"),
        Decimal("400.00"),
    )
    assert [p.id for p in facts.processes] == [payroll.pk]
    with django_assert_num_queries(0):
        anonymous = facts_for_new_ticket(client_id=None, subject="Help")
    assert (anonymous.client_name, anonymous.processes, anonymous.headcount) == ("", (), None)


def test_triage_with_stored_settings_end_to_end(
    payroll: BusinessProcess,
    dental_figures: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    TriageRule.objects.create(
        position=1,
        name="Payroll goes to Erin's team",
        conditions=[{"field": "text", "op": "contains", "value": "payroll"}],
        actions=[{"action": "set_team", "value": "Applications"}],
    )
    facts = facts_for_new_ticket(
        client_id=dental_figures.pk, subject="PC broken", body="Payroll is due today"
    )
    with time_machine.travel(chicago(2026, 3, 20, 7), tick=False), django_assert_num_queries(2):
        result = triage_with_stored_settings(facts)
    assert (result.impact, result.urgency, result.priority) == (Impact.TEAM, Urgency.CRITICAL, Priority.P1)
    assert result.team_name == "Applications"
    assert (result.affected_people, result.cost_per_hour) == (5, Decimal("275.00"))
    assert result.next_review_at == chicago(2026, 3, 20, 14)

    # A stricter stored matrix is used.
    MatrixCell.objects.filter(impact=Impact.TEAM, urgency=Urgency.MEDIUM).update(priority=Priority.P2)
    far = triage_with_stored_settings(facts, now=chicago(2026, 3, 13, 10))
    assert far.priority == Priority.P2
