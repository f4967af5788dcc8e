"""Crafted suspicious (and genuine) emails, built here as raw bytes, and the forwards a client's
mail client makes of them: as an attachment (message/rfc822) or inline (Gmail, Apple Mail,
Outlook styles). DKIM signatures are made with a key pair the tests generate."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SELECTOR = b"s2026"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    dns_record: bytes

    def lookup_for(self, domain: str) -> object:
        """A DNS TXT lookup that knows this key for ``domain`` only (dkimpy's dnsfunc)."""
        wanted = SELECTOR + b"._domainkey." + domain.encode() + b"."

        def lookup(name: bytes, timeout: float = 5) -> bytes | None:
            return self.dns_record if name == wanted else None

        return lookup


def make_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private_pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der))


def authentication_results(
    *, spf: str = "pass", dkim_result: str = "pass", dmarc: str = "pass", domain: str
) -> str:
    return (
        f"mx.brightsmile.example; spf={spf} (sender IP is 203.0.113.7) smtp.mailfrom={domain}; "
        f"dkim={dkim_result} header.d={domain}; dmarc={dmarc} action=none header.from={domain}"
    )


def suspicious_email(
    *,
    sender: str,
    subject: str,
    text: str,
    to: str = "Dana Reyes <dana@brightsmile.example>",
    html: str | None = None,
    reply_to: str | None = None,
    return_path: str | None = None,
    auth: str | None = None,
    received_spf: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    sign_with: tuple[KeyPair, str] | None = None,
) -> bytes:
    """The email as the client's mail server delivered it: Return-Path and the receiving
    server's Authentication-Results on top."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 08:12:00 -0600"
    message["Message-ID"] = make_msgid(domain="sender.example")
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    raw = message.as_bytes()
    if sign_with is not None:
        key, domain = sign_with
        signature = dkim.sign(
            raw,
            SELECTOR,
            domain.encode(),
            key.private_pem,
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id", b"reply-to"],
        )
        raw = signature + raw
    top = b""
    if return_path:
        top += f"Return-Path: <{return_path}>\r\n".encode()
    if auth:
        top += f"Authentication-Results: {auth}\r\n".encode()
    if received_spf:
        top += f"Received-SPF: {received_spf}\r\n".encode()
    return top + raw


def forward_as_attachment(
    original: bytes,
    *,
    forwarder: str = "Dana Reyes <dana@brightsmile.example>",
    to: str = "verify@msp.example",
    subject: str | None = None,
    note: str = "Is this real? We are about to pay it.",
    message_id: str | None = None,
) -> bytes:
    inner = BytesParser(policy=policy.default).parsebytes(original)
    forward = EmailMessage()
    forward["From"] = forwarder
    forward["To"] = to
    forward["Subject"] = subject if subject is not None else f"FW: {inner['Subject']}"
    forward["Message-ID"] = message_id or make_msgid(domain="brightsmile.example")
    forward.set_content(note)
    forward.add_attachment(inner)
    return forward.as_bytes()


INLINE_STYLES = ("gmail", "apple", "outlook")


def forward_inline(
    *,
    style: str,
    sender: str,
    subject: str,
    text: str,
    reply_to: str | None = None,
    html: str | None = None,
    forwarder: str = "Dana Reyes <dana@brightsmile.example>",
    to: str = "verify@msp.example",
    note: str = "Can you check this one?",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    """An inline forward as Gmail, Apple Mail or Outlook writes it."""
    date = "Mon, Mar 2, 2026 at 8:12 AM"
    if style == "gmail":
        block = [
            "---------- Forwarded message ---------",
            f"From: {sender}",
            f"Date: {date}",
            f"Subject: {subject}",
        ]
        block.append("To: Dana Reyes <dana@brightsmile.example>")
    elif style == "apple":
        block = ["Begin forwarded message:", "", f"From: {sender}"]
        if reply_to:
            block.append(f"Reply-To: {reply_to}")
        block += [f"Subject: {subject}", f"Date: {date}", "To: Dana Reyes <dana@brightsmile.example>"]
    elif style == "outlook":
        name, _, address = sender.partition(" <")
        block = ["________________________________", f"From: {name} <{address.rstrip('>')}>", f"Sent: {date}"]
        block += ["To: Dana Reyes <dana@brightsmile.example>", f"Subject: {subject}"]
    else:
        raise ValueError(style)
    body = f"{note}\n\n" + "\n".join(block) + "\n\n" + text
    forward = EmailMessage()
    forward["From"] = forwarder
    forward["To"] = to
    forward["Subject"] = f"Fwd: {subject}"
    forward["Message-ID"] = make_msgid(domain="brightsmile.example")
    forward.set_content(body)
    if html is not None:
        forward.add_alternative(f"<p>{note}</p><blockquote>{html}</blockquote>", subtype="html")
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/")
        forward.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return forward.as_bytes()
