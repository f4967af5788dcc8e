"""Polling IMAP mailboxes into the intake pipeline.

Per mailbox, one poll: claim it (a guarded UPDATE on ``polling_until``, so two workers never poll
the same mailbox at once), log in, search the folder, and for each message in UID order:
1. fetch its exact bytes without setting \\Seen (``BODY.PEEK[]``),
2. hand them to the email channel (``ingest_email``), which commits the ticket entry — or, when
   processing fails, stores the raw message 'received' for the sweep to retry,
3. only then mark it seen, move it or delete it (the mailbox's ``after_import``).
A crash between 2 and 3 leaves the message as it was; the next poll hands it over again, the
pipeline recognises it (Message-ID, else a hash of the bytes) as a duplicate, and it is then
flagged: mail is never lost and never imported twice.

Which messages: with "mark as read", the unread ones (a message someone read in the mailbox
before the first poll is not imported); with "move" and "delete", every message still in the
folder (not flagged \\Deleted), since each handled message leaves it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxFlagError
from imap_tools.utils import check_command_status

from firstcall.intake.channels.email import external_id, ingest_email
from firstcall.intake.models import AfterImport, InboundMessage, Mailbox, MailboxSecurity, is_loopback_host
from firstcall.intake.pipeline import bounded_external_id
from firstcall.tickets.models import Channel

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died: another worker may take the mailbox.
CLAIM_SECONDS = 15 * 60
# Bounded work per poll, so a backlog of thousands does not hold a claim for hours: the rest
# comes on the next polls.
MAX_MESSAGES_PER_POLL = 200
# Messages fetched per FETCH command (memory stays bounded by this many messages).
FETCH_BATCH = 20

RETURN_PATH_HEADER = re.compile(rb"^return-path:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")


class RawMailMessage(MailMessage):
    """A fetched message that keeps the server's exact bytes (``MailMessage`` keeps only a parse
    of them, and re-serialising a parse changes the bytes — and so the hash used for dedup)."""

    def __init__(self, fetch_data: list[bytes | tuple[bytes, bytes]]) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


@dataclass
class PollReport:
    mailbox_id: int
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    # Messages over FIRSTCALL_MAX_MESSAGE_BYTES, left in the folder for a person.
    too_large: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error_text(self) -> str:
        return "\n".join(self.errors)

    def __str__(self) -> str:
        text = (
            f"{self.imported} imported, {self.duplicates} already imported, "
            f"{self.rejected} rejected, {self.failed} failed"
        )
        if self.too_large:
            text += f", {len(self.too_large)} too large"
        return text + (f"; error: {self.errors[0]}" if self.errors else "")


def describe(error: BaseException) -> str:
    text = str(error).strip() or "no details"
    return f"{type(error).__name__}: {text}"[:1000]


def due_mailbox_ids(now: datetime | None = None) -> list[int]:
    """Enabled mailboxes whose next poll is due and that no worker holds."""
    now = now or timezone.now()
    return list(
        Mailbox.objects.filter(enabled=True, next_poll_at__lte=now)
        .filter(Q(polling_until__isnull=True) | Q(polling_until__lt=now))
        .order_by("next_poll_at")
        .values_list("pk", flat=True)
    )


def claim(mailbox_id: int, now: datetime, *, due_only: bool = True) -> datetime | None:
    """Take the mailbox for one poll. Returns the claim's expiry, or None when it is not due, is
    disabled, or another worker holds it. The UPDATE's WHERE clause is the lock: of two workers,
    exactly one changes the row."""
    until = now + timedelta(seconds=CLAIM_SECONDS)
    rows = Mailbox.objects.filter(pk=mailbox_id, enabled=True).filter(
        Q(polling_until__isnull=True) | Q(polling_until__lt=now)
    )
    if due_only:
        rows = rows.filter(next_poll_at__lte=now)
    return until if rows.update(polling_until=until) == 1 else None


def poll_mailbox(mailbox_id: int, *, due_only: bool = True) -> PollReport | None:
    """Poll one mailbox if it can be claimed. Never raises for an IMAP or per-message problem:
    they are recorded on the mailbox (``last_error``) and the mailbox is tried again next time."""
    started = timezone.now()
    until = claim(mailbox_id, started, due_only=due_only)
    if until is None:
        return None
    report = PollReport(mailbox_id)
    try:
        mailbox = Mailbox.objects.get(pk=mailbox_id)
        _poll(mailbox, report)
    except Exception as error:  # IMAP, TLS, network, auth, decryption: recorded, retried next time
        report.errors.insert(0, describe(error))
        log.warning("polling mailbox %s failed: %s", mailbox_id, describe(error))
    finally:
        _release(mailbox_id, until, report)
    if report.imported or report.failed:
        log.info("mailbox %s: %s", mailbox_id, report)
    return report


def poll_due_mailboxes() -> list[PollReport]:
    """One pass over the due mailboxes, one after another (for ``poll_mailboxes --once``)."""
    reports = []
    for mailbox_id in due_mailbox_ids():
        report = poll_mailbox(mailbox_id)
        if report is not None:
            reports.append(report)
    return reports


def _release(mailbox_id: int, until: datetime, report: PollReport) -> None:
    now = timezone.now()
    mailbox = Mailbox.objects.filter(pk=mailbox_id).only("poll_interval_seconds").first()
    if mailbox is None:  # deleted while being polled
        return
    error = report.error_text
    Mailbox.objects.filter(pk=mailbox_id).update(
        last_polled_at=now,
        next_poll_at=now + timedelta(seconds=mailbox.poll_interval_seconds),
        last_error=error,
        last_error_at=now if error else None,
        imported_count=F("imported_count") + report.imported,
    )
    # Only our own claim is cleared: if it expired and another worker took over, it is theirs.
    if Mailbox.objects.filter(pk=mailbox_id, polling_until=until).update(polling_until=None) != 1:
        log.warning("mailbox %s: the poll outlasted its claim (%s s)", mailbox_id, CLAIM_SECONDS)


def connect(mailbox: Mailbox) -> BaseMailBox:
    """An IMAP connection to the mailbox's server, logged in and with its folder selected."""
    host, port = mailbox.host.strip(), mailbox.effective_port
    timeout = float(settings.FIRSTCALL_IMAP_TIMEOUT_SECONDS)
    box: BaseMailBox
    if mailbox.security == MailboxSecurity.IMPLICIT_TLS:
        box = MailBox(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    elif mailbox.security == MailboxSecurity.STARTTLS:
        box = MailBoxStartTls(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    else:
        if not is_loopback_host(host):  # the model refuses it too; a row edited by hand must not leak
            raise ValueError(f"refusing an unencrypted IMAP connection to {host!r}: not a loopback host")
        box = MailBoxUnencrypted(host, port, timeout=timeout)
    box.email_message_class = RawMailMessage
    try:
        return box.login(mailbox.username, mailbox.get_password(), initial_folder=mailbox.folder)
    except BaseException:
        _close(box)
        raise


def _close(box: BaseMailBox) -> None:
    with contextlib.suppress(Exception):  # closing a connection that may be broken already
        box.client.shutdown()


def _poll(mailbox: Mailbox, report: PollReport) -> None:
    box = connect(mailbox)
    try:
        if mailbox.after_import == AfterImport.MOVE and not box.folder.exists(mailbox.move_to_folder):
            box.folder.create(mailbox.move_to_folder)
        limit = settings.FIRSTCALL_MAX_MESSAGE_BYTES
        uids = _sorted_uids(box.uids(_criteria(mailbox, size_lt=limit + 1)))[:MAX_MESSAGES_PER_POLL]
        report.too_large = _sorted_uids(box.uids(_criteria(mailbox, size_gt=limit)))
        if report.too_large:
            report.errors.append(
                f"{len(report.too_large)} message(s) larger than FIRSTCALL_MAX_MESSAGE_BYTES "
                f"({limit} bytes) left in {mailbox.folder}: UIDs {', '.join(report.too_large[:20])}"
            )
        for message in _fetch(box, uids):
            if not _import(mailbox, box, message, report):
                break
        box.logout()
    finally:
        _close(box)


def _criteria(mailbox: Mailbox, *, size_lt: int | None = None, size_gt: int | None = None) -> AND:
    if mailbox.after_import == AfterImport.MARK_SEEN:
        return AND(seen=False, size_lt=size_lt, size_gt=size_gt)
    return AND(deleted=False, size_lt=size_lt, size_gt=size_gt)


def _sorted_uids(uids: Sequence[str]) -> list[str]:
    return sorted(uids, key=int)


def _fetch(box: BaseMailBox, uids: Sequence[str]) -> Iterator[RawMailMessage]:
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start : start + FETCH_BATCH]
        for message in box.fetch(uid_list=batch, mark_seen=False, bulk=True):
            assert isinstance(message, RawMailMessage)
            yield message


def return_path(raw: bytes) -> str | None:
    """The envelope sender the delivering server recorded (``Return-Path``), if any: an empty
    one (``<>``) marks automatic mail, which gets no acknowledgment."""
    end = HEADER_BLOCK_END.search(raw, 0, 262144)
    match = RETURN_PATH_HEADER.search(raw, 0, end.start() if end else min(len(raw), 262144))
    if match is None:
        return None
    return match.group(1).decode("latin-1").strip().strip("<>").strip()


def _import(mailbox: Mailbox, box: BaseMailBox, message: RawMailMessage, report: PollReport) -> bool:
    """Hand one message to the pipeline, then apply the after-import action. Returns False when
    the poll must stop (the message could not even be stored: the database is unwell)."""
    uid = message.uid or "?"
    raw = message.raw
    if not raw:
        report.errors.append(f"UID {uid}: the server returned no message body")
        return True
    try:
        outcome = ingest_email(raw, mail_from=return_path(raw), source=f"imap:{mailbox.pk}")
    except Exception as error:
        # The pipeline stores the raw message 'received' before re-raising; the sweep retries
        # it, so the message is safe in our database and can leave the mailbox like the others.
        stored = InboundMessage.objects.filter(
            channel=Channel.EMAIL, external_id=bounded_external_id(external_id(raw))
        ).exists()
        report.errors.append(f"UID {uid}: processing failed: {describe(error)}")
        if not stored:
            log.exception("mailbox %s: message UID %s could not be stored", mailbox.pk, uid)
            return False
        report.failed += 1
    else:
        if outcome.duplicate:
            report.duplicates += 1
        elif outcome.ticket_id is None:
            report.rejected += 1
        else:
            report.imported += 1
    after_import(mailbox, box, uid)
    return True


def after_import(mailbox: Mailbox, box: BaseMailBox, uid: str) -> None:
    """Mark seen, move or delete one handled message."""
    if mailbox.after_import == AfterImport.MOVE:
        box.move(uid, mailbox.move_to_folder)
    elif mailbox.after_import == AfterImport.DELETE:
        box.delete(uid)
    else:
        # Not imap_tools' flag(): it also EXPUNGEs, which would purge messages a person
        # flagged \Deleted in a shared mailbox.
        check_command_status(box.client.uid("STORE", uid, "+FLAGS", r"(\Seen)"), MailboxFlagError)
