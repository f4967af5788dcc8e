"""The ``firstcall`` command.

``firstcall serve`` runs everything on one machine: it prepares the database, makes sure there
is an owner account, then runs three child processes (web server, background worker, SMTP
listener) and supervises them. Each child is also a command of its own (``web``, ``run_huey``,
``smtp``) for production setups that run them under systemd or containers. Every Django
management command works too (``firstcall migrate``, ``firstcall changepassword owner``...).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

# Management commands with friendlier names on the command line.
ALIASES = {"import-eml": "import_eml", "send-test-email": "send_test_email"}
STOP_TIMEOUT_SECONDS = 10.0
START_TIMEOUT_SECONDS = 60.0

HELP = """\
usage: firstcall <command> [options]

Getting started
  serve             run everything: web console, background worker and SMTP listener
                    (prepares the database and creates the owner account on first start)
  demo              load a demo MSP: three clients, staff and a few tickets
  send-test-email   email the running SMTP listener, as a client would

Email
  import-eml PATH   import .eml files (a file or a folder) as tickets, emailing nobody
  smtp              run only the SMTP listener
  poll_mailboxes    poll the IMAP mailboxes set up in the admin now (--once) or continuously

Alerts
  create_alert_source NAME SLUG   register a monitoring source; prints its secret once

Parts of serve, for production
  web               run only the web server (waitress)
  run_huey          run only the background worker

Administration (every Django management command works)
  migrate, createsuperuser, changepassword, shell, dbshell, check, ...

