"""How DATABASE_URL becomes Django's DATABASES: SQLite's concurrency settings and backend, PostgreSQL's
server-side parameter binding (on unless FIRSTCALL_PG_SERVER_SIDE_BINDING=false)."""

from __future__ import annotations

import pytest

from firstcall import settings as firstcall_settings


def test_postgresql_binds_parameters_server_side_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://firstcall@db.example:5432/firstcall")
    monkeypatch.delenv("FIRSTCALL_PG_SERVER_SIDE_BINDING", raising=False)
    config = firstcall_settings._databases()["default"]
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["OPTIONS"]["server_side_binding"] is True

    monkeypatch.setenv("FIRSTCALL_PG_SERVER_SIDE_BINDING", "false")  # behind PgBouncer
    assert "server_side_binding" not in firstcall_settings._databases()["default"].get("OPTIONS", {})


def test_sqlite_takes_the_write_lock_up_front_and_keeps_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = firstcall_settings._databases()["default"]
    assert config["ENGINE"] == "firstcall.sqlite_backend"  # Django's, with its own wait for the lock
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["CONN_MAX_AGE"] == 600
