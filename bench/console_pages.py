"""The staff console's pages at scale on PostgreSQL: ``python -m bench pages``.

A fresh PostgreSQL database (created and dropped by the benchmark) is loaded with COPY with
``BENCH_PAGES_TICKETS`` tickets (default 100,000), ``BENCH_PAGES_OPEN`` of them open (10,000),
over 50 clients with 40 contacts each and 20 technicians, as a year or two of use leaves them:

- the open tickets as ``bench.sla_escalation.load_open_tickets`` loads them (the SLA clocks
  ``sync_clocks`` keeps, the default P1 policy running on every P1, the request, its
  acknowledgment and, once answered, the reply, with their deliveries), then given what the
  queue orders and filters by (the earliest running deadline, downtime cost, team; 3 % past a
  deadline, 2 % about to be) and a handful more entries each: the level-0 pages of each running
  escalation (a staff-only note, a delivery and a page row per channel), notes, system events,
  the client's emailed answers quoting our mail (some with attachments), texts in and out,
  calls with a voicemail recording and transcript, audit events, CC'd participants;
- 1 % of the open tickets with a long timeline: 40–80 more entries (a long email thread, notes,
  events, texts, calls, attachments, a stopped escalation with its pages);
- the closed tickets, created over the two years before, resolved or closed, each with its
  request, acknowledgment, replies, the client's answer, a note, its stopped clocks and its
  audit trail.

Then, signed in as a technician, Django's test client requests each page in this process (server
time: from the request to the response, no network, no browser), ``BENCH_PAGE_REQUESTS`` times
(200) after 20 requests to warm up:

- the queue: ``/`` (the default view), its 15-second htmx refresh, one client (ten clients in
  turn), page 2, "My tickets" and all statuses (every ticket);
- the ticket page: ``/tickets/T-…/`` over 100 open tickets with a short timeline and the 100
  with a long one, in turn.

For each: p50, p95 and max, and this process's CPU time per request; the median request split
into SQL, template rendering and the rest; the SQL queries of one request (how many, their time,
the slowest; the plan of any statement the server takes over 2 ms to execute); with
``BENCH_PROFILE=1``, or when a page misses its target, the functions that took the time
(cProfile). Targets: queue p95 ≤ 150 ms, ticket page p95 ≤ 100 ms, and the same number of
queries whatever the number of rows shown.

Settings: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), BENCH_PAGES_TICKETS,
BENCH_PAGES_OPEN, BENCH_PAGE_REQUESTS, BENCH_PROFILE. The database is made by
``bench.common.fresh_postgres`` (named bench_pages_<pid>_<time>) and dropped at the end;
BENCH_KEEP_DATABASE=1 keeps it (its URL is printed), and BENCH_PAGES_DATABASE_URL=<that URL>
measures again on it without loading, e.g. after changing a page (migrate it first if the change
has a migration). Deterministic (seeded). Loading takes 1.5–4 minutes on two vCPUs.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.common import fresh_environment, fresh_postgres, percentile
from bench.sla_escalation import (
    DEFAULT_POSTGRES_URL,
    Figures,
    copy_rows,
    describe_ms,
    env_int,
    load_open_tickets,
)

TARGET_QUEUE_P95_MS = 150.0
TARGET_TICKET_P95_MS = 100.0
WARM_UP_REQUESTS = 20
CLIENTS = 50
LONG_TIMELINE_SHARE = 0.01
TICKETS_PER_GROUP = 100
# A statement slower than this in the captured request is explained (EXPLAIN ANALYZE), and its
# plan printed if the server took more than SLOW_EXECUTION_MS to execute it.
SLOW_STATEMENT_MS = 5.0
SLOW_EXECUTION_MS = 2.0
CHUNK_TICKETS = 5_000
TEAMS = ("Service desk", "Service desk", "Service desk", "Applications", "Network", "Engineering")
TIME_ZONES = ("America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles", "Europe/London")

SUBJECTS = (
    "The scanner on floor {n} stops halfway through a page",
    "Outlook keeps asking for my password",
    "Cannot print to the front desk printer",
    "New starter on Monday needs an account and a laptop",
    "VPN disconnects every few minutes from home",
    "QuickBooks will not open the company file",
    "Phones at reception ring but nobody can answer",
    "Shared drive is very slow this morning",
    "Please reset MFA for our office manager",
    "Wi-Fi in the meeting room drops out",
    "Dentrix imaging is not loading X-rays",
    "Laptop screen flickers after the update",
)
REQUESTS = (
    "Since this morning it stops halfway through every page and shows a paper jam, but there is no "
    "paper stuck anywhere. We have turned it off and on again twice.",
    "It has happened three times today. I type the password, it accepts it, and ten minutes later "
    "it asks again. Colleagues next to me are fine.",
    "We tried from two computers and both say the printer is offline, although it shows ready and "
    "prints its own test page.",
    "Our new hygienist starts on Monday at 8. She needs an email address, access to the schedule "
    "and the shared drive, and a laptop if one is free.",
)
REPLIES = (
    "Thanks for the details. I have restarted the print spooler remotely; could you try again and "
    "tell me whether it still stops halfway?",
    "I can see the account was locked by an old phone still trying the previous password. I have "
    "unlocked it; please remove the account from the old phone.",
    "Could you send a photo of the error on the screen, and tell me roughly when it started?",
    "The update is scheduled for tonight at 22:00; nobody needs to stay logged in. I will confirm "
    "tomorrow morning that everything came back.",
)
CLIENT_ANSWERS = (
    "Tried again, same thing on the second page.",
    "That fixed it, thank you!",
    "Photo attached. It started right after lunch.",
    "Still happening for Carl, but mine is fine now.",
    "Thanks, we will leave everything on tonight.",
)
NOTES = (
    "Spooler restart did not help; the driver on the print server is two versions behind.",
    "Called the office, spoke to the front desk: they can work around it until tomorrow.",
    "Vendor ticket opened, their reference 88231. Waiting for a call back.",
    "Checked the firewall logs: the VPN drops line up with the ISP's maintenance window.",
)
TRANSCRIPTS = (
    "Hi, this is the front desk, the phones have stopped working and we have patients calling in, "
    "please call us back as soon as you can.",
    "Hello, it's about the ticket from yesterday, the scanner is doing it again. Thanks.",
)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    """What a ticket's timeline is generated from."""

    pk: int
    client_id: int
    requester_id: int
    assignee_id: int | None
    created_at: datetime
    first_response_at: datetime | None
    priority: str
    channel: str
    status: str


@dataclass
class People:
    contacts_by_client: dict[int, list[tuple[int, str, str]]]  # (pk, name, email)
    contact_email: dict[int, str]
    contact_name: dict[int, str]
    contact_phone: dict[int, str]
    technicians: list[int]
    technician_name: dict[int, str]
    technician_phone: dict[int, str]


