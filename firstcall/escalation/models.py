"""On-call schedules, escalation policies and levels, and the escalation runtime (escalations
and the pages they sent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from firstcall.accounts.models import Role
from firstcall.clients.models import validate_time_zone
from firstcall.triage.priority import Priority

# ---------------------------------------------------------------------------------------------
# On-call schedules
# ---------------------------------------------------------------------------------------------


class OnCallSchedule(models.Model):
    """A rotation: members take turns of ``shift_hours`` from ``rotation_starts_at``, handing
    over at the same local time in the schedule's zone (across daylight-saving changes)."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin",
    )
    rotation_starts_at = models.DateTimeField(
        default=timezone.now, help_text="The first handoff; later handoffs keep its local time of day."
    )
    shift_hours = models.PositiveIntegerField(default=168, help_text="168 = a weekly handoff")
    # How far ahead OnCallShift rows exist; the daily task moves it forward.
    shifts_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(shift_hours__gt=0), name="shift_hours_positive")
        ]

    def __str__(self) -> str:
        return self.name


class OnCallMember(models.Model):
    """One person in a schedule's rotation; ``position`` orders the turns."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["schedule", "position"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="one_member_per_rotation_position")
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.position}. {self.user}"


class OnCallOverride(models.Model):
    """Someone else takes a window of the schedule (a swap, a holiday)."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["schedule", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.user} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The override must end after it starts."})


class OnCallShift(models.Model):
    """Who is on call in a window, materialized from the rotation and the overrides (see
    ``oncall.rebuild_shifts``) so that "who is on call now" is one indexed query."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_override = models.BooleanField(default=False)

    class Meta:
        ordering = ["schedule", "starts_at", "-is_override"]
        indexes = [models.Index(fields=["schedule", "ends_at"], name="oncall_shift_lookup")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        window = f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"
        return f"{self.schedule}: {self.user} {window}" + (" (override)" if self.is_override else "")


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------


class EscalationPolicy(models.Model):
    """Which tickets escalate (priorities, contracts) and how: its ordered levels."""

    name = models.CharField(max_length=100, unique=True)
    priorities: models.JSONField[Any] = models.JSONField(
        default=list, blank=True, help_text='Priorities it applies to, e.g. ["P1"]'
    )
    contracts = models.ManyToManyField(
        "clients.Contract",
        blank=True,
        related_name="escalation_policies",
        help_text="Empty: every contract (and tickets of clients without one).",
    )
    repeat_count = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times the levels run after the last one (0: once)."
    )
    repeat_after_minutes = models.PositiveIntegerField(
        default=30, help_text="Minutes after the last level before the levels start again (with repeats)."
    )
    position = models.PositiveSmallIntegerField(
        default=100, help_text="Among matching policies the lowest position wins."
    )
    starts_when_opened = models.BooleanField(
        default=True,
        help_text="Start as soon as a ticket of these priorities opens. Off: only when one of its "
        "SLA targets is missed.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        valid = set(Priority.values)
        if not isinstance(self.priorities, list) or not all(p in valid for p in self.priorities):
            raise ValidationError(
                {"priorities": f"A list of priorities, each one of {', '.join(sorted(valid))}."}
            )

    def applies_to(self, priority: str) -> bool:
        return priority in self.priorities


class TargetKind(models.TextChoices):
    ASSIGNEE = "assignee", "The ticket's assignee"
    USER = "user", "A person"
    ROLE = "role", "Everyone with a role"
    ON_CALL = "on_call", "Whoever is on call"


class EscalationLevel(models.Model):
    """One step of a policy: whom to page, ``after_minutes`` after the escalation (or the
    round) started. Minutes are cumulative: 0, 15, 30, 60."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    after_minutes = models.PositiveIntegerField(default=0)
    target_kind = models.CharField(max_length=20, choices=TargetKind.choices)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    target_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    target_schedule = models.ForeignKey(
        OnCallSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="escalation_levels"
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="one_level_per_policy_position"),
            # Exactly the target field its kind needs is set.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        target_kind=TargetKind.ASSIGNEE,
                        target_user__isnull=True,
                        target_role="",
                        target_schedule__isnull=True,
                    )
                    | models.Q(
                        target_kind=TargetKind.USER,
                        target_user__isnull=False,
                        target_role="",
                        target_schedule__isnull=True,
                    )
                    | (
                        models.Q(
                            target_kind=TargetKind.ROLE,
                            target_user__isnull=True,
                            target_schedule__isnull=True,
                        )
                        & ~models.Q(target_role="")
                    )
                    | models.Q(
                        target_kind=TargetKind.ON_CALL,
                        target_user__isnull=True,
                        target_role="",
                        target_schedule__isnull=False,
                    )
                ),
                name="level_target_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: after {self.after_minutes} min, {self.target_description}"

    @property
    def target_description(self) -> str:
        """Whom the level pages, in words for staff, e.g. 'on call in Engineering on call'."""
        if self.target_kind == TargetKind.USER and self.target_user is not None:
            return str(self.target_user)
        if self.target_kind == TargetKind.ROLE and self.target_role:
            return f"every {Role(self.target_role).label.lower()}"
        if self.target_kind == TargetKind.ON_CALL and self.target_schedule is not None:
            return f"on call in {self.target_schedule}"
        return "the assignee"

    def clean(self) -> None:
        needs = {
            TargetKind.ASSIGNEE: set(),
            TargetKind.USER: {"target_user"},
            TargetKind.ROLE: {"target_role"},
            TargetKind.ON_CALL: {"target_schedule"},
        }[TargetKind(self.target_kind)]
        present = {
            name
            for name, value in (
                ("target_user", self.target_user_id),
                ("target_role", self.target_role),
                ("target_schedule", self.target_schedule_id),
            )
            if value
        }
        errors = {name: "Required for this kind of target." for name in needs - present}
        errors.update({name: "Leave empty for this kind of target." for name in present - needs})
        if errors:
            raise ValidationError(errors)


