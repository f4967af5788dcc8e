"""Client portal sign-in: emailed single-use links, and an optional password a contact sets.

Who may sign in: a contact of a client (an unverified requester, with no client, may not) whose
portal account, if it has one, is not switched off. Asking for a link never tells the asker
whether the address is known: the web request only queues a task with the address; the task
looks the contact up, and makes and emails a link only for someone who may sign in.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from firstcall.accounts.models import PortalAccount, SignInLink, hash_token
from firstcall.clients.models import Contact
from firstcall.notify.email import LOOP_HEADER
from firstcall.notify.outbound import sender_and_message_id
from firstcall.tickets.actions import Actor, audit
from firstcall.tickets.models import AuditEvent, Channel

log = logging.getLogger(__name__)

PORTAL_LABEL = "client portal"
# Failed password attempts on one account within the window before passwords stop working for
# it for the rest of the window (the email link still works): guessing stays slow.
MAX_PASSWORD_FAILURES = 5
PASSWORD_FAILURE_WINDOW = timedelta(minutes=15)
PASSWORD_FAILED = "portal_password_failed"
# Links older than this are deleted by the daily clean-up (used or not, they expired long ago).
KEEP_LINKS_FOR = timedelta(days=30)


def portal_account_of(contact: Contact) -> PortalAccount | None:
    """The contact's portal account (select_related or one query), None if it has none yet."""
    try:
        return contact.portal_account
    except ObjectDoesNotExist:
        return None


def may_sign_in(contact: Contact, account: PortalAccount | None) -> bool:
    """A contact of a client whose portal access is not switched off."""
    return contact.client_id is not None and (account is None or account.can_sign_in)


def _eligible_contact(email: str) -> Contact | None:
    address = email.strip().lower()
    if not address:
        return None
    contact = (
        Contact.objects.select_related("client", "portal_account")
        .filter(email=address, client__isnull=False)
        .first()
    )
    if contact is None or not may_sign_in(contact, portal_account_of(contact)):
        return None
    return contact


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------


def ask_for_sign_in_link(email: str) -> None:
    """What the web request does: queue the link's making and sending, after commit. It reads
    nothing, so a known and an unknown address take the same time and get the same answer."""
    from firstcall.accounts.tasks import send_sign_in_link

    address = email.strip().lower()
    transaction.on_commit(lambda: send_sign_in_link(address))


def link_url(token: str) -> str:
    return settings.FIRSTCALL_PUBLIC_URL + reverse("portal:sign_in_link", kwargs={"token": token})


def issue_sign_in_link(email: str) -> str:
    """Make a link for the contact with this address and email it after commit, if they may
    sign in and have not had too many links in the last hour. Returns what happened, for the
    task's log (never the token)."""
    contact = _eligible_contact(email)
    if contact is None:
        return "no contact who may sign in has this address: nothing sent"
    now = timezone.now()
    recent = SignInLink.objects.filter(contact=contact, created_at__gte=now - timedelta(hours=1)).count()
    if recent >= settings.FIRSTCALL_PORTAL_LINKS_PER_HOUR:
        log.warning("sign-in link for contact %s not sent: %s links in the last hour", contact.pk, recent)
        return f"rate limited: {recent} links in the last hour"
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = SignInLink.objects.create(
            contact=contact,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.FIRSTCALL_PORTAL_LINK_MINUTES),
        )
        audit(None, Actor(contact=contact, label=PORTAL_LABEL), "portal_sign_in_link_sent")
        transaction.on_commit(lambda: _send_link_email(link, token))
    return f"link {link.pk} made for contact {contact.pk}"


