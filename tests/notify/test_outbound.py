"""The outbox: acknowledgments are sent by the worker, retried with growing delays, claimed by
exactly one worker, and swept up when their scheduled task was lost."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from firstcall.intake.pipeline import ingest
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.notify.outbound import deliver_now
from firstcall.notify.tasks import sweep_deliveries
from firstcall.tickets.models import Channel, MessageKind, Ticket

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_request(token: str, email: str = "dana@brightsmile.example") -> bytes:
    return json.dumps(
        {"email": email, "subject": "Email hacked?", "description": "Spam sent from my account"}
    ).encode()


@pytest.fixture
def smtp_down(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_TIMEOUT = 2


def test_failed_send_is_retried_with_growing_delays(
    dana: Any, smtp_down: None, settings: Any, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            ingest(Channel.WEB, "web:1", web_request("1"))
        delivery = Delivery.objects.get()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.attempts == 1
        assert "Connection" in delivery.last_error or "refused" in delivery.last_error.lower()
        assert delivery.next_attempt_at == start + timedelta(seconds=30)
        # Not due yet: a second worker picking it up early does nothing.
        assert deliver_now(delivery.pk) is None

    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert deliver_now(delivery.pk) == DeliveryStatus.PENDING
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at == start + timedelta(seconds=31 + 60)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(start + timedelta(seconds=92), tick=False):
        assert deliver_now(delivery.pk) == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3 and delivery.last_error == ""
    assert len(outbox) == 1


def test_gives_up_after_max_attempts_and_says_so_on_the_timeline(
    dana: Any, smtp_down: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FIRSTCALL_DELIVERY_MAX_ATTEMPTS = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        ingest(Channel.WEB, "web:2", web_request("2"))
    delivery = Delivery.objects.get()
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert deliver_now(delivery.pk) == DeliveryStatus.FAILED
    ticket = Ticket.objects.get()
    events = list(ticket.messages.filter(kind=MessageKind.EVENT).values_list("body_text", flat=True))
    assert any(
        "Gave up sending the acknowledgment to dana@brightsmile.example after 2 attempts" in e for e in events
    )


def test_only_one_worker_sends_a_delivery(
    dana: Any, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        ingest(Channel.WEB, "web:3", web_request("3"))
    delivery = Delivery.objects.get()
    assert deliver_now(delivery.pk) == DeliveryStatus.SENT
    assert deliver_now(delivery.pk) is None
    assert len(outbox) == 1


def test_sweep_sends_what_a_lost_task_left_behind(
    dana: Any, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    # The on-commit enqueue never ran (worker/queue down): the sweep finds the row.
    with django_capture_on_commit_callbacks(execute=False):
        ingest(Channel.WEB, "web:4", web_request("4"))
    # A worker claimed another row and died mid-send.
    with django_capture_on_commit_callbacks(execute=False):
        ingest(Channel.WEB, "web:5", web_request("5", email="carl@brightsmile.example"))
    stuck = Delivery.objects.get(to_address="carl@brightsmile.example")
    Delivery.objects.filter(pk=stuck.pk).update(
        status=DeliveryStatus.SENDING, claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_deliveries.call_local() == 2
    assert sorted(m.to[0] for m in outbox) == ["carl@brightsmile.example", "dana@brightsmile.example"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_ping_pong_with_an_autoresponder_is_cut_off(
    dana: Any, settings: Any, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    settings.FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR = 3
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            ingest(Channel.WEB, f"web:loop-{n}", web_request(str(n)))
    assert len(outbox) == 3
    last = Ticket.objects.order_by("-pk").first()
    assert last is not None
    assert last.messages.filter(kind=MessageKind.NOTE, body_text__contains="possible mail loop").exists()
