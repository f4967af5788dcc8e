"""Our own email addresses: what the SMTP listener accepts mail for, and what never counts as a
requester or participant (so we never acknowledge or copy ourselves)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


def _normalized(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def is_accepted_address(address: str) -> bool:
    """Whether we take mail for ``address``: a listed address, any address at a listed
    "@domain" entry, or a payment-verification address (FIRSTCALL_VERIFY_ADDRESSES). Case-
    insensitive (the local part too: people type Support@ as often)."""
    address = _normalized(address)
    if "@" not in address:
        return False
    domain = "@" + address.rpartition("@")[2]
    accepted = {
        entry.strip().lower()
        for entry in (*settings.FIRSTCALL_ACCEPTED_ADDRESSES, *settings.FIRSTCALL_VERIFY_ADDRESSES)
    }
    return address in accepted or domain in accepted


def is_our_address(address: str) -> bool:
    """An address we receive at, or send from."""
    return is_accepted_address(address) or _normalized(address) == _normalized(settings.DEFAULT_FROM_EMAIL)


def support_address() -> str | None:
    """The address requests are sent to: the first listed address, else "support" at the first
    listed domain; None when the listener accepts nothing."""
    entries = [entry.strip() for entry in settings.FIRSTCALL_ACCEPTED_ADDRESSES if entry.strip()]
    for entry in entries:
        if not entry.startswith("@"):
            return entry
    return f"support{entries[0]}" if entries else None


def accepted_addresses_text() -> str:
    entries = settings.FIRSTCALL_ACCEPTED_ADDRESSES
    return ", ".join(f"any address {e}" if e.startswith("@") else e for e in entries) or "nothing"


@register()
def check_replies_come_back(**kwargs: object) -> list[CheckMessage]:
    """Requesters answer our acknowledgments at DEFAULT_FROM_EMAIL: the listener must take it."""
    if is_accepted_address(settings.DEFAULT_FROM_EMAIL):
        return []
    return [
        Warning(
            f"DEFAULT_FROM_EMAIL ({settings.DEFAULT_FROM_EMAIL}) is not one of "
            f"FIRSTCALL_ACCEPTED_ADDRESSES ({accepted_addresses_text()}).",
            hint="Replies to acknowledgments would be refused by the SMTP listener: add the "
            "address to FIRSTCALL_ACCEPTED_ADDRESSES, or receive it through your own mail server.",
            id="firstcall.W001",
        )
    ]