def _send_link_email(link: SignInLink, token: str) -> None:
    """Hand the email to Django's email backend; the outcome is recorded on the link row."""
    contact = link.contact
    from_address, message_id = sender_and_message_id(Channel.EMAIL)
    zone = contact.client.time_zone if contact.client is not None else settings.TIME_ZONE
    context = {
        "contact": contact,
        "url": link_url(token),
        "minutes": settings.FIRSTCALL_PORTAL_LINK_MINUTES,
        "expires_at": link.expires_at,
        "zone": zone,
        "msp_name": settings.FIRSTCALL_MSP_NAME,
    }
    message = EmailMessage(
        subject=f"Your sign-in link for {settings.FIRSTCALL_MSP_NAME} support",
        body=render_to_string("accounts/sign_in_email.txt", context),
        from_email=formataddr((settings.FIRSTCALL_MSP_NAME, from_address)),
        to=[contact.email],
        headers={
            "Message-ID": f"<{message_id}>",
            # Our own mail coming back (a forward to the support address) is refused by intake,
            # and out-of-office robots should not answer it with a new ticket.
            LOOP_HEADER: message_id,
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    try:
        get_connection(fail_silently=False).send_messages([message])
    except Exception as error:  # recorded on the row and logged; the person can ask again
        SignInLink.objects.filter(pk=link.pk).update(email_error=f"{type(error).__name__}: {error}"[:500])
        log.exception("sign-in link %s could not be emailed", link.pk)
        return
    SignInLink.objects.filter(pk=link.pk).update(email_sent_at=timezone.now())


def usable_link(token: str) -> SignInLink | None:
    """The unused, unexpired link with this token whose contact may still sign in (one query);
    looking does not use it up (mail scanners open links before people do)."""
    link = (
        SignInLink.objects.select_related("contact__client", "contact__portal_account")
        .filter(token_hash=hash_token(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if link is None or not may_sign_in(link.contact, portal_account_of(link.contact)):
        return None
    return link


def redeem_sign_in_link(token: str) -> Contact | None:
    """Use the link up and return its contact, or None when it is unknown, used, expired, or
    its contact may no longer sign in. Of two clicks at once only one signs in."""
    link = usable_link(token)
    if link is None:
        return None
    with transaction.atomic():
        claimed = SignInLink.objects.filter(
            pk=link.pk, used_at__isnull=True, expires_at__gt=timezone.now()
        ).update(used_at=timezone.now())
        if claimed != 1:
            return None
        _record_sign_in(link.contact, how="email link")
    return link.contact


def _record_sign_in(contact: Contact, *, how: str) -> None:
    now = timezone.now()
    account, _ = PortalAccount.objects.get_or_create(contact=contact)
    PortalAccount.objects.filter(pk=account.pk).update(last_sign_in_at=now)
    account.last_sign_in_at = now
    contact.portal_account = account
    audit(None, Actor(contact=contact, label=PORTAL_LABEL), "portal_signed_in", reason=how)


def delete_old_links() -> int:
    """Remove links made more than KEEP_LINKS_FOR ago (all long expired). Returns how many."""
    deleted, _ = SignInLink.objects.filter(created_at__lt=timezone.now() - KEEP_LINKS_FOR).delete()
    return deleted


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordSignIn:
    contact: Contact | None
    # Passwords are paused for this account after too many failures (the link still works).
    locked: bool = False


def sign_in_with_password(email: str, password: str) -> PasswordSignIn:
    """The contact with this address and password, if they may sign in. Unknown addresses and
    accounts without a password take as long as a wrong password (a hash is computed either
    way), and every failure reads the same to the asker."""
    contact = _eligible_contact(email)
    account = portal_account_of(contact) if contact is not None else None
    if contact is None or account is None or not account.has_password:
        make_password(password)  # the same work as checking one, so timing tells nothing
        return PasswordSignIn(None)
    since = timezone.now() - PASSWORD_FAILURE_WINDOW
    failures = AuditEvent.objects.filter(
        actor_contact=contact, action=PASSWORD_FAILED, created_at__gte=since
    ).count()
    if failures >= MAX_PASSWORD_FAILURES:
        make_password(password)
        return PasswordSignIn(None, locked=True)
    if not check_password(password, account.password):
        audit(None, Actor(contact=contact, label=PORTAL_LABEL), PASSWORD_FAILED)
        return PasswordSignIn(None, locked=failures + 1 >= MAX_PASSWORD_FAILURES)
    with transaction.atomic():
        _record_sign_in(contact, how="password")
    return PasswordSignIn(contact)


def set_portal_password(contact: Contact, password: str) -> PortalAccount:
    """Store the contact's new portal password (hashed with Django's hashers); audited."""
    with transaction.atomic():
        account, _ = PortalAccount.objects.get_or_create(contact=contact)
        had_password = account.has_password
        account.password = make_password(password)
        account.save(update_fields=["password"])
        audit(
            None,
            Actor(contact=contact, label=PORTAL_LABEL),
            "portal_password_changed" if had_password else "portal_password_set",
        )
    contact.portal_account = account
    return account
