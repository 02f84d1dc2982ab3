"""Engine settings: SQLite gets WAL, foreign keys, a busy timeout and write-ready transactions.

pysqlite's own transaction handling starts transactions late and as DEFERRED, so two requests that
read then write can deadlock and fail with "database is locked" at once. We take the transaction over
(SQLAlchemy's documented recipe) and begin every one with BEGIN IMMEDIATE: writers queue on the busy
timeout instead, and readers stay unblocked thanks to WAL. A connection marked READ_ONLY begins deferred.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

# Execution option of a connection that only reads: `db.session.connection(execution_options=READ_ONLY)`.
READ_ONLY_OPTION = "advisor_read_only"
READ_ONLY = {READ_ONLY_OPTION: True}


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
        # A read-only transaction begins deferred: under WAL it reads a snapshot and never takes the
        # write lock, which a streamed export would otherwise hold for as long as a slow download.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
