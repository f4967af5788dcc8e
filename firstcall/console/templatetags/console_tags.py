"""Template helpers of the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from firstcall.tickets.models import format_ticket_number

register = template.Library()


def countdown_words(due: datetime, now: datetime) -> str:
    """'in 1 h 05 min', 'in 4 min', '12 min overdue', '2 d 3 h overdue': a deadline read at a
    glance. console.js writes the same words as time passes (keep the two alike)."""
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        span = f"{days} d {hours} h"
    elif hours:
        span = f"{hours} h {minutes:02d} min"
    else:
        span = f"{minutes} min"
    return f"in {span}" if seconds > 0 else f"{span} overdue"


@register.simple_tag
def countdown(due: datetime, now: datetime) -> str:
    return countdown_words(due, now)


# A ticket number that the console's URL patterns accept, standing in for the real one.
SAMPLE_NUMBER = "T-000000"


@register.simple_tag(takes_context=True)
def ticket_url(context: Context, name: str, number: str) -> str:
    """{% url name number=… %} for the many rows of a page: the URL is reversed once per
    template rendering and each row's number put in place of the sample's."""
    # The render context lives as long as one rendering of the template (django-stubs type its
    # values narrowly: any value goes).
    render_context: Any = context.render_context
    patterns: dict[str, tuple[str, str]] = render_context.setdefault("console_ticket_urls", {})
    if name not in patterns:
        head, _, tail = reverse(name, kwargs={"number": SAMPLE_NUMBER}).rpartition(SAMPLE_NUMBER)
        patterns[name] = (head, tail)
    head, tail = patterns[name]
    return f"{head}{number}{tail}"


@register.filter
def ticket_number(ticket_id: int) -> str:
    """'T-000123' from a ticket's id, without loading the ticket."""
    return format_ticket_number(ticket_id)


# A page lists dozens of moments (the queue's rows, a ticket's timeline and audit trail): these
# tags write the <time> element in Python, as {{ when|date:… }} inside an {% include %} wrote it
# (same words, same time zone: the one active while rendering), at a fraction of the cost.


def _long_words(local: datetime) -> str:
    """'Monday 2 March 2026, 09:00 CST' (the date filter's 'l j F Y, H:i T')."""
    return (
        f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month]} {local.year:04d}, "
        f"{local:%H:%M} {local.tzname() or ''}"
    )


def _short_words(local: datetime) -> str:
    """'2026-03-02 09:00 CST' (the date filter's 'Y-m-d H:i T')."""
    return f"{local.year:04d}-{local:%m-%d %H:%M} {local.tzname() or ''}"


@register.filter
def iso_time(moment: datetime) -> str:
    """The moment in the active time zone, ISO 8601 (the date filter's 'c'), for <time datetime>."""
    return timezone.localtime(moment).isoformat()


@register.filter
def long_time(moment: datetime) -> str:
    """'Monday 2 March 2026, 09:00 CST' in the active time zone (the date filter's 'l j F Y, H:i T')."""
    return _long_words(timezone.localtime(moment))


@register.simple_tag
def when(moment: datetime | None) -> SafeString:
    """When something happened: how long ago, and the date and time (the CSS shows one or the
    other), the full date in the tooltip."""
    if moment is None:
        return SafeString("")
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}"><span class="when-relative">{} ago</span> '
        '<span class="when-absolute">{}</span></time>',
        local.isoformat(),
        _long_words(local),
        timesince(moment),
        _short_words(local),
    )


@register.simple_tag
def when_due(moment: datetime | None) -> SafeString:
    """A deadline: its date and time, the full date in the tooltip."""
    if moment is None:
        return SafeString("")
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', local.isoformat(), _long_words(local), _short_words(local)
    )
