"""Tests for firstcall.intake.email_parser: pure Python, no Django settings or database needed."""

from __future__ import annotations

import ast
import hashlib
import time
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firstcall.intake import email_parser
from firstcall.intake.email_parser import (
    EmailRejected,
    ParsedEmail,
    normalize_message_id,
    parse_email,
    split_message_ids,
    trim_quoted_reply,
)

MB = 1024 * 1024


def parse(raw: bytes, limit: int = 15 * MB) -> ParsedEmail:
    return parse_email(raw, max_attachment_bytes=limit)


def raw_message(text: str) -> bytes:
    """A literal message written with LF line endings, sent over the wire with CRLF."""
    return text.lstrip("\n").replace("\n", "\r\n").encode("utf-8")


def simple_message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Dana Whitfield <Dana@BrightSmile.example>")
    msg["To"] = headers.pop("To", "Help Desk <help@msp.example>")
    msg["Subject"] = headers.pop("Subject", "Front desk printer offline")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("The printer at the front desk shows offline.\n")
    return msg


# --------------------------------------------------------------------------------------------
# Basic structure
# --------------------------------------------------------------------------------------------


def test_plain_text_message() -> None:
    raw = raw_message(
        """
Return-Path: <dana@brightsmile.example>
From: "Whitfield, Dana" <Dana@BrightSmile.example>
To: Help Desk <help@msp.example>, carl@brightsmile.example
Cc: Priya Shah <PRIYA@haleporter.example>
Reply-To: office@brightsmile.example
Subject: Front desk   printer
 offline
Date: Mon, 3 Mar 2025 10:15:00 -0600
Message-ID: <CAF1234@mail.brightsmile.example>
Content-Type: text/plain; charset=utf-8

Hi,
the printer at the front desk shows offline.
"""
    )
    parsed = parse(raw)
    assert parsed.message_id == "CAF1234@mail.brightsmile.example"
    assert parsed.subject == "Front desk printer offline"
    assert parsed.from_name == "Whitfield, Dana"
    assert parsed.from_address == "dana@brightsmile.example"
    assert parsed.to == ("help@msp.example", "carl@brightsmile.example")
    assert parsed.cc == ("priya@haleporter.example",)
    assert parsed.cc_names == {"help@msp.example": "Help Desk", "priya@haleporter.example": "Priya Shah"}
    assert parsed.reply_to == ("office@brightsmile.example",)
    assert parsed.return_path == "dana@brightsmile.example"
    assert parsed.date == datetime(2025, 3, 3, 10, 15, tzinfo=timezone(timedelta(hours=-6)))
    assert parsed.text_body == "Hi,\nthe printer at the front desk shows offline."
    assert parsed.html_body == ""
    assert parsed.attachments == () and parsed.dropped_attachments == ()
    assert parsed.auto_reply_suppressed_reason is None
    assert parsed.bounce is None
    assert parsed.header_loop_marker is None
    assert parsed.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_multipart_alternative_uses_plain_part_and_sanitizes_html() -> None:
    msg = simple_message()
    msg.add_alternative("<p>The printer <b>shows offline</b>.</p>", subtype="html")
    parsed = parse(msg.as_bytes())
    assert parsed.text_body == "The printer at the front desk shows offline."
    assert parsed.html_body == "<p>The printer <b>shows offline</b>.</p>"
    assert parsed.attachments == ()


def test_multipart_mixed_with_pdf_attachment() -> None:
    msg = simple_message()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice-4411.pdf")
    parsed = parse(msg.as_bytes())
    assert parsed.text_body == "The printer at the front desk shows offline."
    [attachment] = parsed.attachments
    assert attachment.filename == "invoice-4411.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.content == pdf
    assert attachment.is_inline is False


