"""SMS: a Twilio-format inbound text (the webhook's urlencoded form body) → IncomingRequest.

``interpret`` reads the stored body and touches no database. ``receive_sms`` is what the webhook
calls: it stores and processes the text through the pipeline, then honours the keywords Twilio
and carriers define (STOP and friends record an opt-out, START an opt-in, HELP gets a reply)."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse

from firstcall.intake.models import InboundMessage
from firstcall.intake.pipeline import IntakeOutcome, ingest
from firstcall.intake.request import IncomingRequest, Person, Rejected
from firstcall.intake.webhooks import form_params
from firstcall.notify.outbound import opt_in, opt_out, unconfirmed_in_response
from firstcall.notify.sms import answers_in_webhook_response
from firstcall.tickets.models import Channel

# Twilio concatenates a text to at most 1600 characters; a whole webhook request is far smaller
# than 64 KB. Anything bigger did not come from a phone and is kept, rejected, for a look.
MAX_BODY_CHARS = 1600
MAX_REQUEST_BYTES = 64 * 1024
SUBJECT_CHARS = 60


class Keyword(enum.Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"


# The standard keywords (Twilio's own list): the whole text, in any case, is the keyword.
KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"), Keyword.OPT_OUT
    ),
    **dict.fromkeys(("START", "UNSTOP"), Keyword.OPT_IN),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}
EMERGENCY_PREFIX = re.compile(r"\s*(URGENT|EMERGENCY)\b", re.IGNORECASE)
# Twilio numbers media from 0 (at most 10): a canonical number, so MediaUrl{i} names it again.
MEDIA_URL_PARAM = re.compile(r"MediaUrl(0|[1-9][0-9]{0,2})")


@dataclass(frozen=True)
class TextMessage:
    """The facts of one inbound text, read from the webhook's form body."""

    sid: str
    sender: str
    to: str
    body: str
    # (content type, URL) of each picture or file sent with the text (MMS), in order.
    media: tuple[tuple[str, str], ...]

    @property
    def keyword(self) -> tuple[Keyword, str] | None:
        word = self.body.strip().strip(".!").strip().upper()
        kind = KEYWORDS.get(word) if not self.media else None
        return (kind, word) if kind is not None else None


def read(raw: bytes) -> TextMessage:
    """Raises Rejected for a payload that cannot become a ticket entry, with the reason."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise Rejected(
            f"SMS webhook request of {len(raw)} bytes is over the {MAX_REQUEST_BYTES // 1024} KB limit"
        )
    params = form_params(raw)
    sender = params.get("From", "").strip()
    if not sender:
        raise Rejected("no From: the text's sender is missing from the webhook request")
    body = params.get("Body", "")
    if len(body) > MAX_BODY_CHARS:
        raise Rejected(
            f"text of {len(body)} characters is over the {MAX_BODY_CHARS}-character limit of an SMS"
        )
    indexes = sorted(int(m.group(1)) for name in params if (m := MEDIA_URL_PARAM.fullmatch(name)))
    media = tuple(
        (params.get(f"MediaContentType{i}", "") or "file", params[f"MediaUrl{i}"])
        for i in indexes
        if params[f"MediaUrl{i}"]
    )
    return TextMessage(params.get("MessageSid", ""), sender, params.get("To", ""), body, media)


def _subject(message: TextMessage) -> str:
    first_line = next((line.strip() for line in message.body.splitlines() if line.strip()), "")
    if not first_line:
        return f"Text message from {message.sender}"
    if len(first_line) > SUBJECT_CHARS:
        return first_line[: SUBJECT_CHARS - 1].rstrip() + "…"
    return first_line


def _body(message: TextMessage) -> str:
    text = message.body.strip()
    if message.media:
        # Links only: the files stay with the provider (its URLs may need the account's login).
        lines = ["Sent with the text (links to the provider's copy, not downloaded):"]
        lines += [f"- {content_type}: {url}" for content_type, url in message.media]
        text = (text + "\n\n" if text else "") + "\n".join(lines)
    return text


def interpret(inbound: InboundMessage) -> IncomingRequest:
    message = read(bytes(inbound.raw))
    keyword = message.keyword
    if keyword is not None:
        kind, word = keyword
        raise Rejected(f"{kind.value} keyword {word}")
    return IncomingRequest(
        sender=Person(phone=message.sender),
        subject=_subject(message),
        body_text=_body(message),
        rfc_message_id=f"sms:{message.sid}" if message.sid else "",
        is_emergency=EMERGENCY_PREFIX.match(message.body) is not None,
        acknowledge_by=Channel.SMS,
        acknowledge_in_response=answers_in_webhook_response(),
        recent_ticket_window=timedelta(hours=settings.FIRSTCALL_SMS_THREAD_HOURS),
    )


def external_id(raw: bytes) -> str:
    """The MessageSid; a hash of the request body when there is none, so it is still stored once."""
    sid = form_params(raw).get("MessageSid", "").strip() if len(raw) <= MAX_REQUEST_BYTES else ""
    return sid or "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class SmsResult:
    outcome: IntakeOutcome
    # A text to answer the sender with right away (HELP, the acknowledgment), or "" for none.
    reply: str = ""
    # The delivery the reply is (the acknowledgment), for the provider's reports on it.
    reply_delivery_id: int | None = None


def help_reply() -> str:
    return (
        f"{settings.FIRSTCALL_MSP_NAME} support: text us what is wrong and we open a ticket; "
        "start with URGENT for an emergency. "
        f"Email {settings.DEFAULT_FROM_EMAIL} or go to "
        f"{settings.FIRSTCALL_PUBLIC_URL}{reverse('portal:request_form')}. Reply STOP to opt out."
    )


def receive_sms(raw: bytes, metadata: dict[str, Any] | None = None) -> SmsResult:
    """Store and process one inbound text (once, however often it is delivered), then act on
    its keyword: an opt-out or opt-in is recorded; HELP gets a reply, no ticket."""
    outcome = ingest(Channel.SMS, external_id(raw), raw, metadata)
    try:
        message = read(raw)
    except Rejected:
        return SmsResult(outcome)
    keyword = message.keyword
    if keyword is None:
        if outcome.duplicate and outcome.ticket_id is not None:
            # Delivered again: the provider may never have got our first answer.
            unconfirmed = unconfirmed_in_response(outcome.ticket_id)
            if unconfirmed is not None:
                return SmsResult(outcome, reply=unconfirmed.body_text, reply_delivery_id=unconfirmed.pk)
        return SmsResult(outcome, reply=outcome.reply, reply_delivery_id=outcome.reply_delivery_id)
    kind, word = keyword
    if kind is Keyword.OPT_OUT:
        opt_out(message.sender, keyword=word)
    elif kind is Keyword.OPT_IN:
        opt_in(message.sender, keyword=word)
    else:
        return SmsResult(outcome, reply=help_reply())
    return SmsResult(outcome)
