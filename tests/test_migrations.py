"""Models and migrations agree: `flask db upgrade` then `flask db check` on SQLite and PostgreSQL; landed
revisions are locked by their hashes (migrations/revisions.lock) and never change."""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect, text

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
    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    files = list(versions.glob("*.py"))
    assert files
    for path in files:
        source = path.read_text()
        assert "import models" not in source and "from models" not in source, path.name


DANGLING = '''"""A revision that leaves a task pointing at a case that is not there.

Revision ID: 0099
Revises: {head}
"""
import sqlalchemy as sa
from alembic import op

revision = '0099'
down_revision = '{head}'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('probe', sa.Column('id', sa.Integer(), primary_key=True))
    op.execute("INSERT INTO tasks (case_id, title, created_at) VALUES (999, 'Orphan', CURRENT_TIMESTAMP)")


def downgrade():
    op.drop_table('probe')
'''


def test_a_revision_that_leaves_a_row_pointing_nowhere_is_refused_whole(
        app: Flask, backend: str, tmp_path: Any) -> None:
    """On SQLite revisions run with foreign keys off (a batch operation's DROP would cascade), so each one
    ends with a foreign-key check; PostgreSQL checks every statement. Either way nothing of it stays."""
    from alembic.script import ScriptDirectory

    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    migrations = tmp_path / "migrations"
    shutil.copytree(Path(app.extensions["migrate"].directory), migrations,
                    ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(migrations)).get_current_head()
    (migrations / "versions" / "0099_dangling.py").write_text(DANGLING.format(head=head))

    refused = runner.invoke(args=["db", "upgrade", "--directory", str(migrations)])
    assert refused.exit_code != 0, refused.output
    if backend == "sqlite":
        assert "0099: 1 rows refer to rows that are not there (tasks -> cases)" in refused.output
    with app.app_context():
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == head
        assert db.session.scalar(text("SELECT count(*) FROM tasks")) == 0
        assert "probe" not in inspect(db.session.connection()).get_table_names()
        if backend == "sqlite":  # the connection went back to the pool with foreign keys on again
            assert db.session.scalar(text("PRAGMA foreign_keys")) == 1


# Landed revisions are locked: migrations/revisions.lock holds each one's hash --------------------------------

def load_lock_script() -> Any:
    path = Path(__file__).resolve().parent.parent / "scripts" / "lock-migrations.py"
    spec = importlib.util.spec_from_file_location("lock_migrations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


lock = load_lock_script()


def test_every_revision_is_locked_and_unchanged() -> None:
    """A landed revision is never edited (every database made from it has run it as it was): a change to
    the schema is a new revision, locked with `python scripts/lock-migrations.py`."""
    problems = lock.check().messages()
    assert not problems, "\n".join(problems)


@pytest.fixture
def versions_copy(tmp_path: Any) -> tuple[Any, Any]:
    """The revisions and their lock file, copied where a test may change them."""
    versions = tmp_path / "versions"
    shutil.copytree(lock.VERSIONS, versions, ignore=shutil.ignore_patterns("__pycache__"))
    lock_file = tmp_path / "revisions.lock"
    shutil.copy(lock.LOCK, lock_file)
    return versions, lock_file


NEW_REVISION = '"""A new table.\n\nRevision ID: 0099\nRevises: 0009\n"""\nrevision = "0099"\n'


def test_an_edited_a_removed_and_an_unlisted_revision_are_each_named(versions_copy: tuple[Any, Any]) -> None:
    versions, lock_file = versions_copy
    edited = versions / "0006_documents.py"
    edited.write_text(edited.read_text() + "\n# tidied\n")
    (versions / "0009_dashboard_index.py").unlink()
    (versions / "0099_new_table.py").write_text(NEW_REVISION)

    report = lock.check(versions, lock_file)
    assert (report.changed, report.removed, report.unlisted) == (
        ["0006_documents.py"], ["0009_dashboard_index.py"], ["0099_new_table.py"])
    changed, removed, unlisted = report.messages()
    assert changed.startswith("0006_documents.py was edited after it was locked") and "new revision" in changed
    assert removed.startswith("0009_dashboard_index.py is locked but gone")
    assert unlisted == ("0099_new_table.py is not locked yet: run `python scripts/lock-migrations.py` and commit "
                        "migrations/revisions.lock with it.")


def run_lock_script(*args: Any) -> Any:
    return subprocess.run([sys.executable, lock.__file__, *map(str, args)], capture_output=True, text=True,
                          check=False)


def test_the_script_appends_a_new_revision_and_never_rewrites_a_line(versions_copy: tuple[Any, Any]) -> None:
    versions, lock_file = versions_copy
    before = lock_file.read_bytes()
    (versions / "0099_new_table.py").write_text(NEW_REVISION)
    assert run_lock_script("--check", "--versions", versions, "--lock", lock_file).returncode == 1

    done = run_lock_script("--versions", versions, "--lock", lock_file)
    assert (done.returncode, done.stdout) == (0, "locked 0099_new_table.py\n"), done.stderr
    after = lock_file.read_bytes()
    assert after.startswith(before)
    assert after[len(before):].decode() == f"{hashlib.sha256(NEW_REVISION.encode()).hexdigest()}  0099_new_table.py\n"
    assert run_lock_script("--check", "--versions", versions, "--lock", lock_file).returncode == 0
    again = run_lock_script("--versions", versions, "--lock", lock_file)
    assert again.stdout == "Every revision is locked already.\n" and lock_file.read_bytes() == after


def test_the_script_refuses_to_lock_while_a_listed_revision_is_edited(versions_copy: tuple[Any, Any]) -> None:
    versions, lock_file = versions_copy
    before = lock_file.read_bytes()
    edited = versions / "0001_initial_schema.py"
    edited.write_text(edited.read_text().replace("length=254", "length=320"))
    (versions / "0099_new_table.py").write_text(NEW_REVISION)

    refused = run_lock_script("--versions", versions, "--lock", lock_file)
    assert refused.returncode == 1
    assert "0001_initial_schema.py was edited after it was locked" in refused.stderr
    assert lock_file.read_bytes() == before


def test_line_endings_do_not_count_as_an_edit(versions_copy: tuple[Any, Any]) -> None:
    """A checkout that turns LF into CRLF (Windows, core.autocrlf) is the same revision."""
    versions, lock_file = versions_copy
    for path in versions.glob("*.py"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert lock.check(versions, lock_file).messages() == []
