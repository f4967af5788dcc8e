"""A real Prometheus Alertmanager on loopback (Debian package prometheus-alertmanager), started
with a throwaway config whose webhook receiver points at a live server of our app.

Without the binary the tests using it skip with a reason — except under CI=true, where a missing
Alertmanager is a failure (CI installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")


def alertmanager_binary() -> str:
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = (
        "Prometheus Alertmanager is not installed "
        "(apt-get install prometheus-alertmanager); the end-to-end alert tests need it"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " — CI must install it (.ci/run)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail clearly after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200, response.read()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_alertmanager(tmp_path: Path, webhook_url: str, secret: str) -> Iterator[Alertmanager]:
    """Run Alertmanager until the generator is closed. Groups by alertname and client, sends
    without waiting (group_wait 0) and flushes changes every second, resolved included."""
    binary = alertmanager_binary()
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        json.dumps(  # JSON is YAML: no YAML writer needed
            {
                "route": {
                    "receiver": "firstcall",
                    "group_by": ["alertname", "client"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "firstcall",
                        "webhook_configs": [
                            {
                                "url": webhook_url,
                                "send_resolved": True,
                                "http_config": {"authorization": {"type": "Bearer", "credentials": secret}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    log_path = tmp_path / "alertmanager.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: a single, private instance
                "--log.level=debug",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    manager = Alertmanager(f"http://127.0.0.1:{port}", process, log_path)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"Alertmanager exited with {process.returncode}:\n{manager.log()}")
            try:
                with urllib.request.urlopen(f"{manager.url}/-/ready", timeout=1) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        wait_for(ready, 15, "Alertmanager to be ready")
        yield manager
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
