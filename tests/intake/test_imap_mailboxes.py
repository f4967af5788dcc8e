"""IMAP mailboxes against a real Dovecot on loopback (tests/dovecot.py): import, the after-import
actions, a crash between commit and flag, bad credentials, the atomic claim, encryption at rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.intake import mailboxes
from firstcall.intake.admin import MailboxForm
from firstcall.intake.models import AfterImport, InboundMessage, InboundStatus, Mailbox, MailboxSecurity
from firstcall.intake.pipeline import retry_stuck_inbound
from firstcall.intake.secrets import SecretUnreadable
from firstcall.intake.tasks import poll_mailboxes
from firstcall.tickets.models import Channel, Message, MessageKind, Ticket
from tests.dovecot import Dovecot, running_dovecot

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    with running_dovecot(tmp_path_factory.mktemp("imap")) as server:
        yield server


def email(
    *,
    sender: str = "Dana Reyes <dana@brightsmile.example>",
    subject: str = "Front desk printer jams on every page",
    body: str = "Since this morning every page jams. Patients are waiting for forms.",
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    for name, value in (headers or {}).items():
        msg[name] = value
    msg["From"] = sender
    msg["To"] = "support@msp.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="brightsmile.example")
    msg.set_content(body)
    # What an IMAP server stores and returns: CRLF line ends.
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def make_mailbox(dovecot: Dovecot, **fields: Any) -> tuple[Mailbox, str]:
    username, password = dovecot.new_user()
    mailbox = Mailbox(
        name=f"Support ({username})",
        host=dovecot.host,
        port=dovecot.port,
        security=MailboxSecurity.NONE,
        username=username,
        **fields,
    )
    mailbox.set_password(password)
    mailbox.full_clean()
    mailbox.save()
    return mailbox, username


def poll(mailbox: Mailbox) -> mailboxes.PollReport:
    report = mailboxes.poll_mailbox(mailbox.pk, due_only=False)
    assert report is not None, "the mailbox could not be claimed"
    return report


def test_unread_mail_becomes_tickets_and_is_marked_seen(
    dovecot: Dovecot, dana: Contact, priya: Contact, outbox: list[Any], run_on_commit: Callable[..., Any]
) -> None:
    mailbox, user = make_mailbox(dovecot)
    from_dana = email()
    dovecot.append(user, from_dana)
    dovecot.append(user, email(sender="Priya Shah <priya@haleporter.example>", subject="VPN drops hourly"))
    dovecot.append(user, email(subject="Read by a person before the first poll"), flags=r"\Seen")

    with run_on_commit(execute=True):
        report = poll(mailbox)

    assert (report.imported, report.duplicates, report.failed, report.errors) == (2, 0, 0, [])
    tickets = Ticket.objects.order_by("pk")
    assert [(t.subject, t.requester.email, t.channel) for t in tickets] == [
        ("Front desk printer jams on every page", "dana@brightsmile.example", Channel.EMAIL),
        ("VPN drops hourly", "priya@haleporter.example", Channel.EMAIL),
    ]
    # The exact bytes the server holds are stored, with where they came from.
    stored = InboundMessage.objects.get(timeline_message__ticket=tickets[0])
    assert bytes(stored.raw) == from_dana
    assert stored.metadata["source"] == f"imap:{mailbox.pk}"
    assert sorted(m.to[0] for m in outbox) == ["dana@brightsmile.example", "priya@haleporter.example"]
    assert all(r"\Seen" in m.flags for m in dovecot.messages(user))

    mailbox.refresh_from_db()
    assert (mailbox.last_error, mailbox.imported_count, mailbox.polling_until) == ("", 2, None)
    assert mailbox.last_polled_at is not None and mailbox.next_poll_at > mailbox.last_polled_at

    again = poll(mailbox)
    assert (again.imported, again.duplicates, again.errors) == (0, 0, [])
    assert Ticket.objects.count() == 2


def test_move_after_import(dovecot: Dovecot, dana: Contact) -> None:
    mailbox, user = make_mailbox(dovecot, after_import=AfterImport.MOVE, move_to_folder="Imported")
    dovecot.append(user, email())

    assert poll(mailbox).imported == 1

    assert dovecot.messages(user, "INBOX") == []
    [moved] = dovecot.messages(user, "Imported")
    assert b"Front desk printer jams" in moved.raw
    assert poll(mailbox).imported == 0
    assert Ticket.objects.count() == 1


def test_delete_after_import_keeps_the_raw_message_in_firstcall(dovecot: Dovecot, dana: Contact) -> None:
    mailbox, user = make_mailbox(dovecot, after_import=AfterImport.DELETE)
    raw = email()
    dovecot.append(user, raw)
    # Read by a person already: with "delete", everything in the folder is imported.
    dovecot.append(user, email(subject="Backup job failed"), flags=r"\Seen")

    assert poll(mailbox).imported == 2

    assert dovecot.messages(user) == []
    assert InboundMessage.objects.filter(raw=raw).count() == 1
    assert poll(mailbox).imported == 0


def test_crash_after_commit_before_flag_imports_once_and_flags_next_time(
    dovecot: Dovecot, dana: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email())

    def worker_dies(*args: Any) -> None:
        raise ConnectionResetError("connection lost while flagging")

    monkeypatch.setattr(mailboxes, "after_import", worker_dies)
    crashed = poll(mailbox)
    assert crashed.imported == 1
    assert "ConnectionResetError: connection lost while flagging" in crashed.errors[0]
    [message] = dovecot.messages(user)
    assert r"\Seen" not in message.flags
    mailbox.refresh_from_db()
    assert "connection lost while flagging" in mailbox.last_error
    assert mailbox.polling_until is None

    monkeypatch.undo()
    recovered = poll(mailbox)

    assert (recovered.imported, recovered.duplicates, recovered.errors) == (0, 1, [])
    assert Ticket.objects.count() == 1
    assert Message.objects.filter(kind=MessageKind.INBOUND).count() == 1
    assert InboundMessage.objects.get().duplicate_deliveries == 1
    assert r"\Seen" in dovecot.messages(user)[0].flags
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""


def test_a_message_that_fails_processing_is_kept_for_the_sweep_and_flagged(
    dovecot: Dovecot, dana: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email())

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("ticket numbering is down")

    monkeypatch.setattr("firstcall.intake.pipeline._thread_or_open", broken)
    report = poll(mailbox)

    assert (report.imported, report.failed) == (0, 1)
    assert "RuntimeError: ticket numbering is down" in report.errors[0]
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.RECEIVED
    assert r"\Seen" in dovecot.messages(user)[0].flags
    monkeypatch.undo()
    assert retry_stuck_inbound(older_than=timedelta(0)) == 1
    assert Ticket.objects.get().requester == dana


def test_wrong_password_is_recorded_not_raised(dovecot: Dovecot, dana: Contact) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email())
    mailbox.set_password("not-the-password")
    mailbox.save()

    report = poll(mailbox)

    assert report.imported == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("MailboxLoginError")
    assert "AUTHENTICATIONFAILED" in mailbox.last_error
    assert mailbox.polling_until is None and mailbox.last_error_at is not None
    assert Ticket.objects.count() == 0
    assert r"\Seen" not in dovecot.messages(user)[0].flags


def test_unreachable_server_is_recorded_and_retried_next_time(dovecot: Dovecot) -> None:
    mailbox, _ = make_mailbox(dovecot)
    # A port nothing listens on: Dovecot's own, once it is free again.
    mailbox.port = dovecot.port + 1 if dovecot.port < 65535 else dovecot.port - 1
    mailbox.save()

    poll(mailbox)

    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("ConnectionRefusedError")
    assert mailbox.next_poll_at <= timezone.now() + timedelta(seconds=mailbox.poll_interval_seconds)


def test_automatic_mail_with_an_empty_return_path_gets_no_acknowledgment(
    dovecot: Dovecot, dana: Contact, outbox: list[Any], run_on_commit: Callable[..., Any]
) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email(headers={"Return-Path": "<>"}))

    with run_on_commit(execute=True):
        assert poll(mailbox).imported == 1

    assert outbox == []
    ticket = Ticket.objects.get()
    assert ticket.messages.filter(body_text__startswith="Acknowledgment not sent: empty").exists()
    assert InboundMessage.objects.get().metadata["mail_from"] == ""


def test_a_message_over_the_size_limit_is_left_in_the_folder(
    dovecot: Dovecot, dana: Contact, settings: Any
) -> None:
    settings.FIRSTCALL_MAX_MESSAGE_BYTES = 4096
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email(subject="Scan of the invoice", body="x" * 8000))
    dovecot.append(user, email())

    report = poll(mailbox)

    assert report.imported == 1 and len(report.too_large) == 1
    assert Ticket.objects.get().subject == "Front desk printer jams on every page"
    big = next(m for m in dovecot.messages(user) if b"Scan of the invoice" in m.raw)
    assert r"\Seen" not in big.flags
    mailbox.refresh_from_db()
    assert "larger than FIRSTCALL_MAX_MESSAGE_BYTES (4096 bytes)" in mailbox.last_error


def test_two_workers_never_poll_the_same_mailbox_at_once(dovecot: Dovecot) -> None:
    mailbox, _ = make_mailbox(dovecot)
    now = timezone.now()

    first = mailboxes.claim(mailbox.pk, now)
    assert first is not None
    assert mailboxes.claim(mailbox.pk, now) is None
    assert mailboxes.poll_mailbox(mailbox.pk, due_only=False) is None
    assert mailboxes.due_mailbox_ids(now) == []
    # A claim left by a worker that died expires.
    later = first + timedelta(seconds=1)
    assert mailboxes.claim(mailbox.pk, later) is not None


def test_periodic_task_polls_only_due_enabled_mailboxes(dovecot: Dovecot, dana: Contact) -> None:
    due, due_user = make_mailbox(dovecot)
    not_due, not_due_user = make_mailbox(dovecot)
    disabled, disabled_user = make_mailbox(dovecot, enabled=False)
    Mailbox.objects.filter(pk=not_due.pk).update(next_poll_at=timezone.now() + timedelta(minutes=5))
    for user in (due_user, not_due_user, disabled_user):
        dovecot.append(user, email(subject=f"Mail for {user}"))

    assert poll_mailboxes.call_local() == 1

    assert [t.subject for t in Ticket.objects.all()] == [f"Mail for {due_user}"]
    not_due.refresh_from_db()
    disabled.refresh_from_db()
    assert not_due.last_polled_at is None and disabled.last_polled_at is None
    due.refresh_from_db()
    assert due.next_poll_at > timezone.now() + timedelta(seconds=30)
    assert poll_mailboxes.call_local() == 0


def test_poll_mailboxes_command_once(dovecot: Dovecot, dana: Contact) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email())
    out = StringIO()

    call_command("poll_mailboxes", "--once", stdout=out)

    assert f"{mailbox.name}: 1 imported, 0 already imported, 0 rejected, 0 failed" in out.getvalue()


def test_password_is_stored_encrypted_and_decrypts_back(settings: Any) -> None:
    mailbox = Mailbox(name="Dental support", host="imap.brightsmile.example", username="support")
    mailbox.set_password("Winter-2026!")
    mailbox.save()

    column = Mailbox.objects.values_list("password_encrypted", flat=True).get(pk=mailbox.pk)
    assert "Winter-2026!" not in column and column.startswith("gAAAAA")  # a Fernet token
    assert Mailbox.objects.get(pk=mailbox.pk).get_password() == "Winter-2026!"

    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789"
    with pytest.raises(SecretUnreadable, match="enter the password again"):
        mailbox.get_password()
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert mailbox.get_password() == "Winter-2026!"

    settings.FIRSTCALL_ENCRYPTION_KEY = "ioL2pI6d4dIzXcsxfyPSdF3Tj5WwnqWbXU8Sn_5MRmI="
    assert mailbox.get_password() == "Winter-2026!"
    mailbox.set_password("Spring-2027!")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "yet-another-key-0123456789-abcdefghij", []
    assert mailbox.get_password() == "Spring-2027!"


def test_undecryptable_password_is_recorded_on_the_mailbox(dovecot: Dovecot, settings: Any) -> None:
    mailbox, _ = make_mailbox(dovecot)
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789"

    poll(mailbox)

    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("SecretUnreadable")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.53"])
def test_unencrypted_connection_allowed_to_loopback(host: str) -> None:
    mailbox = Mailbox(name="Local", host=host, security=MailboxSecurity.NONE, username="support")
    mailbox.full_clean()


@pytest.mark.parametrize("host", ["imap.brightsmile.example", "10.0.0.5", "localhost.brightsmile.example"])
def test_unencrypted_connection_rejected_for_remote_host(host: str) -> None:
    mailbox = Mailbox(name="Remote", host=host, security=MailboxSecurity.NONE, username="support")
    with pytest.raises(ValidationError) as raised:
        mailbox.full_clean()
    assert "only allowed to a server on this machine" in raised.value.message_dict["security"][0]


def test_unencrypted_remote_row_saved_without_validation_never_connects() -> None:
    mailbox = Mailbox.objects.create(
        name="Edited by hand", host="192.0.2.10", security=MailboxSecurity.NONE, username="support"
    )
    mailbox.set_password("secret")
    mailbox.save()

    poll(mailbox)

    mailbox.refresh_from_db()
    assert "refusing an unencrypted IMAP connection to '192.0.2.10'" in mailbox.last_error


def test_move_needs_a_different_folder() -> None:
    mailbox = Mailbox(name="Move", host="imap.example", username="u", after_import=AfterImport.MOVE)
    with pytest.raises(ValidationError) as raised:
        mailbox.full_clean()
    assert "move_to_folder" in raised.value.message_dict
    mailbox.move_to_folder = "INBOX"
    with pytest.raises(ValidationError, match="must differ"):
        mailbox.full_clean()


def test_admin_takes_the_password_and_never_shows_it(alice: User) -> None:
    form = MailboxForm(
        data={
            "name": "Dental support",
            "host": "imap.brightsmile.example",
            "security": MailboxSecurity.IMPLICIT_TLS,
            "username": "support@brightsmile.example",
            "password": "Winter-2026!",
            "folder": "INBOX",
            "after_import": AfterImport.MARK_SEEN,
            "enabled": "on",
            "poll_interval_seconds": "60",
        }
    )
    assert form.is_valid(), form.errors
    mailbox = form.save()
    assert mailbox.get_password() == "Winter-2026!"

    alice.is_staff = alice.is_superuser = True
    alice.save()
    browser = HttpClient()
    browser.force_login(alice)
    page = browser.get(f"/admin/intake/mailbox/{mailbox.pk}/change/").content.decode()
    assert 'name="password"' in page
    assert "Winter-2026!" not in page and mailbox.password_encrypted not in page

    # Saving without typing a password keeps the current one.
    unchanged = MailboxForm(
        instance=mailbox, data={**form.data, "password": "", "name": "Dental support (main)"}
    )
    assert unchanged.is_valid(), unchanged.errors
    assert unchanged.save().get_password() == "Winter-2026!"
    missing = MailboxForm(data={**form.data, "password": "", "name": "Another"})
    assert not missing.is_valid() and "password" in missing.errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_second_worker_skips_a_mailbox_being_polled(
    dovecot: Dovecot, dana: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox, user = make_mailbox(dovecot)
    dovecot.append(user, email())
    inside, second_tried = threading.Event(), threading.Event()
    real_connect = mailboxes.connect

    def slow_connect(box: Mailbox) -> Any:
        inside.set()
        second_tried.wait(10)
        return real_connect(box)

    monkeypatch.setattr(mailboxes, "connect", slow_connect)
    reports: list[mailboxes.PollReport | None] = []

    def first_worker() -> None:
        try:
            reports.append(mailboxes.poll_mailbox(mailbox.pk, due_only=False))
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    assert inside.wait(10)
    second = mailboxes.poll_mailbox(mailbox.pk, due_only=False)
    second_tried.set()
    worker.join(20)

    assert second is None
    assert [r.imported if r else None for r in reports] == [1]
    assert Ticket.objects.count() == 1


def test_admin_mailbox_list_queries_do_not_grow_with_mailboxes(
    alice: User, django_assert_num_queries: Callable[..., Any]
) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    browser = HttpClient()
    browser.force_login(alice)
    for number in range(8):
        Mailbox.objects.create(name=f"Client {number}", host="imap.example", username=f"u{number}")
        if number in (1, 7):
            with django_assert_num_queries(5):
                page = browser.get("/admin/intake/mailbox/")
            assert page.status_code == 200 and "Client 1" in page.content.decode()
