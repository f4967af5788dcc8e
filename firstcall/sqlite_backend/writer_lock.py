"""The lock every firstcall process takes before it begins a write transaction on one SQLite file:
an exclusive ``flock`` on a file beside the database (``<database>-writer.lock``).

SQLite lets one connection write at a time, and a connection that finds its lock taken can only
sleep and try again. The kernel instead queues the processes waiting for a ``flock`` and wakes
them the moment it is released, and they wait without using the CPU: web processes, worker and
SMTP listener hand the write lock to each other at once. A blocking ``flock`` cannot time out, so
a process waits for it in a thread of its own, while the thread that wants to write waits as long
as the connection's ``timeout`` and gives up, as SQLite would, if it is not given the lock by then.

One thread of a process asks at a time (base.py queues them on a lock of the process first).
Where there is no ``flock`` (Windows), ``for_database`` gives None and base.py retries SQLite's
lock itself."""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


@dataclass
class _Ask:
    granted: threading.Event = field(default_factory=threading.Event)
    # The asker stopped waiting: the waiting thread gives the lock back as soon as it gets it.
    abandoned: bool = False


class WriterLock:
    """One database file's writer lock, for this process."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._asks: queue.SimpleQueue[_Ask] = queue.SimpleQueue()
        self._decide = threading.Lock()
        # Asks the waiting thread has not settled yet. While there are any, asking goes through
        # it too: a lock it is about to get is this same descriptor's (flock locks belong to the
        # open file, not to a thread), so a second way in would let it give away ours.
        self._unsettled = 0
        self._waiter: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        assert fcntl is not None
        with self._decide:
            if self._unsettled == 0:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            self._unsettled += 1
            if self._waiter is None:
                self._waiter = threading.Thread(
                    target=self._wait_for_asks, name="sqlite-writer-lock", daemon=True
                )
                self._waiter.start()
        ask = _Ask()
        self._asks.put(ask)
        if ask.granted.wait(timeout):
            return True
        with self._decide:
            if ask.granted.is_set():  # given in the meantime
                return True
            ask.abandoned = True
        return False

    def release(self) -> None:
        assert fcntl is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _wait_for_asks(self) -> None:
        assert fcntl is not None
        while True:
            ask = self._asks.get()
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # the kernel wakes us when it is ours
            with self._decide:
                if ask.abandoned:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                else:
                    ask.granted.set()
                self._unsettled -= 1

    def close_inherited(self) -> None:
        # In a forked child: the descriptor shares the parent's lock; closing it leaves the
        # parent's lock alone (it is released when the parent's descriptor is).
        os.close(self._fd)


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def for_database(name: str) -> WriterLock | None:
    """The writer lock of the SQLite database at ``name``; None for an in-memory database (one
    process only) or where the system has no ``flock``."""
    if fcntl is None or not name or name == ":memory:" or "mode=memory" in name:
        return None
    path = os.path.abspath(name.removeprefix("file:").partition("?")[0]) + "-writer.lock"
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None:
            lock = _locks[path] = WriterLock(path)
        return lock


def _forget_parents_locks() -> None:
    global _locks_guard
    _locks_guard = threading.Lock()
    for lock in _locks.values():
        lock.close_inherited()
    _locks.clear()


os.register_at_fork(after_in_child=_forget_parents_locks)
