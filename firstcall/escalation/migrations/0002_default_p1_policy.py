"""The default P1 policy: the assignee at once, the on-call engineer after 15 minutes without
acknowledgment, a manager after 30, the owner after 60. For P2–P4, a policy that starts only
when an SLA target is missed: the assignee at once, a manager after 30, the owner after 120. Its on-call schedule starts empty (an
empty slot falls through to the manager) with a Monday 09:00 handoff in the server's zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

SCHEDULE_NAME = "Engineering on call"
POLICY_NAME = "P1 default"
BREACH_POLICY_NAME = "Missed SLA target (P2–P4)"


def seed(apps, schema_editor):
    OnCallSchedule = apps.get_model("escalation", "OnCallSchedule")
    EscalationPolicy = apps.get_model("escalation", "EscalationPolicy")
    EscalationLevel = apps.get_model("escalation", "EscalationLevel")
    schedule, _ = OnCallSchedule.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "time_zone": settings.TIME_ZONE,
            # A Monday: the weekly handoff is Monday 09:00 local time.
            "rotation_starts_at": datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo(settings.TIME_ZONE)),
            "shift_hours": 168,
        },
    )
    policy, created = EscalationPolicy.objects.get_or_create(
        name=POLICY_NAME,
        defaults={"priorities": ["P1"], "repeat_count": 0, "position": 100, "enabled": True},
    )
    if not created:
        return
    levels = [
        {"after_minutes": 0, "target_kind": "assignee"},
        {"after_minutes": 15, "target_kind": "on_call", "target_schedule": schedule},
        {"after_minutes": 30, "target_kind": "role", "target_role": "manager"},
        {"after_minutes": 60, "target_kind": "role", "target_role": "owner"},
    ]
    for position, fields in enumerate(levels):
        EscalationLevel.objects.create(policy=policy, position=position, **fields)
    breach, created = EscalationPolicy.objects.get_or_create(
        name=BREACH_POLICY_NAME,
        defaults={
            "priorities": ["P2", "P3", "P4"],
            "repeat_count": 0,
            "position": 200,
            "starts_when_opened": False,
            "enabled": True,
        },
    )
    if created:
        breach_levels = [
            {"after_minutes": 0, "target_kind": "assignee"},
            {"after_minutes": 30, "target_kind": "role", "target_role": "manager"},
            {"after_minutes": 120, "target_kind": "role", "target_role": "owner"},
        ]
        for position, fields in enumerate(breach_levels):
            EscalationLevel.objects.create(policy=breach, position=position, **fields)


def unseed(apps, schema_editor):
    apps.get_model("escalation", "EscalationPolicy").objects.filter(
        name__in=[POLICY_NAME, BREACH_POLICY_NAME]
    ).delete()
    apps.get_model("escalation", "OnCallSchedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
