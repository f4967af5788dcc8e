"""Bearer-token authentication for the JSON API (tokens of active staff users only, each for every
client or scoped to one: firstcall.api.tickets narrows what a scoped token sees)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from firstcall.accounts.models import ApiToken, User, hash_token

HOW_TO_AUTHENTICATE = "send the header 'Authorization: Bearer <token>'"


@dataclass(frozen=True)
class ApiCaller:
    """Who is calling: the token's user, the token's name for the intake metadata, and the
    client the token is scoped to (None: every client)."""

    user: User
    token: ApiToken

    def token_name(self) -> str:
        return self.token.name

    @property
    def client_id(self) -> int | None:
        return self.token.client_id


# What a client-scoped token hears where only a token for every client may go.
NEEDS_EVERY_CLIENT = (
    "This API token is scoped to one client; this endpoint needs a token for every client "
    "(firstcall create_api_token without --client)."
)


class StaffToken(HttpBearer):
    """``Authorization: Bearer <token>``, checked with ``ApiToken.authenticate``.

    Every refusal raises AuthenticationError with a message saying what is wrong, so a caller
    never has to guess between a missing header, a typo and a revoked token.
    """

    def __call__(self, request: HttpRequest) -> ApiCaller:
        return bearer_caller(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller:
        return token_caller(token)


def bearer_caller(request: HttpRequest) -> ApiCaller:
    """The caller named by ``Authorization: Bearer <token>`` (the API and other token-checked
    webhooks); raises AuthenticationError saying what is wrong."""
    value = request.headers.get("Authorization", "").strip()
    if not value:
        raise AuthenticationError(message=f"Authentication required: {HOW_TO_AUTHENTICATE}.")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            message=f"The Authorization header is not a bearer token: {HOW_TO_AUTHENTICATE}."
        )
    return token_caller(token.strip())


def token_caller(token: str) -> ApiCaller:
    found = ApiToken.authenticate(token)
    if found is None:
        raise AuthenticationError(message=refusal_reason(token))
    return ApiCaller(user=found.user, token=found)


def refusal_reason(token: str) -> str:
    """Why a token is refused. Only the holder of the token learns this, so it may be precise."""
    found = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
    if found is None:
        return "This API token is not valid: check that it was copied whole."
    if found.revoked_at is not None:
        return f"This API token was revoked on {found.revoked_at:%Y-%m-%d %H:%M} UTC."
    if not found.user.is_active:
        return "This API token belongs to a deactivated user."
    return "This API token is not valid."


def api_caller(request: HttpRequest) -> ApiCaller:
    """The caller that StaffToken put on the request (every operation requires it)."""
    caller = getattr(request, "auth", None)
    if not isinstance(caller, ApiCaller):
        raise AuthenticationError(message=f"Authentication required: {HOW_TO_AUTHENTICATE}.")
    return caller
