"""A real Dovecot IMAP server on a free loopback port, with its own throwaway configuration,
user database and maildirs, for tests of the IMAP mailbox poller.

Without /usr/sbin/dovecot (Debian package dovecot-imapd) the tests that use it skip, with the
reason — except under CI=true, where a missing Dovecot is a failure (CI installs it).

Run as root (containers, CI), Dovecot refuses to run its login processes or to access mail as
root: they then run as the package's own users (dovenull, dovecot) and mail belongs to
``nobody``, so the server's folder lives in a world-traversable temporary directory instead of
pytest's private tmp_path. Run as anyone else, everything runs as that user inside tmp_path.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 15.0


def require_dovecot() -> None:
    """Skip the calling test without Dovecot; fail instead under CI=true."""
    if Path(DOVECOT).exists():
        return
    reason = f"Dovecot is not installed ({DOVECOT} missing; apt-get install dovecot-imapd)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must install it", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class _Identity:
    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int


def _identity() -> _Identity:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(os.getgid()).gr_name
        return _Identity(me.pw_name, group, me.pw_name, me.pw_uid, me.pw_gid)
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
        nobody = pwd.getpwnam("nobody")
    except KeyError as missing:
        raise RuntimeError(f"Dovecot's system user {missing} is missing (reinstall dovecot-core)") from None
    return _Identity("dovecot", "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid)


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {identity.internal_user}
default_internal_group = {identity.internal_group}
default_login_user = {identity.login_user}
first_valid_uid = {identity.mail_uid}
last_valid_uid = 0
mail_location = maildir:{root}/mail/%u
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={identity.mail_uid} gid={identity.mail_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


# Accounts are made up front: Dovecot notices a changed passwd-file by its mtime, which a test
# changing it twice within a second would not move.
ACCOUNTS = 200


def _username(number: int) -> str:
    return f"support{number}@msp.example"


def _password(number: int) -> str:
    return f"pw-{number}-Kx9!"


@dataclass
class StoredMessage:
    uid: str
    flags: tuple[str, ...]
    raw: bytes


@dataclass
class Dovecot:
    """A running server. Each test takes users of its own (``new_user``): their mail is apart."""

    root: Path
    port: int
    identity: _Identity
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=dict)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_user(self) -> tuple[str, str]:
        """A fresh account: (username, password)."""
        number = next(self._numbers)
        username = _username(number)
        if username not in self.users:
            raise RuntimeError(f"only {len(self.users)} accounts were made when the server started")
        return username, self.users[username]

    @contextlib.contextmanager
    def client(self, username: str) -> Iterator[imaplib.IMAP4]:
        connection = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            connection.login(username, self.users[username])
            yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.logout()

    def append(self, username: str, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        with self.client(username) as connection:
            if folder != "INBOX":
                connection.create(folder)
            status, data = connection.append(folder, f"({flags})" if flags else None, None, raw)
            assert status == "OK", data

    def messages(self, username: str, folder: str = "INBOX") -> list[StoredMessage]:
        """Every message in the folder with its flags, read without changing them."""
        with self.client(username) as connection:
            status, data = connection.select(folder, readonly=True)
            if status != "OK":
                return []
            status, data = connection.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            assert status == "OK", data
            found: list[StoredMessage] = []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = re.search(r"UID (\d+)", head)
                flags = re.search(r"FLAGS \(([^)]*)\)", head)
                assert uid is not None and flags is not None, head
                found.append(StoredMessage(uid.group(1), tuple(flags.group(1).split()), item[1]))
            return found

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_until_ready(process: subprocess.Popen[bytes], server: Dovecot) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"Dovecot exited with {process.returncode}:\n{output}\n{server.log()}")
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as probe:
                if probe.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"Dovecot did not answer on port {server.port} in {START_TIMEOUT_SECONDS} s:\n{server.log()}"
    )


@contextlib.contextmanager
def running_dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    require_dovecot()
    identity = _identity()
    private = os.geteuid() != 0
    root = tmp_path / "dovecot" if private else Path(tempfile.mkdtemp(prefix="firstcall-dovecot-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not private:
            root.chmod(0o755)  # the login and mail processes run as other users
        (root / "mail").mkdir()
        os.chown(root / "mail", identity.mail_uid, identity.mail_gid)
        server = Dovecot(root, _free_port(), identity)
        for number in range(1, ACCOUNTS + 1):
            server.users[_username(number)] = _password(number)
        (root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in server.users.items()))
        config = root / "dovecot.conf"
        config.write_text(CONFIG.format(root=root, port=server.port, identity=identity))
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_ready(process, server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
    finally:
        if not private:
            shutil.rmtree(root, ignore_errors=True)
