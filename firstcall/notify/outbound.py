"""Scheduling, sending and retrying outbound messages. Every one is a Message on the timeline
and a Delivery row (the outbox); a worker claims a row atomically, so two workers never send
the same message twice, and a failure is retried with growing delays."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from firstcall.clients.models import PhoneNumber, normalize_phone
from firstcall.notify.models import Delivery, DeliveryPurpose, DeliveryStatus, SmsOptOut
from firstcall.sla.targets import BUSINESS_DAY_MINUTES, targets_for
from firstcall.tickets.actions import Actor, add_event, add_message, audit
from firstcall.tickets.models import Channel, Message, MessageKind, Ticket, reply_subject

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120


def _email_message_id() -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "firstcall.localhost"
    return make_msgid(idstring="fc", domain=domain).strip("<>")


def sender_and_message_id(channel: str) -> tuple[str, str]:
    """Our sending address and a fresh id for one outbound message on ``channel``: the SMS
    number for texts and calls, the support address (and an RFC 5322 Message-ID) for email."""
    if channel == Channel.SMS:
        return settings.FIRSTCALL_SMS_FROM, f"sms-{uuid.uuid4()}"
    if channel == Channel.PHONE:
        return settings.FIRSTCALL_SMS_FROM, f"call-{uuid.uuid4()}"
    return settings.DEFAULT_FROM_EMAIL, _email_message_id()


def enqueue_delivery_on_commit(delivery_id: int) -> None:
    """Send the delivery by a task once the transaction that created it commits."""
    from firstcall.notify.tasks import deliver

    transaction.on_commit(lambda: deliver(delivery_id))


# Deliveries sent by one task. A burst (a thousand pages at once) goes out as many such tasks,
# which the worker runs side by side; each sends its emails over one SMTP connection.
DELIVERY_BATCH = 40


def enqueue_deliveries(delivery_ids: Sequence[int]) -> None:
    """Send the deliveries by tasks of up to DELIVERY_BATCH deliveries."""
    from firstcall.notify.tasks import deliver_batch

    for start in range(0, len(delivery_ids), DELIVERY_BATCH):
        deliver_batch(list(delivery_ids[start : start + DELIVERY_BATCH]))


def enqueue_deliveries_on_commit(delivery_ids: Sequence[int]) -> None:
    """Send the deliveries once the transaction that created them commits, by tasks of up to
    DELIVERY_BATCH deliveries."""
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: enqueue_deliveries(ids))


def acknowledgment_rate_exceeded(address: str) -> bool:
    since = timezone.now() - timedelta(hours=1)
    sent = Delivery.objects.filter(
        to_address=address, purpose=DeliveryPurpose.ACKNOWLEDGMENT, created_at__gte=since
    ).count()
    return sent >= settings.FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR


def _format_local(ticket: Ticket) -> str:
    zone = ticket.time_zone
    due = ticket.first_response_due_at
    assert due is not None
    local = due.astimezone(zone)
    return f"{local:%A %d %B %Y, %H:%M} ({zone.key})"


def first_response_target_text(ticket: Ticket) -> str:
    """The promise in words, e.g. '30 minutes' or '4 business hours': the first-response target
    of the ticket's priority and contract, as its clock counts it."""
    targets = targets_for(ticket.client_id, ticket.priority)
    return describe_target(targets.first_response_minutes, business_hours=not targets.calendar.always_open)


def describe_target(minutes: int, *, business_hours: bool = False) -> str:
    """'45 minutes', '2 hours', '1 day'; on a business-hours calendar '4 business hours',
    '1 business day' (a business day being BUSINESS_DAY_MINUTES of open time)."""
    if business_hours:
        if minutes % BUSINESS_DAY_MINUTES == 0:
            days = minutes // BUSINESS_DAY_MINUTES
            return "1 business day" if days == 1 else f"{days} business days"
        if minutes % 60 == 0:
            hours = minutes // 60
            return "1 business hour" if hours == 1 else f"{hours} business hours"
        return f"{minutes} business minutes"
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "1 day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


