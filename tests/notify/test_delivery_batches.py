"""A batch of deliveries (a burst of pages) goes out with a fixed number of SQL statements
whatever its size: one claim, one STOP check for all its texts, the emails over a few SMTP
connections while the texts go out side by side, one write for all that were sent — each
delivery with its own time and provider id, a failure or a STOP handled for that one alone, and
no delivery claimed (so sent) by two workers.

The pages come from tests/escalation/conftest.py: P1s assigned to bob; at minute 15 erin, on
call, is paged for each by email (to a local SMTP sink) and text (to a local Twilio stand-in)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.mail.backends.smtp import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import start_escalation, sweep
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.notify.outbound import EMAIL_CONNECTIONS, deliver_many, opt_out
from firstcall.tickets.models import MessageKind
from tests.escalation import conftest as escalation_fixtures
from tests.escalation.conftest import at_minute, minutes_after_t0, open_p1
from tests.escalation.test_escalation_races import ON_POSTGRESQL, race
from tests.mailsink import MailSink
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.django_db

# The escalation tests' people and on-call schedule (fixtures), for the tests here.
staff = escalation_fixtures.staff
mia = escalation_fixtures.mia
engineering = escalation_fixtures.engineering

Capture = Callable[..., Any]
ACCOUNT_SID = "AC" + "8" * 32
TOKEN = "standin-batch-token"
OUR_NUMBER = "+15550100000"
ERIN_PHONE = "+15550100003"


@pytest.fixture
def providers(settings: Any) -> Iterator[tuple[TwilioStandIn, MailSink]]:
    with TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=TOKEN) as twilio, MailSink() as sink:
        settings.FIRSTCALL_SMS_PROVIDER = "twilio"
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_API_BASE_URL = twilio.base_url
        settings.FIRSTCALL_SMS_FROM = OUR_NUMBER
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = sink.port
        yield twilio, sink


@pytest.fixture
def no_step_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No task runs a step or sends a page: the tests fire the steps and send the pages."""
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)
    monkeypatch.setattr("firstcall.escalation.pages.enqueue_deliveries_on_commit", lambda ids: None)


# Just after the on-call level's minute, when its deliveries are due.
SENDING = minutes_after_t0(15) + timedelta(seconds=1)


