"""Stored triage configuration: the priority matrix's cells and the ordered triage rules."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority
from firstcall.triage.rules import InvalidRule, Rule, parse_rule


class MatrixCell(models.Model):
    """The priority for one (impact, urgency). Seeded with the default; a missing cell means
    the default's."""

    impact = models.CharField(max_length=10, choices=Impact.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="one_priority_per_matrix_cell"),
            models.CheckConstraint(condition=models.Q(impact__in=Impact.values), name="matrix_cell_impact"),
            models.CheckConstraint(
                condition=models.Q(urgency__in=Urgency.values), name="matrix_cell_urgency"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="matrix_cell_priority"
            ),
        ]

    def __str__(self) -> str:
        return f"impact {self.impact} × urgency {self.urgency} → {self.priority}"


class TriageRule(models.Model):
    """If every condition holds, do the actions. Rules run in position order after the built-in
    signals; see firstcall.triage.rules for the JSON they hold."""

    position = models.PositiveIntegerField(default=100, help_text="Rules run from the lowest position up")
    name = models.CharField(max_length=200, help_text="Shown in the priority explanation")
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            'All must hold; [] matches every ticket. E.g. [{"field": "text", "op": "contains", '
            '"value": "quickbooks"}]. Fields: text, subject, channel, client, requester_vip, '
            "is_emergency, alert_severity. Ops: contains, equals, matches (regular expression), in (a list)."
        ),
    )
    actions = models.JSONField(
        default=list,
        help_text=(
            'E.g. [{"action": "set_impact", "value": "team"}, {"action": "add_tag", "value": "accounting"}]. '
            "Actions: set_impact (person, team, company), set_urgency (low, medium, high, critical), "
            "set_category, assign_to (a staff username), set_team, add_tag."
        ),
    )
    stop_processing = models.BooleanField(default=False, help_text="When this rule matches, skip the rest")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["enabled", "position"], name="triage_rule_enabled_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def to_rule(self) -> Rule:
        """The engine's form of this row; ``InvalidRule`` if its JSON is not usable."""
        return parse_rule(
            name=self.name,
            conditions=self.conditions,
            actions=self.actions,
            stop_processing=self.stop_processing,
            position=self.position,
            id=self.pk,
        )

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        try:
            rule = self.to_rule()
        except InvalidRule as invalid:
            for problem in invalid.problems:
                key = "actions" if problem.startswith("action") else "conditions"
                errors.setdefault(key, []).append(problem)
        else:
            usernames = {a.value for a in rule.actions if a.action == "assign_to"}
            known = set(
                get_user_model()
                .objects.filter(username__in=usernames, is_active=True)
                .values_list("username", flat=True)
            )
            for missing in sorted(usernames - known):
                errors.setdefault("actions", []).append(f"assign_to: no active staff user {missing!r}")
        if errors:
            raise ValidationError(errors)
