"""The ``firstcall`` command in-process: help and dispatch, import-eml, demo, the owner account,
send-test-email. (``serve`` itself runs as a real process in test_serve_e2e.py.)"""

from __future__ import annotations

import logging
import os
import pathlib
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import base as management_base
from django.db import connections

from firstcall.accounts.models import Role, User
from firstcall.accounts.owner import ensure_owner_account
from firstcall.cli import main
from firstcall.clients.demo import load_demo
from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.intake.channels.smtp_listener import SmtpListener
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.sla.targets import targets_for
from firstcall.tickets.models import AuditEvent, Channel, Message, MessageKind, Status, Ticket


def eml(
    *,
    message_id: str,
    sender: str = "Dana Reyes <dana@brightsmile.example>",
    subject: str = "Scanner not found",
    body: str = "The scanner at reception is not found by the PC.",
    in_reply_to: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@msp.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message.as_bytes()


class _ConnectionsKeptOpen:
    def __getattr__(self, name: str) -> Any:
        return getattr(connections, name)

    def __getitem__(self, alias: str) -> Any:
        return connections[alias]

    def close_all(self) -> None:
        pass


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """main() does what a new process needs, which in-process must be undone: a command run from
    the command line closes the database connections when it ends (that would end the test's
    transaction), and Django's setup points logging at the stderr of the moment (this test's
    capture, closed after it)."""
    monkeypatch.setattr(management_base, "connections", _ConnectionsKeptOpen())
    root = logging.getLogger()
    handlers = root.handlers[:]
    yield
    root.handlers[:] = handlers


@pytest.fixture
def mail_folder(tmp_path: Path) -> Path:
    """Old mail as it comes out of a mailbox export: nested folders, other files beside."""
    folder = tmp_path / "export"
    (folder / "2025" / "march").mkdir(parents=True)
    (folder / "001-scanner.eml").write_bytes(eml(message_id="<scanner@mail.example>"))
    (folder / "2025" / "march" / "002-vpn.eml").write_bytes(
        eml(
            message_id="<vpn@mail.example>",
            sender="Priya Shah <priya@haleporter.example>",
            subject="VPN drops every hour",
            body="Since Monday the VPN disconnects every hour.",
        )
    )
    (folder / "2025" / "march" / "003-scanner-reply.EML").write_bytes(
        eml(
            message_id="<scanner-2@mail.example>",
            subject="Re: Scanner not found",
            body="It works again after your restart, thanks!",
            in_reply_to="<scanner@mail.example>",
        )
    )
    (folder / "004-garbage.eml").write_bytes(b"\x00\x01\x02 this is not an email at all \xff\xfe")
    (folder / "readme.txt").write_text("not mail; ignored")
    return folder


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "serve",
        "demo",
        "import-eml PATH",
        "send-test-email",
        "smtp",
        "web",
        "run_huey",
        "migrate",
    ):
        assert command in out
    assert main([]) == 0
    assert capsys.readouterr().out == out


def test_unknown_command_says_so_and_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serv"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "firstcall: unknown command 'serv'. Did you mean 'serve'? Run 'firstcall --help' for the list.\n"
    )
    assert main(["importeml", "old-mail/"]) == 2
    assert "Did you mean 'import-eml'?" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert (
        capsys.readouterr().err
        == "firstcall: unknown command 'frobnicate'. Run 'firstcall --help' for the list.\n"
    )


def test_serve_help_shows_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--smtp-host", "--smtp-port", "--workers"):
        assert option in out
    assert main(["help", "import-eml"]) == 0
    assert "--acknowledge" in capsys.readouterr().out