@dataclass(frozen=True)
class Route:
    """Where an outbound message goes: an email address, or a phone number for a text."""

    channel: Channel
    address: str


def sms_unreachable_reason(phone: str, *, just_recorded: bool = False) -> str:
    """Why we may not text this number ("" if we may): it opted out (STOP) or is a landline.
    ``just_recorded``: the number was recorded by this request, so it is not known to be a
    landline; only an opt-out (a STOP from it earlier) is looked for."""
    if just_recorded:
        return _opted_out_reason(phone) if opted_out_numbers([phone]) else ""
    return sms_unreachable_reasons([phone]).get(phone, "")


def sms_unreachable_reasons(phones: Sequence[str]) -> dict[str, str]:
    """Why we may not text each of these numbers, for those we may not (two queries however
    many numbers): it opted out (STOP) or is a landline."""
    numbers = sorted(set(phones))
    reasons = {
        number: _landline_reason(number)
        for number in PhoneNumber.objects.filter(number__in=numbers, can_receive_sms=False).values_list(
            "number", flat=True
        )
    }
    # An opt-out is the reason given when both apply: it is the one the person chose.
    reasons.update((number, _opted_out_reason(number)) for number in opted_out_numbers(numbers))
    return reasons


def _opted_out_reason(number: str) -> str:
    return f"{number} opted out of text messages (STOP)"


def _landline_reason(number: str) -> str:
    return f"{number} cannot receive text messages (landline)"


def opted_out_numbers(numbers: list[str]) -> set[str]:
    """Those of ``numbers`` that opted out of texts (STOP), in one query."""
    if not numbers:
        return set()
    return set(SmsOptOut.objects.filter(number__in=numbers).values_list("number", flat=True))


def opt_out(number: str, *, keyword: str = "STOP") -> bool:
    """The number texted STOP (or another opt-out keyword): send it no more texts until it opts
    back in. Returns False if it had opted out already (a redelivered STOP changes nothing)."""
    number = normalize_phone(number)
    with transaction.atomic():
        _, created = SmsOptOut.objects.get_or_create(number=number)
        if created:
            audit(None, Actor.system("SMS intake"), "sms_opt_out", after={"number": number}, reason=keyword)
    if created:
        log.info("%s opted out of text messages (%s)", number, keyword)
    return created


def opt_in(number: str, *, keyword: str = "START") -> bool:
    """The number texted START: texts may go to it again. Returns False if it had not opted out."""
    number = normalize_phone(number)
    with transaction.atomic():
        removed, _ = SmsOptOut.objects.filter(number=number).delete()
        if removed:
            audit(None, Actor.system("SMS intake"), "sms_opt_in", before={"number": number}, reason=keyword)
    if removed:
        log.info("%s opted back in to text messages (%s)", number, keyword)
    return bool(removed)


# How long an acknowledgment handed over in a webhook's answer waits for the provider to report
# on it; unconfirmed by then (our answer never reached the provider), the sweep sends it again
# through the provider's API.
IN_RESPONSE_CONFIRM_SECONDS = 300


