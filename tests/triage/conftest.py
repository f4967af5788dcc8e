"""Triage fixtures: Bright Smile Dental's payroll process and its downtime figures."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from firstcall.clients.models import BusinessProcess, Client
from tests.triage.payroll import PAYROLL_ANCHOR


@pytest.fixture
def payroll(dental: Client) -> BusinessProcess:
    return BusinessProcess.objects.create(
        client=dental,
        name="Payroll submission",
        keywords="payroll, ADP, paychex",
        weekday=4,
        time=time(14, 0),
        every_weeks=2,
        anchor_date=PAYROLL_ANCHOR,
    )


@pytest.fixture
def dental_figures(dental: Client) -> Client:
    """25 people at a loaded 55.00 per hour, 400.00 revenue per hour."""
    dental.headcount = 25
    dental.hourly_cost = Decimal("55.00")
    dental.revenue_per_hour = Decimal("400.00")
    dental.save()
    return dental
