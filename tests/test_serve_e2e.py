"""The newcomer's journey, for real: `firstcall serve` as a process with its web server, worker
and SMTP listener; an email in over SMTP; the worker's acknowledgment out over SMTP to a local
sink; signing in to the console over HTTP; Ctrl-C; and a second start on the same data.

On PostgreSQL (DATABASE_URL set) it uses its own database, firstcall_e2e, created and dropped
here; on Redis (REDIS_URL set) its own Huey queue name.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.mailsink import MailSink

pytestmark = pytest.mark.e2e

E2E_DATABASE = "firstcall_e2e"
# Variables of the test run that must not leak into the served instance.
NOT_INHERITED = ("FIRSTCALL_", "DJANGO_", "EMAIL_", "DEFAULT_FROM_EMAIL", "DATABASE_URL", "REDIS_URL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Served:
    """`firstcall serve` running in the background, its output collected line by line."""

    def __init__(self, env: dict[str, str], cwd: Path, web_port: int, smtp_port: int) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firstcall",
                "serve",
                "--port",
                str(web_port),
                "--smtp-port",
                str(smtp_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = re.search(pattern, "".join(self.lines))
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"no {pattern!r} in the output of firstcall serve:\n{''.join(self.lines)}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def child_pids(self) -> list[int]:
        match = self.wait_for(
            r"Processes\s+web server (\d+) · background worker (\d+) · SMTP listener (\d+)", timeout=1
        )
        return [int(pid) for pid in match.groups()]

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"firstcall serve did not stop within 15 s:\n{self.output}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def console_page(base_url: str, username: str, password: str, path: str) -> str:
    """Sign in through the console's form (or the admin's, if the console has none) and GET path."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login_path = "/login/"
    try:
        form = opener.open(base_url + login_path, timeout=10).read().decode()
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        login_path, path = "/admin/login/", "/admin/tickets/ticket/"
        form = opener.open(base_url + login_path, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form
    fields = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": path}
    signed_in = opener.open(base_url + login_path, urlencode(fields).encode(), timeout=10)
    assert urlsplit(signed_in.geturl()).path == path, f"sign-in failed, ended at {signed_in.geturl()}"
    page: str = opener.open(base_url + path, timeout=10).read().decode()
    return page


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as running:
        yield running


@pytest.fixture
def serve_env(tmp_path: Path, sink: MailSink) -> Iterator[dict[str, str]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(NOT_INHERITED)}
    env.update(
        FIRSTCALL_DATA_DIR=str(tmp_path / "data"),
        FIRSTCALL_ACCEPTED_ADDRESSES="support@msp.example",
        DEFAULT_FROM_EMAIL="support@msp.example",
        # Signing in with the password alone (two-factor sign-in: tests/accounts, tests/browser).
        FIRSTCALL_2FA_REQUIRED_ROLES="",
        EMAIL_HOST=sink.host,
        EMAIL_PORT=str(sink.port),
        PYTHONUNBUFFERED="1",
    )
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    admin_url = ""
    if database_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlsplit(database_url)
        admin_url = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {E2E_DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {E2E_DATABASE}")
        env["DATABASE_URL"] = parts._replace(path=f"/{E2E_DATABASE}").geturl()
    elif database_url:
        pytest.skip(f"the end-to-end test knows SQLite and PostgreSQL, not {database_url.split(':')[0]}")
    huey_name = f"firstcalle2e{uuid.uuid4().hex[:8]}"  # letters and digits: Huey drops the rest
    if redis_url:
        env.update(REDIS_URL=redis_url, FIRSTCALL_HUEY_NAME=huey_name)
    yield env
    if admin_url:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {E2E_DATABASE} WITH (FORCE)")
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"*{huey_name}*"):
            client.delete(key)


def test_serve_receive_acknowledge_sign_in_stop_and_start_again(
    serve_env: dict[str, str], sink: MailSink, tmp_path: Path
) -> None:
    web_port, smtp_port = free_port(), free_port()

    first = Served(serve_env, tmp_path, web_port, smtp_port)
    try:
        first.wait_for(r"Press Ctrl-C to stop", timeout=120)
        base_url = first.wait_for(r"Console\s+(http://\S+)/\n", timeout=1).group(1)
        assert base_url == f"http://127.0.0.1:{web_port}"
        password = first.wait_for(r"Sign in\s+owner / (\S+)", timeout=1).group(1)
        assert f"SMTP 127.0.0.1:{smtp_port}, for support@msp.example" in first.output
        children = first.child_pids()

        request = EmailMessage()
        request["From"] = "Dana Reyes <dana@brightsmile.example>"
        request["To"] = "support@msp.example"
        request["Subject"] = "Server down — no patient records"
        request["Message-ID"] = "<server-down@mail.brightsmile.example>"
        request.set_content("The practice server will not start. Patients are waiting.")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            assert smtp.send_message(request) == {}

        # Sent by the worker process (Huey is not inline here), over SMTP to the sink.
        ack = sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"], timeout=10)
        assert ack.mail_from == ""
        assert ack.email["Auto-Submitted"] == "auto-replied"
        assert ack.email["In-Reply-To"] == "<server-down@mail.brightsmile.example>"
        number_match = re.search(r"\[(T-\d{6})\]", ack.email["Subject"])
        assert number_match, ack.email["Subject"]
        number = number_match.group(1)

        page = console_page(base_url, "owner", password, "/")
        assert number in page and "Server down — no patient records" in page

        # The web server's own processes (one per CPU, up to 4) stop with it.
        web_processes = (
            [int(pid) for pid in Path(f"/proc/{children[0]}/task/{children[0]}/children").read_text().split()]
            if sys.platform.startswith("linux")
            else []
        )
        assert first.stop() == 0, first.output
        assert [pid for pid in children + web_processes if is_running(pid)] == []
        assert not accepts_connections(web_port) and not accepts_connections(smtp_port)
        assert "firstcall: stopped." in first.output
    finally:
        first.kill()

    second = Served(serve_env, tmp_path, web_port, smtp_port)
    try:
        second.wait_for(r"Press Ctrl-C to stop", timeout=60)
        second.wait_for(
            r"Sign in +owner \(account exists; forgot the password\? .*firstcall changepassword owner\)", 1
        )
        assert "owner / " not in second.output  # no new password
        assert "applied" not in second.output  # the database was kept, nothing to migrate
        page = console_page(base_url, "owner", password, "/")
        assert number in page
        assert second.stop() == 0, second.output
    finally:
        second.kill()
