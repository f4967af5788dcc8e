"""On-call schedules: rotations with overrides, materialized as shifts so that "who is on call
now" is one indexed query.

The rotation is turned into ``OnCallShift`` rows for the next weeks (``rebuild_shifts``) whenever
a schedule, its members or its overrides change, and daily by a Huey task that moves the horizon
forward. Handoffs keep the local time of day of ``rotation_starts_at`` in the schedule's zone, so
a Monday 09:00 handoff stays at 09:00 across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.escalation.models import OnCallMember, OnCallOverride, OnCallSchedule, OnCallShift
from firstcall.tickets.actions import Actor, audit

# How far ahead shifts are materialized; the daily task keeps it this far ahead.
SHIFT_HORIZON = timedelta(weeks=8)


def on_call_user(schedule_id: int, at: datetime | None = None) -> User | None:
    """Who is on call in the schedule at ``at`` (default now): an override wins over the
    rotation; an inactive user counts as nobody. None when nobody is. Exactly one query."""
    at = at or timezone.now()
    shift = (
        OnCallShift.objects.filter(
            schedule_id=schedule_id, ends_at__gt=at, starts_at__lte=at, user__is_active=True
        )
        .select_related("user")
        .order_by("-is_override", "-starts_at", "-id")
        .first()
    )
    return shift.user if shift is not None else None


def rotation_turns(
    schedule: OnCallSchedule, since: datetime, until: datetime
) -> Iterator[tuple[int, datetime, datetime]]:
    """(turn number, start, end) of every rotation turn that overlaps [since, until). Turn k
    starts k × shift_hours of wall-clock time after the rotation start, in the schedule's zone."""
    zone = ZoneInfo(schedule.time_zone)
    local_start = schedule.rotation_starts_at.astimezone(zone).replace(tzinfo=None)
    shift = timedelta(hours=schedule.shift_hours)

    def boundary(turn: int) -> datetime:
        return (local_start + turn * shift).replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))

    # Elapsed real time is within an hour or two of wall-clock time: start one turn early.
    turn = max(0, int((since - schedule.rotation_starts_at) / shift) - 1)
    while boundary(turn + 1) <= since:
        turn += 1
    while (start := boundary(turn)) < until:
        end = boundary(turn + 1)
        # A turn that falls entirely into a spring-forward gap has no length: nobody holds it.
        if end > start:
            yield turn, start, end
        turn += 1


def rebuild_shifts(schedule_id: int, until: datetime | None = None) -> int:
    """Recompute the schedule's shifts from now to ``until`` (default: the horizon ahead) from
    its rotation and overrides. The past stays as it was: a shift under way that the change
    ends is cut at now, and its replacement starts now. Shifts that did not change are kept,
    so the daily run only adds the new days. Returns the number of shifts written."""
    now = timezone.now()
    until = until or now + SHIFT_HORIZON
    with transaction.atomic():
        # Locked so two rebuilds of one schedule (a save and the daily task) do not interleave.
        schedule = OnCallSchedule.objects.select_for_update().get(pk=schedule_id)
        # The horizon never shrinks: shifts already promised further ahead are rebuilt too.
        until = max(until, schedule.shifts_until or until)
        member_ids = list(schedule.members.order_by("position").values_list("user_id", flat=True))
        wanted = {
            (member_ids[turn % len(member_ids)], start, end, False)
            for turn, start, end in (rotation_turns(schedule, now, until) if member_ids else ())
        }
        wanted |= {
            (override.user_id, override.starts_at, override.ends_at, True)
            for override in schedule.overrides.filter(ends_at__gt=now, starts_at__lt=until)
        }

        def key(user_id: int, start: datetime, end: datetime, is_override: bool) -> tuple[object, ...]:
            # A shift under way was stored from whenever it was (re)built: only its end counts.
            return (user_id, start if start >= now else None, end, is_override)

        missing = {key(*row): row for row in wanted}
        ended, gone = [], []
        for shift in OnCallShift.objects.filter(schedule=schedule, ends_at__gt=now):
            found = missing.pop(key(shift.user_id, shift.starts_at, shift.ends_at, shift.is_override), None)
            if found is not None:
                continue
            if shift.starts_at < now:
                ended.append(shift.pk)
            else:
                gone.append(shift.pk)
        OnCallShift.objects.filter(pk__in=ended).update(ends_at=now)
        OnCallShift.objects.filter(pk__in=gone).delete()
        OnCallShift.objects.bulk_create(
            OnCallShift(
                schedule=schedule,
                user_id=user_id,
                starts_at=max(start, now),
                ends_at=end,
                is_override=is_override,
            )
            for user_id, start, end, is_override in sorted(missing.values(), key=lambda row: (row[1], row[3]))
        )
        OnCallSchedule.objects.filter(pk=schedule.pk).update(shifts_until=until)
    return len(missing)