def pages_waiting(count: int, dana: Contact, staff: dict[str, User], capture: Capture) -> list[int]:
    """``count`` P1s whose on-call pages were written at minute 15 but not sent yet: the ids
    of those deliveries, an email and a text for each."""
    with at_minute(0, capture):
        tickets = [open_p1(dana, assignee=staff["bob"], subject=f"Site {n} is down") for n in range(count)]
        for ticket in tickets:
            start_escalation(ticket, reason="P1 opened")
        sweep()
    with at_minute(15, capture):
        assert sweep() == count
    ids = list(
        Delivery.objects.filter(page__user__username="erin", page__escalation__ticket__in=tickets)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert len(ids) == 2 * count
    return ids


@pytest.fixture
def connections_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many SMTP connections were opened (one entry each)."""
    opened: list[int] = []
    original = EmailBackend.open

    def counting_open(self: EmailBackend) -> bool | None:
        new = original(self)
        if new:
            opened.append(1)
        return new

    monkeypatch.setattr(EmailBackend, "open", counting_open)
    return opened


def statements_to_deliver(ids: list[int]) -> int:
    with time_machine.travel(SENDING, tick=True), CaptureQueriesContext(connection) as queries:
        statuses = deliver_many(ids)
    assert statuses == dict.fromkeys(ids, DeliveryStatus.SENT)
    return len(queries)


def test_a_batch_goes_out_with_the_same_statements_whatever_its_size(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    connections_opened: list[int],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio, sink = providers
    few = statements_to_deliver(pages_waiting(2, dana, staff, django_capture_on_commit_callbacks))
    opened_for_few = len(connections_opened)
    ids = pages_waiting(8, dana, staff, django_capture_on_commit_callbacks)
    assert statements_to_deliver(ids) == few <= 8
    # 8 emails over EMAIL_CONNECTIONS connections, not one each.
    assert len(connections_opened) - opened_for_few == EMAIL_CONNECTIONS
    deliveries = Delivery.objects.filter(pk__in=ids)
    texts = {text.params["Body"].split()[1]: text.sid for text in twilio.sent[-8:]}
    for delivery in deliveries:
        assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
        assert delivery.sent_at is not None and delivery.sent_at >= minutes_after_t0(15)
        if delivery.channel == "sms":
            # Each text keeps its own provider id, to match the provider's delivery reports.
            assert delivery.provider_message_id == texts[delivery.message.ticket.number]
        else:
            assert delivery.provider_message_id == ""
    assert sorted(message.email["Subject"] for message in sink.messages[-8:]) == sorted(
        delivery.subject for delivery in deliveries if delivery.channel == "email"
    )


def test_a_refused_text_fails_alone(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio, _ = providers
    ids = pages_waiting(4, dana, staff, django_capture_on_commit_callbacks)
    twilio.fail_next(400, code=21211)  # whichever text reaches Twilio first
    with time_machine.travel(SENDING, tick=True):
        statuses = deliver_many(ids)
    assert sorted(statuses.values()) == sorted([DeliveryStatus.FAILED] + [DeliveryStatus.SENT] * 7)
    failed = Delivery.objects.get(status=DeliveryStatus.FAILED)
    assert failed.channel == "sms" and "21211" in failed.last_error
    assert failed.message.ticket.messages.filter(
        kind=MessageKind.EVENT, body_text__startswith=f"Could not send the page to staff to {ERIN_PHONE}"
    ).exists()


def test_a_mail_server_down_puts_the_emails_back_and_the_texts_still_go(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    ids = pages_waiting(3, dana, staff, django_capture_on_commit_callbacks)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = unused.getsockname()[1]  # nothing listens there
    with time_machine.travel(SENDING, tick=True):
        deliver_many(ids)
    emails = Delivery.objects.filter(pk__in=ids, channel="email")
    assert {(d.status, d.attempts) for d in emails} == {(DeliveryStatus.PENDING, 1)}
    assert all("refused" in d.last_error.lower() for d in emails)
    texts = Delivery.objects.filter(pk__in=ids, channel="sms")
    assert {d.status for d in texts} == {DeliveryStatus.SENT}


def test_a_number_that_texted_stop_gets_no_page_by_text(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio, _ = providers
    ids = pages_waiting(2, dana, staff, django_capture_on_commit_callbacks)
    sent_before = len(twilio.sent)
    opt_out(ERIN_PHONE)
    with time_machine.travel(SENDING, tick=True):
        statuses = deliver_many(ids)
    by_channel = {(Delivery.objects.get(pk=pk).channel, status) for pk, status in statuses.items()}
    assert by_channel == {("email", DeliveryStatus.SENT), ("sms", DeliveryStatus.SUPPRESSED)}
    assert len(twilio.sent) == sent_before
    suppressed = Delivery.objects.filter(pk__in=ids, channel="sms")
    assert all("opted out" in delivery.last_error for delivery in suppressed)


def test_a_batch_already_claimed_is_not_sent_again(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio, sink = providers
    ids = pages_waiting(2, dana, staff, django_capture_on_commit_callbacks)
    texts, emails = len(twilio.sent), len(sink.messages)
    with time_machine.travel(SENDING, tick=True):
        assert len(deliver_many(ids)) == 4
        assert deliver_many(ids) == {}
    assert (len(twilio.sent) - texts, len(sink.messages) - emails) == (2, 2)


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_on_the_same_batch_send_each_delivery_once(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    no_step_tasks: None,
    providers: tuple[TwilioStandIn, MailSink],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio, sink = providers
    ids = pages_waiting(6, dana, staff, django_capture_on_commit_callbacks)
    texts, emails = len(twilio.sent), len(sink.messages)
    with time_machine.travel(SENDING, tick=True):
        results = race(lambda: deliver_many(ids))
    claimed = [set(result) for result in results]
    assert claimed[0].isdisjoint(claimed[1]) and claimed[0] | claimed[1] == set(ids)
    assert (len(twilio.sent) - texts, len(sink.messages) - emails) == (6, 6)
    assert set(Delivery.objects.filter(pk__in=ids).values_list("status", flat=True)) == {DeliveryStatus.SENT}
