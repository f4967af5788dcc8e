from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from firstcall.escalation.models import (
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    OnCallMember,
    OnCallOverride,
    OnCallSchedule,
    OnCallShift,
    Page,
)
from firstcall.escalation.oncall import rebuild_shifts


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Runtime rows change only through the escalation engine, so every change is audited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OnCallMemberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OnCallMember
    extra = 0
    ordering = ["position"]


class OnCallOverrideInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OnCallOverride
    extra = 0
    ordering = ["-starts_at"]


@admin.register(OnCallSchedule)
class OnCallScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "time_zone", "rotation_starts_at", "shift_hours", "shifts_until")
    search_fields = ("name",)
    inlines = [OnCallMemberInline, OnCallOverrideInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Members, overrides or the rotation changed: "who is on call" reads the shifts.
        rebuild_shifts(form.instance.pk)


@admin.register(OnCallShift)
class OnCallShiftAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "user", "starts_at", "ends_at", "is_override")
    list_filter = ("schedule", "is_override")
    list_select_related = ("schedule", "user")


class LevelFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        levels = sorted(
            (form.cleaned_data["position"], form.cleaned_data["after_minutes"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        minutes = [after for _, after in levels]
        if minutes != sorted(minutes):
            raise ValidationError(
                "Minutes count from the start of the escalation: "
                "each level's must be at least the previous one's."
            )


class EscalationLevelInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EscalationLevel
    formset = LevelFormSet
    extra = 0
    ordering = ["position"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "priorities", "repeat_count", "position", "enabled")
    list_filter = ("enabled",)
    filter_horizontal = ("contracts",)
    inlines = [EscalationLevelInline]


class PageInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Page
    extra = 0
    can_delete = False
    fields = ("created_at", "level_position", "round", "user", "channel", "delivery")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = (
        "ticket",
        "policy",
        "reason",
        "started_at",
        "round",
        "next_level",
        "next_step_at",
        "acknowledged_by",
        "stopped_at",
        "stop_reason",
    )
    list_filter = ("policy",)
    list_select_related = ("ticket", "policy", "acknowledged_by")
    inlines = [PageInline]


@admin.register(Page)
class PageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "escalation", "level_position", "round", "user", "channel", "delivery")
    list_filter = ("channel",)
    list_select_related = ("escalation__ticket", "escalation__policy", "user", "delivery")
