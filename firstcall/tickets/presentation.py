"""How a ticket's messages and files are shown, the same in the console and the portal."""

from __future__ import annotations

from django.http import FileResponse, Http404

from firstcall.tickets.models import Attachment, Message, MessageKind


def text_to_show(message: Message) -> tuple[str, str]:
    """(what to show first, the whole text when it is longer): for inbound mail the new text
    without the quoted history, the whole message behind "show full message"; ("text", "")
    when there is nothing to fold."""
    # Imported here: the email parser is its own module and need not load for other pages.
    from firstcall.intake.email_parser import trim_quoted_reply

    full = message.body_text
    if message.kind == MessageKind.INBOUND and full:
        trimmed = trim_quoted_reply(full)
        if trimmed.strip() and trimmed.strip() != full.strip():
            return trimmed, full
    return full, ""


def download_response(attachment: Attachment) -> FileResponse:
    """The file as a download, never rendered: files on a ticket may be HTML or scripts. The
    caller has checked that the viewer may have it."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404(f"The file of attachment {attachment.filename!r} is missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename or f"attachment-{attachment.pk}",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
