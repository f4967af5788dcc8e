"""The escalation runtime: start an escalation on a ticket, fire its levels at their minute,
stop it on acknowledgment or resolution.

Timing: each step is a Huey task scheduled at its moment (ETA) and a sweep every minute catches
what a stopped worker missed. Both call ``run_step``, which re-reads the escalation and acts only
if the step is still due; it claims the step with a guarded ``update()`` under a row lock, and a
unique constraint on Page is the last guard, so two workers never send the same page twice.

A step that runs late fires every level that has come due since, in order, at once: each of
those people should have heard by now, and nobody has acknowledged. Later levels keep their own
minute (counted from the start of the escalation, or of the round when the policy repeats).

A level whose targets resolve to nobody reachable (no assignee, an empty on-call slot, nobody
with the role) falls through to the next level at once; when every remaining level is empty the
owners are paged, so an escalation never goes to nobody.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from firstcall.accounts.models import User, staff_with_phone
from firstcall.escalation.models import Escalation, EscalationLevel, Page, PageChannel
from firstcall.escalation.pages import (
    PAGER,
    LevelInWords,
    client_audience,
    page_routes,
    public_acknowledged_text,
    public_level_text,
    send_pages,
    send_warning,
    spoken_ticket_number,
)
from firstcall.escalation.policies import level_targets, ordered_levels, owners, policy_for
from firstcall.notify.models import Delivery, DeliveryPurpose
from firstcall.tickets.actions import Actor, add_event, add_message, audit
from firstcall.tickets.models import (
    Channel,
    MessageKind,
    Status,
    Ticket,
    format_ticket_number,
    parse_ticket_number,
)

log = logging.getLogger(__name__)

# Escalation stops for a ticket in these states (the lead's resolve/close also calls stop).
FINISHED_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})
ACKNOWLEDGE_VIA = frozenset({"console", "email", "sms", "phone"})
# A task's clock may read a hair before the ETA it was scheduled for: that still counts as due.
CLOCK_TOLERANCE = timedelta(seconds=1)
# After an unexpected error the sweep tries the step again this much later, not in a tight loop.
RETRY_AFTER = timedelta(minutes=1)


def active_escalation(ticket_id: int) -> Escalation | None:
    return _active(ticket_id).select_related("policy").first()


def _active(ticket_id: int) -> QuerySet[Escalation]:
    return Escalation.objects.filter(ticket_id=ticket_id, stopped_at__isnull=True)


def _note(ticket: Ticket, text: str, at: datetime) -> None:
    """A staff-only line on the timeline (it may name people and their numbers)."""
    add_message(
        ticket, kind=MessageKind.NOTE, channel=Channel.CONSOLE, body_text=text, actor=PAGER, created_at=at
    )


def _schedule_step(escalation_id: int, level_position: int, at: datetime) -> None:
    """After commit, run the step at ``at`` (now if due) as a Huey task."""
    from firstcall.escalation.tasks import escalation_step

    def enqueue() -> None:
        if at <= timezone.now():
            escalation_step(escalation_id, level_position)
        else:
            escalation_step.schedule((escalation_id, level_position), eta=at)

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------------------------------------
# Starting and stopping
# ---------------------------------------------------------------------------------------------


def start_escalation(ticket: Ticket, *, reason: str, opening: bool = True) -> Escalation | None:
    """Start the policy that applies to the ticket (its priority, its client's current contract;
    with ``opening``, only a policy that starts when a ticket opens — otherwise an SLA target was
    missed) unless one is running already (then that one is returned). Its first level fires at its
    minute, by a task scheduled after commit. None when no policy applies or the ticket is
    resolved or closed."""
    if ticket.status in FINISHED_STATUSES:
        return None
    contract = ticket.client.active_contract() if ticket.client is not None else None
    policy = policy_for(ticket.priority, contract.pk if contract is not None else None, opening=opening)
    if policy is None:
        return None
    existing = active_escalation(ticket.pk)
    if existing is not None:
        return existing
    levels = ordered_levels(policy.pk)
    if not levels:
        log.warning("escalation policy %r has no levels; %s does not escalate", policy.name, ticket.number)
        return None
    now = timezone.now()
    first = levels[0]
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                ticket=ticket,
                policy=policy,
                reason=reason[:200],
                started_at=now,
                round_started_at=now,
                next_level=first.position,
                next_step_at=now + timedelta(minutes=first.after_minutes),
            )
            audit(
                ticket,
                PAGER,
                "escalation_started",
                field="escalation",
                after={"escalation": escalation.pk, "policy": policy.name},
                reason=reason,
            )
            assert escalation.next_step_at is not None
            _schedule_step(escalation.pk, first.position, escalation.next_step_at)
    except IntegrityError:  # another worker started one at the same moment: that one runs
        return active_escalation(ticket.pk)
    return escalation


def stop_escalation(ticket: Ticket, *, reason: str) -> bool:
    """Stop the ticket's running escalation (the ticket was resolved or closed). False if none."""
    now = timezone.now()
    with transaction.atomic():
        escalation = _active(ticket.pk).first()
        if escalation is None:
            return False
        return _stop(escalation, ticket, reason=reason, now=now)


