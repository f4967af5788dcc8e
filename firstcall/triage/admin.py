from django.contrib import admin

from firstcall.triage.models import MatrixCell, TriageRule


@admin.register(MatrixCell)
class MatrixCellAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)
    list_filter = ("impact", "urgency")


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("position", "name", "enabled", "stop_processing", "updated_at")
    list_display_links = ("name",)
    list_editable = ("position", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name",)
    readonly_fields = ("updated_at",)
