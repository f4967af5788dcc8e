"""On SQLite, a write transaction waits for another connection's write lock by trying again every
half millisecond (firstcall.sqlite_backend), for as long as the connection's timeout, then fails
as SQLite would ("database is locked"); the statements inside keep SQLite's own wait."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from firstcall.clients.models import Client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock"),
]


@pytest.fixture
def other_writer() -> Iterator[sqlite3.Connection]:
    """Another connection to the same database file, as another process would have."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def test_a_write_waits_for_the_lock_and_gets_it_soon_after_it_is_free(
    other_writer: sqlite3.Connection,
) -> None:
    other_writer.execute("BEGIN IMMEDIATE")
    released_at: list[float] = []

    def release_later() -> None:
        time.sleep(0.3)
        released_at.append(time.monotonic())
        other_writer.execute("COMMIT")

    threading.Thread(target=release_later).start()
    with transaction.atomic():
        Client.objects.create(name="Bright Smile Dental")
    got_it = time.monotonic()
    assert Client.objects.filter(name="Bright Smile Dental").exists()
    # Within a few of our half-millisecond tries (SQLite's own wait sleeps up to 100 ms at a time).
    assert 0 <= got_it - released_at[0] < 0.05
    # SQLite's own wait is back for the statements of the next transaction.
    assert connection.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == 20_000


def test_after_the_timeout_it_fails_as_sqlite_would(
    other_writer: sqlite3.Connection, monkeypatch: Any
) -> None:
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    other_writer.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), transaction.atomic():
        Client.objects.create(name="Never")
    assert 0.2 <= time.monotonic() - started < 1
    other_writer.execute("ROLLBACK")
    assert not Client.objects.filter(name="Never").exists()


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
