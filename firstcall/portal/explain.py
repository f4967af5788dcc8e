"""The promises a client reads in the portal, in plain words, from the configuration that keeps
them: who is paged for an emergency (the P1 escalation policy), how fast we respond (the SLA
targets of the client's contract) and the number to call."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from firstcall.clients.models import Client, Contract, normalize_phone
from firstcall.escalation.pages import client_audience
from firstcall.escalation.policies import ordered_levels, policy_for
from firstcall.notify.outbound import describe_target, first_response_target_text
from firstcall.sla.targets import targets_for
from firstcall.tickets.models import Ticket
from firstcall.triage.priority import Priority


@dataclass(frozen=True)
class SupportPhone:
    display: str
    # For a tel: link ('+' and digits).
    dial: str


def support_phone() -> SupportPhone | None:
    number = settings.FIRSTCALL_SUPPORT_PHONE
    dial = normalize_phone(number)
    return SupportPhone(number, dial) if dial else None


def _after(minutes: int) -> str:
    return "at once" if minutes == 0 else f"after {describe_target(minutes)}"


@dataclass(frozen=True)
class EmergencyPlan:
    """What happens when the client marks a request as an emergency."""

    # e.g. ["your technician at once", "our on-call engineer after 15 minutes", ...]; empty
    # when no escalation policy pages anyone for a new P1.
    paged: list[str]
    # The P1 first-response target, e.g. "15 minutes".
    response_target: str
    phone: SupportPhone | None

    @property
    def paged_text(self) -> str:
        if len(self.paged) < 2:
            return "".join(self.paged)
        return ", ".join(self.paged[:-1]) + " and " + self.paged[-1]


def emergency_plan(client: Client, contract: Contract | None) -> EmergencyPlan:
    """The plan for a new emergency (P1) of ``client`` under its current ``contract``. At most
    four queries (fewer while the configuration is memoized)."""
    policy = policy_for(Priority.P1, contract.pk if contract is not None else None, opening=True)
    paged = (
        [f"{client_audience(level)} {_after(level.after_minutes)}" for level in ordered_levels(policy.pk)]
        if policy is not None
        else []
    )
    # The target text as the acknowledgment words it, for an unsaved P1 ticket of this client.
    target = first_response_target_text(Ticket(client_id=client.pk, priority=Priority.P1))
    return EmergencyPlan(paged=paged, response_target=target, phone=support_phone())


@dataclass(frozen=True)
class TargetTerms:
    """One priority's SLA targets, in words."""

    priority: Priority
    first_response: str
    next_update: str | None
    resolution: str | None
    calendar_name: str
    round_the_clock: bool


def contract_terms(client: Client) -> list[TargetTerms]:
    """The SLA targets for each priority under the client's current contract (or firstcall's
    defaults where it has none). At most two queries per priority, none while memoized."""
    terms = []
    for priority in Priority:
        targets = targets_for(client.pk, priority)
        business_hours = not targets.calendar.always_open

        def words(minutes: int | None, *, business_hours: bool = business_hours) -> str | None:
            return describe_target(minutes, business_hours=business_hours) if minutes is not None else None

        terms.append(
            TargetTerms(
                priority=priority,
                first_response=describe_target(targets.first_response_minutes, business_hours=business_hours),
                next_update=words(targets.next_update_minutes),
                resolution=words(targets.resolution_minutes),
                calendar_name=targets.calendar_name,
                round_the_clock=not business_hours,
            )
        )
    return terms
