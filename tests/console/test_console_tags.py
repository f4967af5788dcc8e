"""The console's template tags write what the {% include %}s, filters and {% url %}s they
replace wrote: the same <time> elements in the active time zone, the same ticket URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template import engines
from django.utils import timezone

from firstcall.console.templatetags.console_tags import long_time

MOMENTS = [
    datetime(2026, 3, 2, 15, 0, 7, 123456, tzinfo=UTC),  # Monday 09:00 in Chicago (CST)
    datetime(2026, 7, 4, 0, 0, tzinfo=UTC),  # summer time where there is one
    datetime(1999, 12, 31, 23, 59, tzinfo=ZoneInfo("America/Denver")),
]
ZONES = ["UTC", "America/Chicago", "Europe/London", "Asia/Kolkata"]

# What the console's templates wrote before the tags, with Django's own filters.
DJANGO_WHEN = (
    "<time datetime=\"{{ when|date:'c' }}\" title=\"{{ when|date:'l j F Y, H:i T' }}\">"
    '<span class="when-relative">{{ when|timesince }} ago</span> '
    '<span class="when-absolute">{{ when|date:"Y-m-d H:i T" }}</span></time>'
)
DJANGO_WHEN_DUE = (
    "<time datetime=\"{{ when|date:'c' }}\" title=\"{{ when|date:'l j F Y, H:i T' }}\">"
    '{{ when|date:"Y-m-d H:i T" }}</time>'
)


def render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("moment", MOMENTS, ids=["winter", "summer", "last-century"])
def test_when_tags_write_what_the_date_filters_wrote(zone: str, moment: datetime) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False), timezone.override(ZoneInfo(zone)):
        ours = render(
            "{% load console_tags %}{% when when %}|{% when_due when %}"
            "|{{ when|iso_time }}|{{ when|long_time }}",
            when=moment,
        )
        djangos = render(
            f"{DJANGO_WHEN}|{DJANGO_WHEN_DUE}|{{{{ when|date:'c' }}}}|{{{{ when|date:'l j F Y, H:i T' }}}}",
            when=moment,
        )
    assert ours == djangos


def test_when_reads_in_words_how_long_ago() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False), timezone.override(ZoneInfo("America/Chicago")):
        html = render("{% load console_tags %}{% when when %}", when=now - timedelta(hours=2, minutes=5))
        in_words = long_time(now)
    assert html == (
        '<time datetime="2026-03-02T06:55:00-06:00" title="Monday 2 March 2026, 06:55 CST">'
        '<span class="when-relative">2\xa0hours, 5\xa0minutes ago</span> '
        '<span class="when-absolute">2026-03-02 06:55 CST</span></time>'
    )
    assert in_words == "Monday 2 March 2026, 09:00 CST"


def test_nothing_is_written_for_no_moment() -> None:
    assert render("{% load console_tags %}[{% when when %}][{% when_due when %}]", when=None) == "[][]"


@pytest.mark.parametrize("number", ["T-000123", "T-1234567"])
@pytest.mark.parametrize("name", ["console:ticket_detail", "console:ticket_assign", "console:ticket_reply"])
def test_ticket_url_is_the_reversed_url(name: str, number: str) -> None:
    ours = render(
        "{% load console_tags %}{% ticket_url name n %}|{% ticket_url name n %}", name=name, n=number
    )
    assert ours == render("{% url name number=n %}|{% url name number=n %}", name=name, n=number)