# ---------------------------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------------------------


class Escalation(models.Model):
    """A policy running on a ticket. Active while ``stopped_at`` is null; ``next_step_at`` is
    when ``next_level`` fires (null when no level is left or it stopped)."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="escalations")
    reason = models.CharField(max_length=200, help_text='e.g. "P1 opened", "first response overdue"')
    started_at = models.DateTimeField(default=timezone.now)
    # Levels' after_minutes count from here; a repeat round moves it.
    round_started_at = models.DateTimeField(default=timezone.now)
    round = models.PositiveSmallIntegerField(default=0)
    next_level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Position of the next level"
    )
    next_step_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The sweep reads only what is due: active rows by next step.
            models.Index(
                fields=["next_step_at"], name="escalation_due", condition=models.Q(stopped_at__isnull=True)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(stopped_at__isnull=True),
                name="one_active_escalation_per_ticket",
            ),
            models.CheckConstraint(
                condition=models.Q(stopped_at__isnull=True) | models.Q(next_step_at__isnull=True),
                name="stopped_escalation_has_no_next_step",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.stopped_at is None else f"stopped: {self.stop_reason}"
        return f"{self.policy} on ticket {self.ticket_id} ({state})"

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None


class PageChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    # The tickets Channel's value, so a page call's timeline entry is on the phone channel.
    PHONE = "phone", "Voice call"


class Page(models.Model):
    """One person paged on one channel at one level of one round: never sent twice."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="pages")
    level_position = models.PositiveSmallIntegerField()
    round = models.PositiveSmallIntegerField(default=0)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="pages"
    )
    channel = models.CharField(max_length=10, choices=PageChannel.choices)
    delivery = models.OneToOneField(
        "notify.Delivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="page"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="page_user_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "level_position", "round", "user", "channel"], name="page_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"page to {self.user} by {self.channel} (level {self.level_position}, round {self.round})"
