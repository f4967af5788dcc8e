"""Triage rules: validation, each operator and action, order, and the stored rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from pytest_django import DjangoAssertNumQueries

from firstcall.accounts.models import User
from firstcall.triage.engine import TicketFacts, TriageResult, triage
from firstcall.triage.load import load_rules
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.models import TriageRule
from firstcall.triage.priority import Priority
from firstcall.triage.rules import InvalidRule, Rule, parse_rule

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DENTAL_ID = 7


def rule(name: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]], **extra: Any) -> Rule:
    return parse_rule(name=name, conditions=conditions, actions=actions, **extra)


def when(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def do(action: str, value: str) -> dict[str, Any]:
    return {"action": action, "value": value}


TAG = [do("add_tag", "matched")]


def run(rules: tuple[Rule, ...], **facts: Any) -> TriageResult:
    defaults: dict[str, Any] = {
        "subject": "QuickBooks won't open",
        "body": "Error 6123 when opening the company file",
        "channel": "email",
        "client_id": DENTAL_ID,
        "client_name": "Bright Smile Dental",
    }
    return triage(TicketFacts(**(defaults | facts)), now=NOW, rules=rules)


def matched(condition: dict[str, Any], **facts: Any) -> bool:
    return run((rule("r", [condition], TAG),), **facts).tags == ("matched",)


# --- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (when("text", "contains", "QUICKBOOKS"), True),
        (when("text", "contains", "error 6123"), True),
        (when("text", "contains", "sage"), False),
        (when("subject", "contains", "company file"), False),  # only in the body
        (when("subject", "equals", "quickbooks won't open"), True),
        (when("subject", "equals", "quickbooks"), False),
        (when("text", "matches", r"error\s+61\d\d"), True),
        (when("text", "matches", r"^error"), False),
        (when("channel", "equals", "email"), True),
        (when("channel", "in", ["sms", "phone"]), False),
        (when("channel", "in", ["sms", "EMAIL"]), True),
        (when("client", "equals", DENTAL_ID), True),
        (when("client", "equals", DENTAL_ID + 1), False),
        (when("client", "equals", "bright smile dental"), True),
        (when("client", "in", [99, "Hale & Porter Law"]), False),
        (when("client", "in", [99, DENTAL_ID]), True),
        (when("client", "contains", "dental"), True),
        (when("client", "matches", "^bright"), True),
        (when("requester_vip", "equals", False), True),
        (when("requester_vip", "equals", True), False),
        (when("is_emergency", "equals", False), True),
        (when("alert_severity", "equals", "critical"), False),
    ],
)
def test_each_field_and_operator(condition: dict[str, Any], expected: bool) -> None:
    assert matched(condition) is expected


def test_boolean_fields_and_alert_severity_read_the_facts() -> None:
    assert matched(when("requester_vip", "equals", True), requester_is_vip=True)
    assert matched(when("is_emergency", "equals", True), is_emergency=True)
    assert matched(when("alert_severity", "in", ["critical", "page"]), alert_severity="Critical")


def test_a_rule_without_client_does_not_match_a_client_condition() -> None:
    assert not matched(when("client", "equals", DENTAL_ID), client_id=None, client_name="")


def test_all_conditions_must_hold_and_no_conditions_matches_everything() -> None:
    both = rule("both", [when("text", "contains", "quickbooks"), when("channel", "equals", "sms")], TAG)
    assert run((both,)).tags == ()
    assert run((rule("always", [], TAG),)).tags == ("matched",)


# --- actions and order -----------------------------------------------------------------------


def test_each_action() -> None:
    accounting = rule(
        "Accounting software",
        [when("text", "matches", r"quickbooks|sage")],
        [
            do("set_impact", "team"),
            do("set_urgency", "high"),
            do("set_category", "Line-of-business apps"),
            do("assign_to", "erin"),
            do("set_team", "Applications"),
            do("add_tag", "accounting"),
        ],
    )
    result = run((accounting,))
    assert (result.impact, result.urgency, result.priority) == (Impact.TEAM, Urgency.HIGH, Priority.P2)
    assert result.category == "Line-of-business apps"
    assert result.assignee_username == "erin"
    assert result.team_name == "Applications"
    assert result.tags == ("accounting",)
    texts = [reason.text for reason in result.reasons]
    assert texts[0] == (
        "Impact: a team or site — rule “Accounting software” (instead of one person: the default: "
        "nothing in the request points to more than one person)"
    )
    assert "Category: Line-of-business apps — rule “Accounting software”" in texts
    assert "Assignee: erin — rule “Accounting software”" in texts
    assert "Team: Applications — rule “Accounting software”" in texts
    assert "Tag: accounting — rule “Accounting software”" in texts


def test_a_rule_overrides_a_signal_and_says_so() -> None:
    printers = rule(
        "Printers are one person", [when("text", "contains", "printer")], [do("set_impact", "person")]
    )
    result = run((printers,), subject="Printer", body="The printer is slow for everyone")
    assert result.impact == Impact.PERSON
    assert result.reasons[0].because == (
        "rule “Printers are one person” (instead of the whole company: the message says “for everyone”)"
    )


def test_later_rules_overwrite_earlier_ones_and_tags_accumulate() -> None:
    first = rule("first", [], [do("set_category", "General"), do("add_tag", "a")])
    second = rule("second", [], [do("set_category", "Apps"), do("add_tag", "b"), do("add_tag", "a")])
    result = run((first, second))
    assert (result.category, result.tags) == ("Apps", ("a", "b"))
    assert [r.text for r in result.reasons if r.dimension in ("category", "tag")] == [
        "Category: Apps — rule “second”",
        "Tag: a — rule “first”",
        "Tag: b — rule “second”",
    ]


def test_stop_processing_skips_the_rest() -> None:
    first = rule("first", [], [do("add_tag", "a")], stop_processing=True)
    second = rule("second", [], [do("add_tag", "b")])
    assert run((first, second)).tags == ("a",)
    not_matching = rule(
        "never", [when("channel", "equals", "sms")], [do("add_tag", "x")], stop_processing=True
    )
    assert run((not_matching, second)).tags == ("b",)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "actions", "problem"),
    [
        ([when("txt", "contains", "x")], TAG, "condition 1: unknown field 'txt' (known: text, subject,"),
        ([when("text", "startswith", "x")], TAG, "condition 1: text cannot use op 'startswith'"),
        (
            [when("is_emergency", "contains", "x")],
            TAG,
            "is_emergency cannot use op 'contains' (allowed: equals)",
        ),
        ([when("is_emergency", "equals", "yes")], TAG, "is_emergency equals true or false, not 'yes'"),
        ([when("text", "contains", "")], TAG, "text contains needs a non-empty text"),
        ([when("text", "contains", 3)], TAG, "text contains needs a non-empty text, not 3"),
        ([when("text", "matches", "(unclosed")], TAG, "'(unclosed' is not a valid regular expression"),
        ([when("channel", "in", "sms")], TAG, "'in' needs a non-empty list of texts"),
        ([when("channel", "in", [])], TAG, "'in' needs a non-empty list of texts"),
        ([when("channel", "in", [1])], TAG, "'in' needs a non-empty list of texts"),
        ([when("client", "in", [True])], TAG, "'in' needs a non-empty list of client ids or names"),
        ([when("client", "equals", None)], TAG, "client equals needs a client id or name"),
        ([{"field": "text", "op": "contains"}], TAG, "condition 1: value is missing"),
        ([{"field": "text", "op": "contains", "value": "x", "vaule": 1}], TAG, "unknown key(s) vaule"),
        (["text contains x"], TAG, "condition 1: must be an object"),
        ({"field": "text"}, TAG, "conditions must be a list"),
        ([], [], "actions must be a non-empty list"),
        ([], [do("set_priority", "P1")], "action 1: unknown action 'set_priority'"),
        ([], [do("set_impact", "everyone")], "impact must be one of person, team, company, not 'everyone'"),
        ([], [do("set_urgency", "asap")], "urgency must be one of low, medium, high, critical"),
        ([], [do("add_tag", "")], "add_tag needs a non-empty text value"),
        ([], [do("add_tag", "x" * 51)], "add_tag value is longer than 50 characters"),
        ([], [{"action": "add_tag"}], "add_tag needs a non-empty text value, not None"),
    ],
)
def test_a_bad_rule_is_refused_with_a_clear_reason(conditions: Any, actions: Any, problem: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        parse_rule(name="bad", conditions=conditions, actions=actions)
    assert any(problem in line for line in refused.value.problems), refused.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidRule) as refused:
        parse_rule(name="bad", conditions=[when("txt", "contains", "x")], actions=[do("set_impact", "big")])
    assert len(refused.value.problems) == 2


@pytest.mark.django_db
def test_the_admin_shows_rule_problems_on_their_fields(erin: User) -> None:
    row = TriageRule(
        name="Bad",
        conditions=[when("text", "matches", "(")],
        actions=[do("assign_to", "nobody"), do("set_impact", "huge")],
    )
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert set(refused.value.message_dict) == {"conditions", "actions"}
    unknown_user = TriageRule(name="Unknown", conditions=[], actions=[do("assign_to", "nobody")])
    with pytest.raises(ValidationError, match="no active staff user 'nobody'"):
        unknown_user.full_clean()
    TriageRule(name="Good", conditions=[], actions=[do("assign_to", "erin")]).full_clean()


@pytest.mark.django_db
def test_load_rules_reads_enabled_rules_in_order_in_one_query_and_skips_broken_ones(
    django_assert_num_queries: DjangoAssertNumQueries, caplog: pytest.LogCaptureFixture
) -> None:
    TriageRule.objects.create(position=20, name="second", actions=[do("add_tag", "b")])
    TriageRule.objects.create(position=10, name="first", actions=[do("add_tag", "a")], stop_processing=True)
    TriageRule.objects.create(position=5, name="off", enabled=False, actions=[do("add_tag", "off")])
    # Saved around the admin's checks (a shell, a bulk import): skipped, intake goes on.
    TriageRule.objects.create(position=1, name="broken", actions=[do("set_impact", "huge")])
    with django_assert_num_queries(1):
        rules = load_rules()
    assert [r.name for r in rules] == ["first", "second"]
    assert rules[0].stop_processing and rules[0].position == 10 and rules[0].id is not None
    assert "triage rule" in caplog.text and "'broken'" in caplog.text
    assert run(rules).tags == ("a",)