def test_attachment_above_the_limit_is_dropped_with_reason_and_size() -> None:
    msg = simple_message()
    msg.add_attachment(b"a" * 1000, maintype="application", subtype="pdf", filename="small.pdf")
    msg.add_attachment(b"b" * (2 * MB), maintype="application", subtype="zip", filename="huge.zip")
    parsed = parse(msg.as_bytes(), limit=int(1.5 * MB))
    assert [a.filename for a in parsed.attachments] == ["small.pdf"]
    [dropped] = parsed.dropped_attachments
    assert dropped.filename == "huge.zip"
    assert dropped.content_type == "application/zip"
    assert dropped.size == 2 * MB
    assert dropped.reason == "larger than the 1.5 MB attachment limit (2 MB)"


def test_missing_attachment_filename_gets_a_default() -> None:
    msg = simple_message()
    msg.add_attachment(b"\x89PNG...", maintype="image", subtype="png")
    msg.add_attachment(b"\x00\x01", maintype="application", subtype="x-thing")
    parsed = parse(msg.as_bytes())
    assert [a.filename for a in parsed.attachments] == ["attachment-1.png", "attachment-2.bin"]


def test_inline_image_with_content_id() -> None:
    raw = raw_message(
        """
From: dana@brightsmile.example
Subject: screenshot
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See <img src="cid:shot1@brightsmile"></p>
--rel
Content-Type: image/png; name="shot.png"
Content-Disposition: inline; filename="shot.png"
Content-ID: <shot1@brightsmile>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
"""
    )
    parsed = parse(raw)
    [image] = parsed.attachments
    assert image.is_inline is True
    assert image.content_id == "shot1@brightsmile"
    assert image.content == b"\x89PNG\r\n\x1a\n"
    assert 'src="cid:shot1@brightsmile"' in parsed.html_body
    assert parsed.text_body == "See"


def test_message_rfc822_part_becomes_eml_attachment() -> None:
    inner = simple_message(Subject="Re: Invoice 4411 / March", Message_ID="<inner-1@x.example>")
    outer = simple_message(Subject="Fwd: invoice question")
    outer.add_attachment(inner)
    parsed = parse(outer.as_bytes())
    [attachment] = parsed.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "Re: Invoice 4411 - March.eml"  # "/" would be a path separator
    assert b"Message-ID: <inner-1@x.example>" in attachment.content
    assert b"The printer at the front desk shows offline." in attachment.content
    assert parsed.text_body == "The printer at the front desk shows offline."


def test_message_rfc822_attachment_named_after_subject() -> None:
    inner = simple_message(Subject="Quarterly backup report")
    outer = simple_message(Subject="Fwd: report")
    outer.add_attachment(inner)
    [attachment] = parse(outer.as_bytes()).attachments
    assert attachment.filename == "Quarterly backup report.eml"


# --------------------------------------------------------------------------------------------
# Header decoding and charsets
# --------------------------------------------------------------------------------------------


def test_rfc2047_utf8_subject_and_from_name() -> None:
    msg = simple_message(From="José Müller <jose@example.com>", Subject="Café: 予約 ✓")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw  # the generator really encoded them
    parsed = parse(raw)
    assert parsed.subject == "Café: 予約 ✓"
    assert parsed.from_name == "José Müller"


def test_rfc2047_iso_8859_1_q_encoding() -> None:
    raw = raw_message(
        """
From: =?iso-8859-1?q?Andr=E9_P=E9rez?= <andre@example.com>
To: =?ISO-8859-1?Q?B=F6rje?= <borje@example.com>
Subject: =?iso-8859-1?q?R=E9servation_annul=E9e?= pour demain

body
"""
    )
    parsed = parse(raw)
    assert parsed.from_name == "André Pérez"
    assert parsed.subject == "Réservation annulée pour demain"
    assert parsed.cc_names == {"borje@example.com": "Börje"}


def test_encoded_words_split_inside_a_utf8_sequence_are_joined() -> None:
    # "é" is C3 A9; some encoders split it across two adjacent encoded words.
    raw = raw_message("From: a@example.com\nSubject: =?utf-8?q?caf=C3?= =?utf-8?q?=A9_ok?=\n\nx\n")
    assert parse(raw).subject == "café ok"