def schedule_acknowledgment(
    ticket: Ticket, inbound_message: Message, route: Route, *, in_response: bool = False
) -> Message:
    """Queue the acknowledgment of a new ticket; it goes out after the transaction commits.

    ``in_response``: the caller hands the text to the provider in its answer to the provider's
    webhook (TwiML), at once and with no API request. The delivery then stays 'sending' until
    the provider reports on that text (``record_sms_status``); if it never does, the sweep
    frees it after IN_RESPONSE_CONFIRM_SECONDS and it is sent through the API instead."""
    context = {
        "ticket": ticket,
        "summary": (inbound_message.body_text.strip() or ticket.subject)[:400],
        "target": first_response_target_text(ticket),
        "due_local": _format_local(ticket),
        "msp_name": settings.FIRSTCALL_MSP_NAME,
        "portal_url": settings.FIRSTCALL_PUBLIC_URL,
    }
    from_address, rfc_message_id = sender_and_message_id(route.channel)
    if route.channel == Channel.SMS:
        subject = ""
        body = render_to_string("notify/acknowledgment_sms.txt", context).strip()
        in_reply_to = ""
    else:
        subject = reply_subject(ticket, inbound_message.subject)
        body = render_to_string("notify/acknowledgment.txt", context)
        in_reply_to = inbound_message.rfc_message_id
    message = add_message(
        ticket,
        kind=MessageKind.AUTO_REPLY,
        channel=route.channel,
        body_text=body,
        subject=subject,
        rfc_message_id=rfc_message_id,
        actor=Actor.system("acknowledgment"),
        # Part of the request's own moment (the ticket's last activity), as the request is part
        # of opening the ticket: the ticket is not written again for it.
        created_at=ticket.updated_at,
    )
    now = timezone.now()
    delivery = Delivery.objects.create(
        message=message,
        purpose=DeliveryPurpose.ACKNOWLEDGMENT,
        channel=route.channel,
        to_address=route.address,
        from_address=from_address,
        subject=subject,
        body_text=body,
        rfc_message_id=rfc_message_id,
        in_reply_to=in_reply_to,
        references=in_reply_to,
        auto_submitted=True,
        created_at=now,
        **(
            {
                "status": DeliveryStatus.SENDING,
                "attempts": 1,
                "sent_at": now,
                "claimed_until": now + timedelta(seconds=IN_RESPONSE_CONFIRM_SECONDS),
            }
            if in_response
            else {}
        ),
    )
    if not in_response:
        enqueue_delivery_on_commit(delivery.pk)
    return message  # its delivery is message.delivery


def unconfirmed_in_response(ticket_id: int) -> Delivery | None:
    """The ticket's acknowledgment handed over in a webhook's answer that the provider has not
    reported on yet, if any: a redelivered webhook (the provider never got our answer) carries
    it again."""
    return (
        Delivery.objects.filter(
            message__ticket_id=ticket_id,
            purpose=DeliveryPurpose.ACKNOWLEDGMENT,
            channel=Channel.SMS,
            status=DeliveryStatus.SENDING,
            provider_message_id="",
            claimed_until__gt=timezone.now(),
        )
        .order_by("-pk")
        .first()
    )


def schedule_reply(ticket: Ticket, message: Message, route: Route) -> Delivery:
    """Queue a staff reply (already on the timeline as ``message``) for sending by email, in the
    ticket's email thread, or by text."""
    if route.channel == Channel.SMS:
        from_address, rfc_message_id = sender_and_message_id(Channel.SMS)
        delivery = Delivery.objects.create(
            message=message,
            purpose=DeliveryPurpose.REPLY,
            channel=Channel.SMS,
            to_address=route.address,
            from_address=from_address,
            subject="",
            body_text=message.body_text,
            rfc_message_id=rfc_message_id,
        )
        enqueue_delivery_on_commit(delivery.pk)
        return delivery
    rfc_message_id = message.rfc_message_id or _email_message_id()
    if not message.rfc_message_id:
        Message.objects.filter(pk=message.pk).update(rfc_message_id=rfc_message_id)
        message.rfc_message_id = rfc_message_id
    thread_ids = list(
        ticket.messages.exclude(rfc_message_id="")
        .exclude(pk=message.pk)
        # Texts and calls have ids of their own kind, not Message-IDs of the email thread.
        .exclude(channel__in=(Channel.SMS, Channel.PHONE))
        .order_by("created_at", "id")
        .values_list("rfc_message_id", flat=True)
    )
    delivery = Delivery.objects.create(
        message=message,
        purpose=DeliveryPurpose.REPLY,
        to_address=route.address,
        from_address=settings.DEFAULT_FROM_EMAIL,
        subject=message.subject or reply_subject(ticket),
        body_text=message.body_text,
        rfc_message_id=rfc_message_id,
        in_reply_to=thread_ids[-1] if thread_ids else "",
        references=" ".join(thread_ids[-20:]),
    )
    enqueue_delivery_on_commit(delivery.pk)
    return delivery


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=settings.FIRSTCALL_DELIVERY_FIRST_RETRY_SECONDS * 2 ** (attempts - 1))


