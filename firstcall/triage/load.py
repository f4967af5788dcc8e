"""Loading what the pure engine needs from the database, in a fixed, small number of queries.

- ``load_matrix()``: 1 query; ``load_rules()``: 1 query; ``processes_for(client_id)``: 1 query;
- ``facts_for_new_ticket(...)``: 2 queries with a client (the client, its processes), none without;
- ``triage_with_stored_settings(facts)``: 2 queries (matrix and rules), then the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from firstcall.clients.models import BusinessProcess, Client
from firstcall.config_memo import memoized_config
from firstcall.triage.deadlines import ProcessSpec
from firstcall.triage.engine import TicketFacts, TriageResult, triage
from firstcall.triage.matrix import Impact, Matrix, Urgency
from firstcall.triage.models import MatrixCell, TriageRule
from firstcall.triage.priority import Priority
from firstcall.triage.rules import InvalidRule, Rule, parse_rule

logger = logging.getLogger(__name__)


@memoized_config
def load_matrix() -> Matrix:
    """The stored matrix; cells not stored (or not valid) are the default's. One query."""
    cells: dict[tuple[Impact, Urgency], Priority] = {}
    for impact, urgency, priority in MatrixCell.objects.order_by().values_list(
        "impact", "urgency", "priority"
    ):
        if impact in Impact.values and urgency in Urgency.values and priority in Priority.values:
            cells[(Impact(impact), Urgency(urgency))] = Priority(priority)
    return Matrix(cells)


@memoized_config
def load_rules() -> tuple[Rule, ...]:
    """The enabled rules in order. A stored rule that is not valid (saved around the admin's
    checks) is skipped with a warning, never a failure at intake. One query."""
    rows = (
        TriageRule.objects.filter(enabled=True)
        .order_by("position", "id")
        .values_list("id", "position", "name", "conditions", "actions", "stop_processing")
    )
    rules: list[Rule] = []
    for rule_id, position, name, conditions, actions, stop_processing in rows:
        try:
            rules.append(
                parse_rule(
                    name=name,
                    conditions=conditions,
                    actions=actions,
                    stop_processing=stop_processing,
                    position=position,
                    id=rule_id,
                )
            )
        except InvalidRule as invalid:
            logger.warning("triage rule %s (%r) skipped: %s", rule_id, name, invalid)
    return tuple(rules)


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _specs(rows: Iterable[BusinessProcess], time_zone: str) -> tuple[ProcessSpec, ...]:
    specs: list[ProcessSpec] = []
    for row in rows:
        try:
            specs.append(row.spec(time_zone))
        except ValueError as error:  # e.g. saved without an anchor around the admin's checks
            logger.warning("business process %s (%r) skipped: %s", row.pk, row.name, error)
    return tuple(specs)


def processes_for(client_id: int | None) -> tuple[ProcessSpec, ...]:
    """The client's business-critical processes, ready for the engine. One query."""
    if client_id is None:
        return ()
    rows = list(BusinessProcess.objects.filter(client_id=client_id).select_related("client"))
    if not rows:
        return ()
    zone = rows[0].client.time_zone
    if not _valid_zone(zone):
        logger.warning("client %s has an unknown time zone %r: its processes are ignored", client_id, zone)
        return ()
    return _specs(rows, zone)


@memoized_config
def _client_facts(
    client_id: int | None,
) -> tuple[str, int | None, Decimal | None, Decimal | None, tuple[ProcessSpec, ...]]:
    """The client's name, downtime figures and business-critical processes."""
    if client_id is None:
        return "", None, None, None, ()
    client = (
        Client.objects.filter(pk=client_id)
        .values_list("name", "time_zone", "headcount", "hourly_cost", "revenue_per_hour")
        .first()
    )
    if client is None:
        return "", None, None, None, ()
    name, zone, headcount, hourly_cost, revenue_per_hour = client
    processes: tuple[ProcessSpec, ...] = ()
    if _valid_zone(zone):
        processes = _specs(BusinessProcess.objects.filter(client_id=client_id), zone)
    else:
        logger.warning("client %s has an unknown time zone %r: its processes are ignored", client_id, zone)
    return name, headcount, hourly_cost, revenue_per_hour, processes


def facts_for_new_ticket(
    *,
    client_id: int | None,
    subject: str,
    body: str = "",
    channel: str = "",
    is_emergency: bool = False,
    requester_is_vip: bool = False,
    alert_host: str = "",
    alert_severity: str = "",
    alert_labels: tuple[tuple[str, str], ...] = (),
    linked_process_ids: tuple[int, ...] = (),
    impact_override: Impact | None = None,
    urgency_override: Urgency | None = None,
    override_reason: str = "",
) -> TicketFacts:
    """The engine's facts for a ticket: what the caller knows plus the client's figures and
    processes (two queries with a client, none without; kept per process, see config_memo)."""
    name, headcount, hourly_cost, revenue_per_hour, processes = _client_facts(client_id)
    return TicketFacts(
        subject=subject,
        body=body,
        channel=channel,
        is_emergency=is_emergency,
        requester_is_vip=requester_is_vip,
        client_id=client_id,
        client_name=name,
        alert_host=alert_host,
        alert_severity=alert_severity,
        alert_labels=alert_labels,
        processes=processes,
        linked_process_ids=linked_process_ids,
        headcount=headcount,
        hourly_cost=hourly_cost,
        revenue_per_hour=revenue_per_hour,
        impact_override=impact_override,
        urgency_override=urgency_override,
        override_reason=override_reason,
    )


def triage_with_stored_settings(facts: TicketFacts, *, now: datetime | None = None) -> TriageResult:
    """``triage`` with the stored matrix and rules, at ``now`` (default: the current time)."""
    return triage(facts, now=now or timezone.now(), matrix=load_matrix(), rules=load_rules())
