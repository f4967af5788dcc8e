"""The escalation runtime: start an escalation on a ticket, fire its levels at their minute,
stop it on acknowledgment or resolution.

Timing: each step is a Huey task scheduled at its moment (ETA) — one task for all the steps a
process schedules at the same moment — and a sweep every minute catches what a stopped worker
missed. Both fire the steps due in batches (``_fire_batch``): one transaction locks up to
STEP_BATCH due escalations (skipping rows another worker holds), re-checks each, claims them with
one guarded ``update()`` and writes their pages, timeline entries and audit rows with one INSERT
per table; the deliveries go out after commit. The task fires one batch led by its own step and
queues another task when the batch was full; the sweep fires batch after batch. A task whose step
was fired already finds nothing due; no step fires before its minute. ``run_step`` fires one
escalation's step the same way. A unique constraint on Page is the last guard, so two workers
never send the same page twice.

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
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from firstcall.accounts.models import User, staff_with_phone
from firstcall.escalation.models import Escalation, EscalationLevel, Page, PageChannel
from firstcall.escalation.pages import (
    PAGER,
    LevelInWords,
    PageOrder,
    Timeline,
    client_audience,
    page_routes,
    public_acknowledged_text,
    public_level_text,
    send_warning,
    spoken_ticket_number,
)
from firstcall.escalation.policies import Targets, ordered_levels, policy_for
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
    """After commit, run the step at ``at`` (now if due) as a Huey task — unless this process
    has a task scheduled for that very moment already: that one fires every step due then (see
    ``run_step_with_due``), so a thousand steps falling due at one instant cost one task, not a
    thousand (each costs the worker a millisecond or two, even when it finds nothing to do)."""
    from firstcall.escalation.tasks import escalation_step

    def enqueue() -> None:
        now = timezone.now()
        if at <= now:
            escalation_step(escalation_id, level_position)
        elif _first_task_at(at, now):
            escalation_step.schedule((escalation_id, level_position), eta=at)

    transaction.on_commit(enqueue)


# The future moments this process has scheduled a step task for. A step whose moment is here
# needs no task of its own: it committed before that moment, so the task, which runs at the
# moment or later, finds it due. Forgetting costs only an extra task; the worst a lost task
# costs is a minute, until the sweep.
_task_moments: set[datetime] = set()
_task_moments_lock = threading.Lock()


def _first_task_at(at: datetime, now: datetime) -> bool:
    """True (and remembered) if this process has no step task scheduled at ``at`` yet."""
    with _task_moments_lock:
        if at in _task_moments:
            return False
        if len(_task_moments) >= 1000:
            _task_moments.difference_update([moment for moment in _task_moments if moment <= now])
        _task_moments.add(at)
        return True


def forget_scheduled_moments() -> None:
    """Forget every moment a step task was scheduled for (tests, which reuse moments and
    flush Huey's schedule)."""
    with _task_moments_lock:
        _task_moments.clear()


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

# Escalations one transaction fires a step of. A burst (a thousand steps due at one instant) is
# fired this many at a time by whichever workers come for it, each batch writing its timeline
# entries, deliveries, pages and audit rows with one statement per table.
STEP_BATCH = 100
# Steps one sweep fires at most (the next sweep, a minute later, goes on).
SWEEP_LIMIT = 500


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
    return [
        page
        for fired in _run_alone(escalation_id, expected_level, now or timezone.now())
        for page in fired.pages
    ]


def _run_alone(escalation_id: int, expected_level: int, now: datetime) -> list[_Fired]:
    steps: list[_Fired] = []
    level: int | None = expected_level
    while level is not None:
        _, fired = _fire_batch(now, only=(escalation_id, level))
        if not fired:
            break
        steps += fired
        due_too = fired[0].next_step_at is not None and fired[0].next_step_at <= now
        level = fired[0].next_level if due_too else None
    return steps


def _run_alone_or_retry_later(escalation_id: int, expected_level: int, now: datetime) -> int:
    """``run_step`` for the sweep and the tasks once a batch has failed: a step that fails too
    is logged and tried again RETRY_AFTER later, so one broken escalation never holds up the
    others (nor makes the sweep loop on it). Returns the number of steps fired."""
    try:
        return len(_run_alone(escalation_id, expected_level, now))
    except Exception:  # logged, and the step pushed back
        log.exception("escalation %s: step %s failed; trying again later", escalation_id, expected_level)
        Escalation.objects.filter(
            pk=escalation_id, stopped_at__isnull=True, next_level=expected_level
        ).update(next_step_at=now + RETRY_AFTER)
        return 0


def run_step_with_due(escalation_id: int, expected_level: int) -> int:
    """The task scheduled at a step's minute — and at that moment for every step this process
    scheduled for the same moment (``_schedule_step``): fire one batch of the steps due by now,
    this one first. A full batch means more may be due: a new task goes on with them, queued
    behind the deliveries this batch queued (theirs is a higher priority), so that the workers
    send pages while the burst is still being fired. A task whose steps were fired already
    finds nothing due. Returns the number of steps fired."""
    now = timezone.now()
    try:
        selected, fired = _fire_batch(now, lead=escalation_id)
    except Exception:  # logged; the steps due are fired one at a time instead
        log.exception("a batch of escalation steps failed; firing them one at a time")
        return _fire_each_alone(now, limit=SWEEP_LIMIT)
    if selected >= STEP_BATCH:
        from firstcall.escalation.tasks import escalation_step

        escalation_step(escalation_id, expected_level)
    return len(fired)


def fire_due_steps(now: datetime | None = None, *, limit: int = SWEEP_LIMIT) -> int:
    """Fire every step due that no other worker is firing, STEP_BATCH escalations to a
    transaction, until none is left (or ``limit`` were handled). Rows another worker has locked
    are skipped: that worker fires them. A step that makes the next level due too comes back in
    the next batch, so levels due since fire in order. Without ``now``, each batch fires what is
    due at its own moment. Should a batch fail, the steps due are fired one at a time, so one
    broken escalation does not hold up the others. Returns the number of steps fired."""
    fired = handled = 0
    while handled < limit:
        at = now or timezone.now()
        try:
            selected, steps = _fire_batch(at, limit=min(STEP_BATCH, limit - handled))
        except Exception:  # logged; the steps are fired one by one below
            log.exception("a batch of escalation steps failed; firing them one at a time")
            return fired + _fire_each_alone(at, limit=limit - handled)
        if not selected:
            break
        handled += selected
        fired += len(steps)
    return fired


def _fire_each_alone(now: datetime, *, limit: int) -> int:
    """The steps due, each in a transaction of its own (after a batch failed)."""
    return sum(
        _run_alone_or_retry_later(escalation_id, level, now)
        for escalation_id, level in _due_steps(now, limit)
    )


def _still_due(escalation: Escalation, expected_level: int | None, now: datetime, *, early_ok: bool) -> bool:
    """Active, at that level, its minute reached — or, with ``early_ok`` (the step a task was
    scheduled for), less than CLOCK_TOLERANCE away."""
    return (
        escalation.stopped_at is None
        and expected_level is not None
        and escalation.next_level == expected_level
        and escalation.next_step_at is not None
        and escalation.next_step_at <= now + (CLOCK_TOLERANCE if early_ok else timedelta(0))
    )


def _fire_batch(
    now: datetime,
    *,
    only: tuple[int, int] | None = None,
    lead: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[_Fired]]:
    """In one transaction: lock the due escalations (``only``: that one at that level; else up
    to ``limit`` due ones, oldest first but escalation ``lead`` first of all, skipping rows
    other workers hold), work out each one's step, claim them with one guarded UPDATE, and
    write what the steps send and say with one INSERT per table. Returns how many escalations
    it locked and the steps fired."""
    with transaction.atomic():
        locked = Escalation.objects.select_for_update(of=("self",), skip_locked=only is None).select_related(
            "policy", "ticket__client", "ticket__assignee", "ticket__requester"
        )
        if only is not None:
            rows = list(locked.filter(pk=only[0]))
        else:
            # Due by now; the task's own step also a hair early (CLOCK_TOLERANCE), as when alone,
            # but no other page leaves before its minute.
            due_now = Q(next_step_at__lte=now)
            if lead is not None:
                due_now |= Q(pk=lead, next_step_at__lte=now + CLOCK_TOLERANCE)
            due = locked.filter(due_now, stopped_at__isnull=True, next_level__isnull=False)
            first = () if lead is None else (Case(When(pk=lead, then=Value(0)), default=Value(1)),)
            rows = list(due.order_by(*first, "next_step_at", "pk")[: limit or STEP_BATCH])
        targets = Targets(now)
        levels_of: dict[int, list[EscalationLevel]] = {}
        steps: list[tuple[Escalation, int, list[EscalationLevel], _Plan]] = []
        for escalation in rows:
            expected_level = only[1] if only is not None else escalation.next_level
            alone = only is not None or escalation.pk == lead
            if expected_level is None or not _still_due(escalation, expected_level, now, early_ok=alone):
                continue
            ticket = escalation.ticket
            if ticket.status in FINISHED_STATUSES:
                _stop(escalation, ticket, reason=f"ticket {Status(ticket.status).label.lower()}", now=now)
                continue
            if escalation.policy_id not in levels_of:
                levels_of[escalation.policy_id] = ordered_levels(escalation.policy_id)
            levels = levels_of[escalation.policy_id]
            steps.append(
                (escalation, expected_level, levels, _plan(escalation, levels, expected_level, targets))
            )
        _claim(steps)
        timeline = Timeline(now)
        fired: list[_Fired] = []
        for escalation, expected_level, levels, plan in steps:
            pages = _carry_out(timeline, escalation, levels, plan)
            timeline.audit(
                escalation.ticket,
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
            if plan.next_level is not None and plan.next_step_at is not None:
                # A level already due too (a late run) gets a task at once: it fires in order.
                _schedule_step(escalation.pk, plan.next_level, plan.next_step_at)
            fired.append(_Fired(pages, plan.next_level, plan.next_step_at))
        timeline.write()
    return len(rows), fired


class StepClaimLost(RuntimeError):
    """A locked escalation changed under the claim: the batch is rolled back, nothing written."""


def _claim(steps: list[tuple[Escalation, int, list[EscalationLevel], _Plan]]) -> None:
    """Move every step's escalation on to its next level: one UPDATE for the steps that were due
    at the same level and round and move alike (usually the whole batch), guarded by that level
    and round. The rows are locked, so every one matches; if one did not, the whole batch rolls
    back rather than fire a step twice."""
    alike: dict[tuple[int, int, _Move], list[int]] = {}
    for escalation, expected_level, _, plan in steps:
        alike.setdefault((expected_level, escalation.round, plan.move), []).append(escalation.pk)
    for (expected_level, round_number, move), escalation_ids in alike.items():
        changes: dict[str, Any] = {
            "next_level": move.next_level,
            # Relative to each row's own round start, which the UPDATE reads before it writes.
            "next_step_at": None if move.next_after is None else F("round_started_at") + move.next_after,
        }
        if move.new_round:
            changes["round"] = round_number + 1
            changes["round_started_at"] = F("round_started_at") + move.round_shift
        claimed = Escalation.objects.filter(
            pk__in=escalation_ids, stopped_at__isnull=True, next_level=expected_level, round=round_number
        ).update(**changes)
        if claimed != len(escalation_ids):
            raise StepClaimLost(f"claimed {claimed} of {len(escalation_ids)} locked escalation steps")


@dataclass(frozen=True)
class _Move:
    """How a fired step moves its escalation on, relative to the round it fired in — so the
    steps of a batch that move alike are claimed by one UPDATE: the next level, its minute
    counted from the current round's start (None: no level is left), and for a repeat, how far
    after the current round the new one starts."""

    next_level: int | None
    next_after: timedelta | None
    new_round: bool = False
    round_shift: timedelta = timedelta(0)


@dataclass(frozen=True)
class _Plan:
    # Levels tried before the one that fires, each with nobody reachable.
    skipped: list[EscalationLevel]
    # The level that fires; None when every remaining level was empty (the owners are paged).
    fired: EscalationLevel | None
    users: list[User]
    move: _Move
    next_step_at: datetime | None

    @property
    def next_level(self) -> int | None:
        return self.move.next_level


def _reachable(users: list[User]) -> list[User]:
    unique = {user.pk: user for user in users}
    return [user for user in unique.values() if page_routes(user)]


def _plan(
    escalation: Escalation, levels: list[EscalationLevel], expected_level: int, targets: Targets
) -> _Plan:
    """Which level fires now (the expected one, or the next one with someone to page), whom
    it pages, and when the following level is due."""
    # A level removed from the policy since: go on with the next position.
    remaining = [level for level in levels if level.position >= expected_level]
    skipped: list[EscalationLevel] = []
    fired: EscalationLevel | None = None
    users: list[User] = []
    for level in remaining:
        users = _reachable(targets.of_level(level, escalation.ticket))
        if users:
            fired = level
            break
        skipped.append(level)
    if fired is None:
        users = _reachable(targets.owners())
    following = [level for level in remaining if fired is not None and level.position > fired.position]
    policy = escalation.policy
    if following:
        move = _Move(following[0].position, timedelta(minutes=following[0].after_minutes))
    elif levels and escalation.round < policy.repeat_count:
        # The next round starts repeat_after_minutes after the last level's minute.
        shift = timedelta(minutes=levels[-1].after_minutes + policy.repeat_after_minutes)
        move = _Move(levels[0].position, shift + timedelta(minutes=levels[0].after_minutes), True, shift)
    else:
        move = _Move(None, None)
    next_step_at = None if move.next_after is None else escalation.round_started_at + move.next_after
    return _Plan(skipped, fired, users, move, next_step_at)


def _carry_out(
    timeline: Timeline, escalation: Escalation, levels: list[EscalationLevel], plan: _Plan
) -> list[Page]:
    """Send the plan's pages and write the timeline: staff notes for skipped levels, the
    client's plain line for the level that fired."""
    ticket = escalation.ticket
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
        timeline.note(ticket, f"Nobody to page at {empty}; {onward}.")
    if plan.fired is not None:
        words = in_words(plan.fired)
        position = plan.fired.position
    else:
        words = LevelInWords(0, count, "the owners, as no level had anyone to page")
        position = plan.skipped[-1].position if plan.skipped else escalation.next_level or 0
    if not plan.users:
        log.error("escalation %s of %s: nobody could be paged", escalation.pk, ticket.number)
        timeline.note(
            ticket,
            "Nobody could be paged: no level has anyone reachable and no owner has an email or phone.",
        )
        return []
    pages = timeline.pages(
        PageOrder(
            escalation,
            ticket,
            level_position=position,
            round_number=escalation.round,
            level=words,
            users=plan.users,
        )
    )
    first_level = plan.fired is not None and plan.fired.position == levels[0].position
    timeline.event(
        ticket,
        public_level_text(
            ticket,
            client_audience(plan.fired),
            timeline.now,
            first_level=first_level,
            again=escalation.round > 0,
        ),
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


def sweep(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Fire every due step whose scheduled task was lost (a worker down, a queue flushed), in
    batches (``fire_due_steps``). Returns how many escalations were due. With nothing due it is
    one read of the partial index. A step that fails is tried again a minute later."""
    due = _due_steps(now or timezone.now(), limit)
    if due:
        fire_due_steps(now, limit=limit)
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