def test_rfc2231_filename() -> None:
    raw = raw_message(
        """
From: a@example.com
Subject: files
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

see attached
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates%202025.pdf
Content-Transfer-Encoding: base64

JVBERg==
--b
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=iso-8859-1''Pr%E9sentation%20;
 filename*1*=finale.pptx

AAAA
--b--
"""
    )
    parsed = parse(raw)
    assert [a.filename for a in parsed.attachments] == ["€ rates 2025.pdf", "Présentation finale.pptx"]


def test_encoded_word_filename_and_path_separators_are_sanitized() -> None:
    raw = raw_message(
        """
From: a@example.com
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: application/pdf; name="=?utf-8?b?w7xiZXJzaWNodC5wZGY=?="
Content-Disposition: attachment; filename="=?utf-8?b?w7xiZXJzaWNodC5wZGY=?="

AAAA
--b
Content-Type: text/plain; name="passwd"
Content-Disposition: attachment; filename="../../etc/passwd"

root
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename="C:\\Users\\dana\\report.pdf"

AAAA
--b--
"""
    )
    assert [a.filename for a in parse(raw).attachments] == ["übersicht.pdf", "passwd", "report.pdf"]


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("windows-1252", "café – “quoted”"),
        ("iso-8859-1", "Grüße aus Köln"),
        ("koi8-r", "Привет, принтер сломан"),
        ("iso-2022-jp", "こんにちは、プリンターが壊れました"),
        ("gb2312", "你好，打印机坏了"),
    ],
)
def test_non_utf8_body_charsets(charset: str, text: str) -> None:
    body = text.encode(charset)
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset="
        + charset.encode()
        + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body
        + b"\r\n"
    )
    assert parse(raw).text_body == text


def test_wrong_declared_charset_falls_back_gracefully() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9 \x93ok\x94\r\n"
    assert parse(raw).text_body == "café “ok”"


@pytest.mark.parametrize("charset", ["x-unknown", "unicode-escape", "base64", '"utf-8\x00"', ""])
def test_unknown_or_unsafe_charset_does_not_raise(charset: str) -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/plain; charset="
        + charset.encode()
        + b"\r\n\r\nna\xc3\xafve \\u0041\r\n"
    )
    assert parse(raw).text_body == "naïve \\u0041"


def test_unknown_charset_in_encoded_word() -> None:
    raw = b"From: =?x-unknown?q?J=C3=B6rg?= <j@example.com>\r\nSubject: =?bogus?b?!!!?=\r\n\r\nx"
    parsed = parse(raw)
    assert parsed.from_name == "Jörg"
    assert isinstance(parsed.subject, str)


def test_8bit_raw_bytes_in_headers() -> None:
    raw = "From: Jürgen Groß <jg@example.de>\r\nSubject: Drucker läuft nicht – 😀\r\n\r\nbody\r\n".encode()
    parsed = parse(raw)
    assert parsed.from_name == "Jürgen Groß"
    assert parsed.subject == "Drucker läuft nicht – 😀"
    latin1 = b"From: Ren\xe9 <rene@example.fr>\r\nSubject: R\xe9union\r\n\r\nx"
    parsed = parse(latin1)
    assert (parsed.from_name, parsed.subject) == ("René", "Réunion")


def test_nul_bytes_and_lone_surrogates_never_reach_the_output() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: a\x00b\r\n"
        b"Content-Type: text/plain; charset=utf-7\r\n\r\n+2AA-x\x00y"
    )
    parsed = parse(raw)
    assert parsed.subject == "ab"
    assert "\x00" not in parsed.text_body
    parsed.text_body.encode("utf-8")  # no lone surrogates


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