`firstcall <command> --help` shows a command's options; `firstcall help --commands` lists all.
Settings come from environment variables (see the README), e.g. FIRSTCALL_DATA_DIR, DATABASE_URL.
"""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "firstcall.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args in (["-h"], ["--help"], ["help"]):
        print(HELP, end="")
        return 0
    if args == ["--version"]:
        from importlib.metadata import version

        print(f"firstcall {version('firstcall')}")
        return 0
    command, rest = args[0], args[1:]
    if command == "help" and rest and not rest[0].startswith("-"):
        command, rest = rest[0], ["--help"]
    from django.core.exceptions import ImproperlyConfigured

    try:
        if command in OWN_COMMANDS:
            return OWN_COMMANDS[command](rest)
        return _management_command(command, rest)
    except ImproperlyConfigured as error:  # a bad setting: say which, without a traceback
        print(f"firstcall: configuration error: {error}", file=sys.stderr)
        return 1
    except SystemExit as exit_:  # argparse and Django exit; tests and callers get the code
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except KeyboardInterrupt:
        print("\nfirstcall: interrupted.", file=sys.stderr)
        return 130


def _management_command(command: str, rest: list[str]) -> int:
    import django
    from django.core.management import execute_from_command_line, get_commands

    django.setup()  # the apps' commands (run_huey, import_eml...) are known once apps load
    name = ALIASES.get(command, command)
    if name not in get_commands() and name != "help" and not command.startswith("-"):
        hidden = set(ALIASES.values())  # suggest the friendly spelling
        choices = [*OWN_COMMANDS, *ALIASES, *(c for c in get_commands() if c not in hidden)]
        close = difflib.get_close_matches(command, choices, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(
            f"firstcall: unknown command '{command}'.{hint} Run 'firstcall --help' for the list.",
            file=sys.stderr,
        )
        return 2
    execute_from_command_line(["firstcall", name, *rest])
    return 0


# ---------------------------------------------------------------------------------------------
# firstcall web


def _whole_number_setting(name: str, *, minimum: int = 0) -> int | None:
    """The environment variable ``name`` as a whole number, None when it is not set. Raises
    ValueError for anything else, or for less than ``minimum``."""
    configured = os.environ.get(name, "").strip()
    if not configured:
        return None
    if not configured.isdigit() or int(configured) < minimum:
        at_least = f" of {minimum} or more" if minimum else ""
        raise ValueError(f"{name} must be a whole number{at_least}, not {configured!r}")
    return int(configured)


def default_web_processes() -> int:
    """FIRSTCALL_WEB_PROCESSES, else one per CPU up to 4 (one where processes cannot fork).
    Raises ValueError for a setting that is not a whole number."""
    configured = _whole_number_setting("FIRSTCALL_WEB_PROCESSES")
    if configured is not None:
        return configured
    return min(os.cpu_count() or 1, 4) if hasattr(os, "fork") else 1


def default_web_threads(processes: int) -> int:
    """FIRSTCALL_WEB_THREADS, else 2 per process when there are several, 8 in a lone process.
    A process runs Python in one thread at a time (the GIL): more threads than two in a busy
    process only wait for each other, and the one holding the database's write lock waits with
    them (measured: 2 processes of 8 threads take a sixth more CPU per request and answer a fifth
    fewer requests/s than 2 of 2). A lone process keeps 8 so a slow page does not hold up the rest.
    Raises ValueError for a setting that is not a whole number of 1 or more."""
    configured = _whole_number_setting("FIRSTCALL_WEB_THREADS", minimum=1)
    if configured is not None:
        return configured
    return 2 if processes > 1 else 8


def web(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="firstcall web", description="Run the web server (waitress).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--threads",
        type=int,
        help="request threads per process (default FIRSTCALL_WEB_THREADS, else 2 with several "
        "processes, 8 with one)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        help="server processes sharing the port (default FIRSTCALL_WEB_PROCESSES, else one per CPU up to 4)",
    )
    args = parser.parse_args(argv)
    try:
        processes = args.processes if args.processes is not None else default_web_processes()
    except ValueError as error:
        parser.error(str(error))
    if processes < 1 or (processes > 1 and not hasattr(os, "fork")):
        parser.error("--processes must be 1 or more (and 1 where processes cannot fork)")
    try:
        threads = args.threads if args.threads is not None else default_web_threads(processes)
    except ValueError as error:
        parser.error(str(error))
    if threads < 1:
        parser.error("--threads must be 1 or more")

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    # WhiteNoise serves static files straight from the apps (WHITENOISE_USE_FINDERS), so
    # collectstatic is optional; an existing STATIC_ROOT only avoids its "No directory" warning.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    from firstcall.wsgi import application

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.create_server((args.host, args.port), family=family, backlog=1024)
    if processes == 1:
        return _serve_web(application, listener, threads)
    # Several processes, one port: Django runs one request at a time per process (the GIL),
    # so a busy server (a burst of texts) needs a process per core. Each accepts connections
    # from the same socket; this one only looks after them.
    connections.close_all()  # each child opens its own
    children: list[int] = []
    die_with_parent = _die_with_parent()
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            if die_with_parent is not None:
                die_with_parent()
            os._exit(_serve_web(application, listener, threads))
        children.append(pid)
    listener.close()
    return _look_after_web_processes(children)


def _serve_web(application: Any, listener: socket.socket, threads: int) -> int:
    import waitress

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # waitress shuts its threads down on SystemExit

    signal.signal(signal.SIGTERM, stop)
    try:
        waitress.serve(application, sockets=[listener], threads=threads, ident="firstcall")
    except KeyboardInterrupt:
        pass
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    return 0


def _look_after_web_processes(children: list[int]) -> int:
    """Wait for the server processes; SIGTERM or Ctrl-C stops them all, and so does one of them
    exiting on its own (whatever runs this command restarts the whole web server)."""
    running = set(children)

    def stop_all(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    code = 0
    stopped_early = False
    while running:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in running:
            continue
        running.discard(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopped_early and running and exit_code != 0:
            code = exit_code if exit_code > 0 else 1
            print(
                f"firstcall web: server process {pid} exited ({exit_code}); stopping the others",
                file=sys.stderr,
            )
        if not stopped_early:
            stopped_early = True
            stop_all()
    return code


# ---------------------------------------------------------------------------------------------
# firstcall serve


@dataclass
class Child:
    label: str
    argv: list[str]
    stop_signal: signal.Signals
    # Where the child accepts connections once it is ready (None: ready when running).
    ready_address: tuple[str, int] | None = None
    process: subprocess.Popen[bytes] | None = None


def connect_host(host: str) -> str:
    """Where to connect to reach a server listening on ``host`` (wildcards → loopback)."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def _url_host(host: str) -> str:
    host = connect_host(host)
    return f"[{host}]" if ":" in host else host


