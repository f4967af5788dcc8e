"""Escalation policies: the seeded P1 default, which policy applies to a ticket, and levels
that name exactly the target their kind needs."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contract
from firstcall.escalation.models import EscalationLevel, EscalationPolicy, OnCallSchedule, TargetKind
from firstcall.escalation.policies import policy_for

pytestmark = pytest.mark.django_db


def test_the_default_p1_policy_is_seeded() -> None:
    policy = policy_for("P1", None)
    assert policy is not None and policy.name == "P1 default"
    assert policy.repeat_count == 0 and policy.priorities == ["P1"]
    levels = [
        (level.after_minutes, level.target_kind, level.target_role, level.target_schedule)
        for level in policy.levels.order_by("position")
    ]
    engineering = OnCallSchedule.objects.get(name="Engineering on call")
    assert levels == [
        (0, "assignee", "", None),
        (15, "on_call", "", engineering),
        (30, "role", "manager", None),
        (60, "role", "owner", None),
    ]
    assert not engineering.members.exists()
    # P2–P4 tickets do not escalate when they open, only when they miss an SLA target.
    assert policy_for("P2", None, opening=True) is None and policy_for("P4", None, opening=True) is None
    breach = policy_for("P3", None)
    assert breach is not None and not breach.starts_when_opened
    assert [
        (level.after_minutes, level.target_kind, level.target_role)
        for level in breach.levels.order_by("position")
    ] == [(0, "assignee", ""), (30, "role", "manager"), (120, "role", "owner")]


def test_a_policy_for_the_contract_wins_over_the_default(dental: Client, law: Client) -> None:
    gold = Contract.objects.get(client=dental)
    law_contract = Contract.objects.create(client=law, name="Basic")
    gold_policy = EscalationPolicy.objects.create(name="Gold P1/P2", priorities=["P1", "P2"], position=500)
    gold_policy.contracts.add(gold)

    assert policy_for("P1", gold.pk) == gold_policy  # named contract first, whatever the position
    assert policy_for("P2", gold.pk) == gold_policy
    assert policy_for("P1", law_contract.pk).name == "P1 default"  # type: ignore[union-attr]
    # The gold policy is not for this contract: a P2 there escalates only on a missed target.
    assert policy_for("P2", law_contract.pk, opening=True) is None
    assert policy_for("P2", law_contract.pk).name == "Missed SLA target (P2–P4)"  # type: ignore[union-attr]
    assert policy_for("P1", None).name == "P1 default"  # type: ignore[union-attr]

    gold_policy.enabled = False
    gold_policy.save()
    assert policy_for("P1", gold.pk).name == "P1 default"  # type: ignore[union-attr]


def test_among_policies_for_every_contract_the_lowest_position_wins() -> None:
    first = EscalationPolicy.objects.create(name="Night P1", priorities=["P1"], position=10)
    assert policy_for("P1", None) == first


def test_a_level_names_exactly_the_target_its_kind_needs(erin: User) -> None:
    policy = EscalationPolicy.objects.create(name="Test", priorities=["P2"])
    with pytest.raises(ValidationError) as missing:
        EscalationLevel(policy=policy, position=0, target_kind=TargetKind.USER).full_clean()
    assert "target_user" in missing.value.message_dict
    with pytest.raises(ValidationError) as extra:
        EscalationLevel(
            policy=policy, position=0, target_kind=TargetKind.ASSIGNEE, target_role="manager"
        ).full_clean()
    assert "target_role" in extra.value.message_dict
    EscalationLevel(policy=policy, position=0, target_kind=TargetKind.USER, target_user=erin).full_clean()

    # The database refuses it too (a level written around the form).
    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationLevel.objects.create(policy=policy, position=1, target_kind=TargetKind.ON_CALL)


def test_policy_priorities_are_checked() -> None:
    with pytest.raises(ValidationError):
        EscalationPolicy(name="Bad", priorities=["P9"]).full_clean()
    with pytest.raises(ValidationError):
        EscalationPolicy(name="Bad", priorities="P1").full_clean()
