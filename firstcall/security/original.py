"""Getting the suspicious email back out of the client's forward.

A forward *as an attachment* (message/rfc822) carries the original intact: its headers (who
really sent it, what the receiving server checked), its DKIM signature and its parts. An
*inline* forward ("---------- Forwarded message ---------", "Begin forwarded message:") keeps
only what the mail client chose to paste: From, maybe Reply-To, Subject, Date and the body; the
findings that need the intact message are then marked unavailable.

Pure: no database, and it never raises (a forward is whatever a client's mail client made).
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from io import BytesIO
from typing import Literal

from firstcall.intake.email_parser import EmailRejected, ParsedAttachment, parse_email

How = Literal["attachment", "inline"]

# The original's attachments are read for their names and (archives) the names inside; a
# bigger file than this is listed by name only.
MAX_INSPECTED_ATTACHMENT_BYTES = 25 * 1024 * 1024
# The body text read for the forward marker and the original's words.
MAX_TEXT_CHARS = 200_000
_GENERATOR_POLICY = policy.compat32.clone(max_line_length=0)
_EMBEDDED_TYPES = frozenset({"message/rfc822", "message/global"})

# The line a mail client writes above an inline-forwarded message, in a few languages.
_FORWARD_MARKERS = re.compile(
    r"^[ \t>*]*(?:"
    r"-{2,}\s*(?:Forwarded message|Original Message|Weitergeleitete Nachricht|Ursprüngliche Nachricht|"
    r"Message transféré|Message d'origine|Mensaje reenviado|Mensaje original|Doorgestuurd bericht|"
    r"Messaggio inoltrato)\s*-{2,}"
    r"|Begin forwarded message:"
    r"|_{10,}"
    r")[ \t*]*$",
    re.IGNORECASE | re.MULTILINE,
)
# "From: …" lines of the pasted header block (Outlook writes "Sent:" for the date).
_PASTED_FIELD = re.compile(
    r"^[ \t>*]*(From|Von|De|Van|Da|Reply-To|Antwort an|Répondre à|Date|Sent|Datum|Gesendet|Envoyé|Fecha|"
    r"Enviado|Subject|Betreff|Objet|Asunto|Onderwerp|Oggetto|To|An|À|Para|Aan|A|Cc)\s*\*?:\*?[ \t]*(.*)$",
    re.IGNORECASE,
)
_FIELD_NAMES = {
    "from": "from",
    "von": "from",
    "de": "from",
    "van": "from",
    "da": "from",
    "reply-to": "reply-to",
    "antwort an": "reply-to",
    "répondre à": "reply-to",
    "date": "date",
    "sent": "date",
    "datum": "date",
    "gesendet": "date",
    "envoyé": "date",
    "fecha": "date",
    "enviado": "date",
    "subject": "subject",
    "betreff": "subject",
    "objet": "subject",
    "asunto": "subject",
    "onderwerp": "subject",
    "oggetto": "subject",
}
_MAILTO_BRACKETS = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)


@dataclass(frozen=True)
class OriginalAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OriginalMessage:
    """The suspicious email as far as it could be recovered."""

    how: How
    from_name: str
    from_address: str
    subject: str
    date: str
    text: str
    # The HTML as sent (never shown: only its links are read).
    html: str
    reply_to: tuple[str, ...] = ()
    return_path: str = ""
    attachments: tuple[OriginalAttachment, ...] = ()
    # Header fields of an intact original, in order, names lowercased, values unfolded.
    headers: tuple[tuple[str, str], ...] = ()
    # The intact original's bytes (for the DKIM check); empty for an inline forward.
    raw: bytes = b""

    @property
    def intact(self) -> bool:
        return self.how == "attachment" and bool(self.raw)

    @property
    def from_domain(self) -> str:
        return domain_of(self.from_address)

    def header_values(self, name: str) -> list[str]:
        return [value for field, value in self.headers if field == name]


def domain_of(address: str) -> str:
    return address.strip().strip("<>").rpartition("@")[2].strip().lower().rstrip(".")


def decoded_header(value: str) -> str:
    """A header value as text: encoded words decoded, folding undone; never raises."""
    try:
        text = str(make_header(decode_header(value)))
    except Exception:  # malformed encoded words, unknown charsets: keep it as written
        text = value
    return " ".join(text.replace("\x00", "").split())


def _serialize(message: Message) -> bytes:
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_GENERATOR_POLICY).flatten(message)
    except Exception:  # a message the generator cannot write back: nothing to analyse
        return b""
    return buffer.getvalue()


def _embedded_messages(outer: Message) -> list[Message]:
    """message/rfc822 parts, depth first (an attached email is usually the first)."""
    found: list[Message] = []
    for part in outer.walk():
        if part is outer:
            continue
        try:
            content_type = part.get_content_type().lower()
        except Exception:
            continue
        if content_type in _EMBEDDED_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found.append(payload[0])
        if len(found) >= 5:
            break
    return found


def _html_parts(message: Message) -> str:
    """The text/html body parts as sent, without descending into attached emails."""
    chunks: list[str] = []
    stack: list[Message] = [message]
    while stack and len(chunks) < 20:
        part = stack.pop()
        try:
            content_type = part.get_content_type().lower()
        except Exception:
            continue
        if content_type in _EMBEDDED_TYPES:
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(child for child in reversed(payload) if isinstance(child, Message))
            continue
        if content_type != "text/html" or part.get_filename():
            continue
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        if isinstance(data, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(data.decode(charset, errors="replace"))
            except LookupError:
                chunks.append(data.decode("utf-8", errors="replace"))
    return "\n".join(chunks)[:MAX_TEXT_CHARS]


def _attachments(parsed: tuple[ParsedAttachment, ...]) -> tuple[OriginalAttachment, ...]:
    return tuple(
        OriginalAttachment(a.filename, a.content_type, a.content)
        for a in parsed
        # Inline images of a signature are not attachments anyone opens.
        if not (a.is_inline and a.content_type.startswith("image/"))
    )


def _from_attachment(embedded: Message) -> OriginalMessage | None:
    raw = _serialize(embedded)
    if not raw.strip():
        return None
    try:
        parsed = parse_email(raw, max_attachment_bytes=MAX_INSPECTED_ATTACHMENT_BYTES)
    except EmailRejected:
        return None
    headers = tuple(
        (str(name).strip().lower(), decoded_header(str(value))) for name, value in embedded.raw_items()
    )
    date = next((value for name, value in headers if name == "date"), "")
    return OriginalMessage(
        how="attachment",
        from_name=parsed.from_name,
        from_address=parsed.from_address,
        subject=parsed.subject,
        date=date,
        text=parsed.text_body[:MAX_TEXT_CHARS],
        html=_html_parts(embedded),
        reply_to=parsed.reply_to,
        return_path=parsed.return_path or "",
        attachments=_attachments(parsed.attachments),
        headers=headers,
        raw=raw,
    )


def _address(value: str) -> tuple[str, str]:
    """(name, address) from a pasted "Name <a@b>", "Name [mailto:a@b]" or "a@b"."""
    value = _MAILTO_BRACKETS.sub(r"<\1>", value.replace("*", "")).strip()
    name, address = email.utils.parseaddr(value)
    if "@" not in address:
        return value.strip(' "'), ""
    return name.strip(' "'), address.strip().lower()


def _from_inline(text: str, html: str, attachments: tuple[OriginalAttachment, ...]) -> OriginalMessage | None:
    """The pasted header block after the first forward marker, and the body under it. Without
    a marker, an Outlook-style block ("From: … / Sent: … / Subject: …") also counts."""
    text = text[:MAX_TEXT_CHARS].replace("\r\n", "\n")
    lines = text.split("\n")
    marker = _FORWARD_MARKERS.search(text)
    start = text.count("\n", 0, marker.end()) + 1 if marker else _outlook_block_start(lines)
    if start is None:
        return None
    fields: dict[str, str] = {}
    index = start
    # Skip blank lines between the marker and the fields (Apple Mail leaves one).
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines):
        match = _PASTED_FIELD.match(lines[index])
        if match is None:
            break
        name = _FIELD_NAMES.get(match.group(1).lower())
        if name is not None and name not in fields:
            fields[name] = match.group(2).strip()
        index += 1
    if "from" not in fields:
        return None
    from_name, from_address = _address(fields["from"])
    reply_to = _address(fields["reply-to"])[1] if "reply-to" in fields else ""
    body = "\n".join(line[2:] if line.startswith("> ") else line for line in lines[index:]).strip()
    return OriginalMessage(
        how="inline",
        from_name=from_name,
        from_address=from_address,
        subject=decoded_header(fields.get("subject", "")),
        date=fields.get("date", ""),
        text=body,
        html=html,
        reply_to=(reply_to,) if reply_to else (),
        attachments=attachments,
    )


def _outlook_block_start(lines: list[str]) -> int | None:
    """The first line of a "From: / Sent: / To: / Subject:" block, Outlook's inline forward."""
    for index, line in enumerate(lines[:400]):
        match = _PASTED_FIELD.match(line)
        if match is None or _FIELD_NAMES.get(match.group(1).lower()) != "from":
            continue
        following = [_PASTED_FIELD.match(other) for other in lines[index + 1 : index + 4]]
        names = {_FIELD_NAMES.get(m.group(1).lower(), "") for m in following if m is not None}
        if "date" in names or "subject" in names:
            return index
    return None


def recover_original(raw: bytes) -> OriginalMessage | None:
    """The suspicious email inside a client's forward: the attached email if there is one, else
    the inline-forwarded one; None when neither can be found. Never raises."""
    try:
        return _recover(raw)
    except Exception:  # the contract is "never raises": a forward we cannot read has no original
        return None


def _recover(raw: bytes) -> OriginalMessage | None:
    if not raw or not raw.strip():
        return None
    outer = BytesParser(policy=policy.compat32).parsebytes(raw)
    for embedded in _embedded_messages(outer):
        original = _from_attachment(embedded)
        if original is not None:
            return original
    try:
        parsed = parse_email(raw, max_attachment_bytes=MAX_INSPECTED_ATTACHMENT_BYTES)
    except EmailRejected:
        return None
    return _from_inline(parsed.text_body, _html_parts(outer), _attachments(parsed.attachments))
