"""A local HTTP server standing in for Twilio's REST API (the Messages and Calls resources), for
tests and benchmarks only: point TWILIO_API_BASE_URL at it.

    standin = TwilioStandIn(account_sid="AC…", auth_token="…").start()
    ...                                     # settings.TWILIO_API_BASE_URL = standin.base_url
    sent = standin.wait_for(lambda r: r.params["To"] == "+13125550111", timeout=10)
    standin.fail_next(500)                  # the next request gets a 500, as when Twilio is down
    standin.fail_next(400, code=21211)      # … or Twilio's "invalid 'To' number" refusal
    standin.stop()

It checks basic auth (account SID : auth token) like Twilio, records each request (``requests``)
and answers with a JSON message resource carrying a fresh "SM…" sid, or for Calls.json a call
resource with a fresh "CA…" sid (``calls`` lists the calls it accepted).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

ERROR_MESSAGES = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass(frozen=True)
class SentText:
    """One request the stand-in received (whatever it answered)."""

    path: str
    username: str
    password: str
    params: dict[str, str]
    status: int
    sid: str  # "" when the stand-in answered with an error
    received_at: float  # time.monotonic()


class TwilioStandIn:
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "standin-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[SentText] = []
        self._failures: list[tuple[int, int | None]] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def sent(self) -> list[SentText]:
        """The texts it accepted (answered 201)."""
        with self._changed:
            return [r for r in self.requests if r.status == 201 and r.path.endswith("/Messages.json")]

    @property
    def calls(self) -> list[SentText]:
        """The calls it accepted (answered 201)."""
        with self._changed:
            return [r for r in self.requests if r.status == 201 and r.path.endswith("/Calls.json")]

    def fail_next(self, status: int, *, times: int = 1, code: int | None = None) -> None:
        """Answer the next ``times`` requests (texts or calls) with this HTTP error (and Twilio
        error code)."""
        with self._changed:
            self._failures.extend([(status, code)] * times)

    def wait_for(self, predicate: Callable[[SentText], bool], timeout: float = 10) -> SentText:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching request within {timeout} s; got {self.requests!r}")
                self._changed.wait(left)

    def start(self) -> TwilioStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="twilio-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TwilioStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        username = password = ""
        if authorization.startswith("Basic "):
            username, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        status, code = 201, None
        account = f"/2010-04-01/Accounts/{self.account_sid}"
        is_call = path == f"{account}/Calls.json"
        with self._changed:
            if (username, password) != (self.account_sid, self.auth_token):
                status = 401
            elif path != f"{account}/Messages.json" and not is_call:
                status = 404
            elif self._failures:
                status, code = self._failures.pop(0)
            sid = f"{'CA' if is_call else 'SM'}{uuid.uuid4().hex}" if status == 201 else ""
            self.requests.append(SentText(path, username, password, params, status, sid, time.monotonic()))
            self._changed.notify_all()
        if status != 201:
            default_code, message = ERROR_MESSAGES.get(status, (status * 100, "Error"))
            return status, {
                "code": code or default_code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code or default_code}",
                "status": status,
            }
        if is_call:
            return status, {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": params.get("To"),
                "from": params.get("From"),
                "status": "queued",
                "direction": "outbound-api",
                "price": None,
                "uri": f"{account}/Calls/{sid}.json",
            }
        return status, {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": params.get("To"),
            "from": params.get("From"),
            "body": params.get("Body"),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "price": None,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Answer at once: without this a keep-alive client waits ~40 ms per response (Nagle's
            # algorithm holding the body back until the headers are acknowledged).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = standin._answer(
                    self.path, self.headers.get("Authorization", ""), self.rfile.read(length)
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
                pass

        return Handler


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it for a webhook request to ``url`` with ``params``."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(auth_token).compute_signature(url, params))


@contextmanager
def twilio_configured(
    settings: Any,
    *,
    account_sid: str,
    auth_token: str,
    our_number: str = "+15550100000",
    public_url: str = "https://help.msp.example",
) -> Iterator[TwilioStandIn]:
    """A running stand-in, with pytest-django's ``settings`` pointing the Twilio provider at it
    (account, token, API address, our number, the public URL webhooks are signed for)."""
    with TwilioStandIn(account_sid=account_sid, auth_token=auth_token) as standin:
        settings.FIRSTCALL_SMS_PROVIDER = "twilio"
        settings.TWILIO_ACCOUNT_SID = account_sid
        settings.TWILIO_AUTH_TOKEN = auth_token
        settings.TWILIO_API_BASE_URL = standin.base_url
        settings.FIRSTCALL_SMS_FROM = our_number
        settings.FIRSTCALL_PUBLIC_URL = public_url
        yield standin
