"""Monitoring alerts: Alertmanager (v4) and generic JSON webhooks, one ticket per alert group.

Alertmanager payloads are captured-shape fixtures (tests/intake/fixtures/alertmanager/); the last
tests run the real Alertmanager on loopback against a live server of the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from firstcall.clients.models import Client, Contact
from firstcall.intake.alerts import create_source
from firstcall.intake.channels.alert import NO_ACKNOWLEDGMENT
from firstcall.intake.models import AlertGroup, AlertSource, InboundMessage, InboundStatus
from firstcall.notify.models import Delivery
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket
from tests.alertmanager import Alertmanager, iso, start_alertmanager, wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
SECRET = "prom-secret-7f3a"
AM_URL = "/hooks/alertmanager/prometheus/"
GENERIC_URL = "/hooks/alerts/prometheus/"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def source(db: None) -> AlertSource:
    alert_source, _ = create_source("Prometheus (MSP)", "prometheus", secret=SECRET)
    return alert_source


def post(url: str, body: bytes | dict[str, Any], secret: str | None = SECRET, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if secret is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {secret}")
    return HttpClient().post(url, data=data, content_type="application/json", **headers)


def only_ticket() -> Ticket:
    tickets = list(Ticket.objects.all())
    assert len(tickets) == 1, tickets
    return tickets[0]


# --- Alertmanager ------------------------------------------------------------------------------


def test_firing_alert_opens_one_ticket_for_the_labelled_client(
    source: AlertSource, dental: Client, outbox: list[Any]
) -> None:
    response = post(AM_URL, fixture("firing.json"))

    assert response.status_code == 200, response.content
    assert response.json()["groups"][0]["result"] == "opened"
    ticket = only_ticket()
    assert response.json()["groups"][0]["ticket"] == ticket.number
    assert ticket.client == dental
    assert ticket.channel == Channel.ALERT
    assert ticket.is_emergency  # severity critical
    assert not ticket.unverified_requester
    assert ticket.subject == (
        "Alert: [CRITICAL] NodeFilesystemAlmostFull: Filesystem on / is almost full "
        "on dc1-fs01.brightsmile.lan:9100"
    )
    opening = ticket.messages.get(kind=MessageKind.INBOUND)
    assert "FIRING: NodeFilesystemAlmostFull" in opening.body_text
    assert "has only 3.1% available space left" in opening.body_text
    assert opening.inbound is not None and opening.inbound.status == InboundStatus.PROCESSED
    staff_notes = list(ticket.messages.filter(kind=MessageKind.NOTE).values_list("body_text", flat=True))
    # A critical alert on a server: company-wide and urgent, so P1.
    assert (ticket.impact, ticket.priority) == ("company", "P1")
    assert f"Acknowledgment not sent: {NO_ACKNOWLEDGMENT}." in staff_notes
    assert outbox == [] and not Delivery.objects.exists()
    assert ticket.requester.email == f"prometheus.client{dental.pk}@alerts.invalid"


def test_the_same_notification_delivered_again_adds_nothing(source: AlertSource, dental: Client) -> None:
    post(AM_URL, fixture("firing.json"))
    ticket = only_ticket()
    count = ticket.messages.count()

    response = post(AM_URL, fixture("firing.json"))

    assert response.status_code == 200
    assert response.json()["groups"][0]["result"] == "duplicate"
    assert response.json()["groups"][0]["ticket"] == ticket.number
    assert only_ticket().messages.count() == count
    assert InboundMessage.objects.get().duplicate_deliveries == 1


def test_a_new_alert_in_the_group_adds_a_note_and_a_resent_notification_nothing(
    source: AlertSource, dental: Client
) -> None:
    post(AM_URL, fixture("firing.json"))
    ticket = only_ticket()

    response = post(AM_URL, fixture("firing_new_alert.json"))

    assert response.json()["groups"][0]["result"] == "updated"
    note = ticket.messages.get(kind=MessageKind.NOTE, body_text__startswith="New alert")
    assert note.body_text.startswith("New alert in this group:\nFIRING: NodeFilesystemAlmostFull")
    assert "dc1-db02.brightsmile.lan:9100" in note.body_text
    assert "dc1-fs01" not in note.body_text  # the alert it already had is not repeated
    count = ticket.messages.count()

    # Alertmanager re-sends the group after repeat_interval: same alerts, other bytes.
    resent = json.dumps(json.loads(fixture("firing_new_alert.json"))).encode()
    response = post(AM_URL, resent)

    assert response.json()["groups"][0]["result"] == "unchanged"
    assert ticket.messages.count() == count
    assert only_ticket().status == Status.NEW
    stored = InboundMessage.objects.order_by("-pk").first()
    assert stored is not None
    assert (stored.status, stored.reason) == (InboundStatus.PROCESSED, "repeat notification: nothing new")
    assert AlertGroup.objects.get().alerts == {"6a8bc4f1e2d3c9b0": "firing", "b71e03aa5c2f4d18": "firing"}


def test_resolved_notification_adds_a_note_and_resolves_the_ticket(
    source: AlertSource, dental: Client
) -> None:
    post(AM_URL, fixture("firing.json"))
    post(AM_URL, fixture("firing_new_alert.json"))

    response = post(AM_URL, fixture("resolved.json"))

    assert response.json()["groups"][0]["result"] == "updated"
    ticket = only_ticket()
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None
    last_note = ticket.messages.filter(kind=MessageKind.NOTE).last()
    assert last_note is not None
    assert last_note.body_text.count("Resolved:\nRESOLVED: NodeFilesystemAlmostFull") == 2
    change = AuditEvent.objects.get(ticket=ticket, action="status_changed")
    assert (change.before, change.after) == ("new", "resolved")
    assert change.reason == "all alerts of the group resolved (reported by Prometheus (MSP))"
    assert change.actor_label == "Prometheus (MSP) alerts"


def test_resolved_leaves_the_ticket_open_when_the_source_does_not_resolve(
    source: AlertSource, dental: Client
) -> None:
    AlertSource.objects.filter(pk=source.pk).update(resolve_tickets=False)
    post(AM_URL, fixture("firing.json"))

    post(AM_URL, fixture("resolved.json"))

    ticket = only_ticket()
    assert ticket.status == Status.NEW
    assert ticket.messages.filter(kind=MessageKind.NOTE, body_text__contains="Resolved:").exists()
    assert ticket.messages.filter(body_text__contains="stays open for a person to close").exists()


def test_firing_again_after_the_ticket_was_resolved_opens_a_new_ticket(
    source: AlertSource, dental: Client
) -> None:
    post(AM_URL, fixture("firing.json"))
    post(AM_URL, fixture("resolved.json"))
    first = only_ticket()
    assert first.status == Status.RESOLVED

    # The very same bytes as the first notification: still a new episode, not a redelivery.
    response = post(AM_URL, fixture("firing.json"))

    assert response.json()["groups"][0]["result"] == "opened"
    second = Ticket.objects.exclude(pk=first.pk).get()
    assert second.client == dental and second.status == Status.NEW
    assert first.messages.filter(body_text__contains=f"new ticket {second.number}").exists()
    group = AlertGroup.objects.get()
    assert (group.ticket_id, group.episode) == (second.pk, 2)


def test_alerts_of_two_clients_in_one_notification_make_one_ticket_each(
    source: AlertSource, dental: Client, law: Client
) -> None:
    payload = json.loads(fixture("firing_new_alert.json"))
    payload["alerts"][1]["labels"]["client"] = "Hale & Porter Law"

    response = post(AM_URL, json.dumps(payload).encode())

    assert [g["result"] for g in response.json()["groups"]] == ["opened", "opened"]
    assert sorted(Ticket.objects.values_list("client__name", flat=True)) == [
        "Bright Smile Dental",
        "Hale & Porter Law",
    ]


def test_unknown_client_label_makes_an_unverified_ticket_with_a_note(source: AlertSource) -> None:
    payload = json.loads(fixture("firing.json"))
    payload["alerts"][0]["labels"]["client"] = "nobody-we-know"

    post(AM_URL, json.dumps(payload).encode())

    ticket = only_ticket()
    assert ticket.client is None and ticket.unverified_requester
    assert ticket.requester.email == "prometheus@alerts.invalid"
    assert ticket.messages.filter(
        body_text__contains="names client 'nobody-we-know', which matches no"
    ).exists()


def test_alerts_without_a_client_label_go_to_the_source_default_client(
    source: AlertSource, law: Client
) -> None:
    AlertSource.objects.filter(pk=source.pk).update(default_client=law, client_label="customer")

    post(AM_URL, fixture("firing.json"))  # its `client` label is not the one configured

    assert only_ticket().client == law


# --- generic JSON ------------------------------------------------------------------------------

GENERIC = {
    "title": "Backup job failed",
    "severity": "warning",
    "source": "Veeam",
    "host": "hp-nas01",
    "dedupe_key": "veeam-hp-nas01-nightly",
    "status": "firing",
    "client": "hale-porter-law",
    "description": "Nightly backup to hp-nas01 failed: target unreachable.",
    "url": "https://veeam.msp.example/jobs/42",
}


def test_generic_alert_opens_dedupes_and_resolves(source: AlertSource, law: Client) -> None:
    response = post(GENERIC_URL, GENERIC)

    assert response.status_code == 200, response.content
    ticket = only_ticket()
    assert ticket.client == law  # by the slug of the client's name
    assert not ticket.is_emergency  # a warning
    assert ticket.subject == "Alert: [WARNING] Backup job failed on hp-nas01"
    assert "https://veeam.msp.example/jobs/42" in ticket.messages.get(kind=MessageKind.INBOUND).body_text

    # Same dedupe key, other wording: the same alert, nothing added.
    response = post(GENERIC_URL, {**GENERIC, "description": "still failing"})
    assert response.json()["groups"][0]["result"] == "unchanged"
    assert (
        not ticket.messages.filter(kind=MessageKind.NOTE)
        .exclude(body_text__startswith="Acknowledgment")
        .exists()
    )

    response = post(GENERIC_URL, {**GENERIC, "status": "resolved"})
    assert response.json()["groups"][0]["result"] == "updated"
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.messages.filter(kind=MessageKind.NOTE, body_text__startswith="Resolved:").count() == 1


def test_generic_critical_alert_is_an_emergency_and_needs_a_title(source: AlertSource, law: Client) -> None:
    post(GENERIC_URL, {**GENERIC, "severity": "critical"})
    assert only_ticket().is_emergency

    response = post(GENERIC_URL, {"severity": "critical", "host": "x"})

    assert response.status_code == 400
    assert response.json()["error"] == 'a generic alert needs a "title"'
    assert response.json()["stored"] is True


def test_resolved_alert_without_a_ticket_is_stored_and_ignored(source: AlertSource, law: Client) -> None:
    response = post(GENERIC_URL, {**GENERIC, "status": "resolved"})

    assert response.json()["groups"][0]["result"] == "ignored"
    assert not Ticket.objects.exists()
    assert InboundMessage.objects.get().status == InboundStatus.PROCESSED


# --- authentication and bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "url", "status", "message"),
    [
        ({}, AM_URL, 401, "Authentication required"),
        (
            {"HTTP_AUTHORIZATION": "Bearer wrong"},
            AM_URL,
            403,
            "Unknown alert source 'prometheus' or wrong secret.",
        ),
        (
            {"HTTP_AUTHORIZATION": f"Bearer {SECRET}"},
            "/hooks/alertmanager/nagios/",
            403,
            "Unknown alert source",
        ),
        ({"HTTP_X_FIRSTCALL_TOKEN": "wrong"}, GENERIC_URL + "?token=wrong", 403, "wrong secret"),
    ],
)
def test_wrong_or_missing_secret_is_refused_and_nothing_stored(
    source: AlertSource,
    dental: Client,
    headers: dict[str, str],
    url: str,
    status: int,
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = post(url, fixture("firing.json"), secret=None, **headers)

    assert response.status_code == status
    assert message in response.json()["error"]
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()
    assert "refused alert" in caplog.text


@pytest.mark.parametrize(
    "auth",
    [{"HTTP_X_FIRSTCALL_TOKEN": SECRET}, {"QUERY_STRING": f"token={SECRET}"}],
    ids=["header", "query"],
)
def test_shared_secret_in_a_header_or_the_query_string(
    source: AlertSource, dental: Client, auth: dict[str, str]
) -> None:
    response = post(AM_URL, fixture("firing.json"), secret=None, **auth)

    assert response.status_code == 200
    assert Ticket.objects.count() == 1


def test_invalid_json_is_stored_rejected_and_answered_400(source: AlertSource) -> None:
    response = post(AM_URL, b'{"alerts": [')

    assert response.status_code == 400
    assert response.json()["error"].startswith("the body is not valid JSON")
    stored = InboundMessage.objects.get()
    assert (stored.channel, stored.status, bytes(stored.raw)) == (
        Channel.ALERT,
        InboundStatus.REJECTED,
        b'{"alerts": [',
    )
    assert stored.reason.startswith("the body is not valid JSON")
    assert not Ticket.objects.exists()


def test_alertmanager_payload_without_alerts_or_with_a_bad_status_is_refused(source: AlertSource) -> None:
    assert post(AM_URL, {"version": "4", "status": "firing", "alerts": []}).json()["error"] == (
        'an Alertmanager payload needs a non-empty "alerts" list'
    )
    bad = json.loads(fixture("firing.json"))
    bad["alerts"][0]["status"] = "exploded"
    assert (
        post(AM_URL, bad).json()["error"]
        == 'alerts[0] status must be "firing" or "resolved", not \'exploded\''
    )
    assert InboundMessage.objects.filter(status=InboundStatus.REJECTED).count() == 2


def test_oversize_payload_is_refused_with_413(source: AlertSource) -> None:
    response = post(AM_URL, b'{"pad": "' + b"x" * (1024 * 1024) + b'"}')

    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


def test_get_is_not_allowed(source: AlertSource) -> None:
    assert HttpClient().get(AM_URL).status_code == 405


# --- the real Alertmanager --------------------------------------------------------------------


@pytest.fixture
def alertmanager(
    tmp_path: Path, live_server: Any, transactional_db: None, django_db_serialized_rollback: None
) -> Iterator[Alertmanager]:
    create_source("Prometheus (MSP)", "prometheus", secret=SECRET)
    yield from start_alertmanager(tmp_path, f"{live_server.url}{AM_URL}", SECRET)


def test_real_alertmanager_fires_at_the_app_and_resolves(alertmanager: Alertmanager) -> None:
    dental = Client.objects.create(name="Bright Smile Dental")
    started = timezone.now() - timedelta(minutes=1)
    alert = {
        "labels": {
            "alertname": "HostDown",
            "client": "bright-smile-dental",
            "instance": "dc1-fs01.brightsmile.lan:9100",
            "severity": "page",
        },
        "annotations": {"summary": "Host is not answering", "description": "No scrape for 5 minutes."},
        "startsAt": iso(started),
        "generatorURL": "http://prometheus.msp.example:9090/graph",
    }

    alertmanager.post_alerts([alert])

    ticket = wait_for(
        lambda: Ticket.objects.first(), 20, f"a ticket from Alertmanager; its log:\n{alertmanager.log()}"
    )
    assert ticket.client == dental and ticket.is_emergency and ticket.channel == Channel.ALERT
    assert ticket.subject == "Alert: [PAGE] HostDown: Host is not answering on dc1-fs01.brightsmile.lan:9100"
    assert Contact.objects.get(pk=ticket.requester_id).client == dental

    alertmanager.post_alerts([{**alert, "endsAt": iso(timezone.now() - timedelta(seconds=1))}])

    def resolved() -> bool:
        return Ticket.objects.filter(pk=ticket.pk, status=Status.RESOLVED).exists()

    wait_for(resolved, 20, f"the ticket to be resolved; Alertmanager's log:\n{alertmanager.log()}")
    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(kind=MessageKind.NOTE, body_text__startswith="Resolved:").count() == 1
