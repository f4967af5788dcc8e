"""Django's SQLite backend, handing the write lock on without SQLite's sleepy wait.

SQLite lets one connection write at a time. A connection that finds the lock taken waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries: under load the lock
is often free while every waiter sleeps, and a waiter can lose to newcomers again and again. So
here a write transaction (BEGIN IMMEDIATE) first takes two locks that hand themselves on at once:
a lock of the process, for which its threads queue, then the writer lock all firstcall processes
on the database take (writer_lock.py, a ``flock``), for which processes queue in the kernel. Both
wait at most the connection's ``timeout``, then fail as SQLite would ("database is locked").
SQLite's own wait is left for other programs writing to the file.

Where there is no ``flock`` (Windows), the thread at the head of the process's queue begins with
SQLite's wait off and tries again every half millisecond itself, for as long as SQLite would have
waited. The statements inside keep SQLite's own wait."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from firstcall.sqlite_backend import writer_lock

# Without flock: how often a write transaction tries to begin while another process holds the lock.
RETRY_SECONDS = 0.0005
# One per process: a thread's connection holds it from BEGIN to COMMIT or ROLLBACK.
_process_write_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A process forked while one of its threads was writing must not inherit a held lock.
    global _process_write_lock
    _process_write_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_process_write_lock = False
    _writer_lock: writer_lock.WriterLock | None = None

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        if not _process_write_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (another thread of this process is writing)")
        self._holds_process_write_lock = True
        try:
            writers = writer_lock.for_database(str(self.settings_dict["NAME"]))
            if writers is not None:
                if not writers.acquire(max(deadline - time.monotonic(), 0)):
                    raise OperationalError("database is locked (another firstcall process is writing)")
                self._writer_lock = writers
                super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in the stubs
                return
            self._begin_retrying(deadline, timeout)
        except BaseException:
            self._release_write_locks()
            raise

    def _begin_retrying(self, deadline: float, timeout: float) -> None:
        connection: sqlite3.Connection = self.connection
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in the stubs
                    return
                except OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(RETRY_SECONDS)
        finally:
            connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")

    def _release_write_locks(self) -> None:
        if self._writer_lock is not None:
            writers, self._writer_lock = self._writer_lock, None
            writers.release()
        if self._holds_process_write_lock:
            self._holds_process_write_lock = False
            _process_write_lock.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_write_locks()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_write_locks()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_write_locks()