def _port_in_use(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _accepts_connections(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection((connect_host(address[0]), address[1]), timeout=0.5):
            return True
    except OSError:
        return False


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, children get SIGTERM if the supervisor dies (even by SIGKILL), so no orphan
    keeps holding the ports."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent:  # the supervisor died before the line above
            os._exit(1)

    return set_death_signal


@dataclass
class Supervisor:
    children: list[Child]
    env: dict[str, str]
    stop_requested: int | None = None
    _previous_handlers: dict[int, Any] = field(default_factory=dict)

    def install_signal_handlers(self) -> None:
        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stop_requested = signum

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[sig] = signal.signal(sig, request_stop)

    def start(self) -> None:
        preexec = _die_with_parent()
        for child in self.children:
            # Own process group: a Ctrl-C in the terminal reaches only the supervisor, which
            # then stops each child the way that child stops gracefully.
            child.process = subprocess.Popen(child.argv, env=self.env, process_group=0, preexec_fn=preexec)

    def wait_until_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> str | None:
        """None when every child is up; else why not (a child exited, or too slow)."""
        deadline = time.monotonic() + timeout
        pending = [child for child in self.children if child.ready_address is not None]
        while True:
            if self.stop_requested is not None:
                return None
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    return f"the {child.label} exited while starting ({_describe_exit(code)})"
            pending = [c for c in pending if c.ready_address and not _accepts_connections(c.ready_address)]
            if not pending:
                return None
            if time.monotonic() > deadline:
                labels = " and ".join(c.label for c in pending)
                return f"the {labels} did not start within {timeout:.0f} seconds"
            time.sleep(0.1)

    def supervise(self) -> int:
        """Until a signal (→ 0) or a child's death (→ 1)."""
        while self.stop_requested is None:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is not None and self.stop_requested is None:
                    print(
                        f"\nfirstcall: the {child.label} stopped unexpectedly ({_describe_exit(code)}); "
                        "stopping the other processes. Its error output is above.",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.stop_all()
                    return 1
            time.sleep(0.2)
        name = signal.Signals(self.stop_requested).name
        print(f"\nfirstcall: {name} received, stopping...", flush=True)
        self.stop_all()
        print("firstcall: stopped.", flush=True)
        return 0

    def stop_all(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):  # it exited just now
                child.process.send_signal(child.stop_signal)
        deadline = time.monotonic() + timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"firstcall: the {child.label} did not stop in {timeout:.0f} s; killing it.", flush=True
                )
                child.process.kill()
                child.process.wait()


def _describe_database() -> str:
    from django.conf import settings

    config = settings.DATABASES["default"]
    if config["ENGINE"].endswith("sqlite3"):
        return f"SQLite {config['NAME']}"
    # Never the URL: it may hold a password.
    engine = config["ENGINE"].rsplit(".", 1)[-1]
    return f"{engine} database {config['NAME']!r} on {config.get('HOST') or 'localhost'}"


def _prepare_database() -> str:
    """Apply migrations; returns a line saying what was done."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    if pending:
        print(f"Preparing the database ({pending} migrations)...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        return f"applied {pending} migrations"
    return "up to date"


def _command_prefix() -> str:
    """How the user can run firstcall again (the venv's script may not be on PATH)."""
    return "firstcall" if shutil.which("firstcall") else f"{sys.executable} -m firstcall"


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="firstcall serve",
        description="Run the web console, the background worker and the SMTP listener; "
        "stop them all with Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="web server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="web server port (default 8000)")
    parser.add_argument("--smtp-host", help="SMTP listener address (default FIRSTCALL_SMTP_HOST, 127.0.0.1)")
    parser.add_argument(
        "--smtp-port", type=int, help="SMTP listener port (default FIRSTCALL_SMTP_PORT, 2525)"
    )
    parser.add_argument(
        "--workers", type=int, help="background worker threads (default FIRSTCALL_WORKER_THREADS, 4)"
    )
    parser.add_argument(
        "--threads", type=int, help="web request threads per process (default as for firstcall web)"
    )
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.conf import settings
    from django.db import DatabaseError, connections

    smtp_host: str = args.smtp_host or settings.FIRSTCALL_SMTP_HOST
    smtp_port: int = args.smtp_port if args.smtp_port is not None else settings.FIRSTCALL_SMTP_PORT
    for label, host, port, option in (
        ("web server", args.host, args.port, "--port"),
        ("SMTP listener", smtp_host, smtp_port, "--smtp-port"),
    ):
        problem = _port_in_use(host, port)
        if problem:
            print(
                f"firstcall: the {label} cannot listen on {host}:{port} ({problem}). Is firstcall already "
                f"running? Choose another port with {option}.",
                file=sys.stderr,
            )
            return 1

    try:
        database_state = _prepare_database()
        from firstcall.accounts.owner import ensure_owner_account

        owner, password = ensure_owner_account(created_by="firstcall serve")
    except DatabaseError as error:
        print(f"firstcall: cannot use the {_describe_database()}: {error}", file=sys.stderr)
        return 1
    finally:
        connections.close_all()  # the children open their own

    url = f"http://{_url_host(args.host)}:{args.port}"
    env = dict(os.environ)
    env["FIRSTCALL_DATA_DIR"] = str(settings.DATA_DIR)
    env.setdefault("FIRSTCALL_PUBLIC_URL", url)
    env.setdefault("PYTHONUNBUFFERED", "1")
    run = [sys.executable, "-m", "firstcall"]
    worker = [*run, "run_huey"] + (["--workers", str(args.workers)] if args.workers else [])
    supervisor = Supervisor(
        children=[
            Child(
                "web server",
                [*run, "web", "--host", args.host, "--port", str(args.port)]
                + (["--threads", str(args.threads)] if args.threads else []),
                signal.SIGTERM,
                (args.host, args.port),
            ),
            # SIGINT is huey's graceful stop: a task being run (an email being sent) finishes.
            Child("background worker", worker, signal.SIGINT),
            Child(
                "SMTP listener",
                [*run, "smtp", "--host", smtp_host, "--port", str(smtp_port)],
                signal.SIGTERM,
                (smtp_host, smtp_port),
            ),
        ],
        env=env,
    )
    supervisor.install_signal_handlers()
    supervisor.start()
    problem = supervisor.wait_until_ready()
    if problem:
        print(f"\nfirstcall: {problem}; stopping. Its error output is above.", file=sys.stderr, flush=True)
        supervisor.stop_all()
        return 1
    if supervisor.stop_requested is None:
        _print_banner(
            listen_host=args.host,
            url=url,
            owner=owner,
            password=password,
            smtp=f"{smtp_host}:{smtp_port}",
            database=f"{_describe_database()} ({database_state})",
            supervisor=supervisor,
        )
    return supervisor.supervise()


def _print_banner(
    *,
    listen_host: str,
    url: str,
    owner: str,
    password: str | None,
    smtp: str,
    database: str,
    supervisor: Supervisor,
) -> None:
    from django.conf import settings

    from firstcall.intake.addresses import accepted_addresses_text

    if password:
        sign_in = f"{owner} / {password}    (shown only now; stored hashed)"
    else:
        sign_in = f"{owner} (account exists; forgot the password? {_command_prefix()} changepassword {owner})"
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        outbound = f"written as files to {settings.EMAIL_FILE_PATH} (set EMAIL_HOST to send real mail)"
    elif settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        outbound = f"sent through SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    else:
        outbound = f"handled by {settings.EMAIL_BACKEND}"
    try_it = f"{_command_prefix()} send-test-email"
    smtp_host, _, smtp_port = smtp.rpartition(":")
    if connect_host(smtp_host) != connect_host(settings.FIRSTCALL_SMTP_HOST):
        try_it += f" --host {connect_host(smtp_host)}"
    if int(smtp_port) != settings.FIRSTCALL_SMTP_PORT:
        try_it += f" --port {smtp_port}"
    processes = " · ".join(
        f"{child.label} {child.process.pid}" for child in supervisor.children if child.process is not None
    )
    reachable = ""
    if listen_host not in ("127.0.0.1", "localhost", "::1"):
        # Django answers only to the host names in ALLOWED_HOSTS (loopback by default).
        allowed = ",".join(settings.ALLOWED_HOSTS)
        reachable = f"  (from other machines: add the name or IP they use to ALLOWED_HOSTS={allowed})"
    lines = [
        "",
        "firstcall is running.",
        "",
        f"  Console     {url}/{reachable}",
        f"  Sign in     {sign_in}",
        f"  Web form    {url}/request/    (what clients use to ask for help)",
        f"  API docs    {url}/api/docs",
        f"  Email in    SMTP {smtp}, for {accepted_addresses_text()}",
        f"  Email out   {outbound}",
        f"  Try it      {try_it}    (then reload the console)",
        f"  Data        {settings.DATA_DIR}; {database}",
        f"  Processes   {processes} (supervisor {os.getpid()})",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


OWN_COMMANDS: dict[str, Callable[[list[str]], int]] = {"serve": serve, "web": web}