def attachment_sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def quoted(text: str, at: datetime, limit: int = 8_000) -> str:
    """``text`` as an email client quotes it below an answer, cut to ``limit`` characters."""
    lines = "\n".join(f"> {line}" for line in text.splitlines())[:limit]
    return f"\n\nOn {at:%a, %d %b %Y at %H:%M}, Support <support@msp.example> wrote:\n{lines}\n"


# The columns each buffered row gives, in order (``copy_rows`` defaults the others).
COLUMNS = {
    "ticket": "id client_id requester_id subject status channel priority priority_explanation assignee_id "
    "created_at updated_at first_response_due_at first_response_at resolved_at closed_at team cost_per_hour",
    "participant": "ticket_id contact_id",
    "escalation": "id ticket_id policy_id reason started_at round_started_at next_level next_step_at "
    "acknowledged_at acknowledged_by_id stopped_at stop_reason",
    "message": "id ticket_id kind direction channel author_contact_id author_user_id subject body_text "
    "rfc_message_id created_at",
    "delivery": "id message_id purpose channel to_address from_address subject body_text rfc_message_id "
    "auto_submitted status attempts next_attempt_at last_error created_at sent_at",
    "attachment": "message_id file filename content_type size sha256",
    "page": "escalation_id level_position round user_id channel delivery_id created_at",
    "audit": "ticket_id actor_user_id actor_contact_id actor_label action field before after reason "
    "created_at",
    "call": "source call_id caller caller_name callee client_id contact_id provider_status outcome "
    "started_at ended_at duration_seconds recording_url transcript ticket_id",
    "clock": "ticket_id kind target_minutes calendar_name business_hours started_at due_at warn_at "
    "stopped_at paused warned_at breached_at next_check_at",
}


