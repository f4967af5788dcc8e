"""Property tests: whatever a forward holds — any header, any body, any bytes — recovering the
original and analysing it never raises, and the score stays within 0–100."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from firstcall.intake.request import IncomingRequest, Person
from firstcall.security.analysis import MAX_SCORE, Verdict, analyze
from firstcall.security.intake import as_verification_request
from firstcall.security.original import OriginalMessage, recover_original
from tests.security.conftest import DENTAL_KNOWN

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "Reply-To",
        "Return-Path",
        "Subject",
        "Date",
        "To",
        "Authentication-Results",
        "Received-SPF",
        "DKIM-Signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "X-Anything",
    ]
)
TEXT = st.text(max_size=200)
HEADERS = st.lists(st.tuples(HEADER_NAMES, TEXT), max_size=12)
BODIES = st.one_of(st.binary(max_size=800), TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")))
LOOKUPS = st.one_of(st.none(), st.binary(max_size=200).map(lambda record: lambda name, timeout=5: record))
SETTINGS = hypothesis_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def header_block(headers: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass") for name, value in headers)


def check(raw: bytes, lookup: object) -> None:
    analysis = analyze(recover_original(raw), DENTAL_KNOWN, dns_lookup=lookup, dns_timeout=1)  # type: ignore[arg-type]
    assert analysis.verdict in Verdict.values
    assert 0 <= analysis.score <= MAX_SCORE
    for finding in analysis.findings:
        assert finding.title and finding.explanation


@SETTINGS
@given(headers=HEADERS, body=BODIES, lookup=LOOKUPS)
def test_any_message_forwarded_as_it_is(headers: list[tuple[str, str]], body: bytes, lookup: object) -> None:
    check(header_block(headers) + b"\r\n" + body, lookup)


@SETTINGS
@given(headers=HEADERS, body=BODIES, lookup=LOOKUPS, inline=TEXT)
def test_any_message_forwarded_as_an_attachment_or_inline(
    headers: list[tuple[str, str]], body: bytes, lookup: object, inline: str
) -> None:
    inner = header_block(headers) + b"\r\n" + body
    forward = (
        b"From: dana@brightsmile.example\r\nTo: verify@msp.example\r\nSubject: FW\r\n"
        b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\n'
        + b"Is this real?\r\n---------- Forwarded message ---------\r\n"
        + inline.encode("utf-8", "surrogatepass")
        + b"\r\n--b0\r\nContent-Type: message/rfc822\r\n\r\n"
        + inner
        + b"\r\n--b0--\r\n"
    )
    check(forward, lookup)
    request = IncomingRequest(sender=Person("dana@brightsmile.example"), subject="FW", body_text="x")
    as_verification_request(request, forward, ["verify@msp.example"])


@SETTINGS
@given(
    from_name=TEXT,
    from_address=TEXT,
    subject=TEXT,
    text=TEXT,
    html=st.text(max_size=400),
    reply_to=st.lists(TEXT, max_size=3),
    return_path=TEXT,
    headers=HEADERS,
    raw=st.binary(max_size=300),
    attachments=st.lists(st.tuples(TEXT, TEXT, st.binary(max_size=200)), max_size=3),
    how=st.sampled_from(["attachment", "inline"]),
)
def test_any_recovered_fields(
    from_name: str,
    from_address: str,
    subject: str,
    text: str,
    html: str,
    reply_to: list[str],
    return_path: str,
    headers: list[tuple[str, str]],
    raw: bytes,
    attachments: list[tuple[str, str, bytes]],
    how: str,
) -> None:
    from firstcall.security.original import OriginalAttachment

    original = OriginalMessage(
        how=how,  # type: ignore[arg-type]
        from_name=from_name,
        from_address=from_address,
        subject=subject,
        date="",
        text=text,
        html=html,
        reply_to=tuple(reply_to),
        return_path=return_path,
        attachments=tuple(OriginalAttachment(*attachment) for attachment in attachments),
        headers=tuple((name.lower(), value) for name, value in headers),
        raw=raw,
    )
    analysis = analyze(original, DENTAL_KNOWN)
    assert 0 <= analysis.score <= MAX_SCORE