HTML_ONLY = raw_message(
    """
From: a@example.com
Subject: html only
Content-Type: text/html; charset=utf-8

<html><head><title>Ignore me</title><style>p { color: red }</style></head>
<body><p>Hello&nbsp;team,</p><p>the   scanner
is <b>broken</b> &amp; beeps.<br>Steps:</p><ul><li>turn on</li><li>wait</li></ul>
<script>alert("x")</script><!-- hidden comment --><div>Thanks &lt;3</div></body></html>
"""
)


def test_html_only_message_yields_a_text_body() -> None:
    parsed = parse(HTML_ONLY)
    assert parsed.text_body == (
        "Hello team,\n\nthe scanner is broken & beeps.\nSteps:\n\n- turn on\n- wait\n\nThanks <3"
    )


def test_html_sanitization_removes_scripts_styles_and_event_handlers() -> None:
    raw = raw_message(
        """
From: a@example.com
Content-Type: text/html; charset=utf-8

<div onclick="steal()" style="x">Hi <a href="https://portal.example/t/1" onmouseover="x()">ticket</a>
<a href="javascript:alert(1)">bad</a><script>alert(1)</script><style>div{}</style>
<img src="x" onerror="alert(1)"><iframe src="https://evil.example"></iframe></div>
"""
    )
    html_body = parse(raw).html_body
    for forbidden in (
        "script",
        "alert",
        "onclick",
        "onmouseover",
        "onerror",
        "style",
        "iframe",
        "javascript",
    ):
        assert forbidden not in html_body
    assert '<a href="https://portal.example/t/1" rel="noopener noreferrer">ticket</a>' in html_body
    assert "Ignore me" not in parse(HTML_ONLY).html_body


# --------------------------------------------------------------------------------------------
# Message-IDs, dates, misc headers
# --------------------------------------------------------------------------------------------


def test_no_message_id_is_none() -> None:
    parsed = parse(raw_message("From: a@example.com\nSubject: x\n\nbody\n"))
    assert parsed.message_id is None
    assert parsed.in_reply_to == () and parsed.references == ()
    assert parse(raw_message("From: a@example.com\nMessage-ID:  \n\nbody\n")).message_id is None


def test_in_reply_to_and_references() -> None:
    raw = raw_message(
        """
From: a@example.com
Message-ID:   <new-3@client.example>
In-Reply-To: <ack-2@firstcall> (Help Desk's message of Mon, 3 Mar 2025)
References: <orig-1@client.example>
 <ack-2@firstcall>	<orig-1@client.example>

body
"""
    )
    parsed = parse(raw)
    assert parsed.message_id == "new-3@client.example"
    assert parsed.in_reply_to == ("ack-2@firstcall",)
    assert parsed.references == ("orig-1@client.example", "ack-2@firstcall")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@x>", "abc@x"),
        ("  <abc@x>  ", "abc@x"),
        ("abc@x", "abc@x"),
        ("<abc@\r\n x>", "abc@x"),
        ("", None),
        ("<>", None),
        ("   ", None),
    ],
)
def test_normalize_message_id(value: str, expected: str | None) -> None:
    assert normalize_message_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@x> <b@y>", ("a@x", "b@y")),
        ("<a@x>,<b@y> <a@x>", ("a@x", "b@y")),
        ("a@x b@y junk", ("a@x", "b@y")),
        ("", ()),
        ("no ids here", ()),
    ],
)
def test_split_message_ids(value: str, expected: tuple[str, ...]) -> None:
    assert split_message_ids(value) == expected


def test_dates_are_aware_or_none() -> None:
    utc_unknown = parse(raw_message("From: a@example.com\nDate: Mon, 3 Mar 2025 10:00:00 -0000\n\nx"))
    assert utc_unknown.date == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    assert parse(raw_message("From: a@example.com\nDate: yesterday-ish\n\nx")).date is None
    assert parse(raw_message("From: a@example.com\nDate: Mon, 3 Mar 99999 10:00:00 +0000\n\nx")).date is None