class Loader:
    """Rows for COPY, buffered per table and written a chunk of tickets at a time. Rows that
    other rows point at (tickets, messages, deliveries, escalations) get their ids here; the
    tables' sequences are moved past them at the end."""

    def __init__(self, people: People, rng: random.Random, now: datetime) -> None:
        from firstcall.escalation.models import Escalation
        from firstcall.notify.models import Delivery
        from firstcall.tickets.models import Message, Ticket

        self.people = people
        self.rng = rng
        self.now = now
        self.next_id = {
            model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
            for model in (Ticket, Message, Delivery, Escalation)
        }
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.calls = 0

    def take_id(self, model: Any) -> int:
        pk: int = self.next_id[model]
        self.next_id[model] = pk + 1
        return pk

    # Rows -------------------------------------------------------------------------------------

    def message(
        self,
        ticket_id: int,
        kind: str,
        channel: str,
        at: datetime,
        body: str,
        *,
        contact: int | None = None,
        user: int | None = None,
        subject: str = "",
    ) -> int:
        from firstcall.tickets.models import Direction, Message, MessageKind

        direction = {
            MessageKind.INBOUND: Direction.IN,
            MessageKind.REPLY: Direction.OUT,
            MessageKind.AUTO_REPLY: Direction.OUT,
        }.get(MessageKind(kind), Direction.INTERNAL)
        pk = self.take_id(Message)
        self.rows["message"].append(
            (
                pk,
                ticket_id,
                kind,
                direction,
                channel,
                contact,
                user,
                subject,
                body,
                f"bench-{pk}@msp.example",
                at,
            )
        )
        return pk

    def delivery(
        self,
        message_id: int,
        purpose: str,
        channel: str,
        to: str,
        body: str,
        at: datetime,
        *,
        subject: str = "",
        failed: bool = False,
    ) -> int:
        from firstcall.notify.models import Delivery, DeliveryStatus

        pk = self.take_id(Delivery)
        status = DeliveryStatus.FAILED if failed else DeliveryStatus.SENT
        error = "550 5.1.1 mailbox unavailable" if failed else ""
        sent = None if failed else at + timedelta(seconds=2)
        self.rows["delivery"].append(
            (
                pk,
                message_id,
                purpose,
                channel,
                to,
                "support@msp.example" if channel == "email" else "+15550100000",
                subject,
                body,
                f"bench-{message_id}@msp.example",
                purpose == "acknowledgment",
                status,
                5 if failed else 1,
                at,
                error,
                at,
                sent,
            )
        )
        return pk

    def attachment(self, message_id: int, filename: str, content_type: str, size: int) -> None:
        sha = attachment_sha(f"{message_id}/{filename}")
        self.rows["attachment"].append((message_id, f"{sha[:2]}/{sha}", filename, content_type, size, sha))

    def audit(
        self,
        ticket_id: int,
        action: str,
        at: datetime,
        *,
        user: int | None = None,
        contact: int | None = None,
        label: str = "system",
        field: str = "",
        before: Any = None,
        after: Any = None,
        reason: str = "",
    ) -> None:
        self.rows["audit"].append(
            (
                ticket_id,
                user,
                contact,
                label,
                action,
                field,
                None if before is None else json.dumps(before),
                None if after is None else json.dumps(after),
                reason,
                at,
            )
        )

    def escalation(
        self,
        ticket_id: int,
        policy_id: int,
        reason: str,
        started: datetime,
        *,
        acknowledged_by: int | None,
        stopped: datetime | None,
        next_level: int | None = None,
        next_step_at: datetime | None = None,
    ) -> int:
        from firstcall.escalation.models import Escalation

        pk = self.take_id(Escalation)
        self.rows["escalation"].append(
            (
                pk,
                ticket_id,
                policy_id,
                reason,
                started,
                started,
                next_level,
                next_step_at,
                stopped if acknowledged_by else None,
                acknowledged_by,
                stopped,
                "" if stopped is None else ("acknowledged" if acknowledged_by else "ticket resolved"),
            )
        )
        return pk

    def pages(self, ticket: TicketFacts, escalation_id: int, level: int, user: int, at: datetime) -> None:
        """A level paging ``user`` by email and text: each a staff-only note, its delivery and a
        page row, and the public line on the timeline."""
        name = self.people.technician_name[user]
        for channel, address, how in (
            ("email", f"{name.lower()}@msp.example", "by email"),
            ("sms", self.people.technician_phone[user], "by text"),
        ):
            note = self.message(
                ticket.pk, "note", channel, at, f"Paged {name} {how} (level {level + 1} of 4: the assignee)."
            )
            delivery = self.delivery(
                note,
                "page",
                channel,
                address,
                f"PAGE {ticket.priority}: T-{ticket.pk:06d} needs someone now. Reply ACK to acknowledge.",
                at,
                subject=f"[T-{ticket.pk:06d}] PAGE {ticket.priority}" if channel == "email" else "",
            )
            self.rows["page"].append((escalation_id, level, 0, user, channel, delivery, at))
        self.message(ticket.pk, "event", "console", at, f"Paged the technician at {at:%H:%M}.")

    def call(self, ticket: TicketFacts, at: datetime, n: int) -> None:
        """A voicemail: the call's record and its entry with the recording and transcript."""
        phone = self.people.contact_phone.get(ticket.requester_id, "+15550199999")
        self.calls += 1
        sid = f"CA{self.calls:032x}"
        recording = f"https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE{self.calls:032x}"
        transcript = TRANSCRIPTS[(ticket.pk + n) % len(TRANSCRIPTS)]
        self.rows["call"].append(
            (
                "twilio",
                sid,
                phone,
                self.people.contact_name.get(ticket.requester_id, ""),
                "+15550100000",
                ticket.client_id,
                ticket.requester_id,
                "completed",
                "voicemail",
                at,
                at + timedelta(seconds=48),
                48,
                recording,
                transcript,
                ticket.pk,
            )
        )
        body = (
            f"{self.people.contact_name.get(ticket.requester_id, phone)} ({phone}) called +15550100000 on "
            f"{at:%Y-%m-%d at %H:%M} UTC and left a voicemail, the call lasted 48 s.\n"
            f"Recording: {recording}\nVoicemail transcript:\n{transcript}"
        )
        self.message(
            ticket.pk,
            "inbound",
            "phone",
            at,
            body,
            contact=ticket.requester_id,
            subject=f"Voicemail from {phone}",
        )

    def email_exchange(self, ticket: TicketFacts, at: datetime, n: int, *, attach: bool) -> datetime:
        """Our reply and the client's answer quoting it (sometimes with attachments)."""
        user = ticket.assignee_id or self.people.technicians[0]
        reply = REPLIES[(ticket.pk + n) % len(REPLIES)]
        message = self.message(
            ticket.pk, "reply", "email", at, reply, user=user, subject=f"[T-{ticket.pk:06d}] Re: your request"
        )
        self.delivery(
            message,
            "reply",
            "email",
            self.people.contact_email[ticket.requester_id],
            reply,
            at,
            subject=f"[T-{ticket.pk:06d}] Re: your request",
            failed=self.rng.random() < 0.02,
        )
        answered = at + timedelta(minutes=self.rng.randint(3, 300))
        answer = CLIENT_ANSWERS[(ticket.pk + n) % len(CLIENT_ANSWERS)] + quoted(reply, at)
        inbound = self.message(
            ticket.pk,
            "inbound",
            "email",
            answered,
            answer,
            contact=ticket.requester_id,
            subject=f"RE: [T-{ticket.pk:06d}] Re: your request",
        )
        if attach:
            for k in range(self.rng.randint(1, 3)):
                kind = ("image/jpeg", "photo", "jpg") if k % 2 == 0 else ("application/pdf", "invoice", "pdf")
                self.attachment(
                    inbound, f"{kind[1]}-{n}-{k}.{kind[2]}", kind[0], self.rng.randint(20_000, 2_000_000)
                )
        return answered

    def texts(self, ticket: TicketFacts, at: datetime) -> None:
        """A text from the requester and our text back."""
        phone = self.people.contact_phone.get(ticket.requester_id, "+15550199999")
        self.message(
            ticket.pk, "inbound", "sms", at, "Any news? We still cannot print.", contact=ticket.requester_id
        )
        later = at + timedelta(minutes=self.rng.randint(2, 60))
        body = f"T-{ticket.pk:06d}: a technician is on it and will call you within the hour."
        text = self.message(ticket.pk, "reply", "sms", later, body, user=ticket.assignee_id)
        self.delivery(text, "reply", "sms", phone, body, later)

    # Timelines ---------------------------------------------------------------------------------

    def open_extras(
        self, ticket: TicketFacts, p1_escalation: int | None, long: bool, policy_ids: dict[str, int]
    ) -> None:
        """What happened on an open ticket after its request, acknowledgment and first reply."""
        rng = self.rng
        tech_label = "staff console"
        self.audit(
            ticket.pk,
            "ticket_opened",
            ticket.created_at,
            contact=ticket.requester_id,
            label="email intake",
            after={"status": "new", "priority": ticket.priority},
        )
        span = max(timedelta(minutes=10), self.now - ticket.created_at - timedelta(minutes=5))
        at = ticket.created_at + timedelta(minutes=1)
        if ticket.assignee_id is not None:
            self.audit(
                ticket.pk,
                "assigned",
                at,
                label="triage rule",
                field="assignee",
                after=self.people.technician_name[ticket.assignee_id],
            )
            self.message(
                ticket.pk,
                "event",
                "console",
                at,
                f"Assigned to {self.people.technician_name[ticket.assignee_id]}.",
            )
        if p1_escalation is not None and ticket.assignee_id is not None:
            self.pages(ticket, p1_escalation, 0, ticket.assignee_id, ticket.created_at + timedelta(seconds=5))
        if ticket.first_response_at is not None:
            self.audit(
                ticket.pk,
                "first_response",
                ticket.first_response_at,
                user=ticket.assignee_id,
                label=tech_label,
                field="first_response_at",
                after=ticket.first_response_at.isoformat(),
            )
            self.audit(
                ticket.pk,
                "status_changed",
                ticket.first_response_at,
                user=ticket.assignee_id,
                label=tech_label,
                field="status",
                before="new",
                after="open",
            )
        if rng.random() < 0.6 and ticket.assignee_id is not None:
            self.message(
                ticket.pk,
                "note",
                "console",
                ticket.created_at + span * 0.3,
                NOTES[ticket.pk % len(NOTES)],
                user=ticket.assignee_id,
            )
        if ticket.first_response_at is not None and rng.random() < 0.5:
            self.email_exchange(
                ticket, ticket.first_response_at + timedelta(minutes=20), 0, attach=rng.random() < 0.2
            )
        if ticket.channel == "sms" or rng.random() < 0.05:
            self.texts(ticket, ticket.created_at + span * 0.5)
        if ticket.channel == "phone" or rng.random() < 0.03:
            self.call(ticket, ticket.created_at + span * 0.6, 0)
        if ticket.status == "waiting_on_client":
            at = ticket.created_at + span * 0.7
            self.audit(
                ticket.pk,
                "status_changed",
                at,
                user=ticket.assignee_id,
                label=tech_label,
                field="status",
                before="open",
                after="waiting_on_client",
            )
            self.message(ticket.pk, "event", "console", at, "Status: Waiting on client.")
        if not long and rng.random() < 0.05:  # a long thread has its own
            contacts = self.people.contacts_by_client[ticket.client_id]
            for contact in rng.sample(contacts, 2):
                if contact[0] != ticket.requester_id:
                    self.rows["participant"].append((ticket.pk, contact[0]))
        if long:
            self.long_thread(ticket, policy_ids)

    def long_thread(self, ticket: TicketFacts, policy_ids: dict[str, int]) -> None:
        """40–80 more entries: a long email thread (with attachments), notes, events, texts,
        calls, and a stopped escalation with its pages."""
        rng = self.rng
        entries = rng.randint(40, 80)
        start = ticket.created_at + timedelta(minutes=30)
        step = max(timedelta(minutes=1), (self.now - start) / (entries + 1))
        user = ticket.assignee_id or self.people.technicians[0]
        at = start
        n = 0
        while n < entries:
            choice = rng.random()
            if choice < 0.45:
                self.email_exchange(ticket, at, n, attach=rng.random() < 0.25)
                n += 2
            elif choice < 0.65:
                self.message(ticket.pk, "note", "console", at, NOTES[n % len(NOTES)], user=user)
                n += 1
            elif choice < 0.8:
                self.message(ticket.pk, "event", "console", at, "Priority reviewed: unchanged.")
                self.audit(
                    ticket.pk,
                    "priority_reviewed",
                    at,
                    field="priority",
                    before=ticket.priority,
                    after=ticket.priority,
                    reason="business-critical deadline nearer",
                )
                n += 1
            elif choice < 0.92:
                self.texts(ticket, at)
                n += 2
            else:
                self.call(ticket, at, n)
                n += 1
            at += step
        if ticket.priority != "P1":
            started = start + step
            escalation = self.escalation(
                ticket.pk,
                policy_ids["breach"],
                "first response target missed",
                started,
                acknowledged_by=user,
                stopped=started + timedelta(minutes=12),
            )
            self.pages(ticket, escalation, 0, user, started)
            self.message(
                ticket.pk,
                "event",
                "console",
                started + timedelta(minutes=12),
                f"Acknowledged by {self.people.technician_name[user]} at {started:%H:%M}.",
            )
            self.rows["participant"].extend(
                (ticket.pk, contact[0])
                for contact in self.people.contacts_by_client[ticket.client_id][:3]
                if contact[0] != ticket.requester_id
            )

    def closed_ticket(self, n: int, oldest: datetime, newest: datetime, policy_ids: dict[str, int]) -> None:
        """One resolved or closed ticket with its whole life."""
        from firstcall.sla.targets import DEFAULT_TARGETS, TWENTY_FOUR_SEVEN
        from firstcall.tickets.models import Ticket
        from firstcall.triage.priority import Priority

        rng = self.rng
        people = self.people
        pk = self.take_id(Ticket)
        client_id = rng.choice(list(people.contacts_by_client))
        requester = rng.choice(people.contacts_by_client[client_id])[0]
        priority = rng.choices(("P1", "P2", "P3", "P4"), weights=(1, 9, 60, 30))[0]
        channel = rng.choice(("email", "email", "email", "web", "phone", "sms"))
        assignee = rng.choice(people.technicians)
        created = oldest + (newest - oldest) * rng.random()
        answered = created + timedelta(minutes=rng.randint(5, 240))
        resolved = answered + timedelta(hours=rng.uniform(0.5, 96))
        closed = resolved + timedelta(days=3)
        status = "closed" if closed < self.now else "resolved"
        target = DEFAULT_TARGETS[Priority(priority)]
        facts = TicketFacts(pk, client_id, requester, assignee, created, answered, priority, channel, status)
        self.rows["ticket"].append(
            (
                pk,
                client_id,
                requester,
                SUBJECTS[n % len(SUBJECTS)].format(n=n % 7),
                status,
                channel,
                priority,
                "Team × medium → P3" if priority == "P3" else f"{priority} by the impact × urgency matrix",
                assignee,
                created,
                closed if status == "closed" else resolved,
                created + timedelta(minutes=target.first_response_minutes),
                answered,
                resolved,
                closed if status == "closed" else None,
                TEAMS[n % len(TEAMS)],
                Decimal(rng.randint(1, 40) * 25) if rng.random() < 0.4 else None,
            )
        )
        request = REQUESTS[n % len(REQUESTS)]
        inbound = self.message(
            pk,
            "inbound",
            channel if channel in ("email", "sms", "web") else "email",
            created,
            request,
            contact=requester,
            subject=SUBJECTS[n % len(SUBJECTS)].format(n=1),
        )
        if rng.random() < 0.1:
            self.attachment(inbound, "screenshot.png", "image/png", rng.randint(50_000, 900_000))
        ack = self.message(pk, "auto_reply", "email", created + timedelta(seconds=2), "We have your request.")
        self.delivery(
            ack,
            "acknowledgment",
            "email",
            people.contact_email[requester],
            "We have your request.",
            created + timedelta(seconds=2),
            subject=f"[T-{pk:06d}] We have your request",
        )
        last = self.email_exchange(facts, answered, 0, attach=rng.random() < 0.1)
        if rng.random() < 0.5:
            self.message(
                pk, "note", "console", last + timedelta(minutes=5), NOTES[n % len(NOTES)], user=assignee
            )
        final = self.message(pk, "reply", "email", resolved, REPLIES[(n + 1) % len(REPLIES)], user=assignee)
        self.delivery(
            final,
            "reply",
            "email",
            people.contact_email[requester],
            REPLIES[(n + 1) % len(REPLIES)],
            resolved,
        )
        self.message(pk, "event", "console", resolved, "Status: Resolved.")
        self.audit(
            pk,
            "ticket_opened",
            created,
            contact=requester,
            label="email intake",
            after={"status": "new", "priority": priority},
        )
        self.audit(
            pk,
            "assigned",
            created + timedelta(minutes=1),
            label="triage rule",
            field="assignee",
            after=people.technician_name[assignee],
        )
        self.audit(
            pk,
            "first_response",
            answered,
            user=assignee,
            label="staff console",
            field="first_response_at",
            after=answered.isoformat(),
        )
        self.audit(
            pk,
            "status_changed",
            resolved,
            user=assignee,
            label="staff console",
            field="status",
            before="open",
            after="resolved",
        )
        if status == "closed":
            self.audit(
                pk,
                "status_changed",
                closed,
                label="system",
                field="status",
                before="resolved",
                after="closed",
                reason="resolved 3 days ago",
            )
        if priority == "P1":
            escalation = self.escalation(
                pk,
                policy_ids["p1"],
                "P1 opened",
                created,
                acknowledged_by=assignee,
                stopped=created + timedelta(minutes=rng.randint(1, 14)),
            )
            self.pages(facts, escalation, 0, assignee, created + timedelta(seconds=5))
        kinds = [("first_response", target.first_response_minutes, answered)]
        if target.next_update_minutes:
            kinds.append(("next_update", target.next_update_minutes, resolved))
        if target.resolution_minutes:
            kinds.append(("resolution", target.resolution_minutes, resolved))
        for kind, minutes, stopped in kinds:
            due = created + timedelta(
                minutes=minutes * (1 if target.calendar_name == TWENTY_FOUR_SEVEN else 2)
            )
            self.rows["clock"].append(
                (
                    pk,
                    kind,
                    minutes,
                    target.calendar_name,
                    target.calendar_name != TWENTY_FOUR_SEVEN,
                    created,
                    due,
                    created + (due - created) * 0.75,
                    stopped,
                    False,
                    None,
                    due if stopped > due else None,
                    None,
                )
            )

    # Writing ----------------------------------------------------------------------------------

    def flush(self) -> None:
        """COPY the buffered rows, parents before children."""
        from firstcall.escalation.models import Escalation, Page
        from firstcall.intake.models import CallRecord
        from firstcall.notify.models import Delivery
        from firstcall.sla.models import SlaClock
        from firstcall.tickets.models import Attachment, AuditEvent, Message, Ticket

        models: dict[str, Any] = {
            "ticket": Ticket,
            "participant": Ticket.participants.through,
            "escalation": Escalation,
            "message": Message,
            "delivery": Delivery,
            "attachment": Attachment,
            "page": Page,
            "audit": AuditEvent,
            "call": CallRecord,
            "clock": SlaClock,
        }
        for name, model in models.items():
            rows = self.rows.pop(name, [])
            if rows:
                self.counts[name] += copy_rows(model, COLUMNS[name].split(), rows)

    def move_sequences_past_loaded_ids(self) -> None:
        from django.core.management.color import no_style
        from django.db import connection

        from firstcall.escalation.models import Escalation
        from firstcall.notify.models import Delivery
        from firstcall.tickets.models import Message, Ticket

        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(
                no_style(), [Ticket, Message, Delivery, Escalation]
            ):
                cursor.execute(statement)


