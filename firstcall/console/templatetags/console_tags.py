"""Template helpers of the console."""

from __future__ import annotations

from datetime import datetime

from django import template

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


@register.filter
def ticket_number(ticket_id: int) -> str:
    """'T-000123' from a ticket's id, without loading the ticket."""
    return format_ticket_number(ticket_id)