def test_return_path_and_loop_marker() -> None:
    assert parse(raw_message("Return-Path: <>\nFrom: a@example.com\n\nx")).return_path == ""
    assert parse(raw_message("Return-Path: <Bounce@X.example>\nFrom: a@x.example\n\nx")).return_path == (
        "bounce@x.example"
    )
    parsed = parse(raw_message("From: a@example.com\nX-Firstcall-Loop: msp.example T-000123\n\nx"))
    assert parsed.header_loop_marker == "msp.example T-000123"
    assert parsed.auto_reply_suppressed_reason is not None


def test_mbox_from_line_and_leading_blank_lines_are_tolerated() -> None:
    raw = b"\r\nFrom MAILER-DAEMON Mon Mar  3 10:00:00 2025\nFrom: a@example.com\nSubject: x\n\nbody\n"
    assert parse(raw).subject == "x"


# --------------------------------------------------------------------------------------------
# Auto-reply suppression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason_part"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied (RFC 3834)"),
        ("Auto-Submitted: auto-generated; owner-email=x@y", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: list", "Precedence: list"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("X-Loop: helpdesk@msp.example", "X-Loop"),
        ("X-Auto-Response-Suppress: DR, OOF", "X-Auto-Response-Suppress"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress"),
        ("X-Auto-Response-Suppress: AutoReply", "X-Auto-Response-Suppress"),
        ("Return-Path: <>", "Return-Path"),
        ("List-Id: <staff.brightsmile.example>", "List-Id"),
        ("List-Unsubscribe: <mailto:leave@lists.example>", "List-Unsubscribe"),
        ("Subject: Auto: away until Monday", "subject"),
        ("Subject: Automatic reply: Front desk printer", "subject"),
        ("Subject: OUT OF OFFICE until 12 March", "subject"),
    ],
)
def test_each_auto_reply_suppression_rule(header: str, reason_part: str) -> None:
    raw = raw_message(f"From: a@example.com\n{header}\n\nI am away.\n")
    reason = parse(raw).auto_reply_suppressed_reason
    assert reason is not None and reason_part in reason


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "Precedence: first-class",
        "X-Auto-Response-Suppress: DR, RN, NRN",
        "Subject: Automobile fleet: GPS trackers offline",
        "Subject: Re: out of office replies not working",
    ],
)
def test_ordinary_mail_allows_an_auto_reply(header: str) -> None:
    raw = raw_message(f"Return-Path: <a@example.com>\nFrom: a@example.com\n{header}\n\nhello\n")
    assert parse(raw).auto_reply_suppressed_reason is None


# --------------------------------------------------------------------------------------------
# Bounces
# --------------------------------------------------------------------------------------------

DSN = raw_message(
    """
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.brightsmile.example>
To: help@msp.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"

--dsn-b
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--dsn-b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.brightsmile.example
Arrival-Date: Mon,  3 Mar 2025 10:00:00 -0600

Final-Recipient: rfc822; x@y
Original-Recipient: rfc822;X@Y
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user
 unknown

--dsn-b
Content-Type: message/rfc822

From: Help Desk <help@msp.example>
To: x@y
Subject: [T-000123] We received your request
Message-ID: <ack-1@firstcall>

Thanks, we are on it.

--dsn-b--
"""
)


def test_standard_dsn_bounce() -> None:
    parsed = parse(DSN)
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "ack-1@firstcall"
    assert parsed.bounce.recipient == "x@y"
    assert parsed.bounce.action == "failed"
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.diagnostic == "550 5.1.1 user unknown"
    assert parsed.text_body.startswith("I'm sorry to have to inform you")
    assert parsed.auto_reply_suppressed_reason is not None
    # The original message is kept as an attachment; the status part is not.
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