# What triage decided for each priority, as the ticket row keeps it: (impact, urgency, reasons).
TRIAGED: dict[str, tuple[str, str, list[dict[str, str]]]] = {
    "P1": (
        "company",
        "critical",
        [
            {"dimension": "impact", "value": "company", "because": "the message says “nobody can work”"},
            {"dimension": "urgency", "value": "critical", "because": "the requester pressed emergency"},
        ],
    ),
    "P2": (
        "team",
        "high",
        [
            {"dimension": "impact", "value": "team", "because": "the message names the front desk"},
            {"dimension": "urgency", "value": "high", "because": "payroll is due within 24 hours"},
        ],
    ),
    "P3": (
        "person",
        "high",
        [
            {"dimension": "impact", "value": "person", "because": "one person is affected"},
            {"dimension": "urgency", "value": "high", "because": "they cannot work around it"},
        ],
    ),
    "P4": (
        "person",
        "low",
        [
            {"dimension": "impact", "value": "person", "because": "one person is affected"},
            {"dimension": "urgency", "value": "low", "because": "a request, not a fault"},
        ],
    ),
}
FIRST_NAMES = (
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Parker",
    "Quinn",
    "Reese",
    "Rowan",
    "Sage",
    "Taylor",
    "Sky",
    "Jamie",
)


