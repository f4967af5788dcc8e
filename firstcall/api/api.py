"""The JSON API: bearer-token auth, JSON errors everywhere, OpenAPI at /api/docs.

Every error is ``{"detail": "..."}`` (validation errors: ``{"detail": [{field, msg, type, loc}]}``)
with its proper status; bad input is never a 500.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from firstcall.api.auth import StaffToken
from firstcall.api.tickets import router as tickets_router
from firstcall.ratelimits.limiter import api_endpoint

log = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


class InvalidJSON(ValueError):
    pass


class JSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(request.body)
        except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8
            raise InvalidJSON(f"Request body is not valid JSON: {error}") from None
        return data


class FirstcallAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        # Anything else under /api/ is a JSON 404, not the site's HTML page.
        patterns.append(re_path(r"^.*$", _unknown_endpoint, name="unknown-endpoint"))
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                # Every route, the schema and docs included, is rate limited per address, per
                # token, and for failed authentication (firstcall.ratelimits).
                pattern.callback = api_endpoint(_json_method_not_allowed(pattern.callback))
        return patterns, app_name, namespace


def _json_method_not_allowed(view: View) -> View:
    """ninja answers a wrong method with a plain-text 405; answer in JSON like every other error."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith("application/json"):
            return response
        # ninja builds Allow from a set: sort it so the answer is the same every time.
        allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
        detail = f"{request.method} is not allowed on {request.path}; allowed: {allowed or 'none'}."
        json_response = _error(detail, 405)
        json_response["Allow"] = allowed
        return json_response

    return wrapped


@csrf_exempt
def _unknown_endpoint(request: HttpRequest) -> HttpResponse:
    return _error(f"There is no API endpoint at {request.path}; see /api/docs.", 404)


def _error(detail: object, status: int) -> HttpResponse:
    return HttpResponse(json.dumps({"detail": detail}), status=status, content_type=api.get_content_type())


api = FirstcallAPI(
    title="firstcall API",
    version="1",
    description="Tickets for staff tools and integrations. Authenticate with "
    "'Authorization: Bearer <token>' (create one with `firstcall create_api_token <username> <name>`).",
    auth=StaffToken(),
    parser=JSONParser(),
)
api.add_router("", tickets_router)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": exc.message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="firstcall"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc.__cause__) if isinstance(exc.__cause__, InvalidJSON) else exc.message
    return api.create_response(request, {"detail": detail}, status=exc.status_code)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": [_issue(e) for e in exc.errors]}, status=422)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("API error on %s %s", request.method, request.path, exc_info=exc)
    return api.create_response(request, {"detail": "Internal server error; it has been logged."}, status=500)


# The views' schema parameters: a caller knows the field, not our parameter's name.
PARAMETER_NAMES = {"payload", "filters"}

NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}

CLEARER_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field; check its spelling.",
}


def _issue(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error, with a 'field' the caller recognises and a plain message."""
    loc = list(error.get("loc", ()))
    path = loc[1:]
    if path[:1] and path[0] in PARAMETER_NAMES:
        path = path[1:]
    field = ".".join(str(part) for part in path)
    message = CLEARER_MESSAGES.get(error.get("type", ""), str(error.get("msg", "")))
    message = message.removeprefix("Value error, ")
    if not field and loc[:1] == ["body"]:
        field = "body"
        if error.get("type") == "missing":
            message = "A JSON object body is required."
        elif error.get("type") in NOT_AN_OBJECT:
            message = "The request body must be a JSON object."
    return {"field": field, "msg": message, "type": error.get("type", ""), "loc": loc}
