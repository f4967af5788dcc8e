"""How texts reach Twilio's API: the library's requests over one kept-alive connection per
thread (``KeptAliveHttpClient``), a connection the API closed while idle replaced before it is
used, and the library's own client when the environment sends that address through a proxy."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from twilio.http.http_client import TwilioHttpClient

from firstcall.notify.sms import KeptAliveHttpClient, TwilioSmsProvider, api_http_client

ACCOUNT_SID = "AC" + "7" * 32
OUR_NUMBER = "+15550100000"


class KeepAliveApi:
    """A stand-in for Twilio's Messages resource that speaks HTTP/1.1 (keeps connections open,
    as Twilio does) and counts the connections it was opened. ``close_after_answer`` makes it
    close each connection after answering without saying so, as a server whose keep-alive
    timeout ran out does."""

    def __init__(self, *, close_after_answer: bool = False) -> None:
        self.connections = 0
        self.texts: list[dict[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                api.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                api.texts.append(dict(parse_qsl(body)))
                answer = json.dumps({"sid": f"SM{len(api.texts):032d}", "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.close_connection = close_after_answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                with api.changed:
                    api.closed += 1
                    api.changed.notify_all()

        self.closed = 0
        self.changed = threading.Condition()
        self.server = Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KeepAliveApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_closed(self, count: int) -> None:
        """Until the API has closed ``count`` connections."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.closed >= count, timeout=5)


@pytest.fixture
def twilio_settings(settings: Any) -> Any:
    settings.FIRSTCALL_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "kept-alive-token"
    settings.FIRSTCALL_SMS_FROM = OUR_NUMBER
    return settings


def send_three(api: KeepAliveApi, settings: Any, *, after_each: Callable[[int], None]) -> list[str]:
    settings.TWILIO_API_BASE_URL = api.base_url
    provider = TwilioSmsProvider()
    sids = []
    for n in range(3):
        sids.append(
            provider.send(
                to=f"+1312555010{n}", body=f"text {n}", from_number=OUR_NUMBER, status_callback=None
            )
        )
        after_each(n + 1)
    return sids


def test_texts_share_one_kept_alive_connection(twilio_settings: Any) -> None:
    with KeepAliveApi() as api:
        sids = send_three(api, twilio_settings, after_each=lambda sent: None)
    assert sids == [f"SM{n:032d}" for n in (1, 2, 3)]
    assert [text["Body"] for text in api.texts] == ["text 0", "text 1", "text 2"]
    assert api.connections == 1


def test_a_connection_the_api_closed_while_idle_is_replaced_before_use(twilio_settings: Any) -> None:
    with KeepAliveApi(close_after_answer=True) as api:
        # Each time, the API has closed the connection before the next text goes.
        assert len(send_three(api, twilio_settings, after_each=api.wait_closed)) == 3
    assert len(api.texts) == 3 and api.connections == 3


def test_a_proxy_in_the_environment_keeps_the_library_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(api_http_client("https://api.twilio.com"), KeptAliveHttpClient)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.msp.example:3128")
    proxied = api_http_client("https://api.twilio.com")
    assert isinstance(proxied, TwilioHttpClient)
    assert proxied.proxy == {"https": "http://proxy.msp.example:3128"}
    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    assert isinstance(api_http_client("https://api.twilio.com"), KeptAliveHttpClient)


@pytest.fixture
def _no_client_of_this_thread() -> Iterator[None]:
    """Each test gets its own Twilio client (they are kept per thread, by settings)."""
    from firstcall.notify import sms

    sms._per_thread.__dict__.clear()
    yield
    sms._per_thread.__dict__.clear()


pytestmark = pytest.mark.usefixtures("_no_client_of_this_thread")
