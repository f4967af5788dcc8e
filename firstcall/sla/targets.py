"""Which SLA targets apply to a ticket: the client's current contract's, else firstcall's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from firstcall.config_memo import memoized_config
from firstcall.sla.calendars import CalendarSpec
from firstcall.sla.models import SlaTarget, load_calendar
from firstcall.triage.priority import Priority

# The default calendars, created by the sla app's data migration; looked up by these names.
TWENTY_FOUR_SEVEN = "24×7"
BUSINESS_HOURS = "Business hours"

# One business day on the default business-hours calendar (08:00–18:00).
BUSINESS_DAY_MINUTES = 10 * 60


@dataclass(frozen=True)
class SlaTargets:
    """The targets of a ticket, in open minutes of `calendar`; None means no such target."""

    priority: Priority
    first_response_minutes: int
    next_update_minutes: int | None
    resolution_minutes: int | None
    calendar: CalendarSpec
    calendar_name: str
    source: str  # in plain words, for explanations: "contract 'Gold 24×7'" or "firstcall default"


@dataclass(frozen=True)
class _DefaultTarget:
    first_response_minutes: int
    next_update_minutes: int | None
    resolution_minutes: int | None
    calendar_name: str


# Used when a client has no current contract with a target for the priority.
DEFAULT_TARGETS: dict[Priority, _DefaultTarget] = {
    Priority.P1: _DefaultTarget(30, 60, 4 * 60, TWENTY_FOUR_SEVEN),
    Priority.P2: _DefaultTarget(60, 2 * 60, 8 * 60, TWENTY_FOUR_SEVEN),
    Priority.P3: _DefaultTarget(4 * 60, BUSINESS_DAY_MINUTES, 2 * BUSINESS_DAY_MINUTES, BUSINESS_HOURS),
    Priority.P4: _DefaultTarget(BUSINESS_DAY_MINUTES, None, 5 * BUSINESS_DAY_MINUTES, BUSINESS_HOURS),
}

DEFAULT_SOURCE = "firstcall default"


def built_in_calendar(name: str) -> CalendarSpec:
    """A default calendar as the data migration creates it, for when its row has been deleted:
    24×7 in UTC, or Mon–Fri 08:00–18:00 in settings.TIME_ZONE."""
    if name == TWENTY_FOUR_SEVEN:
        return CalendarSpec.twenty_four_seven("UTC")
    if name == BUSINESS_HOURS:
        return CalendarSpec.business_hours(settings.TIME_ZONE, "08:00", "18:00", range(5))
    raise ValueError(f"No built-in calendar named {name!r}")


def targets_for(client_id: int | None, priority: str, *, on: date | None = None) -> SlaTargets:
    """The SLA targets for a ticket of `priority` from the client on the date `on` (default:
    today in settings.TIME_ZONE).

    They come from the client's current contract (starts_on ≤ on ≤ ends_on, or no end) that has
    a target for the priority, the newest starts_on winning; else from DEFAULT_TARGETS on the
    default calendar of that name (or its built-in copy when the row is gone).
    At most 2 queries: the contract's target, then its calendar with hours and closed days
    (one UNION query, see `load_calendar`). Without a client, only the second.
    Raises ValueError for an unknown priority.
    """
    return _targets_on(client_id, Priority(priority), on or timezone.localdate())


@memoized_config
def _targets_on(client_id: int | None, level: Priority, on: date) -> SlaTargets:
    if client_id is not None:
        target = (
            SlaTarget.objects.filter(
                contract__client_id=client_id, priority=level, contract__starts_on__lte=on
            )
            .filter(Q(contract__ends_on__isnull=True) | Q(contract__ends_on__gte=on))
            .order_by("-contract__starts_on", "-contract_id")
            .values_list(
                "first_response_minutes",
                "next_update_minutes",
                "resolution_minutes",
                "calendar_id",
                "contract__name",
            )
            .first()
        )
        if target is not None:
            first_response, next_update, resolution, calendar_id, contract_name = target
            calendar = load_calendar(pk=calendar_id)
            # The calendar is PROTECTed from deletion; only a delete racing this lookup (with
            # its targets) leaves it missing, and then the defaults apply.
            if calendar is not None:
                return SlaTargets(
                    priority=level,
                    first_response_minutes=first_response,
                    next_update_minutes=next_update,
                    resolution_minutes=resolution,
                    calendar=calendar.spec,
                    calendar_name=calendar.name,
                    source=f"contract '{contract_name}'",
                )
    default = DEFAULT_TARGETS[level]
    stored = load_calendar(name=default.calendar_name)
    return SlaTargets(
        priority=level,
        first_response_minutes=default.first_response_minutes,
        next_update_minutes=default.next_update_minutes,
        resolution_minutes=default.resolution_minutes,
        calendar=stored.spec if stored is not None else built_in_calendar(default.calendar_name),
        calendar_name=default.calendar_name,
        source=DEFAULT_SOURCE,
    )
