"""Triage rules: an ordered list of conditions → actions, kept as JSON on ``TriageRule`` rows.

A condition is ``{"field": …, "op": …, "value": …}``; all conditions of a rule must hold (a rule
without conditions matches every ticket). An action is ``{"action": …, "value": …}``. Parsing
checks every field, operator, action and value and reports all problems at once in plain words,
so a bad rule is an error in the admin, never a crash at intake. Pure: no database.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from firstcall.triage.matrix import Impact, Urgency

FieldKind = Literal["text", "bool", "client"]

# The ticket facts a condition can test, and what kind of value each is.
FIELDS: dict[str, FieldKind] = {
    "text": "text",  # subject and body
    "subject": "text",
    "channel": "text",  # email, web, api, phone, sms, alert, console
    "client": "client",  # the client's id (a number) or name
    "requester_vip": "bool",
    "is_emergency": "bool",
    "alert_severity": "text",
}
OPERATORS: dict[FieldKind, tuple[str, ...]] = {
    "text": ("contains", "equals", "matches", "in"),
    "client": ("contains", "equals", "matches", "in"),
    "bool": ("equals",),
}
ACTIONS: tuple[str, ...] = ("set_impact", "set_urgency", "set_category", "assign_to", "set_team", "add_tag")
# Longest accepted value for the free-text actions (the ticket fields the lead maps them to).
ACTION_MAX_LENGTH: dict[str, int] = {"set_category": 100, "assign_to": 150, "set_team": 100, "add_tag": 50}
MAX_PATTERN_LENGTH = 500
_ESCAPE = re.compile(r"\\.", re.DOTALL)


class InvalidRule(ValueError):
    """A rule's conditions or actions cannot be used; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


ConditionValue = str | int | bool | tuple[str | int, ...]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: ConditionValue
    # Prepared once when parsed: the lowered texts to compare with, the client ids, the regex.
    texts: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)
    ids: frozenset[int] = dataclasses.field(default=frozenset(), repr=False, compare=False)
    pattern: re.Pattern[str] | None = dataclasses.field(default=None, repr=False, compare=False)
    # The pattern is run on the lowercased field (it is case-insensitive by construction).
    on_lowered: bool = dataclasses.field(default=False, repr=False, compare=False)

    def describe(self) -> str:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.field} {self.op} {value!r}"


@dataclass(frozen=True)
class Action:
    action: str
    value: str


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    stop_processing: bool = False
    position: int = 0
    id: int | None = None


class RuleInput:
    """The facts a rule condition reads, lowered once per ticket (only those a rule asks for)."""

    def __init__(
        self,
        *,
        subject: str,
        text: str,
        channel: str,
        client_id: int | None,
        client_name: str,
        requester_vip: bool,
        is_emergency: bool,
        alert_severity: str,
    ) -> None:
        self.raw: dict[str, str] = {
            "subject": subject,
            "text": text,
            "channel": channel,
            "client": client_name,
            "alert_severity": alert_severity,
        }
        self.client_id = client_id
        self.flags = {"requester_vip": requester_vip, "is_emergency": is_emergency}

    @cached_property
    def _lowered(self) -> dict[str, str]:
        return {name: value.lower() for name, value in self.raw.items()}

    def lowered(self, name: str) -> str:
        return self._lowered[name]


def condition_holds(condition: Condition, facts: RuleInput) -> bool:
    if FIELDS[condition.field] == "bool":
        return facts.flags[condition.field] is condition.value
    if condition.pattern is not None:  # matches
        subject = facts.lowered(condition.field) if condition.on_lowered else facts.raw[condition.field]
        return condition.pattern.search(subject) is not None
    if condition.ids and facts.client_id in condition.ids:
        return True
    actual = facts.lowered(condition.field)
    if condition.op == "contains":
        return any(text in actual for text in condition.texts)
    return actual.strip() in condition.texts  # equals, in


def rule_matches(rule: Rule, facts: RuleInput) -> bool:
    return all(condition_holds(condition, facts) for condition in rule.conditions)


