from django.contrib import admin

from firstcall.sla.models import Calendar, CalendarHours, ClosedDay, SlaTarget


class CalendarHoursInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CalendarHours
    extra = 0


class ClosedDayInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ClosedDay
    extra = 0


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "time_zone",
        "always_open",
        "holiday_country",
        "holiday_subdivision",
        "updated_at",
    )
    list_filter = ("always_open", "holiday_country")
    search_fields = ("name",)
    inlines = [CalendarHoursInline, ClosedDayInline]


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "contract",
        "priority",
        "first_response_minutes",
        "next_update_minutes",
        "resolution_minutes",
        "calendar",
    )
    list_filter = ("priority", "calendar")
    search_fields = ("contract__name", "contract__client__name")
    list_select_related = ("contract__client", "calendar")
    autocomplete_fields = ("calendar",)
