"""The verdicts on a corpus of crafted emails, each forwarded the way clients forward: as an
attachment (intact) and inline (headers lost). Pure: no database; DKIM keys come from the test."""

from __future__ import annotations

import io
import zipfile

import pytest

from firstcall.security.analysis import Analysis, Verdict, analyze
from firstcall.security.original import recover_original
from tests.security.conftest import DENTAL_KNOWN
from tests.security.corpus import (
    INLINE_STYLES,
    KeyPair,
    authentication_results,
    forward_as_attachment,
    forward_inline,
    suspicious_email,
)

VINCE = "Vince Albright <vince@vendor.example>"
BANK_CHANGE = (
    "Hello Dana,\n\nPlease note our bank details have changed. Kindly update your records and send "
    "today's payment for invoice 4471 to the new account below.\n\nRouting number 021000021\n"
    "Account number 4455667788\n\nVince"
)


def analysis_of(forward: bytes, keys: KeyPair | None = None, domain: str = "vendor.example") -> Analysis:
    original = recover_original(forward)
    assert original is not None
    return analyze(original, DENTAL_KNOWN, dns_lookup=keys.lookup_for(domain) if keys else None)  # type: ignore[arg-type]


def codes(analysis: Analysis) -> set[str]:
    return {finding.code for finding in analysis.red_flags}


def test_genuine_invoice_from_a_known_supplier_has_no_red_flags(keys: KeyPair) -> None:
    original = suspicious_email(
        sender=VINCE,
        subject="March invoice",
        text=(
            "Hi Dana,\n\nAttached is the March invoice for the sterilisation supplies, as agreed."
            "\n\nKind regards,\nVince"
        ),
        return_path="vince@vendor.example",
        auth=authentication_results(domain="vendor.example"),
        attachments=(("invoice-4471.pdf", "application/pdf", b"%PDF-1.4 invoice"),),
        sign_with=(keys, "vendor.example"),
    )
    analysis = analysis_of(forward_as_attachment(original), keys)
    assert analysis.verdict == Verdict.NO_RED_FLAGS
    assert analysis.score == 0
    passed = {f.code for f in analysis.findings if f.state == "passed"}
    assert passed == {"dmarc_pass", "spf_pass", "dkim_pass", "dkim_signature_valid"}
    assert "known_sender_address" in {f.code for f in analysis.findings}