def test_dsn_with_text_rfc822_headers_part() -> None:
    raw = raw_message(
        """
From: postmaster@mx.example
Subject: Delivery Status Notification (Delay)
Content-Type: multipart/report; report-type="Delivery-Status"; boundary=b2

--b2
Content-Type: text/plain

Delivery is delayed.
--b2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: RFC822; <Carl@BrightSmile.example>
Action: delayed
Status: 4.4.7
--b2
Content-Type: text/rfc822-headers

From: help@msp.example
Subject: [T-000124] Update
Message-ID:
 <upd-7@firstcall>
--b2--
"""
    )
    bounce = parse(raw).bounce
    assert bounce is not None
    assert (bounce.original_message_id, bounce.recipient, bounce.action, bounce.status) == (
        "upd-7@firstcall",
        "carl@brightsmile.example",
        "delayed",
        "4.4.7",
    )
    assert bounce.diagnostic is None


def test_non_standard_bounce_from_mailer_daemon_with_attached_message() -> None:
    inner = simple_message(From="help@msp.example", To="gone@example.com", Message_ID="<ack-9@firstcall>")
    outer = EmailMessage()
    outer["From"] = "MAILER-DAEMON@mail.example.com"
    outer["Subject"] = "failure notice"
    outer.set_content(
        "Hi. This is the qmail-send program.\n\n<gone@example.com>:\n"
        "Remote host said: 550 5.1.1 mailbox unavailable\n"
    )
    outer.add_attachment(inner)
    bounce = parse(outer.as_bytes()).bounce
    assert bounce is not None
    assert bounce.original_message_id == "ack-9@firstcall"
    assert bounce.recipient == "gone@example.com"
    assert bounce.status == "5.1.1"


def test_non_standard_bounce_detected_by_subject_with_message_id_in_text() -> None:
    raw = raw_message(
        """
From: Mail Delivery Subsystem <mailer@relay.example>
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

The following message could not be delivered.

   ----- Original message -----
   From: help@msp.example
   Message-ID: <ack-5@firstcall>
   Subject: [T-000125] received
"""
    )
    bounce = parse(raw).bounce
    assert bounce is not None and bounce.original_message_id == "ack-5@firstcall"


def test_read_receipt_is_not_a_bounce_but_suppresses_auto_reply() -> None:
    raw = raw_message(
        """
From: dana@brightsmile.example
Subject: Read: [T-000123] printer
Content-Type: multipart/report; report-type=disposition-notification; boundary=r

--r
Content-Type: text/plain

Your message was read.
--r
Content-Type: message/disposition-notification

Final-Recipient: rfc822; dana@brightsmile.example
Disposition: manual-action/MDN-sent-manually; displayed
--r--
"""
    )
    parsed = parse(raw)
    assert parsed.bounce is None
    assert parsed.auto_reply_suppressed_reason is not None
    assert parsed.text_body == "Your message was read."
    assert parsed.attachments == ()


def test_ordinary_mail_with_forwarded_message_is_not_a_bounce() -> None:
    outer = simple_message(Subject="Fwd: Undelivered Mail Returned to Sender")
    outer.add_attachment(simple_message())
    assert parse(outer.as_bytes()).bounce is None


# --------------------------------------------------------------------------------------------
# Malformed input and rejection
# --------------------------------------------------------------------------------------------


def test_multipart_without_boundary_parameter_is_recovered() -> None:
    raw = raw_message(
        """
From: a@example.com
Content-Type: multipart/mixed

--lost
Content-Type: text/plain

recovered text
--lost
Content-Type: application/pdf
Content-Disposition: attachment; filename="a.pdf"

JVBERg==
--lost--
"""
    )
    parsed = parse(raw)
    assert parsed.text_body == "recovered text"
    assert [a.filename for a in parsed.attachments] == ["a.pdf"]