def make_clients(count: int) -> list[int]:
    """Clients with an email domain, a front-desk number, downtime figures and a contract with
    SLA targets. Returns their ids."""
    from firstcall.clients.models import Client, Contract, EmailDomain, PhoneNumber
    from firstcall.sla.models import Calendar, SlaTarget
    from firstcall.sla.targets import DEFAULT_TARGETS

    clients = Client.objects.bulk_create(
        Client(
            name=f"Client {n:03d}",
            time_zone=TIME_ZONES[n % len(TIME_ZONES)],
            headcount=10 + n % 90,
            hourly_cost=Decimal(40 + n % 30),
            revenue_per_hour=Decimal(100 * (1 + n % 9)),
        )
        for n in range(count)
    )
    EmailDomain.objects.bulk_create(EmailDomain(client=c, domain=f"client{c.pk}.example") for c in clients)
    PhoneNumber.objects.bulk_create(
        PhoneNumber(client=c, number=f"+1555011{c.pk:04d}", label="front desk") for c in clients
    )
    contracts = Contract.objects.bulk_create(
        Contract(client=c, name="Managed Care Gold", support_hours="Mon–Fri 07:00–19:00") for c in clients
    )
    calendars = {c.name: c for c in Calendar.objects.all()}
    SlaTarget.objects.bulk_create(
        SlaTarget(
            contract=contract,
            priority=priority,
            first_response_minutes=target.first_response_minutes,
            next_update_minutes=target.next_update_minutes,
            resolution_minutes=target.resolution_minutes,
            calendar=calendars[target.calendar_name],
        )
        for contract in contracts
        for priority, target in DEFAULT_TARGETS.items()
    )
    return [c.pk for c in clients]


def gather_people() -> People:
    """The contacts and technicians ``load_open_tickets`` made, given names and phone numbers:
    a third of the contacts have a mobile number, every technician one for pages."""
    from firstcall.accounts.models import User
    from firstcall.clients.models import Contact, PhoneNumber

    contacts = list(Contact.objects.order_by("pk").values_list("pk", "client_id", "name", "email"))
    mobiles = {pk: f"+1555{pk:07d}" for pk, *_ in contacts[::3]}
    PhoneNumber.objects.bulk_create(
        PhoneNumber(contact_id=pk, client_id=client_id, number=mobiles[pk], label="mobile")
        for pk, client_id, *_ in contacts[::3]
    )
    technicians = list(User.objects.filter(username__startswith="desk-").order_by("pk"))
    for n, user in enumerate(technicians):
        user.first_name = FIRST_NAMES[n % len(FIRST_NAMES)]
        user.last_name = f"Desk{n}"
        user.phone = f"+1555020{n:04d}"
    User.objects.bulk_update(technicians, ["first_name", "last_name", "phone"])
    by_client: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for pk, client_id, name, email in contacts:
        by_client[client_id].append((pk, name, email))
    return People(
        contacts_by_client=dict(by_client),
        contact_email={pk: email for pk, _, _, email in contacts},
        contact_name={pk: name for pk, _, name, _ in contacts},
        contact_phone=mobiles,
        technicians=[u.pk for u in technicians],
        technician_name={u.pk: u.display_name for u in technicians},
        technician_phone={u.pk: u.phone for u in technicians},
    )


def open_ticket_facts() -> list[TicketFacts]:
    from firstcall.tickets.models import Ticket

    return [
        TicketFacts(*row)
        for row in Ticket.objects.order_by("pk").values_list(
            "pk",
            "client_id",
            "requester_id",
            "assignee_id",
            "created_at",
            "first_response_at",
            "priority",
            "channel",
            "status",
        )
    ]


@dataclass(frozen=True)
class Deadlines:
    # Ticket id → the due time of its clocks past their deadline / about to reach it.
    breached: dict[int, datetime]
    about_to_breach: dict[int, datetime]


