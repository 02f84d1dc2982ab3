"""Engine settings and the two phases of a web request: a read phase, then at most a short write phase.

SQLite (WAL mode) lets any number of readers work beside one writer; only the write lock is exclusive.
pysqlite's own transaction handling starts transactions late and as DEFERRED, so we take the transaction
over (SQLAlchemy's documented recipe) and choose how each one begins:

- In a web request, a transaction begins DEFERRED: the user loader, a page's queries and a download read a
  snapshot and never take the write lock, so a slow page or a slow download no longer makes every other
  request queue for it (with gunicorn's threaded workers that ended in "database is locked" errors).
- A write phase (`begin_write`) ends the read transaction and begins BEGIN IMMEDIATE: the writer waits its
  turn on the busy timeout, and whatever it reads now (the version an optimistic lock compares) is fresh.
  `views.editing.apply` opens one for every operation; slow work — argon2, file checks, building a packet —
  happens before it, in the read phase.
- Outside a request (commands, the packet worker, the tests' own setup) a transaction begins IMMEDIATE, as
  a command is a unit of work that writes; a connection marked READ_ONLY begins deferred anywhere.

No write may run in a transaction that began deferred: once it has read, SQLite refuses the upgrade at
once with SQLITE_BUSY_SNAPSHOT if anyone else committed meanwhile, whatever the busy timeout. In
development and testing a guard raises `WriteOutsideWritePhase` for such a write, so the test suite finds
every write path that escapes the write phase; in production the write would merely risk that error.

PostgreSQL needs none of this (MVCC, row locks); there `begin_write` only starts a new transaction, and
pooled connections are checked before use (`pool_pre_ping`, in config.py), so a restarted server does not
fail the first request of every worker.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import has_request_context
from sqlalchemy import Engine, event

from models import db

# Execution option of a connection that only reads: `db.session.connection(execution_options=READ_ONLY)`.
READ_ONLY_OPTION = "advisor_read_only"
READ_ONLY = {READ_ONLY_OPTION: True}
# Execution option of a write phase's connection; set by `begin_write`.
WRITE_OPTION = "advisor_write"
WRITE = {WRITE_OPTION: True}

_IMMEDIATE = "advisor.immediate"  # key in the pooled connection's info: how its transaction began
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class WriteOutsideWritePhase(RuntimeError):
    """A write in a transaction that began deferred: it must run in `begin_write`'s phase instead."""


def configure_engine(engine: Engine, config: Any) -> None:
    if engine.dialect.name != "sqlite":
        return
    timeout = int(config["SQLITE_BUSY_TIMEOUT_MS"])
    if engine.url.database and engine.url.database != ":memory:":
        # SQLite creates the file but not its folder: a fresh install has no instance folder yet.
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        immediate = bool(options.get(WRITE_OPTION)) or (
            not options.get(READ_ONLY_OPTION) and not has_request_context())
        connection.info[_IMMEDIATE] = immediate
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    if config.get("TESTING") or config.get("ENV") == "development":
        @event.listens_for(engine, "before_cursor_execute")
        def refuse_deferred_write(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if connection.info.get(_IMMEDIATE) is False and _WRITE_STATEMENT.match(statement):
                raise WriteOutsideWritePhase(
                    f"{statement.split(None, 1)[0]} in a transaction that began deferred: "
                    "run it in a write phase (views.editing.apply or advisor.database.begin_write)")


def begin_write() -> None:
    """End the transaction in progress (a read phase: it holds no changes) and begin a write transaction, so
    the operation that follows reads fresh rows and holds SQLite's write lock only as long as it runs.

    Objects loaded before are expired by the commit and reload in the write phase; rows the read phase
    added but has not written yet (an audit event of a refused download) are written in the write phase.
    Already in a write phase, nothing happens: one operation stays one transaction.
    """
    session = db.session()  # the request's own Session behind the scoped proxy
    if session.in_transaction() and session.connection().get_execution_options().get(WRITE_OPTION):
        return
    staged = list(session.new)
    for row in staged:
        session.expunge(row)
    session.commit()
    session.connection(execution_options=WRITE)
    session.add_all(staged)
