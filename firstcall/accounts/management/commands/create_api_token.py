"""``firstcall create_api_token <username> <name> [--client <id or name>]``: issue an API token
and print it once; with --client the token sees and changes that client's tickets only."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from firstcall.accounts.models import ApiToken, User
from firstcall.clients.models import Client


class Command(BaseCommand):
    help = (
        "Issue a JSON API token for a staff user and print it. Only its hash is stored: copy it now. "
        "Revoke it in the admin (API tokens → set 'revoked at')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The staff user the token acts as, e.g. an integration's user")
        parser.add_argument("name", help="What uses the token, e.g. 'RMM integration'")
        parser.add_argument(
            "--client",
            help="Scope the token to one client (its id or exact name): it sees, lists, creates and "
            "updates only that client's tickets, e.g. for that client's RMM",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        name: str = options["name"].strip()
        if not name:
            raise CommandError("Give the token a name that says what uses it, e.g. 'RMM integration'.")
        if len(name) > 100:
            raise CommandError(f"The token name is {len(name)} characters long; at most 100 fit.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                f"There is no user {username!r}. Create the user first (in the admin, or with "
                "firstcall createsuperuser)."
            )
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated; the API refuses its tokens.")
        client = _client(options["client"]) if options["client"] is not None else None
        token, plain = ApiToken.issue(user, name, client=client)
        # The token alone on stdout, so scripts can capture it; the explanation on stderr.
        self.stdout.write(plain)
        scope = (
            f", scoped to {client} (client {client.pk}): it sees only that client's tickets" if client else ""
        )
        self.stderr.write(
            f"Issued API token {token.name!r} (id {token.pk}) for {user.username}{scope}. "
            "It is shown only this once; store it in your integration's secrets now.",
            style_func=str,
        )


def _client(given: str) -> Client:
    """The client with this id, or else this exact name (any case)."""
    text = given.strip()
    if text.isdigit():
        by_id = Client.objects.filter(pk=int(text)).first()
        if by_id is not None:
            return by_id
    named = list(Client.objects.filter(name__iexact=text).order_by("pk")[:5])
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(str(client.pk) for client in named)
        raise CommandError(f"Several clients are named {text!r} (ids {ids}); give the id with --client.")
    raise CommandError(f"There is no client with the id or name {text!r}; see the clients in the admin.")
