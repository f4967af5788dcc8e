"""Words, links and attachments of the suspicious email."""

from __future__ import annotations

import io
import zipfile

from firstcall.security.content import (
    assess_attachment,
    find_phrases,
    link_problems,
    links_in,
    unwrap_link,
)


def test_phrases_are_whole_words_any_case_and_spacing() -> None:
    found = find_phrases("URGENT:  our Bank\n details changed, WIRE today. Don’t tell anyone.")
    assert found["payment"].phrases == ("Bank details", "WIRE")
    assert found["urgency"].phrases == ("URGENT", "today")
    assert found["secrecy"].phrases == ("Don’t tell",)
    assert found["payment"].excerpt == "URGENT: our Bank details changed, WIRE today. Don’t tell anyone."
    # Whole words only: "wireless" and "achieve" are not "wire" and "ACH".
    assert find_phrases("The wireless router helps us achieve more.") == {}


def test_links_and_their_text() -> None:
    links = links_in('<a href="https://a.example/x">Click <b>here</b></a><a>no href</a><a href=" /rel ">x')
    assert [(link.href, link.text) for link in links] == [
        ("https://a.example/x", "Click here"),
        ("/rel", "x"),
    ]


def test_link_text_naming_another_site() -> None:
    problems, hosts = link_problems(
        '<a href="https://evil.example/pay">https://www.vendor.example/pay</a>'
        '<a href="https://www.vendor.example/">vendor.example</a>'  # same site: fine
        '<a href="https://shop.vendor.example/">Our shop</a>'  # words, not a site: fine
        '<a href="mailto:x@evil.example">vendor.example</a>'  # not a web link
    )
    assert [(p.shown_host, p.real_host) for p in problems] == [("www.vendor.example", "evil.example")]
    assert hosts == ["evil.example", "www.vendor.example", "shop.vendor.example"]


def test_rewritten_links_are_judged_by_their_real_destination() -> None:
    safelink = "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2Fpay&data=05"
    assert unwrap_link(safelink) == "https://evil.example/pay"
    assert (
        unwrap_link("https://urldefense.com/v3/__https://evil.example/pay__;!!abc$")
        == "https://evil.example/pay"
    )
    assert unwrap_link("https://www.google.com/url?q=https://evil.example/&sa=D") == "https://evil.example/"
    problems, _ = link_problems(f'<a href="{safelink}">https://vendor.example/pay</a>')
    assert problems[0].real_host == "evil.example"
    # A rewritten link to the site its text names is fine.
    fine = "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fvendor.example%2F"
    assert link_problems(f'<a href="{fine}">vendor.example</a>')[0] == []


def zipped(*names: str, encrypted: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"data")
    data = bytearray(buffer.getvalue())
    if encrypted:
        # Set the "encrypted" flag on every entry, as a password-protected zip has it.
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = 0
            while (found := data.find(signature, start)) != -1:
                data[found + offset] |= 0x1
                start = found + 4
    return bytes(data)


def test_attachments() -> None:
    assert assess_attachment("invoice.pdf", "application/pdf", b"%PDF") is None
    exe = assess_attachment("invoice.pdf.exe", "application/octet-stream", b"MZ")
    assert exe is not None and exe.why == "invoice.pdf.exe is a program or script (disguised as a .pdf)"
    assert assess_attachment("payload", "application/x-msdownload", b"MZ") is not None
    macro = assess_attachment("Remittance.xlsm", "application/octet-stream", b"PK")
    assert macro is not None and macro.kind == "macro"
    page = assess_attachment("login.svg", "image/svg+xml", b"<svg>")
    assert page is not None and page.kind == "web_page"
    inner = assess_attachment("docs.zip", "application/zip", zipped("a.pdf", "b.vbs"))
    assert inner is not None and (inner.kind, inner.why) == ("executable", "docs.zip holds b.vbs")
    assert assess_attachment("photos.zip", "application/zip", zipped("a.jpg")) is None
    locked = assess_attachment("secure.zip", "application/zip", zipped("a.pdf", encrypted=True))
    assert locked is not None and "password-protected" in locked.why
    opaque = assess_attachment("files.rar", "application/x-rar", b"Rar!")
    assert opaque is not None and opaque.why == "files.rar is an archive we cannot look inside"