def _stop(escalation: Escalation, ticket: Ticket, *, reason: str, now: datetime) -> bool:
    stopped = Escalation.objects.filter(pk=escalation.pk, stopped_at__isnull=True).update(
        stopped_at=now, next_step_at=None, stop_reason=reason[:200]
    )
    if stopped:
        audit(
            ticket,
            PAGER,
            "escalation_stopped",
            field="escalation",
            after={"escalation": escalation.pk},
            reason=reason,
        )
    return bool(stopped)


def reconsider_escalation(ticket: Ticket, *, reason: str) -> Escalation | None:
    """The ticket's priority changed: a running escalation whose policy does not cover the new
    priority stops, and the policy that does (if it starts when a ticket opens) takes over."""
    active = active_escalation(ticket.pk)
    if active is not None and not active.policy.applies_to(ticket.priority):
        with transaction.atomic():
            _stop(active, ticket, reason=f"now {ticket.priority}: {reason}", now=timezone.now())
        active = None
    return active or start_escalation(ticket, reason=reason)


def escalate_now(ticket: Ticket, *, reason: str) -> Escalation | None:
    """An SLA deadline was missed: fire the running escalation's next level at once, or start
    the escalation (from its first level) if none is running. An escalation that has already
    paged every level is closed and started again. None when no policy applies."""
    escalation = active_escalation(ticket.pk)
    if escalation is None:
        return start_escalation(ticket, reason=reason, opening=False)
    if escalation.next_level is None:
        with transaction.atomic():
            _stop(
                escalation,
                ticket,
                reason=f"every level was paged; started again: {reason}",
                now=timezone.now(),
            )
            return start_escalation(ticket, reason=reason, opening=False)
    now = timezone.now()
    with transaction.atomic():
        hurried = Escalation.objects.filter(
            pk=escalation.pk, stopped_at__isnull=True, next_level=escalation.next_level
        ).update(next_step_at=now)
        if hurried:
            audit(
                ticket,
                PAGER,
                "escalation_hurried",
                field="escalation",
                after={"escalation": escalation.pk, "level": escalation.next_level},
                reason=reason,
            )
    if hurried:
        run_step(escalation.pk, escalation.next_level, now=now)
    return escalation


def warn_assignee(ticket: Ticket, *, reason: str) -> bool:
    """An SLA deadline is near (75 % of it passed): tell the assignee by email and text, e.g.
    reason "first response due Mon 30 Nov 10:45 (America/Chicago)". False when there is nobody
    to tell (unassigned, or no email or phone); a staff note on the timeline says so."""
    now = timezone.now()
    assignee = ticket.assignee
    with transaction.atomic():
        if assignee is None or not assignee.is_active or not page_routes(assignee):
            if assignee is None or not assignee.is_active:
                why = "nobody is assigned"
            else:
                why = f"{assignee.display_name} has no email or phone number"
            _note(ticket, f"SLA warning not sent ({reason}): {why}.", now)
            return False
        send_warning(ticket, assignee, reason=reason, now=now)
        audit(ticket, PAGER, "sla_warning_sent", field="assignee", after=assignee.username, reason=reason)
    return True


# ---------------------------------------------------------------------------------------------
# Firing levels
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fired:
    pages: list[Page]
    next_level: int | None
    next_step_at: datetime | None


