"""Demo data: a small MSP with three clients, staff, and tickets that came in through intake.

Loading is idempotent: clients, contacts and staff are looked up before they are created, and
every demo request has a fixed identifier (Message-ID, form token), so intake keeps it once. The
follow-ups (assignment, replies, a resolution) happen only when their ticket was just created.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate

from django.conf import settings
from django.db import transaction

from firstcall.accounts.models import Role, User
from firstcall.clients.models import BusinessProcess, Client, Contact, Contract, EmailDomain, PhoneNumber
from firstcall.intake.addresses import support_address as accepted_support_address
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.pipeline import IntakeOutcome, ingest
from firstcall.sla.models import Calendar, SlaTarget
from firstcall.sla.targets import BUSINESS_HOURS, TWENTY_FOUR_SEVEN
from firstcall.tickets.actions import Actor, assign, audit, transition
from firstcall.tickets.models import Channel, Status, Ticket
from firstcall.tickets.replies import STAFF_LABEL, add_note, post_reply

DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class DemoContact:
    name: str
    email: str
    phone: str
    phone_label: str
    is_vip: bool = False


@dataclass(frozen=True)
class DemoClient:
    name: str
    domain: str
    time_zone: str
    main_phone: str
    contract: str
    support_hours: str
    # First-response and resolution targets in minutes, per priority (P1/P2 round the clock,
    # P3/P4 in business hours).
    targets: dict[str, tuple[int, int]]
    contacts: tuple[DemoContact, ...]
    headcount: int | None = None
    hourly_cost: Decimal | None = None
    # (name, keywords, weekday, "HH:MM", every_weeks, anchor date) of business-critical processes.
    processes: tuple[tuple[str, str, int, str, int, date], ...] = ()


CLIENTS = (
    DemoClient(
        name="Bright Smile Dental",
        domain="brightsmile.example",
        time_zone="America/Chicago",
        main_phone="+13125550100",
        contract="Managed Care Gold",
        support_hours="Mon–Fri 07:00–19:00, Sat 08:00–13:00",
        targets={"P1": (15, 240), "P2": (60, 480), "P3": (120, 1200), "P4": (480, 3000)},
        headcount=14,
        hourly_cost=Decimal("85.00"),
        processes=(("Payroll submission", "payroll, adp, timesheet", 4, "14:00", 2, date(2026, 1, 9)),),
        contacts=(
            DemoContact("Dana Reyes", "dana@brightsmile.example", "+13125550111", "mobile", is_vip=True),
            DemoContact("Carl Mendes", "carl@brightsmile.example", "+13125550112", "mobile"),
            DemoContact("Maria Lopez", "maria@brightsmile.example", "+13125550101", "front desk"),
        ),
    ),
    DemoClient(
        name="Hale & Porter LLP",
        domain="haleporter.example",
        time_zone="America/New_York",
        main_phone="+12125550140",
        contract="Legal Secure",
        support_hours="Mon–Fri 08:00–18:00",
        targets={"P1": (30, 240), "P2": (60, 480), "P3": (240, 1200), "P4": (600, 3000)},
        headcount=22,
        hourly_cost=Decimal("160.00"),
        contacts=(
            DemoContact("Priya Shah", "priya@haleporter.example", "+12125550141", "mobile", is_vip=True),
            DemoContact("Tom Hale", "tom@haleporter.example", "+12125550142", "mobile"),
            DemoContact("Grace Kim", "grace@haleporter.example", "+12125550143", "direct line"),
            DemoContact("Ben Ortiz", "ben@haleporter.example", "+12125550144", "direct line"),
        ),
    ),
    DemoClient(
        name="Olive & Ember Bistro",
        domain="oliveember.example",
        time_zone="America/Los_Angeles",
        main_phone="+14155550170",
        contract="Essentials",
        support_hours="Every day 10:00–23:00",
        targets={"P1": (30, 480), "P2": (120, 960), "P3": (480, 1800), "P4": (1200, 3000)},
        headcount=9,
        hourly_cost=Decimal("35.00"),
        contacts=(
            DemoContact("Marco Bellini", "marco@oliveember.example", "+14155550171", "mobile", is_vip=True),
            DemoContact("Jess Nguyen", "jess@oliveember.example", "+14155550172", "mobile"),
            DemoContact("Sam Patel", "sam@oliveember.example", "+14155550173", "kitchen"),
        ),
    ),
)


@dataclass(frozen=True)
class DemoStaff:
    username: str
    first_name: str
    last_name: str
    role: Role


STAFF = (
    DemoStaff("tess", "Tess", "Morgan", Role.TECHNICIAN),
    DemoStaff("eli", "Eli", "Brooks", Role.ENGINEER),
    DemoStaff("maya", "Maya", "Chen", Role.MANAGER),
)


@dataclass
class DemoResult:
    clients_created: list[str] = field(default_factory=list)
    clients_existing: list[str] = field(default_factory=list)
    # (user, password): the password is shown once and stored only hashed.
    staff_created: list[tuple[User, str]] = field(default_factory=list)
    staff_existing: list[User] = field(default_factory=list)
    # (ticket number, subject, created now)
    tickets: list[tuple[str, str, bool]] = field(default_factory=list)


def load_demo() -> DemoResult:
    result = DemoResult()
    with transaction.atomic():
        for demo_client in CLIENTS:
            created = _load_client(demo_client)
            (result.clients_created if created else result.clients_existing).append(demo_client.name)
        for member in STAFF:
            user, password = _load_staff(member)
            if password:
                result.staff_created.append((user, password))
            else:
                result.staff_existing.append(user)
    staff = {u.username: u for u in User.objects.filter(username__in=[m.username for m in STAFF])}
    _load_tickets(result, staff)
    return result


def _load_client(demo: DemoClient) -> bool:
    client, created = Client.objects.get_or_create(
        name=demo.name,
        defaults={"time_zone": demo.time_zone, "headcount": demo.headcount, "hourly_cost": demo.hourly_cost},
    )
    EmailDomain.objects.get_or_create(domain=demo.domain, defaults={"client": client})
    PhoneNumber.objects.get_or_create(
        client=client, contact=None, number=demo.main_phone, defaults={"label": "main line"}
    )
    contract, _ = Contract.objects.get_or_create(
        client=client, name=demo.contract, defaults={"support_hours": demo.support_hours}
    )
    calendars = {c.name: c for c in Calendar.objects.filter(name__in=[TWENTY_FOUR_SEVEN, BUSINESS_HOURS])}
    for priority, (first_response, resolution) in demo.targets.items():
        SlaTarget.objects.get_or_create(
            contract=contract,
            priority=priority,
            defaults={
                "first_response_minutes": first_response,
                "resolution_minutes": resolution,
                "calendar": calendars[TWENTY_FOUR_SEVEN if priority in ("P1", "P2") else BUSINESS_HOURS],
            },
        )
    for name, keywords, weekday, at, every_weeks, anchor in demo.processes:
        BusinessProcess.objects.get_or_create(
            client=client,
            name=name,
            defaults={
                "keywords": keywords,
                "weekday": weekday,
                "time": time.fromisoformat(at),
                "every_weeks": every_weeks,
                "anchor_date": anchor,
            },
        )
    for person in demo.contacts:
        contact, _ = Contact.objects.get_or_create(
            email=person.email, defaults={"client": client, "name": person.name, "is_vip": person.is_vip}
        )
        if contact.client_id is None:
            # Mailed in before the demo existed (e.g. `firstcall send-test-email` as Dana): an
            # unverified requester until now, who is this client's contact.
            contact.client = client
            contact.name = contact.name or person.name
            contact.is_vip = person.is_vip
            contact.save(update_fields=["client", "name", "is_vip"])
            audit(
                None,
                Actor.system("demo"),
                "contact_client_set",
                field="client",
                before=None,
                after={"email": contact.email, "client": client.name},
            )
        PhoneNumber.objects.get_or_create(
            client=client, contact=contact, number=person.phone, defaults={"label": person.phone_label}
        )
    return created


def _load_staff(member: DemoStaff) -> tuple[User, str]:
    """The staff user, and its new password if it was created now ("" if it existed)."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "firstcall.localhost"
    user, created = User.objects.get_or_create(
        username=member.username,
        defaults={
            "first_name": member.first_name,
            "last_name": member.last_name,
            "email": f"{member.username}@{domain}",
            "role": member.role,
        },
    )
    if not created:
        return user, ""
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, password