def deliver_now(delivery_id: int) -> DeliveryStatus | None:
    """Claim and send one delivery. Returns the new status, or None if another worker has it
    or it is not due. On failure the row goes back to pending with a later next_attempt_at."""
    return deliver_many([delivery_id]).get(delivery_id)


@dataclass(frozen=True)
class HandedOver:
    """A message the provider (SMTP server, SMS or voice API) took, when, and its id there."""

    at: datetime
    provider_message_id: str = ""


def deliver_many(delivery_ids: Sequence[int]) -> dict[int, DeliveryStatus]:
    """Claim and send those of ``delivery_ids`` that are due and no other worker's, with as few
    round trips as one: one claim, the STOP check of all the texts at once, the emails over a
    few SMTP connections while the texts and calls go out side by side, and one write for all
    that were sent. Returns the new status of each delivery claimed (one another worker has, or not
    due, is left out). A failure goes back to pending with a later next_attempt_at (or fails for
    good), each on its own."""
    claimed = _claim(delivery_ids)
    texts = [delivery.to_address for delivery in claimed if delivery.channel == Channel.SMS]
    unreachable = sms_unreachable_reasons(texts) if texts else {}
    statuses: dict[int, DeliveryStatus] = {}
    to_send: list[Delivery] = []
    for delivery in claimed:
        # The number may have texted STOP after this text was queued.
        if delivery.channel == Channel.SMS and (reason := unreachable.get(delivery.to_address)):
            statuses[delivery.pk] = _suppress(delivery, reason)
        else:
            to_send.append(delivery)
    outcomes = _hand_over(to_send)
    sent: list[tuple[Delivery, HandedOver]] = []
    for delivery in to_send:
        outcome = outcomes[delivery.pk]
        if isinstance(outcome, HandedOver):
            sent.append((delivery, outcome))
            statuses[delivery.pk] = DeliveryStatus.SENT
        else:
            statuses[delivery.pk] = _failed(delivery, outcome)
    _mark_sent(sent)
    return statuses


def _claim(delivery_ids: Sequence[int]) -> list[Delivery]:
    """Lock and mark 'sending' those of the deliveries that are pending and due; rows another
    worker holds are skipped, so two workers never claim the same one."""
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(delivery_ids), status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("pk")
        )
        if claimed:
            Delivery.objects.filter(pk__in=[delivery.pk for delivery in claimed]).update(
                status=DeliveryStatus.SENDING, claimed_until=now + timedelta(seconds=CLAIM_SECONDS)
            )
    return claimed


# Threads that talk to the providers for a batch of deliveries (HTTP and SMTP: they wait, they
# do not compute). One pool per process, made on first use (a forked worker makes its own).
SENDER_THREADS = 16
# A batch's emails go over up to this many SMTP connections at once, a share on each.
EMAIL_CONNECTIONS = 4
_senders: tuple[int, ThreadPoolExecutor] | None = None
_senders_lock = threading.Lock()


def _sender_pool() -> ThreadPoolExecutor:
    global _senders
    with _senders_lock:
        if _senders is None or _senders[0] != os.getpid():
            _senders = (os.getpid(), ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="firstcall-send"))
        return _senders[1]


