"""The shared counters behind the rate limits.

Redis when REDIS_URL is set: every web process on every machine counts together. Otherwise a
SQLite file of their own in the data folder, shared by every process on this machine. Not the
main database: a counter write must never wait for, or hold, its single write lock, which
intake needs (a burst of texts from Twilio is exactly when both are busy).

A counter is named by its key and the start of its window; one atomic operation adds a request
and returns the new count (Redis INCR; SQLite's upsert ... RETURNING).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings

COUNTER_FILE = "ratelimits.sqlite3"
# Seconds a Redis counter outlives its window (Redis drops it by itself afterwards).
EXPIRY_MARGIN = 60


class Counter(Protocol):
    def hit(self, key: str, window_start: int, window_seconds: int) -> int:
        """Count one request; returns the window's count including it."""

    def peek(self, key: str, window_start: int) -> int:
        """The window's count so far, without counting."""

    def clear(self) -> None:
        """Forget every count (tests, or an operator lifting every block at once)."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (
    key TEXT NOT NULL,
    started INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, started)
) WITHOUT ROWID
"""
UPSERT = """
INSERT INTO hits (key, started, expires, count) VALUES (?, ?, ?, 1)
ON CONFLICT (key, started) DO UPDATE SET count = count + 1
RETURNING count
"""


class SqliteCounter:
    """Counters in a SQLite file: one connection per thread, each statement its own transaction."""

    # Every this many counts a connection deletes the counters of windows that have ended.
    PRUNE_EVERY = 1000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        # A connection must not cross a fork (Huey's process workers, the serve supervisor).
        if connection is None or self._local.pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # Counters are not worth an fsync: after a power cut they start again from zero.
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute(SCHEMA)
            self._local.connection, self._local.pid, self._local.hits = connection, os.getpid(), 0
        return connection

    def hit(self, key: str, window_start: int, window_seconds: int) -> int:
        connection = self._connection()
        expires = window_start + window_seconds
        (count,) = connection.execute(UPSERT, (key, window_start, expires)).fetchone()
        self._local.hits += 1
        if self._local.hits % self.PRUNE_EVERY == 0:
            connection.execute("DELETE FROM hits WHERE expires < ?", (window_start,))
        return int(count)

    def peek(self, key: str, window_start: int) -> int:
        row = (
            self._connection()
            .execute("SELECT count FROM hits WHERE key = ? AND started = ?", (key, window_start))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def clear(self) -> None:
        self._connection().execute("DELETE FROM hits")


class RedisCounter:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._client: redis.Redis | None = None
        self._pid = 0

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client, self._pid = redis.Redis.from_url(self.url), os.getpid()
        return self._client

    def hit(self, key: str, window_start: int, window_seconds: int) -> int:
        name = f"{self.prefix}{key}:{window_start}"
        pipeline = self._redis().pipeline(transaction=True)
        pipeline.incr(name)
        # Relative expiry: the window is in the name, so the count is right whatever Redis's
        # clock says; the expiry only cleans up.
        pipeline.expire(name, window_seconds + EXPIRY_MARGIN)
        count, _ = pipeline.execute()
        return int(count)

    def peek(self, key: str, window_start: int) -> int:
        value = self._redis().get(f"{self.prefix}{key}:{window_start}")
        return int(value) if value is not None else 0

    def clear(self) -> None:
        client = self._redis()
        for name in client.scan_iter(match=f"{self.prefix}*", count=500):
            client.delete(name)


_counters: dict[tuple[str, ...], Counter] = {}
_lock = threading.Lock()


def counter() -> Counter:
    """The counter store for the current settings (one per configuration, kept for the process)."""
    redis_url = str(settings.REDIS_URL)
    # One install, one secret key: installs sharing a Redis (and test runs) never share counts.
    install = hashlib.sha256(str(settings.SECRET_KEY).encode()).hexdigest()[:12]
    path = str(Path(settings.DATA_DIR) / COUNTER_FILE)
    config = (redis_url, install) if redis_url else (path,)
    found = _counters.get(config)
    if found is None:
        with _lock:
            found = _counters.get(config)
            if found is None:
                found = (
                    RedisCounter(redis_url, f"firstcall:ratelimit:{install}:")
                    if redis_url
                    else SqliteCounter(Path(path))
                )
                _counters[config] = found
    return found
