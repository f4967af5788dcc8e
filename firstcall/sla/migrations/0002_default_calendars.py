"""The two default calendars, and every contract's first-response targets copied into SLA targets.

"24×7" (UTC, always open) and "Business hours" (Mon–Fri 08:00–18:00 in settings.TIME_ZONE as it
is when this migration runs). Each clients.ResponseTarget becomes an SlaTarget with the same
contract, priority and first-response minutes: P1 and P2 on 24×7, P3 and P4 on business hours.
Safe to run again (nothing is created twice); the reverse leaves the rows in place.
"""

from datetime import time

from django.conf import settings
from django.db import migrations

# Written out here rather than imported: a migration must not change when the app's code does.
TWENTY_FOUR_SEVEN = "24×7"
BUSINESS_HOURS = "Business hours"
ROUND_THE_CLOCK_PRIORITIES = {"P1", "P2"}


def create_default_calendars(apps, schema_editor):
    Calendar = apps.get_model("sla", "Calendar")
    CalendarHours = apps.get_model("sla", "CalendarHours")
    SlaTarget = apps.get_model("sla", "SlaTarget")
    ResponseTarget = apps.get_model("clients", "ResponseTarget")

    always, _ = Calendar.objects.get_or_create(
        name=TWENTY_FOUR_SEVEN, defaults={"time_zone": "UTC", "always_open": True}
    )
    business, created = Calendar.objects.get_or_create(
        name=BUSINESS_HOURS, defaults={"time_zone": settings.TIME_ZONE, "always_open": False}
    )
    if created:
        CalendarHours.objects.bulk_create(
            CalendarHours(calendar=business, weekday=weekday, opens=time(8, 0), closes=time(18, 0))
            for weekday in range(5)
        )
    for target in ResponseTarget.objects.all():
        SlaTarget.objects.get_or_create(
            contract_id=target.contract_id,
            priority=target.priority,
            defaults={
                "first_response_minutes": target.first_response_minutes,
                "calendar": always if target.priority in ROUND_THE_CLOCK_PRIORITIES else business,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("clients", "0003_one_contact_per_number"),
    ]

    operations = [
        migrations.RunPython(create_default_calendars, migrations.RunPython.noop),
    ]