def test_truncated_multipart_still_parses() -> None:
    msg = simple_message()
    msg.add_attachment(b"x" * 3000, maintype="application", subtype="pdf", filename="cut.pdf")
    raw = msg.as_bytes()
    truncated = raw[: len(raw) - 1500]
    parsed = parse(truncated)
    assert parsed.text_body == "The printer at the front desk shows offline."
    assert [a.filename for a in parsed.attachments] == ["cut.pdf"]
    # A multipart whose boundary never appears still yields the body text.
    parsed = parse(
        raw_message('From: a@example.com\nContent-Type: multipart/mixed; boundary="zz"\n\nonly text\n')
    )
    assert isinstance(parsed.text_body, str)


def test_missing_from_is_rejected() -> None:
    with pytest.raises(EmailRejected) as exc_info:
        parse(raw_message("To: help@msp.example\nSubject: hi\n\nbody\n"))
    assert "From" in exc_info.value.reason
    with pytest.raises(EmailRejected, match="From"):
        parse(raw_message("From: Just A Name\nSubject: hi\n\nbody\n"))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n\r\n",
        b"\x00\x01\x02garbage\xff\xfe",
        b"just some text without headers\n\nmore",
        b": no name\n\nbody",
        b"Subject hi\nFrom: a@example.com\n\nbody",
    ],
)
def test_empty_and_garbage_input_is_rejected(raw: bytes) -> None:
    with pytest.raises(EmailRejected) as exc_info:
        parse(raw)
    assert exc_info.value.reason
    assert str(exc_info.value) == exc_info.value.reason


def test_deeply_nested_multipart_does_not_crash() -> None:
    depth = 400
    parts = [b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"]
    for level in range(1, depth):
        parts.append(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level - 1, level))
    parts.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % (depth - 1))
    try:
        parsed = parse(b"".join(parts))
    except EmailRejected:
        return
    assert isinstance(parsed.text_body, str)


# --------------------------------------------------------------------------------------------
# trim_quoted_reply
# --------------------------------------------------------------------------------------------


def test_trim_gmail_style_reply() -> None:
    text = (
        "Thanks, that fixed it!\n\n"
        "    indented detail stays indented\n\n"
        "On Mon, Mar 3, 2025 at 10:15 AM Help Desk <help@msp.example> wrote:\n\n"
        "> Please restart the printer.\n> \n> Bob\n"
    )
    assert trim_quoted_reply(text) == "Thanks, that fixed it!\n\n    indented detail stays indented"


def test_trim_gmail_attribution_wrapped_over_two_lines() -> None:
    text = "Works now.\n\nOn Mon, Mar 3, 2025 at 10:15 AM Help Desk <help@msp.example>\nwrote:\n> old\n"
    assert trim_quoted_reply(text) == "Works now."


def test_trim_outlook_original_message_block() -> None:
    text = (
        "It still fails after the restart.\n\nDana\n\n"
        "-----Original Message-----\nFrom: Help Desk <help@msp.example>\n"
        "Sent: Monday, March 3, 2025 10:15 AM\nTo: Dana Whitfield\nSubject: RE: printer\n\nPlease restart.\n"
    )
    assert trim_quoted_reply(text) == "It still fails after the restart.\n\nDana"


def test_trim_outlook_from_sent_block() -> None:
    text = (
        "Still broken.\r\n\r\n________________________________\r\n"
        "From: Help Desk <help@msp.example>\r\nSent: Monday, March 3, 2025 10:15 AM\r\n"
        "To: Dana Whitfield <dana@brightsmile.example>\r\nSubject: [T-000123] printer\r\n"
        "\r\nPlease restart.\r\n"
    )
    assert trim_quoted_reply(text) == "Still broken."


def test_trim_greater_than_quotes_and_signature() -> None:
    text = "Yes, it is plugged in.\n-- \nDana Whitfield\nOffice manager\n\n> Is it plugged in?\n> Bob\n"
    assert trim_quoted_reply(text) == "Yes, it is plugged in."
    text = "Yes.\n\nBob wrote:\n> Is it plugged in?\n"
    assert trim_quoted_reply(text) == "Yes."