def shape_open_tickets(tickets: Sequence[TicketFacts], rng: random.Random, now: datetime) -> Deadlines:
    """Give the open tickets what the queue orders and filters by: triage's impact, urgency and
    reasons, a team, a downtime cost for 40 %; 3 % past an SLA deadline (the last 25 minutes),
    2 % about to reach one; and ``sla_due_at``, the earliest due time of each running clock, as
    ``sync_clocks`` keeps it."""
    from django.db import connection

    from firstcall.sla.models import SlaClock
    from firstcall.tickets.models import Ticket

    for priority, (impact, urgency, reasons) in TRIAGED.items():
        Ticket.objects.filter(priority=priority).update(
            impact=impact,
            urgency=urgency,
            priority_reasons=reasons,
            priority_explanation=f"{priority} — impact: {impact}, urgency: {urgency}",
        )
    with connection.cursor() as cursor:
        ticket, clock = Ticket._meta.db_table, SlaClock._meta.db_table
        cursor.execute(
            f"""UPDATE "{ticket}" SET
                team = (ARRAY['Service desk', 'Service desk', 'Service desk', 'Applications', 'Network',
                              'Engineering'])[1 + id % 6],
                cost_per_hour = CASE WHEN id % 5 < 2 THEN (1 + id % 40) * 25 END"""
        )
        running = [t for t in tickets if t.status != "waiting_on_client"]
        chosen = rng.sample(running, k=len(running) * 5 // 100)
        cut = len(chosen) * 3 // 5
        breached = {t.pk: now - timedelta(minutes=rng.uniform(1, 25)) for t in chosen[:cut]}
        about = {t.pk: now + timedelta(minutes=rng.uniform(5, 29)) for t in chosen[cut:]}
        clock_filter = "ticket_id = %s AND stopped_at IS NULL AND NOT paused"
        cursor.executemany(
            f"""UPDATE "{clock}" SET due_at = %s, warn_at = %s, warned_at = %s, breached_at = %s,
                next_check_at = NULL WHERE {clock_filter}""",
            [
                (due, due - timedelta(minutes=15), due - timedelta(minutes=15), due, pk)
                for pk, due in breached.items()
            ],
        )
        cursor.executemany(
            f"""UPDATE "{clock}" SET due_at = %s, warn_at = %s, warned_at = %s, next_check_at = %s
                WHERE {clock_filter}""",
            [
                (due, now - timedelta(minutes=5), now - timedelta(minutes=5), due, pk)
                for pk, due in about.items()
            ],
        )
        cursor.execute(
            f"""UPDATE "{ticket}" t SET sla_due_at = c.due FROM (
                    SELECT ticket_id, min(due_at) AS due FROM "{clock}"
                    WHERE stopped_at IS NULL AND NOT paused AND due_at IS NOT NULL GROUP BY ticket_id
                ) c WHERE c.ticket_id = t.id"""
        )
    return Deadlines(breached=breached, about_to_breach=about)


@dataclass(frozen=True)
class LoadedPages:
    counts: dict[str, int]
    clients: list[int]
    short_timelines: list[int]
    long_timelines: list[int]
    viewer: str
    seconds: float


def load(total: int, open_count: int) -> LoadedPages:
    """The whole data set (see the module's docstring), then VACUUM ANALYZE."""
    from django.db import connection

    from firstcall.escalation.models import Escalation, EscalationPolicy
    from firstcall.tickets.models import Ticket

    started = time.monotonic()
    rng = random.Random(2031)
    now = datetime.now(UTC)
    client_ids = make_clients(CLIENTS)
    opened = load_open_tickets(open_count, client_ids)
    people = gather_people()
    tickets = open_ticket_facts()
    deadlines = shape_open_tickets(tickets, rng, now)
    policy_ids = {
        "p1": EscalationPolicy.objects.get(name="P1 default").pk,
        "breach": EscalationPolicy.objects.get(name="Missed SLA target (P2–P4)").pk,
    }
    running = dict(Escalation.objects.filter(stopped_at__isnull=True).values_list("ticket_id", "pk"))
    long_ids = set(rng.sample([t.pk for t in tickets], k=max(1, round(len(tickets) * LONG_TIMELINE_SHARE))))
    loader = Loader(people, rng, now)
    for n, ticket in enumerate(tickets):
        escalation = running.get(ticket.pk)
        due = deadlines.breached.get(ticket.pk)
        if escalation is None and due is not None and ticket.assignee_id is not None:
            # Past its deadline: the missed-target policy runs, its first level paged the assignee.
            escalation = loader.escalation(
                ticket.pk,
                policy_ids["breach"],
                "first response target missed",
                due,
                acknowledged_by=None,
                stopped=None,
                next_level=1,
                next_step_at=due + timedelta(minutes=30),
            )
        loader.open_extras(ticket, escalation, ticket.pk in long_ids, policy_ids)
        if n % CHUNK_TICKETS == CHUNK_TICKETS - 1:
            loader.flush()
    loader.flush()
    closed = max(0, total - open_count)
    oldest, newest = now - timedelta(days=730), now - timedelta(days=1)
    for n in range(closed):
        loader.closed_ticket(n, oldest, newest, policy_ids)
        if n % CHUNK_TICKETS == CHUNK_TICKETS - 1:
            loader.flush()
    loader.flush()
    loader.move_sequences_past_loaded_ids()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    counts = {
        "tickets": Ticket.objects.count(),
        "open": opened.tickets,
        "messages": opened.messages + loader.counts["message"],
        "deliveries": opened.deliveries + loader.counts["delivery"],
        "clocks": opened.clocks + loader.counts["clock"],
        "escalations": opened.escalations + loader.counts["escalation"],
        "pages": loader.counts["page"],
        "attachments": loader.counts["attachment"],
        "audit events": loader.counts["audit"],
        "calls": loader.counts["call"],
        "breached": len(deadlines.breached),
        "about to breach": len(deadlines.about_to_breach),
    }
    short_ids = [t.pk for t in tickets if t.pk not in long_ids]
    return LoadedPages(
        counts=counts,
        clients=rng.sample(client_ids, 10),
        short_timelines=sorted(rng.sample(short_ids, min(TICKETS_PER_GROUP, len(short_ids)))),
        long_timelines=sorted(long_ids)[:TICKETS_PER_GROUP],
        viewer="desk-0",
        seconds=time.monotonic() - started,
    )


def already_loaded() -> LoadedPages:
    """What ``load`` returns, read back from a database it loaded before (BENCH_PAGES_DATABASE_URL):
    the long timelines are the open tickets with 40 entries or more."""
    from django.db.models import Count

    from firstcall.clients.models import Client
    from firstcall.escalation.models import Escalation, Page
    from firstcall.intake.models import CallRecord
    from firstcall.notify.models import Delivery
    from firstcall.sla.models import SlaClock
    from firstcall.tickets.models import Attachment, AuditEvent, Message, Status, Ticket

    started = time.monotonic()
    rng = random.Random(2031)
    open_tickets = Ticket.objects.filter(status__in=(Status.NEW, Status.OPEN, Status.WAITING_ON_CLIENT))
    sizes = dict(
        Message.objects.filter(ticket__in=open_tickets).values_list("ticket_id").annotate(n=Count("id"))
    )
    long_ids = sorted(pk for pk, n in sizes.items() if n >= 40)
    short_ids = sorted(pk for pk, n in sizes.items() if n < 40)
    counts = {
        "tickets": Ticket.objects.count(),
        "open": open_tickets.count(),
        "messages": Message.objects.count(),
        "deliveries": Delivery.objects.count(),
        "clocks": SlaClock.objects.count(),
        "escalations": Escalation.objects.count(),
        "pages": Page.objects.count(),
        "attachments": Attachment.objects.count(),
        "audit events": AuditEvent.objects.count(),
        "calls": CallRecord.objects.count(),
    }
    client_ids = sorted(Client.objects.values_list("pk", flat=True))
    return LoadedPages(
        counts=counts,
        clients=rng.sample(client_ids, min(10, len(client_ids))),
        short_timelines=sorted(rng.sample(short_ids, min(TICKETS_PER_GROUP, len(short_ids)))),
        long_timelines=long_ids[:TICKETS_PER_GROUP],
        viewer="desk-0",
        seconds=time.monotonic() - started,
    )


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageView:
    """One page to measure: a label, the URLs requested in turn, and the target its p95 is held to."""

    label: str
    urls: list[str]
    target_ms: float
    headers: dict[str, str] = field(default_factory=dict)
    # Its URLs differ only in the rows shown, so they must make the same number of queries.
    # (Ticket pages also differ in state: a running escalation adds its pages and levels.)
    same_rows_same_queries: bool = True


@dataclass
class Captured:
    """The SQL of one request."""

    count: int
    sql_ms: float
    statements: list[tuple[float, str]]


def capture(get: Callable[[], Any]) -> Captured:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get()
    statements = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    return Captured(len(statements), sum(ms for ms, _ in statements), statements)


def explain(sql: str) -> str:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def hotspots() -> list[tuple[str, list[Any]]]:
    """What a console request spends its time on, as functions whose cumulative time tells it
    (indented ones are inside the one above)."""
    from django.db.backends.utils import CursorWrapper
    from django.forms.widgets import Widget
    from django.template import defaultfilters, defaulttags, loader_tags
    from django.template.backends.django import Template

    from firstcall.intake import email_parser

    return [
        ("SQL: executing statements", [CursorWrapper._execute]),  # type: ignore[attr-defined]
        ("template rendering, all of it", [Template.render]),
        ("  {% include %}", [loader_tags.IncludeNode.render]),
        ("  {% url %}", [defaulttags.URLNode.render]),
        ("  date and timesince filters", [defaultfilters.date, defaultfilters.timesince_filter]),
        ("  form widgets", [Widget.render]),
        ("trim_quoted_reply (the timeline's inbound mail)", [email_parser.trim_quoted_reply]),
    ]


def profile(get: Callable[[], Any], requests: int = 20) -> str:
    """Where the time of ``requests`` requests goes (cProfile): each hotspot's share of the
    time, then the functions with the most own time and firstcall's by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        get()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    timings = stats.stats  # type: ignore[attr-defined]
    print(f"shares of the time under cProfile ({total / requests * 1000:.0f} ms per request):", file=out)
    for label, functions in hotspots():
        keys = [(f.__code__.co_filename, f.__code__.co_firstlineno, f.__code__.co_name) for f in functions]
        cumulative = sum(timings[key][3] for key in keys if key in timings)
        print(f"  {label:<50} {cumulative / total:6.1%}", file=out)
    stats.sort_stats("tottime").print_stats(12)
    stats.sort_stats("cumulative").print_stats(r"firstcall/", 12)
    return out.getvalue()


@dataclass(frozen=True)
class Breakdown:
    """The median request (by its time): the whole of it, its SQL, and the rendering of its
    template (including any SQL the template's lookups ran)."""

    total_ms: float
    sql_ms: float
    template_ms: float
    sql_in_template_ms: float

    def __str__(self) -> str:
        python_in_template = self.template_ms - self.sql_in_template_ms
        rest = self.total_ms - self.template_ms - (self.sql_ms - self.sql_in_template_ms)
        return (
            f"{self.total_ms:.1f} ms = SQL {self.sql_ms:.1f} ms ({self.sql_in_template_ms:.1f} ms of it from "
            f"the template) + template rendering {python_in_template:.1f} ms + view, forms and middleware "
            f"{rest:.1f} ms"
        )


def breakdown(get: Callable[[str], Any], urls: Sequence[str], requests: int = 20) -> Breakdown:
    """Time each request, its SQL statements (an execute wrapper) and its template's rendering
    (the template backend's render, patched for the duration)."""
    from django.db import connection
    from django.template.backends import django as django_backend

    in_template = False
    sql: list[float] = []
    sql_in_template: list[float] = []
    rendering: list[float] = []

    def timed_statement(execute: Callable[..., Any], *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(*args)
        finally:
            (sql_in_template if in_template else sql).append((time.perf_counter() - began) * 1000)

    original = django_backend.Template.render

    def timed_render(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal in_template
        if in_template:  # a form widget's template inside the page's: counted with it
            return original(self, *args, **kwargs)
        began = time.perf_counter()
        in_template = True
        try:
            return original(self, *args, **kwargs)
        finally:
            in_template = False
            rendering.append((time.perf_counter() - began) * 1000)

    samples = []
    django_backend.Template.render = timed_render  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(timed_statement):
            for n in range(requests):
                for timings in (sql, sql_in_template, rendering):
                    timings.clear()
                began = time.perf_counter()
                get(urls[n % len(urls)])
                total = (time.perf_counter() - began) * 1000
                in_sql = sum(sql_in_template)
                samples.append((total, sum(sql) + in_sql, sum(rendering), in_sql))
    finally:
        django_backend.Template.render = original  # type: ignore[method-assign]
    samples.sort()
    return Breakdown(*samples[len(samples) // 2])


TICKET_COUNT = re.compile(r"([\d,]+)\s+tickets?\b")


def signed_in(username: str) -> Any:
    """Django's test client signed in as the technician through the console's sign-in page, as a
    person is (a password; technicians need no authenticator app by default)."""
    from django.test import Client as Browser
    from django.urls import reverse

    from firstcall.accounts.models import User

    password = "bench-pages-password"
    user = User.objects.get(username=username)
    user.set_password(password)
    user.save(update_fields=["password"])
    browser = Browser()
    response = browser.post(reverse("console:login"), {"username": username, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {username} answered {response.status_code}, not a redirect")
    return browser


def measure(
    browser: Any, view: PageView, requests: int, figures: Figures, always_profile: bool, explained: set[str]
) -> list[int]:
    """Time ``requests`` requests of the view's URLs in turn, print the figures and what the time
    went to, and return the numbers of queries its URLs made (with per-process settings warm)."""

    def get(url: str) -> Any:
        response = browser.get(url, headers=view.headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    def warm_count(url: str) -> int:
        # The SLA targets and escalation levels a page reads are kept per process for a minute:
        # the request just before has them in memory, as a busy server mostly does.
        get(url)
        return capture(lambda: get(url)).count

    for n in range(WARM_UP_REQUESTS):
        get(view.urls[n % len(view.urls)])
    times, cpu = [], []
    for n in range(requests):
        url = view.urls[n % len(view.urls)]
        began, began_cpu = time.perf_counter(), time.thread_time()
        get(url)
        cpu.append((time.thread_time() - began_cpu) * 1000)
        times.append((time.perf_counter() - began) * 1000)
    p95 = percentile(times, 0.95)
    meets = p95 <= view.target_ms
    first = view.urls[0]
    shown = TICKET_COUNT.search(get(first).content.decode())
    counts = sorted({warm_count(url) for url in view.urls[:10]})
    get(first)
    captured = capture(lambda: get(first))
    slowest = max(captured.statements, default=(0.0, ""))
    print(
        f"  {view.label:<44} {describe_ms(times)}  — {'/'.join(map(str, counts))} queries"
        + (f" ({shown.group(0)})" if shown else "")
    )
    print(
        f"  {'':<44} CPU time of this process per request: p50 {percentile(cpu, 0.5):.1f} ms, "
        f"p95 {percentile(cpu, 0.95):.1f} ms"
    )
    print(f"  {'':<44} median request {breakdown(get, view.urls)}")
    print(
        f"  {'':<44} SQL of one request ({first}): {captured.count} queries, {captured.sql_ms:.1f} ms; "
        f"slowest {slowest[0]:.1f} ms: {slowest[1][:110]}"
    )
    for ms, sql in captured.statements:
        # The same statement with other values (the queue's "now", a ticket's id) is explained once.
        shape = re.sub(r"'[^']*'|\b\d+\b", "?", sql)
        if ms < SLOW_STATEMENT_MS or not sql.lstrip().upper().startswith("SELECT") or shape in explained:
            continue
        explained.add(shape)
        plan = explain(sql)
        executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
        if executed and float(executed.group(1)) < SLOW_EXECUTION_MS:
            print(
                f"    a {ms:.1f} ms statement that executes in {executed.group(1)} ms (the rest is waiting "
                f"for a CPU): {sql[:120]}"
            )
            continue
        print(f"    plan of a {ms:.1f} ms statement: {sql[:300]}")
        print("\n".join(f"      {line}" for line in plan.splitlines()))
    if always_profile or not meets:
        print(f"    where the time goes ({first}, 20 requests, cProfile):")
        print("\n".join(f"      {line}" for line in profile(lambda: get(first)).splitlines() if line.strip()))
    figures.add(
        f"{view.label}: p50 {percentile(times, 0.5):.1f} ms, p95 {p95:.1f} ms "
        f"(target ≤ {view.target_ms:.0f} ms)",
        meets,
    )
    if view.same_rows_same_queries and len(counts) > 1:
        figures.add(
            f"{view.label}: {'/'.join(map(str, counts))} queries for different rows (target: one number)",
            False,
        )
    return counts


def page_views(loaded: LoadedPages) -> tuple[list[PageView], list[PageView]]:
    from firstcall.tickets.models import format_ticket_number

    queue = [
        PageView("queue: / (default view)", ["/"], TARGET_QUEUE_P95_MS),
        PageView("queue: / htmx refresh (every 15 s)", ["/"], TARGET_QUEUE_P95_MS, {"HX-Request": "true"}),
        PageView(
            "queue: one client (10 in turn)", [f"/?client={pk}" for pk in loaded.clients], TARGET_QUEUE_P95_MS
        ),
        PageView("queue: page 2", ["/?page=2"], TARGET_QUEUE_P95_MS),
        PageView("queue: My tickets", ["/?assignee=me"], TARGET_QUEUE_P95_MS),
        PageView("queue: all statuses (every ticket)", ["/?status=all"], TARGET_QUEUE_P95_MS),
    ]
    ticket = [
        PageView(
            f"ticket page: short timeline ({len(loaded.short_timelines)} tickets)",
            [f"/tickets/{format_ticket_number(pk)}/" for pk in loaded.short_timelines],
            TARGET_TICKET_P95_MS,
            same_rows_same_queries=False,
        ),
        PageView(
            f"ticket page: long timeline ({len(loaded.long_timelines)} tickets)",
            [f"/tickets/{format_ticket_number(pk)}/" for pk in loaded.long_timelines],
            TARGET_TICKET_P95_MS,
            same_rows_same_queries=False,
        ),
    ]
    return queue, ticket


def timeline_sizes(ticket_ids: Sequence[int]) -> str:
    from django.db.models import Count

    from firstcall.tickets.models import Message

    sizes = sorted(
        row["n"]
        for row in Message.objects.filter(ticket_id__in=ticket_ids)
        .values("ticket_id")
        .annotate(n=Count("id"))
    )
    return f"{sizes[0]}–{sizes[-1]} entries, median {sizes[len(sizes) // 2]}" if sizes else "no entries"


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def main() -> bool:
    """Run the benchmark; True when every figure meets its target."""
    server = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    total = env_int("BENCH_PAGES_TICKETS", 100_000)
    open_count = env_int("BENCH_PAGES_OPEN", 10_000)
    requests = env_int("BENCH_PAGE_REQUESTS", 200)
    always_profile = os.environ.get("BENCH_PROFILE", "") not in {"", "0", "false"}
    keep_database = os.environ.get("BENCH_KEEP_DATABASE", "") not in {"", "0", "false"}
    reused = os.environ.get("BENCH_PAGES_DATABASE_URL", "").strip()
    drop_database: Callable[[], None] | None = None
    if reused:
        database_url = reused
    else:
        database_url, drop_database = fresh_postgres(server, "bench_pages")
    env = fresh_environment(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="firstcall.settings",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    figures = Figures()
    try:
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        try:
            if reused:
                loaded = already_loaded()
            else:
                call_command("migrate", verbosity=0)
                loaded = load(total, open_count)
            counts = ", ".join(f"{value:,} {name}" for name, value in loaded.counts.items())
            print(
                f"Console pages on PostgreSQL {connection.pg_version // 10000}: {counts}"  # type: ignore[attr-defined]
                + (" (loaded before)" if reused else f" (loaded in {loaded.seconds:.0f} s)")
                + f"; signed in as {loaded.viewer}; Django's test client in "
                f"process, {requests} requests per page after {WARM_UP_REQUESTS} to warm up"
            )
            print(
                f"  short timelines: {timeline_sizes(loaded.short_timelines)}; "
                f"long: {timeline_sizes(loaded.long_timelines)}"
            )
            browser = signed_in(loaded.viewer)
            queue, ticket = page_views(loaded)
            print(f"load average before measuring: {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
            print("1. The queue")
            explained: set[str] = set()
            for view in queue:
                measure(browser, view, requests, figures, always_profile, explained)
            print("2. The ticket page")
            short, long = (
                measure(browser, view, requests, figures, always_profile, explained) for view in ticket
            )
            ranges = [
                f"{min(counts)}–{max(counts)}" if len(counts) > 1 else str(counts[0])
                for counts in (short, long)
            ]
            print(f"load average after measuring: {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
            figures.add(
                f"ticket page queries: {ranges[0]} with a short timeline, {ranges[1]} with a long one "
                "(target: no more for a long timeline)",
                max(long) <= max(short),
            )
        finally:
            connections.close_all()
    finally:
        if keep_database or drop_database is None:
            print(f"The database is kept: {database_url} (drop it when done)")
        else:
            drop_database()
    print("Summary")
    for text, meets in figures.lines:
        print(f"  => {text}: {'meets' if meets else 'MISSES'}")
    return all(meets for _, meets in figures.lines)


if __name__ == "__main__":
    main()
