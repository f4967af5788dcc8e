"""``firstcall create_api_token <username> <name>``: issue an API token and print it once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from firstcall.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = (
        "Issue a JSON API token for a staff user and print it. Only its hash is stored: copy it now. "
        "Revoke it in the admin (API tokens → set 'revoked at')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The staff user the token acts as, e.g. an integration's user")
        parser.add_argument("name", help="What uses the token, e.g. 'RMM integration'")

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
        token, plain = ApiToken.issue(user, name)
        # The token alone on stdout, so scripts can capture it; the explanation on stderr.
        self.stdout.write(plain)
        self.stderr.write(
            f"Issued API token {token.name!r} (id {token.pk}) for {user.username}. "
            "It is shown only this once; store it in your integration's secrets now.",
            style_func=str,
        )