def _parse_condition(index: int, raw: Any, problems: list[str]) -> Condition | None:
    where = f"condition {index}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with field, op and value")
        return None
    extra = sorted(set(raw) - {"field", "op", "value"})
    if extra:
        problems.append(f"{where}: unknown key(s) {', '.join(extra)} (expected field, op, value)")
    name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if name not in FIELDS:
        problems.append(f"{where}: unknown field {name!r} (known: {', '.join(FIELDS)})")
        return None
    kind = FIELDS[name]
    if op not in OPERATORS[kind]:
        problems.append(f"{where}: {name} cannot use op {op!r} (allowed: {', '.join(OPERATORS[kind])})")
        return None
    if "value" not in raw:
        problems.append(f"{where}: value is missing")
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            problems.append(f"{where}: {name} equals true or false, not {value!r}")
            return None
        return Condition(name, op, value)
    if op == "in":
        allowed: tuple[type, ...] = (str, int) if kind == "client" else (str,)
        items = value if isinstance(value, list) else None
        if not items or not all(
            isinstance(v, allowed) and not isinstance(v, bool) and (not isinstance(v, str) or v.strip())
            for v in items
        ):
            what = "client ids or names" if kind == "client" else "texts"
            problems.append(f"{where}: 'in' needs a non-empty list of {what}, not {value!r}")
            return None
        texts = frozenset(v.strip().lower() for v in items if isinstance(v, str))
        ids = frozenset(v for v in items if isinstance(v, int))
        return Condition(name, op, tuple(items), texts=texts, ids=ids)
    if kind == "client" and op == "equals" and isinstance(value, int) and not isinstance(value, bool):
        return Condition(name, op, value, ids=frozenset({value}))
    if not isinstance(value, str) or not value.strip():
        expected = "a client id or name" if kind == "client" and op == "equals" else "a non-empty text"
        problems.append(f"{where}: {name} {op} needs {expected}, not {value!r}")
        return None
    if op == "matches":
        if len(value) > MAX_PATTERN_LENGTH:
            problems.append(f"{where}: the pattern is longer than {MAX_PATTERN_LENGTH} characters")
            return None
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as error:
            problems.append(f"{where}: {value!r} is not a valid regular expression ({error})")
            return None
        if _ESCAPE.sub("", value).lower() == _ESCAPE.sub("", value):
            # No capital letter outside escapes: matching the lowercased text gives the same
            # answer as ignoring case, several times faster on a long message.
            return Condition(name, op, value, pattern=re.compile(value), on_lowered=True)
        return Condition(name, op, value, pattern=re.compile(value, re.IGNORECASE))
    return Condition(name, op, value, texts=frozenset({value.strip().lower()}))


def _parse_action(index: int, raw: Any, problems: list[str]) -> Action | None:
    where = f"action {index}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with action and value")
        return None
    extra = sorted(set(raw) - {"action", "value"})
    if extra:
        problems.append(f"{where}: unknown key(s) {', '.join(extra)} (expected action, value)")
    name, value = raw.get("action"), raw.get("value")
    if name not in ACTIONS:
        problems.append(f"{where}: unknown action {name!r} (known: {', '.join(ACTIONS)})")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {name} needs a non-empty text value, not {value!r}")
        return None
    value = value.strip()
    if name == "set_impact" and value not in Impact.values:
        problems.append(f"{where}: impact must be one of {', '.join(Impact.values)}, not {value!r}")
        return None
    if name == "set_urgency" and value not in Urgency.values:
        problems.append(f"{where}: urgency must be one of {', '.join(Urgency.values)}, not {value!r}")
        return None
    limit = ACTION_MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        problems.append(f"{where}: {name} value is longer than {limit} characters")
        return None
    return Action(name, value)


def parse_rule(
    *,
    name: str,
    conditions: Any,
    actions: Any,
    stop_processing: bool = False,
    position: int = 0,
    id: int | None = None,
) -> Rule:
    """A usable rule from stored JSON, or ``InvalidRule`` listing every problem."""
    problems: list[str] = []
    if not isinstance(conditions, list):
        problems.append("conditions must be a list (an empty list matches every ticket)")
        conditions = []
    if not isinstance(actions, list) or not actions:
        problems.append("actions must be a non-empty list")
        actions = actions if isinstance(actions, list) else []
    parsed_conditions = [_parse_condition(i, raw, problems) for i, raw in enumerate(conditions, start=1)]
    parsed_actions = [_parse_action(i, raw, problems) for i, raw in enumerate(actions, start=1)]
    if problems:
        raise InvalidRule(problems)
    return Rule(
        name=name,
        conditions=tuple(c for c in parsed_conditions if c is not None),
        actions=tuple(a for a in parsed_actions if a is not None),
        stop_processing=stop_processing,
        position=position,
        id=id,
    )
