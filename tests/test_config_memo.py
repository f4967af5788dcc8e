"""Configuration read on every new ticket is kept per process for a while, and an edit saved
through the ORM (the admin) is seen at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from firstcall.clients.models import Client
from firstcall.config_memo import clear_config_memos
from firstcall.escalation.policies import policy_for
from firstcall.sla.models import SlaTarget
from firstcall.sla.targets import targets_for
from firstcall.triage.load import load_matrix, load_rules
from firstcall.triage.models import TriageRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def memo_on(settings: Any) -> Iterator[None]:
    settings.FIRSTCALL_CONFIG_CACHE_SECONDS = 60
    clear_config_memos()
    yield
    clear_config_memos()


def queries(lookup: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        lookup()
    return len(captured.captured_queries)


def test_lookups_are_kept_and_a_saved_edit_is_seen_at_once(memo_on: None, dental: Client) -> None:
    def lookups() -> Any:
        return targets_for(dental.pk, "P3"), policy_for("P1", None), load_matrix(), load_rules()

    assert queries(lookups) > 0
    assert queries(lookups) == 0
    target = SlaTarget.objects.get(contract__client=dental, priority="P3")
    target.first_response_minutes = 45
    target.save()  # as the admin saves it
    assert targets_for(dental.pk, "P3").first_response_minutes == 45
    TriageRule.objects.create(
        position=1,
        name="Printers to the print team",
        conditions=[{"field": "text", "op": "contains", "value": "printer"}],
        actions=[{"action": "set_team", "value": "Print"}],
    )
    assert [rule.name for rule in load_rules()] == ["Printers to the print team"]


def test_the_memo_is_off_with_zero_seconds(settings: Any, dental: Client) -> None:
    settings.FIRSTCALL_CONFIG_CACHE_SECONDS = 0
    targets_for(dental.pk, "P3")
    assert queries(lambda: targets_for(dental.pk, "P3")) > 0
