"""Triage configuration in the admin: rules, matrix cells, a client's processes and figures."""

from __future__ import annotations

import json

import pytest
from django.test import Client as Browser

from firstcall.accounts.models import User
from firstcall.clients.models import BusinessProcess, Client
from firstcall.triage.models import TriageRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(alice: User) -> Browser:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    browser = Browser()
    browser.force_login(alice)
    return browser


def test_a_bad_rule_is_a_clear_error_in_the_admin(admin_browser: Browser) -> None:
    response = admin_browser.post(
        "/admin/triage/triagerule/add/",
        {
            "position": 10,
            "name": "Broken",
            "enabled": "on",
            "conditions": json.dumps([{"field": "txt", "op": "contains", "value": "x"}]),
            "actions": json.dumps([{"action": "set_impact", "value": "everyone"}]),
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "condition 1: unknown field &#x27;txt&#x27;" in page
    assert "impact must be one of person, team, company" in page
    assert not TriageRule.objects.exists()


def test_a_good_rule_is_saved_from_the_admin(admin_browser: Browser) -> None:
    response = admin_browser.post(
        "/admin/triage/triagerule/add/",
        {
            "position": 10,
            "name": "Accounting software",
            "enabled": "on",
            "conditions": json.dumps([{"field": "text", "op": "matches", "value": "quickbooks|sage"}]),
            "actions": json.dumps([{"action": "set_team", "value": "Applications"}]),
        },
    )
    assert response.status_code == 302
    assert TriageRule.objects.get().to_rule().actions[0].value == "Applications"


def test_matrix_and_rules_lists_render(admin_browser: Browser) -> None:
    assert admin_browser.get("/admin/triage/matrixcell/").status_code == 200
    assert admin_browser.get("/admin/triage/triagerule/").status_code == 200


def test_a_clients_page_shows_its_figures_and_processes(
    admin_browser: Browser, payroll: BusinessProcess, dental: Client
) -> None:
    page = admin_browser.get(f"/admin/clients/client/{dental.pk}/change/").content.decode()
    assert 'name="headcount"' in page
    assert 'name="hourly_cost"' in page
    assert "Payroll submission" in page
    assert admin_browser.get("/admin/clients/businessprocess/").status_code == 200