def _hand_over(deliveries: list[Delivery]) -> dict[int, HandedOver | Exception]:
    """Give each delivery to its provider, all at once: the emails over up to
    EMAIL_CONNECTIONS SMTP connections (one after another on each), each text and call in a
    thread of its own. Touches no database."""
    from firstcall.notify.email import send_emails

    emails = [delivery for delivery in deliveries if delivery.channel not in (Channel.SMS, Channel.PHONE)]
    others = [delivery for delivery in deliveries if delivery.channel in (Channel.SMS, Channel.PHONE)]
    shares = [emails[start::EMAIL_CONNECTIONS] for start in range(min(EMAIL_CONNECTIONS, len(emails)))]
    if len(others) + len(shares) <= 1:  # one thing to do: no thread needed
        return send_emails(emails) if emails else {delivery.pk: _send_one(delivery) for delivery in others}
    pool = _sender_pool()
    email_outcomes = [pool.submit(send_emails, share) for share in shares]
    other_outcomes = {delivery.pk: pool.submit(_send_one, delivery) for delivery in others}
    outcomes: dict[int, HandedOver | Exception] = {
        pk: future.result() for pk, future in other_outcomes.items()
    }
    for future in email_outcomes:
        outcomes.update(future.result())
    return outcomes


def _send_one(delivery: Delivery) -> HandedOver | Exception:
    """A text or a call: the provider's id for it, or what went wrong."""
    from firstcall.notify.sms import send_sms
    from firstcall.notify.voice import place_page_call

    try:
        if delivery.channel == Channel.PHONE:
            # A call (a page): staff numbers, and STOP is about texts, so nothing suppresses it.
            provider_message_id = place_page_call(delivery)
        else:
            provider_message_id = send_sms(delivery)
    except Exception as error:  # any transport failure is recorded and retried
        return error
    return HandedOver(timezone.now(), provider_message_id)


def _suppress(delivery: Delivery, reason: str) -> DeliveryStatus:
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SUPPRESSED, last_error=reason, claimed_until=None
        )
        add_event(
            delivery.message.ticket,
            f"Did not send the {delivery.get_purpose_display().lower()} by text: {reason}.",
        )
    return DeliveryStatus.SUPPRESSED


def _failed(delivery: Delivery, error: Exception) -> DeliveryStatus:
    """The provider did not take it: try again later, or give up (and say so on the timeline)
    when the channel knows retrying cannot help or after the last attempt."""
    attempts = delivery.attempts + 1
    reason = f"{type(error).__name__}: {error}"[:500]
    # A channel may know that trying again cannot help (an invalid number): fail at once.
    permanent = bool(getattr(error, "permanent", False))
    if permanent or attempts >= settings.FIRSTCALL_DELIVERY_MAX_ATTEMPTS:
        what = f"{delivery.get_purpose_display().lower()} to {delivery.to_address}"
        with transaction.atomic():
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, attempts=attempts, last_error=reason, claimed_until=None
            )
            add_event(
                delivery.message.ticket,
                f"Could not send the {what}; the provider refused it for good: {reason}"
                if permanent
                else f"Gave up sending the {what} after {attempts} attempts: {reason}",
            )
        log.error("delivery %s failed for good: %s", delivery.pk, reason)
        return DeliveryStatus.FAILED
    next_attempt = timezone.now() + retry_delay(attempts)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        attempts=attempts,
        last_error=reason,
        next_attempt_at=next_attempt,
        claimed_until=None,
    )
    log.warning(
        "delivery %s failed (attempt %s), retry at %s: %s", delivery.pk, attempts, next_attempt, reason
    )
    from firstcall.notify.tasks import deliver

    deliver.schedule((delivery.pk,), eta=next_attempt)
    return DeliveryStatus.PENDING