def run_step(escalation_id: int, expected_level: int, *, now: datetime | None = None) -> list[Page]:
    """Fire level ``expected_level`` of the escalation if it is still due: active, not
    acknowledged, that level next and its minute reached. Safe to run twice, late or at once
    from two workers: only one claims a step. A late run also fires the levels due since.
    Returns the pages sent (empty when there was nothing to do)."""
    now = now or timezone.now()
    pages: list[Page] = []
    level: int | None = expected_level
    while level is not None:
        fired = _fire_level(escalation_id, level, now)
        if fired is None:
            break
        pages += fired.pages
        due_too = fired.next_step_at is not None and fired.next_step_at <= now
        level = fired.next_level if due_too else None
    return pages


def _fire_level(escalation_id: int, expected_level: int, now: datetime) -> _Fired | None:
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update(of=("self",))
            .select_related("policy", "ticket__client", "ticket__assignee", "ticket__requester")
            .filter(pk=escalation_id)
            .first()
        )
        if (
            escalation is None
            or escalation.stopped_at is not None
            or escalation.next_level != expected_level
            or escalation.next_step_at is None
            or escalation.next_step_at > now + CLOCK_TOLERANCE
        ):
            return None
        ticket = escalation.ticket
        if ticket.status in FINISHED_STATUSES:
            _stop(escalation, ticket, reason=f"ticket {Status(ticket.status).label.lower()}", now=now)
            return None
        levels = ordered_levels(escalation.policy_id)
        plan = _plan(escalation, levels, expected_level, ticket, now)
        claimed = Escalation.objects.filter(
            pk=escalation.pk, stopped_at__isnull=True, next_level=expected_level, round=escalation.round
        ).update(
            next_level=plan.next_level,
            next_step_at=plan.next_step_at,
            round=plan.next_round,
            round_started_at=plan.next_round_started_at,
        )
        if claimed != 1:
            return None
        pages = _carry_out(escalation, ticket, levels, plan, now)
        audit(
            ticket,
            PAGER,
            "escalation_level_fired",
            field="escalation",
            before={"level": expected_level, "round": escalation.round},
            after={
                "escalation": escalation.pk,
                "fired_level": plan.fired.position if plan.fired else None,
                "paged": sorted({page.user.username for page in pages if page.user is not None}),
                "next_level": plan.next_level,
                "next_step_at": plan.next_step_at.isoformat() if plan.next_step_at else None,
            },
            reason=escalation.reason,
        )
        if plan.next_level is not None and plan.next_step_at is not None and plan.next_step_at > now:
            _schedule_step(escalation.pk, plan.next_level, plan.next_step_at)
    return _Fired(pages, plan.next_level, plan.next_step_at)


@dataclass(frozen=True)
class _Plan:
    # Levels tried before the one that fires, each with nobody reachable.
    skipped: list[EscalationLevel]
    # The level that fires; None when every remaining level was empty (the owners are paged).
    fired: EscalationLevel | None
    users: list[User]
    next_level: int | None
    next_step_at: datetime | None
    next_round: int
    next_round_started_at: datetime


def _reachable(users: list[User]) -> list[User]:
    unique = {user.pk: user for user in users}
    return [user for user in unique.values() if page_routes(user)]


def _plan(
    escalation: Escalation, levels: list[EscalationLevel], expected_level: int, ticket: Ticket, now: datetime
) -> _Plan:
    """Which level fires now (the expected one, or the next one with someone to page), whom
    it pages, and when the following level is due."""
    # A level removed from the policy since: go on with the next position.
    remaining = [level for level in levels if level.position >= expected_level]
    skipped: list[EscalationLevel] = []
    fired: EscalationLevel | None = None
    users: list[User] = []
    for level in remaining:
        users = _reachable(level_targets(level, ticket, now))
        if users:
            fired = level
            break
        skipped.append(level)
    if fired is None:
        users = _reachable(owners())
    following = [level for level in remaining if fired is not None and level.position > fired.position]
    policy = escalation.policy
    if following:
        nxt = following[0]
        return _Plan(
            skipped,
            fired,
            users,
            nxt.position,
            escalation.round_started_at + timedelta(minutes=nxt.after_minutes),
            escalation.round,
            escalation.round_started_at,
        )
    if levels and escalation.round < policy.repeat_count:
        last_due = escalation.round_started_at + timedelta(minutes=levels[-1].after_minutes)
        round_start = last_due + timedelta(minutes=policy.repeat_after_minutes)
        return _Plan(
            skipped,
            fired,
            users,
            levels[0].position,
            round_start + timedelta(minutes=levels[0].after_minutes),
            escalation.round + 1,
            round_start,
        )
    return _Plan(skipped, fired, users, None, None, escalation.round, escalation.round_started_at)


