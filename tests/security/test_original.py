"""Getting the suspicious email back out of a client's forward."""

from __future__ import annotations

from email.message import EmailMessage

from firstcall.security.original import recover_original
from tests.security.corpus import forward_as_attachment, forward_inline, suspicious_email


def test_attached_original_is_intact() -> None:
    original = suspicious_email(
        sender="Vince <vince@vendor.example>",
        reply_to="pay@elsewhere.example",
        subject="Invoice",
        text="Pay it.",
        html="<p>Pay <a href='https://x.example'>it</a></p>",
        return_path="bounce@vendor.example",
        auth="mx.brightsmile.example; spf=pass smtp.mailfrom=vendor.example",
    )
    recovered = recover_original(forward_as_attachment(original, note="Real? Dana"))
    assert recovered is not None
    assert recovered.how == "attachment" and recovered.intact
    assert (recovered.from_name, recovered.from_address) == ("Vince", "vince@vendor.example")
    assert recovered.reply_to == ("pay@elsewhere.example",)
    assert recovered.return_path == "bounce@vendor.example"
    assert recovered.subject == "Invoice"
    assert recovered.date == "Mon, 02 Mar 2026 08:12:00 -0600"
    assert recovered.text.strip() == "Pay it."
    assert "https://x.example" in recovered.html
    assert recovered.header_values("authentication-results") == [
        "mx.brightsmile.example; spf=pass smtp.mailfrom=vendor.example"
    ]
    assert "Real? Dana" not in recovered.text


def test_gmail_inline_forward() -> None:
    forward = forward_inline(
        style="gmail", sender="Vince <vince@vendor.example>", subject="Invoice", text="Pay it."
    )
    recovered = recover_original(forward)
    assert recovered is not None
    assert (recovered.how, recovered.intact) == ("inline", False)
    assert (recovered.from_name, recovered.from_address, recovered.subject) == (
        "Vince",
        "vince@vendor.example",
        "Invoice",
    )
    assert recovered.date == "Mon, Mar 2, 2026 at 8:12 AM"
    assert recovered.text == "Pay it."


def test_outlook_inline_forward_with_mailto_brackets_and_no_separator() -> None:
    message = EmailMessage()
    message["From"] = "dana@brightsmile.example"
    message["To"] = "verify@msp.example"
    message["Subject"] = "FW: Wire"
    message.set_content(
        "Please check.\n\nFrom: Vince Albright [mailto:vince@vendor.example]\n"
        "Sent: Monday, March 2, 2026 8:12 AM\n"
        "To: Dana Reyes\nSubject: Wire today\n\nSend the wire today."
    )
    recovered = recover_original(message.as_bytes())
    assert recovered is not None
    assert (recovered.from_name, recovered.from_address) == ("Vince Albright", "vince@vendor.example")
    assert recovered.subject == "Wire today"
    assert recovered.text == "Send the wire today."


def test_an_attached_email_wins_over_a_pasted_block() -> None:
    original = suspicious_email(sender="Real <real@vendor.example>", subject="Attached one", text="x")
    forward = forward_as_attachment(
        original, note="---------- Forwarded message ---------\nFrom: Pasted <pasted@x.example>\n\ny"
    )
    recovered = recover_original(forward)
    assert recovered is not None and recovered.from_address == "real@vendor.example"


def test_nothing_to_recover() -> None:
    for raw in (
        b"",
        b"\x00\xff",
        b"Subject: hi\r\n\r\nno from here",
        b"From: a@b.example\r\n\r\nJust a note.",
    ):
        assert recover_original(raw) is None