def test_trim_german_reply() -> None:
    text = "Danke, geht wieder.\n\nAm 03.03.2025 um 10:15 schrieb Help Desk <help@msp.example>:\n> Hallo\n"
    assert trim_quoted_reply(text) == "Danke, geht wieder."


def test_trim_text_without_quotes_is_unchanged() -> None:
    text = "Hello,\n\nthe scanner beeps:\n- three times\n- then stops\n\nThanks, Dana"
    assert trim_quoted_reply(text) == text


def test_trim_never_returns_empty_for_content() -> None:
    only_quote = "> the whole message is a quote\n> still quoted"
    assert trim_quoted_reply(only_quote) == only_quote
    header_first = "On Mon, Mar 3, 2025 Bob <b@x> wrote:\n> hi"
    assert trim_quoted_reply(header_first) == header_first
    assert trim_quoted_reply("") == ""
    assert trim_quoted_reply("  \n ") == ""


def test_trim_is_fast_on_pathological_input() -> None:
    # mail-parser-reply's "On ... wrote:" regex backtracks badly on long lines of "On ..." words.
    text = "Real reply.\n" + ("On a b c d e f g " * 3000 + "\n") * 3 + ("On x y z " * 20 + "\n") * 2000
    started = time.perf_counter()
    assert trim_quoted_reply(text).startswith("Real reply.")
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

HEADER_BLOCK = b"From: Dana <dana@brightsmile.example>\r\nTo: help@msp.example\r\nSubject: hi\r\n"

MIME_FRAGMENTS = [
    b"From: a@example.com\r\n",
    b"From: =?utf-8?b?w6k=?= <a@b>\r\n",
    b"Subject: =?x-unknown?q?=FF?=\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"Content-Type: text/html; charset=koi8-r\r\n",
    b"Content-Type: text/plain; charset*=x''%FF\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1*=%82\r\n",
    b"Content-ID: <x>\r\n",
    b"Final-Recipient: rfc822; x@y\r\n",
    b"Message-ID: <m@x>\r\n",
    b"\r\n",
    b"--b\r\n",
    b"--b--\r\n",
    b"begin 644 x\r\n",
    b"<p onclick=x>hi<script>",
    b"=?utf-8?q?=C3?=",
    b"\xff\xfe\x00",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_property_arbitrary_bytes_parse_or_reject(raw: bytes) -> None:
    try:
        parsed = parse(raw, limit=500)
    except EmailRejected as exc:
        assert exc.reason
    else:
        assert isinstance(parsed, ParsedEmail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_property_valid_headers_with_arbitrary_body(body: bytes) -> None:
    parsed = parse(HEADER_BLOCK + b"\r\n" + body, limit=500)
    assert parsed.from_address == "dana@brightsmile.example"
    assert isinstance(parsed.text_body, str)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MIME_FRAGMENTS) | st.binary(max_size=40), max_size=40))
def test_property_mime_like_fragments_parse_or_reject(fragments: list[bytes]) -> None:
    try:
        parsed = parse(b"".join(fragments), limit=50)
    except EmailRejected as exc:
        assert exc.reason
        return
    for value in (parsed.subject, parsed.from_name, parsed.text_body, parsed.html_body):
        value.encode("utf-8")  # never lone surrogates
        assert "\x00" not in value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_property_trim_quoted_reply_never_raises(text: str) -> None:
    result = trim_quoted_reply(text)
    assert isinstance(result, str)
    if text.strip():
        assert result.strip()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["> quoted", "On Mon, Bob wrote:", "-- ", "From: x", "Sent: y", "text", ""]),
        max_size=30,
    )
)
def test_property_trim_on_reply_like_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    result = trim_quoted_reply(text)
    assert bool(result.strip()) == bool(text.strip())


def test_module_has_no_django_dependency() -> None:
    tree = ast.parse(Path(email_parser.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not any(name.split(".")[0] == "django" for name in imported)