def _carry_out(
    escalation: Escalation, ticket: Ticket, levels: list[EscalationLevel], plan: _Plan, now: datetime
) -> list[Page]:
    """Send the plan's pages and write the timeline: staff notes for skipped levels, the
    client's plain line for the level that fired."""
    count = len(levels)
    rank = {level.position: index + 1 for index, level in enumerate(levels)}

    def in_words(level: EscalationLevel) -> LevelInWords:
        return LevelInWords(rank[level.position], count, level.target_description)

    if plan.skipped:
        empty = " or ".join(
            f"level {rank[level.position]} ({level.target_description})" for level in plan.skipped
        )
        onward = (
            f"went on to level {rank[plan.fired.position]} at once"
            if plan.fired is not None
            else "no later level has anyone either: paged the owners instead"
        )
        _note(ticket, f"Nobody to page at {empty}; {onward}.", now)
    if plan.fired is not None:
        words = in_words(plan.fired)
        position = plan.fired.position
    else:
        words = LevelInWords(0, count, "the owners, as no level had anyone to page")
        position = plan.skipped[-1].position if plan.skipped else escalation.next_level or 0
    if not plan.users:
        log.error("escalation %s of %s: nobody could be paged", escalation.pk, ticket.number)
        _note(
            ticket,
            "Nobody could be paged: no level has anyone reachable and no owner has an email or phone.",
            now,
        )
        return []
    pages = send_pages(
        escalation,
        ticket,
        level_position=position,
        round_number=escalation.round,
        level=words,
        users=plan.users,
        now=now,
    )
    first_level = plan.fired is not None and plan.fired.position == levels[0].position
    add_event(
        ticket,
        public_level_text(
            ticket, client_audience(plan.fired), now, first_level=first_level, again=escalation.round > 0
        ),
        actor=PAGER,
    )
    return pages


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------


def _due_steps(now: datetime, limit: int) -> list[tuple[int, int]]:
    return [
        (escalation_id, level)
        for escalation_id, level in Escalation.objects.filter(stopped_at__isnull=True, next_step_at__lte=now)
        .order_by("next_step_at")
        .values_list("pk", "next_level")[:limit]
        if level is not None
    ]


