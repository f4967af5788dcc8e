"""On SQLite, a write transaction first takes a lock of its process, then the writer lock every
firstcall process takes (a flock beside the database file, firstcall.sqlite_backend): both hand
themselves on at once, wait at most the connection's timeout, then fail as SQLite would
("database is locked"). Other programs writing to the file meet SQLite's own wait. Where there is
no flock, the write retries SQLite's lock every half millisecond itself."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from firstcall.clients.models import Client
from firstcall.sqlite_backend import writer_lock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock"),
]


@pytest.fixture
def other_program() -> Iterator[sqlite3.Connection]:
    """Another connection to the same database file, as a program other than firstcall has."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


@pytest.fixture
def other_firstcall_process() -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """(take, give back) the writer lock as another firstcall process would: flock on a
    descriptor of its own (a lock of another open file, as another process's is)."""
    fd = os.open(str(connection.settings_dict["NAME"]) + "-writer.lock", os.O_RDWR | os.O_CREAT)
    yield (lambda: fcntl.flock(fd, fcntl.LOCK_EX)), (lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    os.close(fd)


def _released_later(release: Callable[[], None], after: float) -> list[float]:
    released_at: list[float] = []

    def release_later() -> None:
        time.sleep(after)
        released_at.append(time.monotonic())
        release()

    threading.Thread(target=release_later).start()
    return released_at


def test_a_write_waits_for_another_firstcall_process_and_gets_the_lock_at_once(
    other_firstcall_process: tuple[Callable[[], None], Callable[[], None]],
) -> None:
    take, give_back = other_firstcall_process
    take()
    released_at = _released_later(give_back, 0.3)
    with transaction.atomic():
        Client.objects.create(name="Bright Smile Dental")
    got_it = time.monotonic()
    assert Client.objects.filter(name="Bright Smile Dental").exists()
    # Woken by the kernel (SQLite's own wait sleeps up to 100 ms at a time).
    assert 0 <= got_it - released_at[0] < 0.05


def test_after_the_timeout_it_fails_as_sqlite_would_and_the_lock_it_waited_for_is_not_kept(
    other_firstcall_process: tuple[Callable[[], None], Callable[[], None]], monkeypatch: Any
) -> None:
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    take, give_back = other_firstcall_process
    take()
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), transaction.atomic():
        Client.objects.create(name="Never")
    assert 0.2 <= time.monotonic() - started < 1
    give_back()
    # The lock our waiting thread got after we gave up went straight back: writing goes on.
    started = time.monotonic()
    with transaction.atomic():
        Client.objects.create(name="Later")
    assert time.monotonic() - started < 0.5
    assert list(Client.objects.values_list("name", flat=True)) == ["Later"]


def test_another_program_writing_meets_sqlites_own_wait(other_program: sqlite3.Connection) -> None:
    other_program.execute("BEGIN IMMEDIATE")
    _released_later(lambda: other_program.execute("COMMIT"), 0.3)
    started = time.monotonic()
    with transaction.atomic():
        Client.objects.create(name="Bright Smile Dental")
    assert time.monotonic() - started >= 0.3
    assert Client.objects.filter(name="Bright Smile Dental").exists()


def test_without_flock_the_write_retries_sqlites_lock_itself_and_times_out_as_sqlite_would(
    other_program: sqlite3.Connection, monkeypatch: Any
) -> None:
    monkeypatch.setattr(writer_lock, "for_database", lambda name: None)  # as on Windows
    other_program.execute("BEGIN IMMEDIATE")
    released_at = _released_later(lambda: other_program.execute("COMMIT"), 0.3)
    with transaction.atomic():
        Client.objects.create(name="Bright Smile Dental")
    got_it = time.monotonic()
    # Within a few of our half-millisecond tries (SQLite's own wait sleeps up to 100 ms at a time).
    assert 0 <= got_it - released_at[0] < 0.05
    # SQLite's own wait is back for the statements of the next transaction.
    assert connection.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == 20_000

    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    other_program.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), transaction.atomic():
        Client.objects.create(name="Never")
    assert 0.2 <= time.monotonic() - started < 1
    other_program.execute("ROLLBACK")
    assert not Client.objects.filter(name="Never").exists()


def _child_waits_for_the_lock(path: str, results: Any) -> None:
    lock = writer_lock.for_database(path)
    assert lock is not None
    results.put(("while the parent holds it", lock.acquire(0.2)))
    results.put(("once the parent gave it back", lock.acquire(5)))
    lock.release()


def test_a_forked_process_has_a_writer_lock_of_its_own(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    ours = writer_lock.for_database(path)
    assert ours is not None and ours.acquire(1)
    forking = multiprocessing.get_context("fork")
    results = forking.Queue()
    child = forking.Process(target=_child_waits_for_the_lock, args=(path, results))
    child.start()
    assert results.get(timeout=10) == ("while the parent holds it", False)
    ours.release()
    assert results.get(timeout=10) == ("once the parent gave it back", True)
    child.join(10)
    assert child.exitcode == 0


def test_threads_of_one_process_take_turns_and_a_rollback_hands_the_lock_on() -> None:
    writing = threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                Client.objects.create(name="First")
                writing.set()
                time.sleep(0.3)
        finally:
            connection.close()  # this thread's own connection

    other = threading.Thread(target=slow_writer)
    other.start()
    assert writing.wait(10)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="changed my mind"), transaction.atomic():
        Client.objects.create(name="Second")  # only once the other thread committed
        waited = time.monotonic() - started
        raise RuntimeError("changed my mind")
    assert 0.2 <= waited < 5
    started = time.monotonic()
    with transaction.atomic():  # the rollback gave the lock back: no wait
        Client.objects.create(name="Third")
    assert time.monotonic() - started < 0.1
    other.join(10)
    assert set(Client.objects.values_list("name", flat=True)) == {"First", "Third"}
