"""What every channel turns its payload into: the pipeline's one input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class Rejected(Exception):
    """The payload cannot become a ticket entry; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Person:
    """Who sent something: by email address, or by phone number (calls, texts)."""

    email: str = ""
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class IncomingAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class IncomingRequest:
    sender: Person
    subject: str
    body_text: str
    body_html: str = ""
    # Identifier of this message in its channel's threading scheme (the email Message-ID).
    rfc_message_id: str = ""
    # A ticket the sender names explicitly (ticket number in the subject, API path).
    named_ticket_id: int | None = None
    # Identifiers of earlier messages this one answers (In-Reply-To, References).
    replies_to: tuple[str, ...] = ()
    participants: tuple[Person, ...] = ()
    attachments: tuple[IncomingAttachment, ...] = ()
    # Lines for the timeline about what happened in intake (e.g. an attachment was dropped).
    intake_notes: tuple[str, ...] = ()
    is_emergency: bool = False
    # Why the sender must not get an automatic acknowledgment, if they must not.
    no_acknowledgment_reason: str = ""
    # How the acknowledgment goes out: EMAIL, or SMS to the sender's phone (texts, calls).
    acknowledge_by: str = "email"
    # The acknowledgment by text may go in the answer to the webhook that brought the request
    # (TwiML to the provider that will send it): the texter gets it at once, with no API call.
    acknowledge_in_response: bool = False
    # Thread onto the sender's latest unresolved ticket opened within this window, when nothing
    # else names a ticket (a text message has no headers to thread by).
    recent_ticket_window: timedelta | None = None
    # Post on the named ticket or nowhere: when the sender may not post there, the payload is
    # kept as rejected instead of opening a new ticket (the API's add-message).
    only_named_ticket: bool = False
    # A monitoring alert's host, severity and labels, for triage (a server down is company-wide).
    alert_host: str = ""
    alert_severity: str = ""
    alert_labels: tuple[tuple[str, str], ...] = ()
    sent_at: datetime | None = None


@dataclass(frozen=True)
class BounceNotice:
    """A delivery failure report about one of our outbound messages; never opens a ticket."""

    original_message_id: str | None
    summary: str