def due_escalation_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Active escalations whose next step is due, oldest first; one read of the partial index."""
    return [escalation_id for escalation_id, _ in _due_steps(now or timezone.now(), limit)]


def sweep(now: datetime | None = None, limit: int = 500) -> int:
    """Run every due step whose scheduled task was lost (a worker down, a queue flushed).
    Returns how many escalations were due. A step that fails is tried again a minute later."""
    now = now or timezone.now()
    due = _due_steps(now, limit)
    for escalation_id, level in due:
        try:
            run_step(escalation_id, level, now=now)
        except Exception:  # one broken escalation must not stop the others; it is logged
            log.exception("escalation %s: step %s failed; trying again later", escalation_id, level)
            Escalation.objects.filter(pk=escalation_id, stopped_at__isnull=True, next_level=level).update(
                next_step_at=now + RETRY_AFTER
            )
    return len(due)


# ---------------------------------------------------------------------------------------------
# Acknowledgment
# ---------------------------------------------------------------------------------------------


def acknowledge(ticket: Ticket, user: User, *, via: str) -> bool:
    """``user`` has the ticket in hand: stop its running escalation. ``via`` is "console",
    "email", "sms" or "phone". False when nothing was escalating (or the user is not active staff)."""
    if via not in ACKNOWLEDGE_VIA:
        raise ValueError(f"via must be one of {', '.join(sorted(ACKNOWLEDGE_VIA))}, not {via!r}")
    if not user.is_active:
        return False
    now = timezone.now()
    with transaction.atomic():
        escalation = _active(ticket.pk).first()
        if escalation is None:
            return False
        acknowledged = Escalation.objects.filter(pk=escalation.pk, stopped_at__isnull=True).update(
            acknowledged_at=now,
            acknowledged_by=user,
            stopped_at=now,
            next_step_at=None,
            stop_reason=f"acknowledged by {user.username} ({via})",
        )
        if not acknowledged:
            return False
        actor = Actor(user=user, label=f"acknowledged by {via}")
        audit(
            ticket,
            actor,
            "escalation_acknowledged",
            field="escalation",
            after={"escalation": escalation.pk, "via": via},
            reason=escalation.reason,
        )
        add_event(ticket, public_acknowledged_text(ticket, user, now), actor=actor)
    return True


# "ACK", "ack 123", "ACK T-000123", "Acknowledged #123."
ACK_TEXT = re.compile(
    r"^\s*ack(?:nowledged?)?(?:[\s:#]+(?:t-?)?(?P<number>\d{1,12}))?\s*[.!]?\s*$", re.IGNORECASE
)


def acknowledge_by_text(from_number: str, body: str) -> str | None:
    """An SMS from staff: "ACK T-000123" / "ack 123" acknowledges that ticket, "ACK" alone the
    sender's most recent page that is still escalating. Any active staff user whose phone is on
    file may acknowledge any ticket (as in the console). Returns the text to send back, or None
    when this is not an acknowledgment (not ACK, or not from a staff number): intake then
    treats it as an ordinary text."""
    match = ACK_TEXT.match(body)
    if match is None:
        return None
    user = staff_with_phone(from_number)
    if user is None:
        return None
    if match.group("number") is not None:
        ticket = Ticket.objects.select_related("client").filter(pk=int(match.group("number"))).first()
        if ticket is None:
            return f"No ticket {format_ticket_number(int(match.group('number')))}: nothing acknowledged."
    else:
        page = (
            Page.objects.filter(user=user, escalation__stopped_at__isnull=True)
            .select_related("escalation__ticket__client")
            .order_by("-created_at", "-id")
            .first()
        )
        if page is None:
            return "Nothing to acknowledge: none of your pages is still escalating."
        ticket = page.escalation.ticket
    if acknowledge(ticket, user, via="sms"):
        return f"Acknowledged {ticket.number}: escalation stopped."
    return f"{ticket.number} is not escalating (already acknowledged or stopped)."


def acknowledge_by_email(from_address: str, subject: str, in_reply_to: list[str]) -> bool:
    """A reply to a page email: the sender (an active staff user's address) acknowledges the
    ticket of the page it answers (In-Reply-To / References), or the ticket numbered in the
    subject. True if an escalation was acknowledged."""
    address = parseaddr(from_address)[1].strip().lower()
    if not address:
        return False
    user = User.objects.filter(is_active=True, email__iexact=address).order_by("pk").first()
    if user is None:
        return False
    message_ids = [ref.strip().strip("<>") for ref in in_reply_to if ref.strip()]
    ticket: Ticket | None = None
    if message_ids:
        delivery = (
            Delivery.objects.filter(purpose=DeliveryPurpose.PAGE, rfc_message_id__in=message_ids)
            .select_related("message__ticket__client")
            .first()
        )
        if delivery is not None:
            ticket = delivery.message.ticket
    if ticket is None and (number := parse_ticket_number(subject)) is not None:
        ticket = Ticket.objects.select_related("client").filter(pk=number).first()
    if ticket is None:
        return False
    return acknowledge(ticket, user, via="email")


# The key that acknowledges a page call.
ACKNOWLEDGE_KEY = "1"


def acknowledge_by_call(delivery_id: int, digits: str) -> str | None:
    """A key pressed during the page call of delivery ``delivery_id``: 1 acknowledges the
    page's ticket as the person paged (via "phone"); any other key changes nothing. Returns
    what the call says back, or None when the delivery is not a page call (nothing to answer)."""
    page = (
        Page.objects.filter(delivery_id=delivery_id, channel=PageChannel.PHONE)
        .select_related("user", "escalation__ticket__client")
        .first()
    )
    if page is None:
        return None
    ticket = page.escalation.ticket
    number = spoken_ticket_number(ticket)
    if digits.strip() != ACKNOWLEDGE_KEY:
        log.info("page call %s for %s: key %r, not acknowledged", delivery_id, ticket.number, digits)
        return f"Not acknowledged. The escalation of ticket {number} goes on. Goodbye."
    if page.user is None or not page.user.is_active:
        log.warning("page call %s for %s: the paged account is gone or inactive", delivery_id, ticket.number)
        return "Your account cannot acknowledge pages any more. Nothing was acknowledged. Goodbye."
    log.info("page call %s: %s acknowledges %s by phone", delivery_id, page.user.username, ticket.number)
    if acknowledge(ticket, page.user, via="phone"):
        return f"Acknowledged. Escalation stopped for ticket {number}. Goodbye."
    return f"Ticket {number} is not escalating any more: already acknowledged or stopped. Goodbye."
