"""``firstcall demo``: load a demo MSP (three clients, staff, tickets). Safe to run twice."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from firstcall.clients.demo import load_demo


class Command(BaseCommand):
    help = "Load demo clients, contacts, contracts, staff and tickets (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = load_demo()
        write = self.stdout.write
        if result.clients_created:
            write("Clients added: " + ", ".join(result.clients_created))
        if result.clients_existing:
            write("Clients already there: " + ", ".join(result.clients_existing))
        if result.staff_created:
            write("Demo staff (passwords shown once; they are stored only hashed):")
            for user, password in result.staff_created:
                write(
                    f"  {user.username:<6} {password:<14} {user.get_full_name()}, {user.get_role_display()}"
                )
        for user in result.staff_existing:
            write(
                f"  {user.username:<6} exists already; new password: firstcall changepassword {user.username}"
            )
        created = [t for t in result.tickets if t[2]]
        write(f"Tickets: {len(created)} created, {len(result.tickets) - len(created)} already there.")
        for number, subject, _ in result.tickets:
            write(f"  {number}  {subject}")
        write("Demo requests were taken in without acknowledgments; staff replies go out as normal mail.")
