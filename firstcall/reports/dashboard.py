"""What the console's dashboard shows: the figures of one period for one client or all, in
words and small charts. One call (``build_dashboard``), a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString

from firstcall.reports import charts, metrics
from firstcall.reports.periods import Period, PeriodChoice, last_days, last_weeks, msp_zone

# The charts' spans: two weeks of days, eight weeks of SLA compliance.
DAYS_CHARTED = 14
WEEKS_CHARTED = 8
# Fourteen pairs of bars need a wider drawing than the other charts (the page lets it scroll
# sideways on a phone).
DAILY_CHART_WIDTH = 880


@dataclass(frozen=True)
class Tile:
    """One headline figure: its name, the value as shown, and how it was reached in words."""

    key: str
    label: str
    value: str
    detail: str


@dataclass(frozen=True)
class Dashboard:
    client_id: int | None
    choice: PeriodChoice
    period: Period
    time_zone: str  # the zone the periods' days and weeks are in
    open_tickets: metrics.OpenTickets
    sla: metrics.SlaPerformance
    first_contact: metrics.Rate
    calls: metrics.CallsAnswered
    time_to_acknowledge: metrics.MeanDuration
    time_to_resolve: metrics.MeanDuration
    per_day: list[metrics.DayCounts]
    per_week: list[metrics.WeekCompliance]
    # Empty when one client is shown.
    per_client: list[metrics.ClientSummary]

    @property
    def tiles(self) -> list[Tile]:
        sla = self.sla
        return [
            Tile(
                "open",
                "Open tickets",
                str(self.open_tickets.total),
                ", ".join(f"{row.priority.value}: {row.count}" for row in self.open_tickets.by_priority)
                + f" · {self.open_tickets.waiting_on_client} waiting on the client",
            ),
            Tile(
                "sla",
                "SLA targets met",
                format_percent(sla.percent_met),
                f"{sla.met} of {sla.measured} met · first response {sla.first_response.met} of "
                f"{sla.first_response.measured}, resolution {sla.resolution.met} of "
                f"{sla.resolution.measured}",
            ),
            Tile(
                "fcr",
                "First-contact resolution",
                format_percent(self.first_contact.percent),
                f"{self.first_contact.part} of {self.first_contact.whole} resolved tickets",
            ),
            Tile(
                "calls",
                "Calls answered",
                format_percent(self.calls.rate.percent),
                f"{self.calls.answered} of {self.calls.finished} calls · {self.calls.voicemail} voicemail, "
                f"{self.calls.abandoned} abandoned",
            ),
            Tile(
                "acknowledge",
                "Mean time to acknowledge",
                format_duration(self.time_to_acknowledge.mean),
                f"over {_tickets(self.time_to_acknowledge.count)} acknowledged",
            ),
            Tile(
                "resolve",
                "Mean time to resolve",
                format_duration(self.time_to_resolve.mean),
                f"over {_tickets(self.time_to_resolve.count)} resolved",
            ),
        ]

    @property
    def open_chart(self) -> SafeString:
        rows = self.open_tickets.by_priority
        return charts.bar_chart(
            chart_id="chart-open",
            title="Open tickets by priority",
            description="Tickets not resolved or closed now, per priority.",
            labels=[row.priority.value for row in rows],
            series=[charts.Series("open", [row.count for row in rows])],
            empty_message="No open tickets.",
        )

    @property
    def daily_chart(self) -> SafeString:
        return charts.bar_chart(
            chart_id="chart-daily",
            title=f"Tickets opened and resolved, last {len(self.per_day)} days",
            description="Tickets opened and tickets resolved on each day.",
            labels=[f"{day.period.first_day:%a} {day.period.first_day.day}" for day in self.per_day],
            series=[
                charts.Series("opened", [day.opened for day in self.per_day]),
                charts.Series("resolved", [day.resolved for day in self.per_day]),
            ],
            width=DAILY_CHART_WIDTH,
        )

    @property
    def weekly_chart(self) -> SafeString:
        return charts.line_chart(
            chart_id="chart-weekly",
            title=f"SLA targets met, last {len(self.per_week)} weeks",
            description="Share of first-response and resolution targets met each week, Monday to "
            "Sunday; no point for a week with nothing measured.",
            labels=[f"{week.period.first_day.day} {week.period.first_day:%b}" for week in self.per_week],
            series=[charts.Series("met", [week.percent_met for week in self.per_week])],
            maximum=100,
            value_format=lambda value: f"{value:.0f}%",
            empty_message="No SLA targets measured in these weeks.",
        )


def _tickets(count: int) -> str:
    return f"{count} ticket" if count == 1 else f"{count} tickets"


def format_percent(value: float | None) -> str:
    """Whole percent, or an em dash when nothing was measured (not 0 %, which would be a result)."""
    return "—" if value is None else f"{value:.0f}%"


def format_duration(value: timedelta | None) -> str:
    """Minutes under an hour, hours and minutes under a day, then days and hours: '45 min',
    '3 h 05 min', '2 d 4 h'; an em dash for no value."""
    if value is None:
        return "—"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def build_dashboard(
    *,
    client_id: int | None = None,
    choice: PeriodChoice = PeriodChoice.THIS_WEEK,
    now: datetime | None = None,
) -> Dashboard:
    """Every figure of the dashboard for the period ``choice`` (this week by default), for one
    client or all. Ten queries at most (eight for one client), whatever the number of tickets."""
    now = now or timezone.now()
    period = choice.period(now)
    start, end = period.start, period.end
    return Dashboard(
        client_id=client_id,
        choice=choice,
        period=period,
        time_zone=msp_zone().key,
        open_tickets=metrics.open_tickets(client_id=client_id),
        sla=metrics.sla_performance(start=start, end=end, client_id=client_id, now=now),
        first_contact=metrics.first_contact_resolution(start=start, end=end, client_id=client_id),
        calls=metrics.calls_answered(start=start, end=end, client_id=client_id),
        time_to_acknowledge=metrics.mean_time_to_acknowledge(start=start, end=end, client_id=client_id),
        time_to_resolve=metrics.mean_time_to_resolve(start=start, end=end, client_id=client_id),
        per_day=metrics.opened_and_resolved_per_day(last_days(DAYS_CHARTED, now), client_id=client_id),
        per_week=metrics.sla_compliance_per_week(
            last_weeks(WEEKS_CHARTED, now), client_id=client_id, now=now
        ),
        per_client=(
            [] if client_id is not None else metrics.summary_per_client(start=start, end=end, now=now)
        ),
    )
