"""Models and migrations agree: `flask db upgrade` then `flask db check` on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect

from advisor import create_app
from models import db

from . import postgres
from .conftest import base_config


@pytest.fixture
def empty_database(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    else:
        with postgres.database(request.getfixturevalue("pg_server"), "advisor_migrations") as url:
            yield url


@pytest.fixture
def app(empty_database: str) -> Iterator[Flask]:
    """An app on an empty database (no create_all): the migrations build the schema."""
    app = create_app(base_config(empty_database))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_upgrade_then_check_shows_no_drift(app: Flask) -> None:
    runner = app.test_cli_runner()

    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output

    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        assert "alembic_version" in tables


def test_downgrade_to_base_and_back(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    downgrade = runner.invoke(args=["db", "downgrade", "base"])
    assert downgrade.exit_code == 0, downgrade.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0


def test_check_detects_drift(app: Flask) -> None:
    """The check is real: with a model the migrations lack, it fails."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    extra = db.Table("drift_probe", db.metadata, db.Column("id", db.Integer, primary_key=True))
    try:
        check = runner.invoke(args=["db", "check"])
        assert check.exit_code != 0
    finally:
        db.metadata.remove(extra)


def test_revisions_never_import_models() -> None:
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    files = list(versions.glob("*.py"))
    assert files
    for path in files:
        source = path.read_text()
        assert "import models" not in source and "from models" not in source, path.name
