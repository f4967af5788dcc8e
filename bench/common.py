"""Helpers shared by the benchmarks: a fresh data folder (and PostgreSQL database), the firstcall
command, percentiles, CPU time used."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def fresh_environment(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"}  # the figures are for SQLite, as named
    }
    env["FIRSTCALL_DATA_DIR"] = tempfile.mkdtemp(prefix="firstcall-bench-")
    env["FIRSTCALL_ACCEPTED_ADDRESSES"] = "support@msp.example"
    env["DEFAULT_FROM_EMAIL"] = "support@msp.example"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env.update(extra)
    return env


def firstcall(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "firstcall", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"firstcall {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    web_port: int
    smtp_port: int
    log_path: Path


@contextmanager
def serving(env: dict[str, str], web_port: int | None = None) -> Iterator[Served]:
    """`firstcall serve` running for real with ``env``, its output in <data>/serve.log; stopped
    (SIGTERM) on exit."""
    web_port = web_port or free_port()
    smtp_port = free_port()
    log_path = Path(env["FIRSTCALL_DATA_DIR"]) / "serve.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firstcall",
                "serve",
                "--port",
                str(web_port),
                "--smtp-port",
                str(smtp_port),
                *(["--threads", env["BENCH_WEB_THREADS"]] if env.get("BENCH_WEB_THREADS") else []),
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(smtp_port, 60)
            wait_for_port(web_port, 60)
            yield Served(process, web_port, smtp_port, log_path)
        finally:
            process.terminate()
            process.wait(timeout=30)


def fresh_postgres(server_url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the server; returns its URL and a function that drops it."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(server_url.rstrip("/") + "/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server_url.rstrip("/") + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server_url.rstrip("/") + "/" + name, drop


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time used so far by a process and its children, by command (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            cmdline = Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        words = [w.decode() for w in cmdline if w]
        # python -m firstcall <command> …: name each process by its command.
        name = words[3] if len(words) > 3 and words[1:3] == ["-m", "firstcall"] else " ".join(words[:2])
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        pending.extend(int(child) for child in children)
    return used


def cpu_seconds_of_command(command: str) -> dict[int, float]:
    """CPU time used so far by each running process named ``command`` (e.g. "postgres": the
    server and its backends, whoever they serve), by process id (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.find("(") + 1 : text.rfind(")")] == command:
            fields = text.rpartition(")")[2].split()
            used[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent not idle, summed over its CPUs (Linux /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
