"""``firstcall create_alert_source NAME SLUG [--client NAME]``: a monitoring source and its secret."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction

from firstcall.clients.models import Client
from firstcall.intake.alerts import create_source


class Command(BaseCommand):
    help = (
        "Register a monitoring source (Alertmanager, Grafana, any tool posting the generic JSON) and "
        "print its secret once: only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What sends the alerts, e.g. 'Prometheus (dental clinic)'")
        parser.add_argument("slug", help="The source's part of the webhook URL, e.g. 'prom-dental'")
        parser.add_argument("--client", help="The client its alerts belong to when no label says")
        parser.add_argument("--client-label", default="client", help="The alert label naming the client")
        parser.add_argument(
            "--keep-tickets-open",
            action="store_true",
            help="A 'resolved' notification adds a note but does not resolve the ticket",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = None
        if options["client"]:
            client = Client.objects.filter(name__iexact=options["client"]).first()
            if client is None:
                raise CommandError(f"There is no client named {options['client']!r}.")
        try:
            with transaction.atomic():
                source, secret = create_source(
                    options["name"],
                    options["slug"],
                    default_client=client,
                    client_label=options["client_label"],
                    resolve_tickets=not options["keep_tickets_open"],
                )
        except IntegrityError:
            raise CommandError(f"A source with the slug {options['slug']!r} exists already.") from None
        base = settings.FIRSTCALL_PUBLIC_URL
        self.stdout.write(secret)
        self.stderr.write(
            f"Alert source {source.name!r} created. Its secret is above; it is not shown again.\n"
            f"  Alertmanager webhook: {base}/hooks/alertmanager/{source.slug}/ "
            "(http_config: authorization: credentials: <secret>)\n"
            f"  Generic JSON webhook: {base}/hooks/alerts/{source.slug}/ (Authorization: Bearer <secret>)"
        )
