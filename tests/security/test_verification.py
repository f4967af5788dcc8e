"""The verification path end to end: a forward to verify@ through the real email intake opens
one verification ticket at P2 for the sender's client, the client is told at once whom we call
on which number (from our records), the analysis lands, and the ticket cannot resolve until a
technician records the call."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.models import InboundMessage
from firstcall.security import verification as verification_module
from firstcall.security.intake import verification_subject
from firstcall.security.models import CallOutcome, EmailVerification
from firstcall.security.tasks import sweep_verifications
from firstcall.security.verification import (
    NoVerification,
    VerificationPending,
    record_call_outcome,
    refuse_unverified_resolution,
    run_analysis,
)
from firstcall.tickets.actions import IllegalTransition
from firstcall.tickets.models import AuditEvent, MessageKind, Status, Ticket
from firstcall.triage.signals import read_phrases
from tests.security.corpus import (
    authentication_results,
    forward_as_attachment,
    forward_inline,
    suspicious_email,
)

pytestmark = pytest.mark.django_db

BANK_CHANGE = "Please note our bank details have changed. Send today's payment to the new account."


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Any:
    """Ingest with on-commit callbacks run: acknowledgments go out and the analysis task runs
    (Huey is immediate in tests)."""

    def _ingest(raw: bytes, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return ingest_email(raw, **kwargs)

    return _ingest


def lookalike_fraud(**kwargs: Any) -> bytes:
    return forward_as_attachment(
        suspicious_email(
            sender="Accounts Receivable <accounts@vendorr.example>",
            subject="Updated bank details",
            text=BANK_CHANGE,
            auth=authentication_results(domain="vendorr.example"),
        ),
        **kwargs,
    )


def test_forward_to_verify_opens_one_p2_verification_and_tells_the_client_whom_we_call(
    dana: Contact, vince: Contact, outbox: list[Any], deliver: Any
) -> None:
    raw = lookalike_fraud(message_id="<fwd-1@brightsmile.example>")
    outcome = deliver(raw, mail_from="dana@brightsmile.example", rcpt_tos=["verify@msp.example"])

    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert outcome.created_ticket
    assert (ticket.requester, ticket.client_id) == (dana, dana.client_id)
    assert ticket.subject == "Phishing check: Updated bank details"
    # Triage's own security signal, not a priority forced by hand.
    assert ticket.priority in ("P1", "P2") and ticket.urgency in ("high", "critical")
    assert "security" in ticket.tags
    assert any("Phishing" in reason["because"] for reason in ticket.priority_reasons)

    verification = EmailVerification.objects.get(ticket=ticket)
    assert (verification.claimed_name, verification.claimed_address) == (
        "Accounts Receivable",
        "accounts@vendorr.example",
    )
    # The sender imitates vendor.example: we call the practice's contact there, on his number on file.
    assert (verification.callback_contact, verification.callback_number) == (vince, "+13125550199")
    assert verification.callback_basis == (
        "Vince Albright is your contact at vendor.example; the number (direct line) we have on file for them"
    )
    # The analysis ran after commit and landed.
    assert verification.analyzed_at is not None
    assert (verification.verdict, verification.original_how) == ("likely_fraud", "attachment")
    assert {f["code"] for f in verification.red_flags} == {
        "lookalike_domain",
        "payment_language",
        "urgency_language",
    }
    assert verification.score == 80

    # The client hears at once: the acknowledgment, then the plan with the number we will call.
    ack, plan = outbox
    assert ack.to == plan.to == ["dana@brightsmile.example"]
    assert "We will verify it by phone: we will call Vince Albright on +13125550199" in plan.body
    assert "do not pay, change bank details" in plan.body
    assert plan.subject == f"[{ticket.number}] Re: Phishing check: Updated bank details"
    public = list(ticket.messages.exclude(kind=MessageKind.NOTE).values_list("kind", "body_text"))
    assert [kind for kind, _ in public[:3]] == ["inbound", "auto_reply", "auto_reply"]
    summary = next(text for kind, text in public if text.startswith("Our automatic check"))
    assert summary.startswith("Our automatic check of the email: it shows strong signs of fraud.")
    assert (
        "The sender address is at vendorr.example, which looks like vendor.example but is not it." in summary
    )
    assert "we still call Vince Albright on +13125550199 before anything else" in summary
    notes = ticket.messages.filter(kind=MessageKind.NOTE).values_list("body_text", flat=True)
    assert any(note.startswith("Automatic analysis: likely fraud (score 80/100)") for note in notes)
    assert set(AuditEvent.objects.filter(ticket=ticket).values_list("action", flat=True)) >= {
        "ticket_opened",
        "verification_opened",
        "verification_analyzed",
    }

    # Delivered again (a retry, a second MX): no second ticket, analysis or mail.
    again = deliver(raw, mail_from="dana@brightsmile.example", rcpt_tos=["verify@msp.example"])
    assert again.duplicate and again.ticket_id == ticket.pk
    assert Ticket.objects.count() == 1 and EmailVerification.objects.count() == 1
    assert len(outbox) == 2
    assert InboundMessage.objects.get().duplicate_deliveries == 1


def test_the_subject_prefix_is_one_of_triages_security_phrases() -> None:
    assert read_phrases(verification_subject("Fwd: Hello")).security == "Phishing"
    assert verification_subject("Fwd: FW: Hello") == "Phishing check: Hello"
    assert verification_subject("") == "Phishing check: (no subject)"


def test_inline_forward_by_to_header_alone_with_a_bland_subject_is_still_p2(
    carl: Contact, outbox: list[Any], deliver: Any
) -> None:
    # From an IMAP mailbox there is no envelope: the To header names the verify address. Carl is
    # no VIP (Dana's requests go one step up, to P1).
    raw = forward_inline(
        style="gmail",
        sender="Vince Albright <vince@vendor.example>",
        subject="Hello",
        text="How are you?",
        forwarder="Carl Mendes <carl@brightsmile.example>",
    )
    outcome = deliver(raw, source="imap:1")
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert ticket.subject == "Phishing check: Hello"
    assert ticket.priority == "P2"
    verification = EmailVerification.objects.get(ticket=ticket)
    assert (verification.original_how, verification.verdict) == ("inline", "no_red_flags")
    assert "authentication_unavailable" in {f["code"] for f in verification.other_findings}


def test_mail_to_support_is_an_ordinary_ticket(dana: Contact, outbox: list[Any], deliver: Any) -> None:
    outcome = deliver(lookalike_fraud(to="support@msp.example"), rcpt_tos=["support@msp.example"])
    assert not EmailVerification.objects.exists()
    assert not Ticket.objects.get(pk=outcome.ticket_id).subject.startswith("Phishing check")
    assert len(outbox) == 1


def test_a_forwarded_email_of_ours_opens_its_own_verification(dana: Contact, deliver: Any) -> None:
    first = deliver(lookalike_fraud(to="support@msp.example"), rcpt_tos=["support@msp.example"])
    number = Ticket.objects.get(pk=first.ticket_id).number
    # "Is this email from our IT company real?" names one of our tickets: it must not thread there.
    ours = suspicious_email(sender="support@msp.example", subject=f"[{number}] Re: your request", text="Hi")
    second = deliver(forward_as_attachment(ours), rcpt_tos=["verify@msp.example"])
    assert second.created_ticket and second.ticket_id != first.ticket_id
    assert EmailVerification.objects.get().ticket_id == second.ticket_id


def test_display_name_impersonation_calls_the_real_person_on_their_own_number(
    dana: Contact, carl: Contact, deliver: Any
) -> None:
    fake = suspicious_email(
        sender="Dana Reyes <dana.reyes.office@gmail.com>", subject="Gift cards", text="Buy gift cards."
    )
    outcome = deliver(forward_as_attachment(fake, forwarder="Carl Mendes <carl@brightsmile.example>"))
    verification = EmailVerification.objects.get(ticket_id=outcome.ticket_id)
    assert (verification.callback_contact, verification.callback_number) == (dana, "+13125550111")
    assert verification.callback_basis.startswith("the email carries the name of your contact Dana Reyes")


def test_a_contact_without_a_number_is_reached_through_the_main_line(
    dana: Contact, carl: Contact, deliver: Any
) -> None:
    fake = suspicious_email(sender="Carl Mendes <carl.m@outlook.com>", subject="Payroll", text="New account")
    outcome = deliver(forward_as_attachment(fake))
    verification = EmailVerification.objects.get(ticket_id=outcome.ticket_id)
    assert (verification.callback_contact, verification.callback_number) == (carl, "+13125550100")
    assert "we call Bright Smile Dental's main line and ask for them" in verification.callback_basis


def test_an_unknown_sender_is_checked_through_the_clients_main_line(dana: Contact, deliver: Any) -> None:
    fake = suspicious_email(sender="IRS <refunds@irs-gov.example>", subject="Refund", text="Claim it")
    outcome = deliver(forward_as_attachment(fake))
    verification = EmailVerification.objects.get(ticket_id=outcome.ticket_id)
    assert (verification.callback_contact, verification.callback_name) == (None, "Bright Smile Dental")
    assert verification.callback_number == "+13125550100"


def test_an_unknown_forwarder_learns_no_numbers(dana: Contact, outbox: list[Any], deliver: Any) -> None:
    fake = suspicious_email(sender="Dana Reyes <dana.reyes@gmail.com>", subject="Hi", text="Hi")
    outcome = deliver(forward_as_attachment(fake, forwarder="someone@stranger.example"))
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert ticket.client_id is None
    plan = outbox[1].body
    assert "We could not match your address to one of our clients" in plan
    assert "+1312" not in plan


def test_a_message_without_the_email_asks_for_it_as_an_attachment(dana: Contact, deliver: Any) -> None:
    message = EmailMessage()
    message["From"] = "Dana Reyes <dana@brightsmile.example>"
    message["To"] = "verify@msp.example"
    message["Subject"] = "Strange call"
    message.set_content("Someone called about our bank account. Is that normal?")
    outcome = deliver(message.as_bytes())
    verification = EmailVerification.objects.get(ticket_id=outcome.ticket_id)
    assert (verification.verdict, verification.original_how) == ("undetermined", "")
    event = Ticket.objects.get(pk=outcome.ticket_id).messages.filter(kind=MessageKind.EVENT).last()
    assert event is not None and "Forward it to us as an attachment" in event.body_text


def test_without_an_acknowledgment_the_plan_is_on_the_timeline_only(
    dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        outcome = ingest_email(lookalike_fraud(), acknowledge=False)
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert outbox == []
    plan = ticket.messages.filter(kind=MessageKind.EVENT).first()
    assert plan is not None and "We will verify it by phone" in plan.body_text


def verification_ticket(dana: Contact, deliver: Any) -> Ticket:
    outcome = deliver(lookalike_fraud())
    return Ticket.objects.get(pk=outcome.ticket_id)


def test_the_ticket_cannot_resolve_until_the_call_is_recorded(
    dana: Contact, vince: Contact, bob: User, deliver: Any
) -> None:
    ticket = verification_ticket(dana, deliver)
    refuse_unverified_resolution(ticket, Status.OPEN)  # working on it is fine
    with pytest.raises(VerificationPending) as refused:
        refuse_unverified_resolution(ticket, Status.RESOLVED)
    assert isinstance(refused.value, IllegalTransition)  # the console and portal show it as such
    assert str(refused.value) == (
        f"{ticket.number} cannot be resolved yet: record the outcome of the verification call first "
        "(confirmed genuine, confirmed fraud or could not reach)."
    )
    with pytest.raises(VerificationPending):
        refuse_unverified_resolution(ticket, Status.CLOSED)

    record_call_outcome(ticket, outcome=CallOutcome.UNREACHABLE, note="Voicemail.", by=bob)
    refuse_unverified_resolution(ticket, Status.RESOLVED)
    record_call_outcome(ticket, outcome=CallOutcome.FRAUD, note="Vince: not sent by us.", by=bob)

    verification = EmailVerification.objects.get(ticket=ticket)
    assert (verification.outcome, verification.outcome_by, verification.outcome_note) == (
        "fraud",
        bob,
        "Vince: not sent by us.",
    )
    recorded = AuditEvent.objects.filter(ticket=ticket, action="verification_call_recorded")
    assert list(recorded.values_list("before", "after", "actor_user")) == [
        (None, "unreachable", bob.pk),
        ("unreachable", "fraud", bob.pk),
    ]
    events = list(ticket.messages.filter(kind=MessageKind.EVENT).values_list("body_text", flat=True))
    assert events[-2].startswith("We called Vince Albright on +13125550199 but could not reach them.")
    assert events[-1].startswith("We called Vince Albright on +13125550199: they did not send this email.")
    notes = ticket.messages.filter(kind=MessageKind.NOTE).values_list("body_text", flat=True)
    assert "Call note: Vince: not sent by us." in notes


def test_ordinary_tickets_resolve_freely_and_have_no_call_to_record(
    dana: Contact, bob: User, deliver: Any
) -> None:
    outcome = deliver(lookalike_fraud(to="support@msp.example"), rcpt_tos=["support@msp.example"])
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    refuse_unverified_resolution(ticket, Status.RESOLVED)
    with pytest.raises(NoVerification):
        record_call_outcome(ticket, outcome=CallOutcome.GENUINE, note="", by=bob)


def test_the_analysis_is_stored_once(dana: Contact, deliver: Any) -> None:
    ticket = verification_ticket(dana, deliver)
    assert run_analysis(ticket.pk) is False
    assert AuditEvent.objects.filter(ticket=ticket, action="verification_analyzed").count() == 1


def test_a_failed_analysis_is_recorded_and_retried_by_the_sweep(
    dana: Contact, deliver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(verification_module, "analyze", broken)
    ticket = verification_ticket(dana, deliver)
    verification = EmailVerification.objects.get(ticket=ticket)
    assert verification.analyzed_at is None
    assert (verification.analysis_error, verification.analysis_attempts) == (
        "RuntimeError: parser exploded",
        1,
    )

    monkeypatch.undo()
    assert sweep_verifications.call_local() == 0  # too recent: its task may still be queued
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        assert sweep_verifications.call_local() == 1
    verification.refresh_from_db()
    # Without Vince on file vendorr.example imitates no known domain: the words alone count.
    assert (verification.verdict, verification.analysis_error, verification.analysis_attempts) == (
        "suspicious",
        "",
        2,
    )


def test_the_dkim_check_uses_the_lookup_it_is_given(
    dana: Contact, vince: Contact, deliver: Any, keys: Any
) -> None:
    original = suspicious_email(
        sender="Vince Albright <vince@vendor.example>",
        subject="March invoice",
        text="Attached is the March invoice.",
        auth=authentication_results(domain="vendor.example"),
        sign_with=(keys, "vendor.example"),
    )
    with override_settings(FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS=0):
        outcome = deliver(forward_as_attachment(original))
    verification = EmailVerification.objects.get(ticket_id=outcome.ticket_id)
    assert "dkim_recheck_unavailable" in {f["code"] for f in verification.findings}
    # Checked again with the key: a fresh analysis of the same stored forward.
    EmailVerification.objects.filter(pk=verification.pk).update(analyzed_at=None)
    assert run_analysis(outcome.ticket_id, dns_lookup=keys.lookup_for("vendor.example"))
    verification.refresh_from_db()
    assert "dkim_signature_valid" in {f["code"] for f in verification.findings}
    assert verification.verdict == "no_red_flags"


def test_the_listener_accepts_the_verify_addresses() -> None:
    from firstcall.intake.addresses import is_accepted_address

    with override_settings(
        FIRSTCALL_ACCEPTED_ADDRESSES=["support@msp.example"],
        FIRSTCALL_VERIFY_ADDRESSES=["verify@elsewhere.example"],
    ):
        assert is_accepted_address("Verify@elsewhere.example")
        assert not is_accepted_address("other@elsewhere.example")
