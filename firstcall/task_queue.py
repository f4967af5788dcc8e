"""The task queue's SQLite storage, used when REDIS_URL is not set.

Huey's own syncs the queue file to disk at every commit (SQLite's synchronous=FULL), a disk
flush for each task enqueued: two or three per new ticket (its SLA checks, its acknowledgment).
This one syncs at WAL checkpoints (synchronous=NORMAL, as the main database): a queued task
survives firstcall crashing; a power cut may drop the last ones, which the periodic sweeps
catch (they read what is due from the database, not from the queue)."""

from __future__ import annotations

import sqlite3

from huey import SqliteHuey
from huey.storage import SqliteStorage


class CheckpointSyncedSqliteStorage(SqliteStorage):  # type: ignore[misc]  # huey has no type hints
    def _create_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


class CheckpointSyncedSqliteHuey(SqliteHuey):  # type: ignore[misc]
    storage_class = CheckpointSyncedSqliteStorage