def test_django_management_commands_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "System check identified no issues" in capsys.readouterr().out
    assert main(["help", "--commands"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"import_eml", "send_test_email", "smtp", "demo", "run_huey", "migrate"} <= set(listed)


@pytest.mark.django_db
def test_import_eml_folder(
    mail_folder: Path, dana: Contact, priya: Contact, outbox: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-eml", str(mail_folder)]) == 0

    out = capsys.readouterr().out
    assert "Imported 4 files in " in out and " messages/second)." in out
    assert "  2 new tickets (no acknowledgments sent)\n" in out
    assert "  1 threaded onto existing tickets\n" in out
    assert "  0 duplicates (imported before, kept once)\n" in out
    garbage = InboundMessage.objects.get(status=InboundStatus.REJECTED)
    assert garbage.reason
    assert f"  1 rejected\n    {mail_folder / '004-garbage.eml'}: {garbage.reason}\n" in out
    assert "  0 unreadable\n" in out

    scanner = Ticket.objects.get(subject="Scanner not found")
    assert (scanner.requester, scanner.channel) == (dana, Channel.EMAIL)
    assert list(scanner.messages.filter(kind=MessageKind.INBOUND).values_list("body_text", flat=True)) == [
        "The scanner at reception is not found by the PC.",
        "It works again after your restart, thanks!",
    ]
    assert Ticket.objects.get(subject="VPN drops every hour").requester == priya
    assert {m.metadata["source"] for m in InboundMessage.objects.all()} == {"import"}
    assert outbox == []  # migrating old mail writes to nobody


@pytest.mark.django_db
def test_import_eml_twice_reports_duplicates(
    mail_folder: Path, dana: Contact, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-eml", str(mail_folder)]) == 0
    capsys.readouterr()

    assert main(["import-eml", str(mail_folder)]) == 0

    out = capsys.readouterr().out
    assert "  0 new tickets" in out
    assert "  0 threaded onto existing tickets\n" in out
    assert "  4 duplicates (imported before, kept once)\n" in out
    assert "  0 rejected\n" in out
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_import_one_file_with_acknowledgment(
    tmp_path: Path, dana: Contact, outbox: list[Any], run_on_commit: Callable[..., Any]
) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(eml(message_id="<one@mail.example>"))

    with run_on_commit(execute=True):
        assert main(["import-eml", str(path), "--acknowledge"]) == 0

    ticket = Ticket.objects.get()
    assert [m.to for m in outbox] == [["dana@brightsmile.example"]]
    assert ticket.number in outbox[0].subject


@pytest.mark.django_db
def test_import_eml_unreadable_file_fails_the_command(
    mail_folder: Path, dana: Contact, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unreadable = mail_folder / "001-scanner.eml"
    real_read_bytes = pathlib.Path.read_bytes

    def read_bytes(path: pathlib.Path) -> bytes:
        if path == unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)

    assert main(["import-eml", str(mail_folder)]) == 1

    captured = capsys.readouterr()
    assert f"  1 unreadable\n    {unreadable}: Permission denied\n" in captured.out
    assert "1 file could not be read (see above)." in captured.err
    assert Ticket.objects.count() == 2  # the others were imported


@pytest.mark.django_db
def test_import_eml_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-eml", str(tmp_path / "nowhere")]) == 1
    assert f"No such file or folder: {tmp_path / 'nowhere'}" in capsys.readouterr().err


@pytest.mark.django_db
def test_demo_loads_a_realistic_msp_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    counts = (
        Client.objects.count(),
        Contact.objects.count(),
        PhoneNumber.objects.count(),
        User.objects.count(),
        Ticket.objects.count(),
        Message.objects.count(),
        InboundMessage.objects.count(),
    )
    assert counts[:5] == (3, 10, 13, 3, 6)

    dental = Client.objects.get(name="Bright Smile Dental")
    assert dental.time_zone == "America/Chicago"
    assert dental.email_domains.get().domain == "brightsmile.example"
    assert dental.contacts.get(is_vip=True).name == "Dana Reyes"
    assert dental.active_contract() is not None
    targets = [targets_for(dental.pk, p) for p in ("P1", "P2", "P3", "P4")]
    assert [(t.first_response_minutes, t.calendar_name) for t in targets] == [
        (15, "24×7"),
        (60, "24×7"),
        (120, "Business hours"),
        (480, "Business hours"),
    ]
    assert {c.name: c.time_zone for c in Client.objects.all()} == {
        "Bright Smile Dental": "America/Chicago",
        "Hale & Porter LLP": "America/New_York",
        "Olive & Ember Bistro": "America/Los_Angeles",
    }

    hacked = Ticket.objects.get(subject="Email hacked? Sending spam to patients")
    kinds = list(hacked.messages.values_list("kind", flat=True))
    assert kinds == [MessageKind.INBOUND, MessageKind.REPLY, MessageKind.INBOUND]  # Dana answered
    assert hacked.assignee is not None and hacked.assignee.username == "tess"
    assert hacked.first_response_at is not None
    server = Ticket.objects.get(subject="Server down — no patient records")
    assert (server.channel, server.priority, server.is_emergency) == (Channel.WEB, "P1", True)
    assert server.messages.filter(kind=MessageKind.NOTE).exists()
    assert Ticket.objects.get(subject="Printer jam at front desk").status == Status.RESOLVED
    wire = Ticket.objects.get(subject="Wire transfer request looks off")
    assert [c.email for c in wire.participants.all()] == ["tom@haleporter.example"]
    assert Ticket.objects.get(subject="Card terminal at the bar is offline").channel == Channel.API
    assert not Ticket.objects.filter(unverified_requester=True).exists()
    assert not Message.objects.filter(kind=MessageKind.AUTO_REPLY).exists()  # taken in without acks

    for username, role in (("tess", Role.TECHNICIAN), ("eli", Role.ENGINEER), ("maya", Role.MANAGER)):
        line = next(line for line in out.splitlines() if line.startswith(f"  {username} "))
        password = line.split()[1]
        user = authenticate(username=username, password=password)
        assert user is not None and user.role == role

    # Again: nothing is added or changed, and it says so.
    assert main(["demo"]) == 0
    again = capsys.readouterr().out
    assert (
        Client.objects.count(),
        Contact.objects.count(),
        PhoneNumber.objects.count(),
        User.objects.count(),
        Ticket.objects.count(),
        Message.objects.count(),
        InboundMessage.objects.count(),
    ) == counts
    assert "Tickets: 0 created, 6 already there." in again
    assert "  tess   exists already; new password: firstcall changepassword tess" in again


@pytest.mark.django_db
def test_demo_loader_is_idempotent() -> None:
    first = load_demo()
    second = load_demo()

    assert len(first.clients_created) == 3 and len(first.staff_created) == 3
    assert second.clients_created == [] and second.staff_created == []
    assert [created for _, _, created in first.tickets] == [True] * 6
    assert [number for number, _, _ in second.tickets] == [number for number, _, _ in first.tickets]
    assert not any(created for _, _, created in second.tickets)


@pytest.mark.django_db
def test_owner_account_is_created_once_with_a_hashed_password() -> None:
    username, password = ensure_owner_account()

    assert username == "owner" and password
    owner = User.objects.get(username="owner")
    assert (owner.role, owner.is_superuser, owner.is_staff) == (Role.OWNER, True, True)
    assert password not in owner.password
    assert authenticate(username="owner", password=password) == owner
    assert AuditEvent.objects.filter(action="owner_created").count() == 1

    assert ensure_owner_account() == ("owner", None)
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_test_email_reaches_the_listener(outbox: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    with SmtpListener("127.0.0.1", 0) as listener:
        assert main(["send-test-email", "--port", str(listener.port)]) == 0

    out = capsys.readouterr().out
    inbound = InboundMessage.objects.get()
    assert f"The listener answered: 250 OK: stored as inbound #{inbound.pk}\n" in out
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.requester.email) == (
        "Front desk printer is offline",
        "dana@brightsmile.example",
    )
    assert inbound.metadata["rcpt_tos"] == ["support@msp.example"]  # the first accepted address
    assert [m.to for m in outbox] == [["dana@brightsmile.example"]]


def test_send_test_email_without_a_listener_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert main(["send-test-email", "--port", str(port)]) == 1

    assert f"Nothing is listening for SMTP on 127.0.0.1:{port}." in capsys.readouterr().err


@pytest.mark.django_db
def test_demo_adopts_a_sender_who_mailed_in_before_it() -> None:
    # The README's order: serve, send-test-email (as Dana, unknown then), then demo.
    stranger = Contact.objects.create(email="dana@brightsmile.example")

    load_demo()

    stranger.refresh_from_db()
    assert (stranger.client, stranger.name, stranger.is_vip) == (
        Client.objects.get(name="Bright Smile Dental"),
        "Dana Reyes",
        True,
    )
    hacked = Ticket.objects.get(subject="Email hacked? Sending spam to patients")
    assert (hacked.requester, hacked.unverified_requester) == (stranger, False)
    assert AuditEvent.objects.get(action="contact_client_set").after == {
        "email": "dana@brightsmile.example",
        "client": "Bright Smile Dental",
    }


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        (
            "FIRSTCALL_SMTP_PORT",
            "twenty-five",
            "FIRSTCALL_SMTP_PORT must be a whole number, got 'twenty-five'",
        ),
        (
            "FIRSTCALL_WORKER_TYPE",
            "greenlet",
            "FIRSTCALL_WORKER_TYPE must be thread or process, not 'greenlet'",
        ),
    ],
)
def test_a_bad_setting_is_reported_without_a_traceback(
    tmp_path: Path, name: str, value: str, error: str
) -> None:
    env = {**os.environ, "FIRSTCALL_DATA_DIR": str(tmp_path), name: value}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    done = subprocess.run(
        [sys.executable, "-m", "firstcall", "check"], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert done.stderr == f"firstcall: configuration error: {error}\n"