def support_address() -> str:
    return accepted_support_address() or str(settings.DEFAULT_FROM_EMAIL)


def _email(
    *,
    sender: str,
    subject: str,
    body: str,
    message_id: str,
    cc: str = "",
    references: tuple[str, ...] = (),
) -> IntakeOutcome:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = support_address()
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    message.set_content(body)
    address = sender.rpartition("<")[2].rstrip(">")
    return ingest_email(
        message.as_bytes(),
        mail_from=address,
        rcpt_tos=[support_address()],
        source=DEMO_SOURCE,
        acknowledge=False,
    )


def _web_form(
    token: str, *, name: str, email: str, subject: str, description: str, emergency: bool
) -> IntakeOutcome:
    fields = {
        "name": name,
        "email": email,
        "subject": subject,
        "description": description,
        "is_emergency": emergency,
    }
    return ingest(
        Channel.WEB, f"demo:{token}", json.dumps(fields).encode(), {"source": DEMO_SOURCE}, acknowledge=False
    )


def _api(key: str, *, email: str, name: str, subject: str, body: str) -> IntakeOutcome:
    payload = {"requester_email": email, "requester_name": name, "subject": subject, "body": body}
    return ingest(
        Channel.API,
        f"demo:{key}",
        json.dumps(payload, sort_keys=True).encode(),
        {"source": DEMO_SOURCE, "token_name": "RMM integration (demo)"},
        acknowledge=False,
    )


