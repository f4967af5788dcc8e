"""Mail to a verify address (FIRSTCALL_VERIFY_ADDRESSES) is a request to check a suspicious
email. The email channel hands every interpreted message here (``as_verification_request``): one
sent to a verify address becomes a ``VerificationRequest``, which the one intake pipeline
stores, opens and acknowledges like any other request and then hands to
``firstcall.security.verification.start_verification``.

Pure, like the channel's interpretation: no database.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from firstcall.intake.addresses import is_our_address
from firstcall.intake.request import IncomingRequest, Person
from firstcall.security.original import recover_original

# The ticket's subject starts with this. Its word "phishing" is one of triage's security phrases
# (firstcall.triage.signals.SECURITY_PHRASES), so a verification is triaged as a possible
# security incident — urgency high, P2 at least — by the same engine as every ticket, on a
# re-triage too. tests/security asserts it stays so.
SUBJECT_PREFIX = "Phishing check: "
_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|fw|tr|wg|rv)\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class VerificationRequest(IncomingRequest):
    """A client asks whether a suspicious email is genuine. Always its own ticket: it never
    threads onto another, even when the forwarded email names a ticket or answers one of ours."""

    verify_address: str = ""
    # Who the suspicious email claims to be from, as written in it (to find whom to call back
    # among the client's contacts; its address and numbers are never used to contact anyone).
    claimed: Person = field(default_factory=Person)
    original_subject: str = ""


def verify_addresses() -> frozenset[str]:
    return frozenset(address.strip().lower() for address in settings.FIRSTCALL_VERIFY_ADDRESSES if address)


def verification_subject(subject: str) -> str:
    """ "Phishing check: New bank details" for "Fwd: FW: New bank details"."""
    bare = _FORWARD_PREFIX.sub("", subject).strip()
    return f"{SUBJECT_PREFIX}{bare or '(no subject)'}"


def as_verification_request(
    request: IncomingRequest, raw: bytes, recipients: Iterable[str]
) -> IncomingRequest:
    """``request`` as a verification request when it went to a verify address and either
    carries a forwarded email or went to no other address of ours (a plain message to support@
    that also copies verify@ stays an ordinary request); otherwise ``request`` unchanged."""
    ours = verify_addresses()
    addressed = [r.strip().strip("<>").lower() for r in recipients]
    address = next((r for r in addressed if r in ours), "")
    if not address or isinstance(request, VerificationRequest):
        return request
    original = recover_original(raw)
    if original is None and any(is_our_address(r) for r in addressed if r not in ours):
        return request
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(IncomingRequest)}
    fields.update(
        subject=verification_subject(original.subject if original and original.subject else request.subject),
        replies_to=(),
        named_ticket_id=None,
        # The verify address itself is ours, never a participant to copy.
        participants=tuple(p for p in request.participants if p.email.strip().lower() not in ours),
    )
    return VerificationRequest(
        **fields,
        verify_address=address,
        claimed=Person(original.from_address, original.from_name) if original else Person(),
        original_subject=original.subject if original else "",
    )
