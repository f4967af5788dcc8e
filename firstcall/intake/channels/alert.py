"""Monitoring alerts: an Alertmanager webhook (version 4) or a generic JSON alert → IncomingRequest.

Reading a payload (``parse``) is pure and shared with ``firstcall.intake.alerts``, which decides
per alert group whether a notification opens a ticket (through the pipeline, with this module's
``interpret``) or only adds a note. The transport facts the interpreter needs and the payload
lacks (the alert source, the requester chosen for the client, which alerts of the payload are
this client's) come in the stored row's metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from firstcall.intake.models import InboundMessage
from firstcall.intake.request import IncomingRequest, Person, Rejected
from firstcall.triage.signals import URGENT_ALERT_SEVERITIES

ALERTMANAGER = "alertmanager"
GENERIC = "generic"
FIRING = "firing"
RESOLVED = "resolved"
NO_ACKNOWLEDGMENT = "monitoring alert: nobody to acknowledge"
# Alertmanager's endsAt while an alert is firing.
NO_END = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: str
    title: str
    severity: str = ""
    host: str = ""
    description: str = ""
    url: str = ""
    # What the payload says the client is (a label, the generic `client` field); "" if nothing.
    client: str = ""
    starts_at: str = ""
    ends_at: str = ""
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def is_emergency(self) -> bool:
        return self.status == FIRING and self.severity.lower() in URGENT_ALERT_SEVERITIES

    def headline(self) -> str:
        return f"{self.title} on {self.host}" if self.host else self.title


@dataclass(frozen=True)
class Notification:
    format: str
    status: str
    group_key: str
    alerts: tuple[Alert, ...]
    # Who sent it: Alertmanager's receiver / the generic `source` field.
    sender: str = ""
    external_url: str = ""
    truncated_alerts: int = 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"{what} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def _status(value: Any, where: str) -> str:
    status = _text(value).lower() or FIRING
    if status not in (FIRING, RESOLVED):
        raise Rejected(f'{where} status must be "firing" or "resolved", not {value!r}')
    return status


def _load(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
        # A lone surrogate ("\ud800") is not text: no database could store it.
        json.dumps(body, ensure_ascii=False).encode()
    except (ValueError, RecursionError) as error:  # Unicode errors are ValueErrors; RecursionError: [[[[...
        raise Rejected(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise Rejected("the body must be a JSON object")
    return body


def _digest(*parts: str) -> str:
    # surrogatepass: JSON may carry a lone surrogate ("\ud800") in any label.
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def parse_alertmanager(raw: bytes, client_label: str = "client") -> Notification:
    body = _load(raw)
    version = _text(body.get("version"))
    if version and version != "4":
        raise Rejected(f'unsupported Alertmanager webhook version {version!r} (expected "4")')
    items = body.get("alerts")
    if not isinstance(items, list) or not items:
        raise Rejected('an Alertmanager payload needs a non-empty "alerts" list')
    common_annotations = _strings(body.get("commonAnnotations"), "commonAnnotations")
    alerts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Rejected(f"alerts[{index}] must be an object")
        labels = _strings(item.get("labels"), f"alerts[{index}].labels")
        annotations = {
            **common_annotations,
            **_strings(item.get("annotations"), f"alerts[{index}].annotations"),
        }
        # Alertmanager always sends a fingerprint; other senders of this shape may not.
        fingerprint = _text(item.get("fingerprint")) or _digest(
            *sorted(f"{k}={v}" for k, v in labels.items())
        )
        name = labels.get("alertname", "")
        summary = annotations.get("summary", "")
        alerts.append(
            Alert(
                fingerprint=fingerprint,
                status=_status(item.get("status"), f"alerts[{index}]"),
                title=f"{name}: {summary}" if name and summary else name or summary or "(unnamed alert)",
                severity=labels.get("severity", ""),
                host=labels.get("instance", "") or labels.get("host", "") or labels.get("job", ""),
                description=annotations.get("description", ""),
                url=_text(item.get("generatorURL")),
                client=labels.get(client_label, ""),
                starts_at=_text(item.get("startsAt")),
                ends_at="" if _text(item.get("endsAt")) == NO_END else _text(item.get("endsAt")),
                labels=tuple(sorted(labels.items())),
            )
        )
    group_key = _text(body.get("groupKey")) or json.dumps(
        _strings(body.get("groupLabels"), "groupLabels"), sort_keys=True
    )
    truncated = body.get("truncatedAlerts", 0)
    return Notification(
        format=ALERTMANAGER,
        status=_status(body.get("status"), "the notification's"),
        group_key=group_key,
        alerts=tuple(alerts),
        sender=_text(body.get("receiver")),
        external_url=_text(body.get("externalURL")),
        truncated_alerts=truncated if isinstance(truncated, int) else 0,
    )


def parse_generic(raw: bytes) -> Notification:
    body = _load(raw)
    title = _text(body.get("title"))
    if not title:
        raise Rejected('a generic alert needs a "title"')
    source = _text(body.get("source"))
    host = _text(body.get("host"))
    # Without a dedupe key, the same title from the same host and tool is the same alert.
    dedupe_key = _text(body.get("dedupe_key")) or _digest(source, host, title)
    status = _status(body.get("status"), "the alert's")
    alert = Alert(
        fingerprint=dedupe_key,
        status=status,
        title=title,
        severity=_text(body.get("severity")),
        host=host,
        description=_text(body.get("description")),
        url=_text(body.get("url")),
        client=_text(body.get("client")),
    )
    return Notification(format=GENERIC, status=status, group_key=dedupe_key, alerts=(alert,), sender=source)


def parse(format: str, raw: bytes, client_label: str = "client") -> Notification:
    if format == ALERTMANAGER:
        return parse_alertmanager(raw, client_label)
    if format == GENERIC:
        return parse_generic(raw)
    raise Rejected(f"unknown alert format {format!r}")


def describe(alert: Alert) -> str:
    """The lines about one alert on the ticket's timeline."""
    lines = [f"{alert.status.upper()}: {alert.headline()}"]
    if alert.severity:
        lines.append(f"  severity: {alert.severity}")
    if alert.starts_at:
        lines.append(f"  since: {alert.starts_at}")
    if alert.ends_at:
        lines.append(f"  ended: {alert.ends_at}")
    if alert.description:
        lines.append(f"  {alert.description}")
    if alert.labels:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in alert.labels))
    if alert.url:
        lines.append(f"  link: {alert.url}")
    return "\n".join(lines)