def test_lookalike_domain_asking_for_new_bank_details_is_likely_fraud() -> None:
    # A name nobody at the practice knows: the domain alone must give it away.
    original = suspicious_email(
        sender="Accounts Receivable <accounts@vendorr.example>",
        subject="Updated bank details",
        text=BANK_CHANGE,
        return_path="accounts@vendorr.example",
        # The fraudster's own domain passes every check: only the lookalike gives it away.
        auth=authentication_results(domain="vendorr.example"),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert analysis.verdict == Verdict.LIKELY_FRAUD
    assert codes(analysis) == {"lookalike_domain", "payment_language", "urgency_language"}
    assert analysis.score == 45 + 25 + 10
    lookalike = next(f for f in analysis.findings if f.code == "lookalike_domain")
    assert "vendorr.example" in lookalike.evidence and "vendor.example" in lookalike.evidence
    assert (
        lookalike.explanation
        == "The sender address is at vendorr.example, which looks like vendor.example but is not it."
    )


def test_reply_to_swap_to_a_lookalike_is_likely_fraud() -> None:
    original = suspicious_email(
        sender=VINCE,
        reply_to="accounts@vendor-payments.example",
        subject="Invoice 4471",
        text="Dana, please reply with confirmation once the wire has been sent.",
        auth=authentication_results(domain="vendor.example"),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert analysis.verdict == Verdict.LIKELY_FRAUD
    assert {"reply_to_differs", "lookalike_domain", "payment_language"} <= codes(analysis)
    reply_to = next(f for f in analysis.findings if f.code == "reply_to_differs")
    assert reply_to.evidence == "From: vince@vendor.example; Reply-To: accounts@vendor-payments.example"


def test_reply_to_swap_alone_is_suspicious() -> None:
    original = suspicious_email(
        sender=VINCE,
        reply_to="vince.albright@gmail.com",
        subject="Quick question",
        text="Dana, can you send me the delivery schedule?",
        auth=authentication_results(domain="vendor.example"),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == {"reply_to_differs"}
    assert (analysis.verdict, analysis.score) == (Verdict.SUSPICIOUS, 25)


def test_failed_dmarc_on_the_clients_own_domain_is_likely_fraud() -> None:
    original = suspicious_email(
        sender="Dana Reyes <dana@brightsmile.example>",
        to="Carl Mendes <carl@brightsmile.example>",
        subject="Are you at your desk?",
        text="Carl, are you at your desk? I need a quick favor.",
        auth=authentication_results(
            spf="fail", dkim_result="none", dmarc="fail", domain="brightsmile.example"
        ),
    )
    analysis = analysis_of(
        forward_as_attachment(original, forwarder="Carl Mendes <carl@brightsmile.example>")
    )
    assert codes(analysis) == {"dmarc_fail", "spf_fail", "urgency_language"}
    assert (analysis.verdict, analysis.score) == (Verdict.LIKELY_FRAUD, 70)
    dmarc = next(f for f in analysis.findings if f.code == "dmarc_fail")
    assert "dmarc=fail" in dmarc.evidence
    assert dmarc.explanation.startswith("The email claims to come from brightsmile.example")


def test_display_name_impersonation_asking_for_gift_cards_is_likely_fraud() -> None:
    original = suspicious_email(
        sender="Dana Reyes <dana.reyes.office@gmail.com>",
        to="Carl Mendes <carl@brightsmile.example>",
        subject="Request",
        text=(
            "Carl, I'm in a meeting and can't talk. I need you to buy 5 Apple gift cards for a "
            "patient's gift. Keep this between us for now."
        ),
        auth=authentication_results(domain="gmail.com"),
    )
    analysis = analysis_of(
        forward_as_attachment(original, forwarder="Carl Mendes <carl@brightsmile.example>")
    )
    assert codes(analysis) == {"display_name_impersonation", "gift_cards", "avoids_phone", "secrecy_language"}
    assert (analysis.verdict, analysis.score) == (Verdict.LIKELY_FRAUD, 100)  # 105, capped
    impersonation = next(f for f in analysis.findings if f.code == "display_name_impersonation")
    assert impersonation.evidence == (
        "From: Dana Reyes <dana.reyes.office@gmail.com> (a free mail address); "
        "we know Dana Reyes as dana@brightsmile.example"
    )


def test_display_name_in_last_first_order_still_impersonates() -> None:
    original = suspicious_email(
        sender='"Reyes, Dana" <ceo@dana-mail.example>', subject="Hi", text="Call me back"
    )
    assert "display_name_impersonation" in codes(analysis_of(forward_as_attachment(original)))


def test_known_name_at_a_lookalike_domain_adds_impersonation_to_the_lookalike() -> None:
    original = suspicious_email(
        sender="Vince Albright <vince@vendorr.example>", subject="Bank", text=BANK_CHANGE
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == {
        "lookalike_domain",
        "display_name_impersonation",
        "payment_language",
        "urgency_language",
    }
    assert analysis.score == 100


def test_homoglyph_domain_is_caught_as_lookalike_characters() -> None:
    cyrillic = "v\u0435ndor.example".encode("idna").decode()  # "vеndor" with a Cyrillic е
    assert cyrillic.startswith("xn--")
    original = suspicious_email(
        sender=f"Accounts Receivable <accounts@{cyrillic}>",
        subject="New bank details",
        text="Please use our new bank details from now on.",
        auth=authentication_results(domain=cyrillic),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == {"confusable_domain", "payment_language"}
    assert analysis.verdict == Verdict.LIKELY_FRAUD
    finding = next(f for f in analysis.findings if f.code == "confusable_domain")
    assert f"written {cyrillic}, it displays as v\u0435ndor.example" in finding.evidence


def test_digit_for_letter_domain_is_caught_as_lookalike_characters() -> None:
    original = suspicious_email(sender="Dana <dana@bright5mi1e.example>", subject="Hi", text="Hello")
    # "5" for "s" is no lookalike in the map, but "1" for "l" is, and one letter off is a typo.
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) & {"confusable_domain", "lookalike_domain"}


def test_mismatched_link_to_a_bare_address_is_suspicious() -> None:
    original = suspicious_email(
        sender=VINCE,
        subject="Your statement",
        text="Your statement is ready.",
        html='<p>Your statement is ready: <a href="https://203.0.113.9/login">https://vendor.example/statements</a></p>',
        auth=authentication_results(domain="vendor.example"),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == {"link_mismatch"}
    assert (analysis.verdict, analysis.score) == (Verdict.SUSPICIOUS, 25)
    link = next(f for f in analysis.findings if f.code == "link_mismatch")
    assert link.explanation == "A link reads vendor.example but leads to 203.0.113.9."


def test_link_to_a_lookalike_site_counts_twice() -> None:
    original = suspicious_email(
        sender=VINCE,
        subject="Your statement",
        text="Your statement is ready.",
        html='<a href="https://vendor-invoices.example.net/login">vendor.example/invoices</a>',
        auth=authentication_results(domain="vendor.example"),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == {"link_mismatch", "lookalike_domain"}
    assert analysis.verdict == Verdict.LIKELY_FRAUD


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "code", "verdict"),
    [
        (
            "Invoice_4471.pdf.exe",
            "application/octet-stream",
            b"MZ\x90\x00",
            "executable_attachment",
            Verdict.SUSPICIOUS,
        ),
        (
            "Remittance.docm",
            "application/vnd.ms-word.document.macroEnabled.12",
            b"PK",
            "macro_attachment",
            Verdict.SUSPICIOUS,
        ),
        (
            "Secure_Message.html",
            "text/html",
            b"<form action=https://x.example>",
            "html_attachment",
            Verdict.SUSPICIOUS,
        ),
        ("statement.pdf", "application/pdf", b"%PDF-1.4", None, Verdict.NO_RED_FLAGS),
    ],
)
def test_risky_attachments(
    filename: str, content_type: str, content: bytes, code: str | None, verdict: Verdict
) -> None:
    original = suspicious_email(
        sender=VINCE,
        subject="Documents",
        text="Please see the attached.",
        auth=authentication_results(domain="vendor.example"),
        attachments=((filename, content_type, content),),
    )
    analysis = analysis_of(forward_as_attachment(original))
    assert codes(analysis) == ({code} if code else set())
    assert analysis.verdict == verdict


def test_zip_holding_a_script_is_an_executable_attachment() -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("Invoice_4471.js", "WScript.Shell")
    original = suspicious_email(
        sender=VINCE,
        subject="Invoice",
        text="Invoice attached.",
        auth=authentication_results(domain="vendor.example"),
        attachments=(("Invoice_4471.zip", "application/zip", packed.getvalue()),),
    )
    analysis = analysis_of(forward_as_attachment(original))
    finding = next(f for f in analysis.red_flags)
    assert finding.code == "executable_attachment"
    assert finding.evidence == "Invoice_4471.zip holds Invoice_4471.js"


@pytest.mark.parametrize("style", INLINE_STYLES)
def test_inline_forward_gives_the_same_verdict_without_the_header_checks(style: str) -> None:
    forward = forward_inline(
        style=style,
        sender="Accounts Receivable <accounts@vendorr.example>",
        subject="Updated bank details",
        text=BANK_CHANGE,
    )
    analysis = analysis_of(forward)
    assert analysis.how == "inline"
    assert (analysis.from_name, analysis.from_address) == ("Accounts Receivable", "accounts@vendorr.example")
    assert analysis.subject == "Updated bank details"
    assert codes(analysis) == {"lookalike_domain", "payment_language", "urgency_language"}
    assert analysis.verdict == Verdict.LIKELY_FRAUD
    unavailable = [f for f in analysis.findings if f.state == "unavailable"]
    assert [f.code for f in unavailable] == ["authentication_unavailable"]


def test_apple_mail_inline_forward_keeps_the_reply_to() -> None:
    forward = forward_inline(
        style="apple",
        sender=VINCE,
        reply_to="vince.albright@gmail.com",
        subject="Quick question",
        text="Can you send me the delivery schedule?",
    )
    analysis = analysis_of(forward)
    assert codes(analysis) == {"reply_to_differs"}


def test_inline_forward_reads_links_and_attachments_of_the_forward() -> None:
    forward = forward_inline(
        style="gmail",
        sender=VINCE,
        subject="Statement",
        text="Statement attached.",
        html='<a href="https://203.0.113.9/">https://vendor.example/</a>',
        attachments=(("statement.html", "text/html", b"<form>"),),
    )
    assert codes(analysis_of(forward)) == {"link_mismatch", "html_attachment"}


def test_a_message_without_a_forwarded_email_cannot_be_judged() -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Dana Reyes <dana@brightsmile.example>"
    message["To"] = "verify@msp.example"
    message["Subject"] = "Someone called me about our bank"
    message.set_content("A man called saying he is from our bank. Is that normal?")
    assert recover_original(message.as_bytes()) is None
    analysis = analyze(None, DENTAL_KNOWN)
    assert (analysis.verdict, analysis.score) == (Verdict.UNDETERMINED, 0)
    assert analysis.findings[0].state == "unavailable"


def test_the_documented_weights_are_the_weights() -> None:
    import re
    from pathlib import Path

    from firstcall.security.analysis import WEIGHTS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "verification.md").read_text()
    documented = {
        code: int(weight) for code, weight in re.findall(r"^\| `(\w+)` \| (\d+) \|", doc, re.MULTILINE)
    }
    assert documented == WEIGHTS


def test_a_kind_of_red_flag_counts_once() -> None:
    original = suspicious_email(
        sender="Accounts <accounts@vendorr.example>",
        reply_to="ar@vendor-payments.example",
        subject="Statement",
        text="Your statement.",
    )
    analysis = analysis_of(forward_as_attachment(original))
    lookalikes = [f for f in analysis.findings if f.code == "lookalike_domain"]
    assert [(f.counted, f.weight) for f in lookalikes] == [(True, 45), (False, 0)]
    assert analysis.score == 45 + 25  # the lookalikes once, and the Reply-To
