"""Which escalation policy applies to a ticket, and whom a level pages."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q

from firstcall.accounts.models import Role, User
from firstcall.config_memo import memoized_config
from firstcall.escalation.models import EscalationLevel, EscalationPolicy, OnCallSchedule, TargetKind
from firstcall.escalation.oncall import on_call_user, rebuild_shifts
from firstcall.tickets.models import Ticket


@memoized_config
def policy_for(priority: str, contract_id: int | None, *, opening: bool = False) -> EscalationPolicy | None:
    """The enabled policy for a ticket of this priority under this contract (None: the client
    has none): a policy naming the contract wins over one for every contract, then the lowest
    position. ``opening``: only policies that start when a ticket opens (otherwise the ticket
    missed an SLA target, and any policy for its priority applies). None when no policy applies.
    One query (policies are few; priorities are matched here because SQLite has no JSON
    'contains')."""
    through = EscalationPolicy.contracts.through
    names_any_contract = Exists(through.objects.filter(escalationpolicy_id=OuterRef("pk")))
    # No contract: no policy names it (ids start at 1).
    names_this_contract = Exists(
        through.objects.filter(escalationpolicy_id=OuterRef("pk"), contract_id=contract_id or 0)
    )
    candidates = (
        EscalationPolicy.objects.filter(enabled=True, **({"starts_when_opened": True} if opening else {}))
        .annotate(limited=names_any_contract, for_contract=names_this_contract)
        .filter(Q(limited=False) | Q(for_contract=True))
        .order_by("-for_contract", "position", "pk")
    )
    return next((policy for policy in candidates if policy.applies_to(priority)), None)


def ordered_levels(policy_id: int) -> list[EscalationLevel]:
    """The policy's levels in firing order, with what their targets need loaded."""
    return list(
        EscalationLevel.objects.filter(policy_id=policy_id)
        .select_related("target_user", "target_schedule", "policy")
        .order_by("position")
    )


class Targets:
    """Whom levels page at one instant ``at``, for any number of tickets: each lookup (the person
    on call in a schedule, everyone with a role, the owners) runs once however many steps of a
    batch ask for it."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._on_call: dict[int, User | None] = {}
        self._by_role: dict[str, list[User]] = {}

    def of_level(self, level: EscalationLevel, ticket: Ticket) -> list[User]:
        """The active staff users the level pages for this ticket; may be empty."""
        kind = TargetKind(level.target_kind)
        if kind == TargetKind.ASSIGNEE:
            users = [ticket.assignee] if ticket.assignee is not None else []
        elif kind == TargetKind.USER:
            users = [level.target_user] if level.target_user is not None else []
        elif kind == TargetKind.ROLE:
            users = self._with_role(level.target_role)
        else:
            schedule = level.target_schedule
            assert schedule is not None  # the level_target_matches_kind constraint
            user = self._on_call_in(schedule)
            users = [user] if user is not None else []
        return [user for user in users if user.is_active]

    def owners(self) -> list[User]:
        """The last resort when every remaining level is empty."""
        return self._with_role(Role.OWNER)

    def _with_role(self, role: str) -> list[User]:
        if role not in self._by_role:
            self._by_role[role] = list(User.objects.filter(role=role, is_active=True).order_by("pk"))
        return self._by_role[role]

    def _on_call_in(self, schedule: OnCallSchedule) -> User | None:
        if schedule.pk not in self._on_call:
            if schedule.shifts_until is None or schedule.shifts_until <= self.at:
                # The daily task has not run for weeks (or never): build the shifts before asking.
                rebuild_shifts(schedule.pk)
            self._on_call[schedule.pk] = on_call_user(schedule.pk, self.at)
        return self._on_call[schedule.pk]
