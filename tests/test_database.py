"""Database plumbing: SQLite settings, UTC timestamps, case references, settings loading."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from advisor import cases, create_app
from advisor.config import database_uri
from models import AuditEvent, db

from .conftest import base_config


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(app, backend):
    if backend != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_foreign_keys_are_enforced(app):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.execute(text(
            "INSERT INTO cases (reference, applicant_id, advisor_id, consulate_code, status, notes, "
            "created_at, updated_at, version) VALUES ('K-2026-999999', 12345, 12345, 'GB-LON', 'intake', '', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
        db.session.flush()
    db.session.rollback()


def test_timestamps_come_back_as_aware_utc(app, admin):
    db.session.add(AuditEvent(actor_label="x", action="probe", changes={},
                              at=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))))
    db.session.commit()
    db.session.expire_all()
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "probe"))
    assert event.at.tzinfo is not None and event.at.utcoffset() == dt.timedelta(0)
    assert event.at == dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)


def test_naive_datetimes_are_refused(app):
    from sqlalchemy.exc import StatementError

    db.session.add(AuditEvent(actor_label="x", action="naive", changes={}, at=dt.datetime(2026, 1, 1)))
    with pytest.raises(StatementError):
        db.session.flush()
    db.session.rollback()


def test_references_count_up_per_year(app):
    first, second = cases.next_reference(2026), cases.next_reference(2026)
    other_year = cases.next_reference(2027)
    assert (first, second, other_year) == ("K-2026-000001", "K-2026-000002", "K-2027-000001")
    db.session.rollback()


def test_database_url_forms():
    instance = Path("/srv/advisor/instance")
    assert database_uri(None, instance) == "sqlite:////srv/advisor/instance/advisor.sqlite3"
    assert database_uri("postgres://u:p@h/db", instance) == "postgresql+psycopg://u:p@h/db"
    assert database_uri("postgresql://u@h:5433/db", instance) == "postgresql+psycopg://u@h:5433/db"
    assert database_uri("sqlite:///x.db", instance) == "sqlite:///x.db"


def test_settings_from_instance_file_then_environment(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "advisor.toml").write_text('PAGE_SIZE = 40\nPRACTICE_NAME = "From file"\n')
    monkeypatch.setenv("ADVISOR_PRACTICE_NAME", "From environment")
    monkeypatch.setenv("ADVISOR_SECRET_KEY", "env-secret")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    from flask import Flask

    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(instance))
    app = create_app()
    assert app.config["PAGE_SIZE"] == 40
    assert app.config["PRACTICE_NAME"] == "From environment"
    assert app.config["SECRET_KEY"] == "env-secret"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'env.sqlite3'}"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_test_config_wins(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'a.sqlite3'}", PAGE_SIZE=7))
    assert app.config["PAGE_SIZE"] == 7