def subject_for(alerts: tuple[Alert, ...]) -> str:
    firing = [a for a in alerts if a.status == FIRING] or list(alerts)
    first = firing[0]
    severity = f"[{first.severity.upper()}] " if first.severity else ""
    more = f" (+{len(firing) - 1} more)" if len(firing) > 1 else ""
    return f"Alert: {severity}{first.headline()}{more}"


def interpret(inbound: InboundMessage) -> IncomingRequest:
    meta = inbound.metadata
    notification = parse(
        str(meta.get("format", "")), bytes(inbound.raw), str(meta.get("client_label", "client"))
    )
    wanted = meta.get("fingerprints")
    alerts = tuple(a for a in notification.alerts if not wanted or a.fingerprint in wanted)
    if not alerts:
        raise Rejected("none of the payload's alerts belong to this ticket")
    requester = str(meta.get("requester_email", ""))
    if not requester:
        raise Rejected("the alert has no requester (metadata requester_email is missing)")
    source_name = str(meta.get("source_name", "")) or notification.sender or "monitoring"
    parts = [f"Monitoring alert from {source_name}", ""]
    parts += [describe(alert) for alert in alerts]
    if notification.truncated_alerts:
        parts.append(f"({notification.truncated_alerts} more alerts were left out by the sender)")
    parts += ["", f"Group: {notification.group_key}"]
    if notification.external_url:
        parts.append(f"Sent by: {notification.external_url}")
    notes = [str(note) for note in meta.get("notes", [])]
    # Triage reads the most severe firing alert (the first if none is firing).
    leading = next((a for a in alerts if a.is_emergency), None) or next(
        (a for a in alerts if a.status == FIRING), alerts[0]
    )
    return IncomingRequest(
        sender=Person(email=requester, name=str(meta.get("requester_name", ""))),
        subject=subject_for(alerts),
        body_text="\n".join(parts),
        is_emergency=any(a.is_emergency for a in alerts),
        no_acknowledgment_reason=NO_ACKNOWLEDGMENT,
        intake_notes=tuple(notes),
        alert_host=leading.host,
        alert_severity=leading.severity,
        alert_labels=leading.labels,
    )
