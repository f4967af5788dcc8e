"""Verifying a suspicious email for a client: the verification opened with the ticket, whom we
call back (a number we already had, never one from the email), the analysis of the forwarded
email, and the outcome of the call, which a technician records before the ticket may resolve.

- ``start_verification``: the intake pipeline's hook for a new verification ticket (inside its
  transaction): the record, the call-back plan on the timeline and by email, the analysis
  queued after commit.
- ``run_analysis``: the worker's part (``tasks.analyze_verification``), once per verification.
- ``record_call_outcome``: a technician says how the call went (audited, on the timeline).
- ``refuse_unverified_resolution``: the guard that keeps the ticket open until then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Contact, EmailDomain, PhoneNumber
from firstcall.intake.request import Person
from firstcall.notify.outbound import Route, schedule_reply
from firstcall.security.analysis import (
    Analysis,
    KnownContact,
    KnownParties,
    Verdict,
    analyze,
    name_tokens,
)
from firstcall.security.authentication import DnsLookup, system_dns_lookup
from firstcall.security.intake import VerificationRequest
from firstcall.security.lookalike import FREE_MAIL_DOMAINS, lookalike_of
from firstcall.security.models import CallOutcome, EmailVerification
from firstcall.security.original import domain_of, recover_original
from firstcall.tickets.actions import Actor, IllegalTransition, add_event, add_message, audit
from firstcall.tickets.models import (
    DONE_STATUSES,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
    reply_subject,
)

log = logging.getLogger(__name__)

ACTOR_LABEL = "verification"
STAFF_LABEL = "staff console"
# Analyses that failed this often are left for a person (the panel shows the error).
MAX_ANALYSIS_ATTEMPTS = 5
DO_NOT_ACT = (
    "Until we confirm it, do not pay, change bank details, open its attachments, click its links "
    "or reply to it."
)


# --- whom we call back --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRecords:
    """The client's contacts, their numbers and the client's main line, as we have them."""

    known: KnownParties
    contacts: tuple[Contact, ...]
    numbers: dict[int, list[PhoneNumber]]
    main_line: PhoneNumber | None


def client_records(client_id: int | None) -> ClientRecords:
    """Three queries with a client (contacts, their and the client's numbers, its domains)."""
    if client_id is None:
        return ClientRecords(KnownParties(), (), {}, None)
    contacts = tuple(Contact.objects.filter(client_id=client_id).select_related("client").order_by("pk"))
    numbers: dict[int, list[PhoneNumber]] = {}
    main_line: PhoneNumber | None = None
    phones = PhoneNumber.objects.filter(
        Q(contact__client_id=client_id) | Q(client_id=client_id, contact__isnull=True)
    ).order_by("pk")
    for phone in phones:
        if phone.contact_id is None:
            main_line = main_line or phone
        else:
            numbers.setdefault(phone.contact_id, []).append(phone)
    domains = tuple(EmailDomain.objects.filter(client_id=client_id).values_list("domain", flat=True))
    partner_domains = tuple(
        sorted(
            {
                domain_of(c.email)
                for c in contacts
                if c.email
                and domain_of(c.email) not in domains
                and domain_of(c.email) not in FREE_MAIL_DOMAINS
            }
        )
    )
    client_name = contacts[0].client.name if contacts and contacts[0].client else ""
    known = KnownParties(
        client_name=client_name,
        client_domains=domains,
        partner_domains=partner_domains,
        contacts=tuple(KnownContact(c.name, c.email) for c in contacts if c.email or c.name),
    )
    return ClientRecords(known, contacts, numbers, main_line)


@dataclass(frozen=True)
class CallBack:
    contact: Contact | None
    name: str
    number: str
    # Why this person and this number, in words for the client and the technician.
    basis: str


def _claimed_contact(claimed: Person, records: ClientRecords) -> tuple[Contact | None, str]:
    address = claimed.email.strip().lower()
    if address:
        for contact in records.contacts:
            if contact.email == address:
                return (
                    contact,
                    f"the email claims to be from {contact.name or address}, whose address it uses",
                )
    shown = set(name_tokens(claimed.name))
    if shown:
        for contact in records.contacts:
            tokens = name_tokens(contact.name)
            if len(tokens) >= 2 and set(tokens) <= shown:
                return contact, f"the email carries the name of your contact {contact.name}"
    domain = domain_of(address) if address else ""
    if domain:
        imitated = lookalike_of(domain, records.known.partner_domains)
        for target in (domain, imitated.known if imitated else ""):
            if not target or target in records.known.client_domains:
                continue
            at_domain = [c for c in records.contacts if c.email and domain_of(c.email) == target]
            with_number = [c for c in at_domain if records.numbers.get(c.pk)]
            if with_number or at_domain:
                contact = (with_number or at_domain)[0]
                return contact, f"{contact.name or contact.email} is your contact at {target}"
    return None, ""


def resolve_callback(claimed: Person, records: ClientRecords, client_name: str) -> CallBack:
    """Whom we call to check the email, and on which number — always from our records."""
    contact, why = _claimed_contact(claimed, records)
    if contact is not None:
        phones = records.numbers.get(contact.pk, [])
        who = contact.name or contact.email
        if phones:
            label = f" ({phones[0].label})" if phones[0].label else ""
            return CallBack(
                contact, who, phones[0].number, f"{why}; the number{label} we have on file for them"
            )
        if records.main_line is not None:
            return CallBack(
                contact,
                who,
                records.main_line.number,
                f"{why}; we have no number of their own, so we call {client_name}'s main line and "
                "ask for them",
            )
        return CallBack(contact, who, "", f"{why}, but we have no phone number for them")
    if records.main_line is not None:
        return CallBack(
            None,
            client_name,
            records.main_line.number,
            "the sender is not one of your contacts we know, so we call your main line to go "
            "through it with you",
        )
    return CallBack(
        None, "", "", "the sender is not one of your contacts we know, and we have no number for you"
    )


def _spoken(number: str) -> str:
    return number or "(no number on file)"


def plan_text(verification: EmailVerification, ticket: Ticket) -> str:
    """The call-back plan, for the client, at once."""
    claimed = verification.claimed_name or verification.claimed_address or "the sender"
    about = (
        f"“{verification.original_subject}” from {claimed}"
        if verification.original_subject
        else f"the email from {claimed}"
    )
    lines = [f"We are checking {about}.", "", DO_NOT_ACT, ""]
    if ticket.client_id is None:
        lines.append(
            "We could not match your address to one of our clients, so we will first confirm who you "
            "are; then we will check the email with its sender by phone, on a number we already have."
        )
    elif verification.callback_number:
        lines.append(
            f"We will verify it by phone: we will call {verification.callback_name} on "
            f"{verification.callback_number} — {verification.callback_basis}. We never use a phone "
            "number, link or address from the suspicious email itself."
        )
    else:
        lines.append(
            f"We have no phone number on file to check it with ({verification.callback_basis}). Please "
            "find one in your own records — an earlier invoice, the contract, their website typed in "
            "by hand — never in the email, and reply with it."
        )
    lines += [
        "",
        f"A technician records the answer on ticket {ticket.number}; we will tell you as soon as we know.",
    ]
    return "\n".join(lines)


def start_verification(ticket: Ticket, message: Message, request: VerificationRequest) -> EmailVerification:
    """Open the verification of a new verification ticket (the pipeline's hook, inside its
    transaction, after the acknowledgment): whom we call and on which number, told to the client
    at once; the analysis runs after commit."""
    records = client_records(ticket.client_id)
    client_name = records.known.client_name or (
        ticket.client.name if ticket.client_id and ticket.client else ""
    )
    callback = resolve_callback(request.claimed, records, client_name)
    verification = EmailVerification.objects.create(
        ticket=ticket,
        inbound_id=message.inbound_id,
        claimed_name=request.claimed.name[:200],
        claimed_address=request.claimed.email[:254],
        original_subject=request.original_subject[:300],
        callback_contact=callback.contact,
        callback_name=callback.name[:200],
        callback_number=callback.number,
        callback_basis=callback.basis[:300],
    )
    actor = Actor.system(ACTOR_LABEL)
    audit(
        ticket,
        actor,
        "verification_opened",
        after={
            "claimed": request.claimed.email,
            "callback_name": callback.name,
            "callback_number": callback.number,
        },
        reason=callback.basis,
    )
    _tell_plan(ticket, verification, message)
    # The task module imports this one: imported here.
    from firstcall.security.tasks import analyze_verification

    transaction.on_commit(partial(analyze_verification, ticket.pk))
    return verification


def _tell_plan(ticket: Ticket, verification: EmailVerification, inbound_message: Message) -> None:
    """The plan on the timeline; also by email when the acknowledgment went out by email (so
    every guard of the acknowledgment — loops, automatic senders, rate — holds for it too)."""
    text = plan_text(verification, ticket)
    acknowledged = Message.objects.filter(
        ticket=ticket,
        kind=MessageKind.AUTO_REPLY,
        channel=Channel.EMAIL,
        created_at__gte=inbound_message.created_at,
    ).exists()
    if not acknowledged or not ticket.requester.email:
        add_event(ticket, text, actor=Actor.system(ACTOR_LABEL))
        return
    plan = add_message(
        ticket,
        kind=MessageKind.AUTO_REPLY,
        channel=Channel.EMAIL,
        subject=reply_subject(ticket),
        body_text=text,
        actor=Actor.system(ACTOR_LABEL),
    )
    schedule_reply(ticket, plan, Route(Channel.EMAIL, ticket.requester.email))


# --- the analysis -------------------------------------------------------------------------------


def configured_dns_lookup() -> DnsLookup | None:
    """The DKIM key lookup the settings allow: none when FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS is 0."""
    return system_dns_lookup() if settings.FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS > 0 else None


_VERDICT_WORDS = {
    Verdict.LIKELY_FRAUD: "it shows strong signs of fraud.",
    Verdict.SUSPICIOUS: "it shows warning signs.",
    Verdict.NO_RED_FLAGS: (
        "we found no warning signs. A genuine mailbox that was broken into sends emails that look "
        "exactly like this, so the phone call still decides."
    ),
    Verdict.UNDETERMINED: "we could not find the suspicious email in your message.",
}


def client_summary(analysis: Analysis, verification: EmailVerification) -> str:
    """The analysis in plain words, for the client's timeline."""
    lines = [f"Our automatic check of the email: {_VERDICT_WORDS[analysis.verdict]}"]
    flags = sorted(analysis.red_flags, key=lambda f: -f.weight)
    if flags:
        lines += ["", "What we found:"] + [f"- {finding.explanation}" for finding in flags]
    missing = [f for f in analysis.findings if f.state == "unavailable"]
    if missing:
        lines += ["", "What we could not check:"] + [f"- {finding.explanation}" for finding in missing]
    if verification.callback_number:
        who = f"{verification.callback_name} on {verification.callback_number}"
        then = f"we still call {who} before anything else"
    else:
        then = "we still confirm it by phone, on a number from your own records, before anything else"
    lines += ["", f"This is only a first check: {then}. {DO_NOT_ACT}"]
    return "\n".join(lines)


def technician_summary(analysis: Analysis) -> str:
    head = f"Automatic analysis: {analysis.verdict.label.lower()} (score {analysis.score}/100)"
    if analysis.how:
        head += f", original forwarded {'as an attachment' if analysis.how == 'attachment' else 'inline'}"
    reasons = "; ".join(analysis.reasons) or "no red flags"
    return f"{head}. {reasons}. Evidence in the verification panel."


def run_analysis(ticket_id: int, *, dns_lookup: DnsLookup | None = None) -> bool:
    """Analyse the forwarded email of this ticket's verification and store the result, once
    (a second run, or a second worker, finds it done). Returns whether it stored a result.
    ``dns_lookup``: the DKIM key lookup; by default the one the settings allow."""
    verification = (
        EmailVerification.objects.select_related("inbound", "ticket")
        .filter(ticket_id=ticket_id, analyzed_at__isnull=True)
        .first()
    )
    if verification is None:
        return False
    EmailVerification.objects.filter(pk=verification.pk).update(analysis_attempts=F("analysis_attempts") + 1)
    lookup = dns_lookup or configured_dns_lookup()
    try:
        raw = bytes(verification.inbound.raw) if verification.inbound is not None else b""
        records = client_records(verification.ticket.client_id)
        analysis = analyze(
            recover_original(raw),
            records.known,
            dns_lookup=lookup,
            dns_timeout=float(settings.FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS or 5),
        )
    except Exception as error:  # recorded for the panel; the sweep tries again
        log.exception("analysis of the verification of ticket %s failed", ticket_id)
        EmailVerification.objects.filter(pk=verification.pk).update(
            analysis_error=f"{type(error).__name__}: {error}"[:300]
        )
        return False
    ticket = verification.ticket
    with transaction.atomic():
        stored = EmailVerification.objects.filter(pk=verification.pk, analyzed_at__isnull=True).update(
            analyzed_at=timezone.now(),
            verdict=analysis.verdict,
            score=analysis.score,
            original_how=analysis.how,
            findings=[finding.as_json() for finding in analysis.findings],
            analysis_error="",
        )
        if not stored:
            return False
        actor = Actor.system(ACTOR_LABEL)
        audit(
            ticket,
            actor,
            "verification_analyzed",
            field="verdict",
            after={"verdict": analysis.verdict.value, "score": analysis.score},
            reason="; ".join(analysis.reasons),
        )
        add_message(
            ticket,
            kind=MessageKind.NOTE,
            channel=Channel.CONSOLE,
            body_text=technician_summary(analysis),
            actor=actor,
        )
        add_event(ticket, client_summary(analysis, verification), actor=actor)
    return True


def unanalyzed_verifications(older_than: timedelta = timedelta(minutes=2), limit: int = 100) -> list[int]:
    """Tickets whose analysis never landed (a worker down, a crash), for the sweep."""
    return list(
        EmailVerification.objects.filter(
            analyzed_at__isnull=True,
            created_at__lte=timezone.now() - older_than,
            analysis_attempts__lt=MAX_ANALYSIS_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("ticket_id", flat=True)[:limit]
    )


# --- the call -----------------------------------------------------------------------------------

_OUTCOME_WORDS = {
    CallOutcome.GENUINE: "We called {who}{on}: they confirmed that they sent the email. It is genuine.",
    CallOutcome.FRAUD: (
        "We called {who}{on}: they did not send this email. It is fraud: do not pay, do not reply, "
        "and delete it. If anyone already acted on it, tell us now and call your bank at once."
    ),
    CallOutcome.UNREACHABLE: (
        "We called {who}{on} but could not reach them. Until someone confirms the email, treat it "
        "as unconfirmed: do not pay or change bank details."
    ),
}


class NoVerification(ValueError):
    """The ticket is not a suspicious-email verification."""


def record_call_outcome(ticket: Ticket, *, outcome: CallOutcome, note: str, by: User) -> EmailVerification:
    """A technician records how the call went. The client reads the outcome in plain words on
    the timeline; the note stays internal. May be recorded again (no answer first, then the
    answer); each time is audited."""
    outcome = CallOutcome(outcome)
    note = note.strip()
    actor = Actor(user=by, label=STAFF_LABEL)
    with transaction.atomic():
        verification = EmailVerification.objects.select_for_update().filter(ticket_id=ticket.pk).first()
        if verification is None:
            raise NoVerification(f"{ticket.number} is not a suspicious-email verification.")
        before = verification.outcome or None
        now = timezone.now()
        EmailVerification.objects.filter(pk=verification.pk).update(
            outcome=outcome, outcome_note=note, outcome_by=by, outcome_at=now
        )
        verification.outcome, verification.outcome_note = outcome, note
        verification.outcome_by, verification.outcome_at = by, now
        audit(
            ticket,
            actor,
            "verification_call_recorded",
            field="outcome",
            before=before,
            after=outcome.value,
            reason=note,
        )
        who = verification.callback_name or "the sender"
        on = f" on {verification.callback_number}" if verification.callback_number else ""
        add_event(ticket, _OUTCOME_WORDS[outcome].format(who=who, on=on), actor=actor)
        if note:
            add_message(
                ticket,
                kind=MessageKind.NOTE,
                channel=Channel.CONSOLE,
                body_text=f"Call note: {note}",
                actor=actor,
            )
    return verification


class VerificationPending(IllegalTransition):
    """The ticket is a verification whose call has not been recorded: it may not resolve yet."""

    def __init__(self, ticket: Ticket, to: Status) -> None:
        ValueError.__init__(
            self,
            f"{ticket.number} cannot be {Status(to).label.lower()} yet: record the outcome of the "
            "verification call first (confirmed genuine, confirmed fraud or could not reach).",
        )


def refuse_unverified_resolution(ticket: Ticket, to: Status) -> None:
    """The guard for ``tickets.actions.transition``: resolving or closing a verification ticket
    is refused until a technician has recorded the outcome of the call. One query for a ticket
    moving to resolved or closed, none otherwise."""
    if to not in DONE_STATUSES:
        return
    if EmailVerification.objects.filter(ticket_id=ticket.pk, outcome="").exists():
        raise VerificationPending(ticket, to)