def extend_all_shifts() -> int:
    """Keep every schedule's shifts a full horizon ahead (the daily task). Returns how many
    schedules were rebuilt."""
    schedule_ids = list(OnCallSchedule.objects.order_by("pk").values_list("pk", flat=True))
    for schedule_id in schedule_ids:
        rebuild_shifts(schedule_id)
    return len(schedule_ids)


def create_schedule(
    name: str,
    *,
    time_zone: str,
    rotation_starts_at: datetime,
    shift_hours: int = 168,
    members: Sequence[User] = (),
    actor: Actor | None = None,
) -> OnCallSchedule:
    """A new schedule with its rotation (members in turn order) and its shifts built."""
    with transaction.atomic():
        schedule = OnCallSchedule(
            name=name, time_zone=time_zone, rotation_starts_at=rotation_starts_at, shift_hours=shift_hours
        )
        schedule.full_clean()
        schedule.save()
        OnCallMember.objects.bulk_create(
            OnCallMember(schedule=schedule, user=user, position=position)
            for position, user in enumerate(members)
        )
        audit(
            None,
            actor or Actor.system("on-call schedules"),
            "on_call_schedule_created",
            after={"schedule": name, "members": [user.username for user in members]},
        )
        rebuild_shifts(schedule.pk)
    schedule.refresh_from_db()
    return schedule


def set_rotation(schedule: OnCallSchedule, members: Sequence[User], *, actor: Actor | None = None) -> None:
    """Replace the schedule's rotation with ``members``, in turn order, and rebuild its shifts."""
    with transaction.atomic():
        before = list(schedule.members.order_by("position").values_list("user__username", flat=True))
        schedule.members.all().delete()
        OnCallMember.objects.bulk_create(
            OnCallMember(schedule=schedule, user=user, position=position)
            for position, user in enumerate(members)
        )
        audit(
            None,
            actor or Actor.system("on-call schedules"),
            "on_call_rotation_changed",
            field=schedule.name,
            before=before,
            after=[user.username for user in members],
        )
        rebuild_shifts(schedule.pk)


def add_override(
    schedule: OnCallSchedule,
    user: User,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    actor: Actor | None = None,
) -> OnCallOverride:
    """``user`` is on call in the schedule from ``starts_at`` to ``ends_at``, whatever the
    rotation says."""
    with transaction.atomic():
        override = OnCallOverride(
            schedule=schedule, user=user, starts_at=starts_at, ends_at=ends_at, reason=reason
        )
        override.full_clean()
        override.save()
        audit(
            None,
            actor or Actor.system("on-call schedules"),
            "on_call_override_added",
            field=schedule.name,
            after={
                "user": user.username,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
            },
            reason=reason,
        )
        rebuild_shifts(schedule.pk)
    return override


def remove_override(override: OnCallOverride, *, actor: Actor | None = None) -> None:
    with transaction.atomic():
        schedule_id = override.schedule_id
        audit(
            None,
            actor or Actor.system("on-call schedules"),
            "on_call_override_removed",
            field=override.schedule.name,
            before={"user": override.user.username, "starts_at": override.starts_at.isoformat()},
        )
        override.delete()
        rebuild_shifts(schedule_id)
