"""A deterministic corpus of realistic helpdesk email for the benchmarks.

One third plain new requests, one third multipart with a PDF attachment, one third replies to
earlier messages of the corpus (threaded by In-Reply-To/References). Senders are at the demo
clients' domains, so `firstcall demo` data makes most of them known contacts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

DOMAINS = ["brightsmile.example", "haleporter.example", "oliveember.example", "unknown-isp.example"]
PEOPLE = ["dana", "carl", "maria", "li", "omar", "sofia", "jack", "priya", "noah", "ava"]
PROBLEMS = [
    (
        "Outlook keeps asking for my password",
        "Since this morning Outlook prompts for the password every 5 minutes.",
    ),
    (
        "Server down - no patient records",
        "Nobody in the office can open the practice software. Server light is amber.",
    ),
    (
        "Payroll won't submit before 2pm cut-off",
        "The payroll portal rejects the upload with error 0x80070005.",
    ),
    ("Printer jam at front desk", "Paper jam light on, nothing visible inside."),
    ("Wire transfer request looks off", "Got an email from our 'CEO' asking for an urgent wire of $48,000."),
    ("New hire starts Monday", "Please set up a laptop, email and VPN for our new associate."),
    ("Wi-Fi drops in the conference room", "Guests cannot stay connected for more than a few minutes."),
    ("Ransom note on the file server", "Files on S: are renamed .locked and there is a READ_ME.txt."),
]
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 80 + b"\n%%EOF\n"  # ~20 KB


def generate(count: int, seed: int = 2026) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    messages: list[bytes] = []
    earlier: list[tuple[str, str, str]] = []  # (message id, subject, sender)
    for n in range(count):
        kind = n % 3
        msg = EmailMessage()
        message_id = f"<bench-{seed}-{n}@mail.example>"
        if kind == 2 and earlier:
            parent_id, parent_subject, sender = rng.choice(earlier[-200:])
            msg["Subject"] = f"Re: {parent_subject}"
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
            body = "Any update on this? It is still happening.\n\nOn Monday, support wrote:\n> We are on it."
        else:
            subject, body = rng.choice(PROBLEMS)
            sender = f"{rng.choice(PEOPLE)}{rng.randint(1, 40)}@{rng.choice(DOMAINS)}"
            msg["Subject"] = f"{subject} (#{n})"
            earlier.append((message_id, msg["Subject"], sender))
        msg["From"] = sender
        msg["To"] = "support@msp.example"
        msg["Message-ID"] = message_id
        msg["Date"] = format_datetime(start + timedelta(minutes=n))
        msg.set_content(body + "\n\n-- \nSent from my phone\n")
        if kind == 1:
            # Each file differs: identical files are stored once, which would flatter the figures.
            unique_pdf = PDF.replace(b"%%EOF", f"% screenshot {n}\n%%EOF".encode())
            msg.add_attachment(
                unique_pdf, maintype="application", subtype="pdf", filename=f"screenshot-{n}.pdf"
            )
        messages.append(msg.as_bytes())
    return messages


def write(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, raw in enumerate(generate(count)):
        path = folder / f"{n:05d}.eml"
        path.write_bytes(raw)
        paths.append(path)
    return paths


def seed_known_contacts() -> int:
    """Make the corpus's senders at the demo clients' domains known contacts, as most senders
    are at a real MSP (mail from strangers, at unknown-isp.example, stays a quarter)."""
    from firstcall.clients.models import Contact, EmailDomain

    created = 0
    for domain in EmailDomain.objects.select_related("client").filter(domain__in=DOMAINS):
        for person in PEOPLE:
            for n in range(1, 41):
                _, made = Contact.objects.get_or_create(
                    email=f"{person}{n}@{domain.domain}",
                    defaults={"client": domain.client, "name": f"{person.title()} {n}"},
                )
                created += made
    return created
