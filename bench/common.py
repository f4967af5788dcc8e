"""Helpers shared by the benchmarks: a fresh data folder and the firstcall command."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