def _mark_sent(sent: list[tuple[Delivery, HandedOver]]) -> None:
    """One UPDATE for every delivery the providers took, each with its own time and provider id.

    Written as SQL (a CASE on the id, the same on SQLite and PostgreSQL): the ORM's Case/When
    builds and resolves a filter per row, some milliseconds for a batch, in the one step every
    outbound message passes through."""
    if not sent:
        return
    meta = Delivery._meta
    fields = {field.name: field for field in meta.concrete_fields if field.name in _SENT_COLUMNS}
    column = {name: connection.ops.quote_name(field.column) for name, field in fields.items()}
    when_then = " ".join(["WHEN %s THEN %s"] * len(sent))
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET "
        f"{column['status']} = %s, {column['attempts']} = {column['attempts']} + 1, "
        f"{column['last_error']} = '', {column['claimed_until']} = NULL, "
        f"{column['sent_at']} = CASE {column['id']} {when_then} END, "
        f"{column['provider_message_id']} = CASE {column['id']} {when_then} END "
        f"WHERE {column['id']} IN ({', '.join(['%s'] * len(sent))})"
    )
    params: list[Any] = [DeliveryStatus.SENT.value]
    for delivery, handed in sent:
        params += [delivery.pk, fields["sent_at"].get_db_prep_value(handed.at, connection)]
    for delivery, handed in sent:
        params += [delivery.pk, handed.provider_message_id]
    params += [delivery.pk for delivery, _ in sent]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


_SENT_COLUMNS = ("id", "status", "attempts", "last_error", "claimed_until", "sent_at", "provider_message_id")


def due_delivery_ids(limit: int = 500) -> list[int]:
    """Deliveries the sweep should (re)try: pending and due, or claimed by a worker that died."""
    now = timezone.now()
    Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_until__lt=now).update(
        status=DeliveryStatus.PENDING, claimed_until=None
    )
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def mark_bounced(rfc_message_id: str, reason: str) -> Delivery | None:
    delivery = (
        Delivery.objects.select_related("message__ticket").filter(rfc_message_id=rfc_message_id).first()
    )
    if delivery is None:
        return None
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.BOUNCED, last_error=reason[:500])
    delivery.status = DeliveryStatus.BOUNCED
    return delivery


# Twilio's message statuses that mean the text will not arrive.
SMS_FAILED_STATUSES = {"failed", "undelivered", "canceled"}


def record_sms_status(
    provider_message_id: str, provider_status: str, error_code: str = "", *, delivery_id: int | None = None
) -> bool:
    """A delivery report from the SMS provider; a failure is written on the ticket's timeline,
    once however often the provider reports it. ``delivery_id`` names the delivery when the
    report is about a text we handed over in a webhook's answer (its status URL carries the id,
    as we learn the provider's id only now): the first report confirms it was taken. Returns
    False when the report matches none of our texts."""
    if not provider_message_id:
        return False
    texts = Delivery.objects.select_related("message__ticket").filter(channel=Channel.SMS)
    if delivery_id is not None:
        texts = texts.filter(
            Q(provider_message_id=provider_message_id) | Q(provider_message_id=""), pk=delivery_id
        )
    else:
        texts = texts.filter(provider_message_id=provider_message_id)
    delivery = texts.first()
    if delivery is None:
        return False
    status = provider_status.strip().lower()
    if not delivery.provider_message_id:
        # Guarded: of two first reports at once only one confirms (and the sweep, which frees
        # an unconfirmed one only once claimed_until has passed, no longer touches it).
        Delivery.objects.filter(pk=delivery.pk, provider_message_id="").update(
            provider_message_id=provider_message_id,
            status=DeliveryStatus.SENT,
            claimed_until=None,
            last_error="",
        )
    if status in SMS_FAILED_STATUSES:
        reason = f"provider reported {status}" + (f" (error {error_code})" if error_code else "")
        with transaction.atomic():
            # Guarded: of two reports at once (undelivered, then failed) only one writes.
            changed = (
                Delivery.objects.filter(pk=delivery.pk)
                .exclude(status=DeliveryStatus.FAILED)
                .update(status=DeliveryStatus.FAILED, last_error=reason)
            )
            if changed:
                add_event(
                    delivery.message.ticket, f"Text to {delivery.to_address} was not delivered: {reason}."
                )
    elif status == "delivered":
        Delivery.objects.filter(pk=delivery.pk).update(delivered_at=timezone.now())
    return True
