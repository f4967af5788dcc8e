"""Django's SQLite backend, taking the write lock without SQLite's sleepy wait.

SQLite lets one connection write at a time. A connection that finds the lock taken waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries: under load the lock
is often free while every waiter sleeps, and a waiter can lose to newcomers again and again. So
here the threads of a process queue for a lock of the process before they begin a write
transaction (BEGIN IMMEDIATE), which the one ending hands straight to the next; the one at the
head of the queue begins with SQLite's wait off and tries again every half millisecond itself,
for as long as SQLite would have waited (the connection's ``timeout``). The statements inside
keep SQLite's own wait."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# How often a write transaction tries to begin while another process holds the lock.
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

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        if not _process_write_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (another thread of this process is writing)")
        self._holds_process_write_lock = True
        connection: sqlite3.Connection = self.connection
        try:
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
        except BaseException:
            self._release_process_write_lock()
            raise

    def _release_process_write_lock(self) -> None:
        if self._holds_process_write_lock:
            self._holds_process_write_lock = False
            _process_write_lock.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_process_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_process_write_lock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # not in the stubs
        finally:
            self._release_process_write_lock()