def _ticket(result: DemoResult, outcome: IntakeOutcome) -> Ticket | None:
    """Record the outcome; returns the ticket only if it was created now (for follow-ups)."""
    if outcome.ticket_id is None:
        raise RuntimeError(f"demo request was not turned into a ticket: {outcome.reason or outcome.status}")
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    result.tickets.append((ticket.number, ticket.subject, outcome.created_ticket))
    return ticket if outcome.created_ticket else None


def _load_tickets(result: DemoResult, staff: dict[str, User]) -> None:
    tess, eli, maya = staff["tess"], staff["eli"], staff["maya"]
    dispatcher = Actor(user=maya, label=STAFF_LABEL)

    hacked_id = "<demo-email-hacked@brightsmile.example>"
    hacked = _ticket(
        result,
        _email(
            sender="Dana Reyes <dana@brightsmile.example>",
            subject="Email hacked? Sending spam to patients",
            body=(
                "Hi,\n\nThree patients called this morning: they got an email from my address with "
                "an 'invoice' link. I never sent it! Is my mailbox hacked? What do I tell them?\n\n"
                "Dana Reyes\nOffice manager, Bright Smile Dental\n"
            ),
            message_id=hacked_id,
        ),
    )
    if hacked is not None:
        assign(hacked, tess, actor=dispatcher)
        reply = post_reply(
            hacked,
            author=tess,
            body=(
                "Hi Dana,\n\nYes, someone signed in to your mailbox from abroad last night. I have reset "
                "your password, signed out every session and removed a forwarding rule they added. "
                "Please tell patients not to open the link and to delete the email.\n\n"
                "I will call you in 10 minutes to set up two-factor sign-in.\n\nTess"
            ),
        )
        _email(
            sender="Dana Reyes <dana@brightsmile.example>",
            subject=f"Re: {reply.subject}",
            body="Thank you Tess! I'm at the front desk, call me there.\n\nDana\n",
            message_id="<demo-email-hacked-reply@brightsmile.example>",
            references=(hacked_id, f"<{reply.rfc_message_id}>"),
        )

    server = _ticket(
        result,
        _web_form(
            "server-down",
            name="Carl Mendes",
            email="carl@brightsmile.example",
            subject="Server down — no patient records",
            description=(
                "The practice server will not start: the screen shows 'RAID degraded' and stops. "
                "Nobody can open patient records or today's schedule, and patients are in the waiting room."
            ),
            emergency=True,
        ),
    )
    if server is not None:
        assign(server, eli, actor=dispatcher)
        add_note(
            server,
            author=eli,
            body="Remote: controller reports disk 2 failed, array degraded. Driving over with a spare disk.",
        )

    _ticket(
        result,
        _web_form(
            "payroll-cutoff",
            name="Grace Kim",
            email="grace@haleporter.example",
            subject="Payroll won't submit before 2pm cut-off",
            description=(
                "The payroll portal rejects our upload with 'certificate not trusted'. The bank's cut-off "
                "is 2pm today; if it misses, 23 people are paid late."
            ),
            emergency=False,
        ),
    )

    wire = _ticket(
        result,
        _email(
            sender="Priya Shah <priya@haleporter.example>",
            cc="Tom Hale <tom@haleporter.example>",
            subject="Wire transfer request looks off",
            body=(
                "Our bookkeeper got an email 'from Tom' asking for an urgent wire of $48,000 to a new "
                "account. Tom is in court and did not send it. The sender address looks almost right. "
                "Can you check whether we were phished, and block it?\n\nPriya\n"
            ),
            message_id="<demo-wire-transfer@haleporter.example>",
        ),
    )
    if wire is not None:
        assign(wire, eli, actor=dispatcher)

    printer = _ticket(
        result,
        _email(
            sender="Jess Nguyen <jess@oliveember.example>",
            subject="Printer jam at front desk",
            body="The receipt printer at the host stand keeps jamming. Reservations print on nothing.\n",
            message_id="<demo-printer-jam@oliveember.example>",
        ),
    )
    if printer is not None:
        assign(printer, tess, actor=dispatcher)
        post_reply(
            printer,
            author=tess,
            body=(
                "Hi Jess, a torn label was stuck behind the roller. Sam cleared it with my instructions "
                "on the phone and the test page printed fine. Closing this; reply if it happens again."
            ),
        )
        transition(
            printer,
            Status.RESOLVED,
            actor=Actor(user=tess, label=STAFF_LABEL),
            reason="cleared the jam, test print OK",
        )

    _ticket(
        result,
        _api(
            "pos-offline",
            email="marco@oliveember.example",
            name="Marco Bellini",
            subject="Card terminal at the bar is offline",
            body="Monitoring: payment terminal BAR-2 has not checked in for 15 minutes (last seen 18:42).",
        ),
    )
