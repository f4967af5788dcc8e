"""Turning a Delivery into an email and handing it to the configured SMTP server."""

from __future__ import annotations

from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from firstcall.notify.models import Delivery, DeliveryPurpose

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


def send_email(delivery: Delivery) -> None:
    """Send one delivery; raises on any failure so the caller can retry."""
    message = build_email(delivery)
    connection = get_connection(fail_silently=False)
    if _is_auto_reply(delivery) and isinstance(connection, SmtpBackend):
        # RFC 3834 asks for a null envelope sender on automatic replies, so a bounce of the
        # acknowledgment never comes back to us as a new request.
        connection.open()
        try:
            assert connection.connection is not None
            connection.connection.sendmail(
                "", [delivery.to_address], message.message().as_bytes(linesep="\r\n")
            )
        finally:
            connection.close()
        return
    connection.send_messages([message])
