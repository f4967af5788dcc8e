"""Turning a Delivery into an email and handing it to the configured SMTP server (many over one
connection)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.utils import formataddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils import timezone

from firstcall.notify.models import Delivery, DeliveryPurpose

if TYPE_CHECKING:
    from firstcall.notify.outbound import HandedOver

log = logging.getLogger(__name__)

LOOP_HEADER = "X-Firstcall-Loop"


def _is_auto_reply(delivery: Delivery) -> bool:
    return delivery.auto_submitted and delivery.purpose == DeliveryPurpose.ACKNOWLEDGMENT


def build_email(delivery: Delivery) -> EmailMessage:
    headers = {
        "Message-ID": f"<{delivery.rfc_message_id}>",
        LOOP_HEADER: delivery.rfc_message_id,
        "From": formataddr((settings.FIRSTCALL_MSP_NAME, delivery.from_address)),
    }
    if delivery.in_reply_to:
        headers["In-Reply-To"] = f"<{delivery.in_reply_to}>"
    if delivery.references:
        headers["References"] = " ".join(f"<{ref}>" for ref in delivery.references.split())
    if delivery.auto_submitted:
        # RFC 3834: mark automatic mail so other robots do not answer it — "auto-replied" for
        # an answer to a message (acknowledgments), "auto-generated" otherwise (pages).
        headers["Auto-Submitted"] = "auto-replied" if _is_auto_reply(delivery) else "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    return EmailMessage(
        subject=delivery.subject,
        body=delivery.body_text,
        from_email=delivery.from_address,
        to=[delivery.to_address],
        headers=headers,
    )


def send_emails(deliveries: Sequence[Delivery]) -> dict[int, HandedOver | Exception]:
    """Send the deliveries one after another over one connection to the mail server: for each,
    when the server took it, or what went wrong (after a failure the next one reconnects)."""
    from firstcall.notify.outbound import HandedOver

    outcomes: dict[int, HandedOver | Exception] = {}
    connection = get_connection(fail_silently=False)
    try:
        for delivery in deliveries:
            try:
                connection.open()
                _send(connection, delivery)
            except Exception as error:  # recorded for this delivery; the others still go
                outcomes[delivery.pk] = error
                _close_quietly(connection)
            else:
                outcomes[delivery.pk] = HandedOver(timezone.now())
    finally:
        _close_quietly(connection)
    return outcomes


def _send(connection: BaseEmailBackend, delivery: Delivery) -> None:
    message = build_email(delivery)
    if _is_auto_reply(delivery) and isinstance(connection, SmtpBackend):
        # RFC 3834 asks for a null envelope sender on automatic replies, so a bounce of the
        # acknowledgment never comes back to us as a new request.
        assert connection.connection is not None
        connection.connection.sendmail("", [delivery.to_address], message.message().as_bytes(linesep="\r\n"))
        return
    connection.send_messages([message])


def _close_quietly(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # a connection that broke cannot be closed politely; it is dropped anyway
        log.debug("closing the mail connection failed", exc_info=True)
