"""`firstcall web --processes N`: N server processes answer on one port; SIGTERM stops them all,
and one dying stops the rest (so whatever runs the web server restarts it whole)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_serve_e2e import NOT_INHERITED, accepts_connections, free_port, is_running

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process tree from Linux's /proc"
)


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def web_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(NOT_INHERITED)}
    env.update(FIRSTCALL_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "-m", "firstcall", "migrate", "-v", "0"], env=env, check=True)
    return env


@pytest.fixture
def web_server(web_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "firstcall", "web", "--port", str(port), "--processes", "3", "--threads", "2"],
        env=web_env,
    )
    try:
        deadline = time.monotonic() + 60
        while not accepts_connections(port) or len(children_of(process.pid)) < 3:
            assert process.poll() is None and time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_three_processes_answer_and_stop_together(web_server: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = web_server
    servers = children_of(process.pid)
    assert len(servers) == 3
    for _ in range(30):  # a new connection each: any of the three may take it
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as page:
            assert page.status == 200 and b"Sign in" in page.read()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert [pid for pid in servers if is_running(pid)] == []
    assert not accepts_connections(port)


def test_one_process_dying_stops_the_others(web_server: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = web_server
    servers = children_of(process.pid)
    os.kill(servers[0], signal.SIGKILL)
    assert process.wait(timeout=15) != 0
    assert [pid for pid in servers if is_running(pid)] == []
    assert not accepts_connections(port)


def test_processes_must_be_one_or_more(web_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "firstcall", "web", "--processes", "0"],
        env=web_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--processes must be 1 or more" in done.stderr
    env = {**web_env, "FIRSTCALL_WEB_PROCESSES": "many"}
    done = subprocess.run([sys.executable, "-m", "firstcall", "web"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "FIRSTCALL_WEB_PROCESSES must be a whole number" in done.stderr


def test_threads_per_process_default_to_two_with_several_processes_and_eight_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from firstcall.cli import default_web_threads

    monkeypatch.delenv("FIRSTCALL_WEB_THREADS", raising=False)
    assert (default_web_threads(2), default_web_threads(4), default_web_threads(1)) == (2, 2, 8)
    monkeypatch.setenv("FIRSTCALL_WEB_THREADS", "6")
    assert default_web_threads(2) == 6


def test_threads_must_be_one_or_more(web_env: dict[str, str]) -> None:
    for env, argv in (
        ({**web_env, "FIRSTCALL_WEB_THREADS": "0"}, []),
        ({**web_env, "FIRSTCALL_WEB_THREADS": "some"}, []),
        (web_env, ["--threads", "0"]),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "firstcall", "web", *argv], env=env, capture_output=True, text=True
        )
        assert done.returncode == 2, done.stderr
        assert "FIRSTCALL_WEB_THREADS must be a whole number of 1 or more" in done.stderr or (
            "--threads must be 1 or more" in done.stderr
        )
