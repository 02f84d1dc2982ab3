"""A throwaway PostgreSQL server for the test session, started from the installed binaries.

`initdb` and `pg_ctl` refuse to run as root, so as root a small wrapper runs pg_ctl as the
`postgres` user, with a data folder owned by it. As any other user pg_ctl runs directly.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor


def find_pg_ctl() -> str:
    found = shutil.which("pg_ctl") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                                                    reverse=True)), None)
    if not found:
        raise RuntimeError("pg_ctl not found: install the PostgreSQL server binaries "
                           "(Debian: apt-get install postgresql) or run `make test`, which does.")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[PostgreSQLExecutor]:
    pg_ctl = find_pg_ctl()
    base = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    executable = pg_ctl
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chmod(base, 0o755)
        wrapper = base / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- {pg_ctl} "$@"\n')
        wrapper.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        executable = str(wrapper)
    run = base / "run"
    run.mkdir()
    if os.geteuid() == 0:
        os.chown(run, postgres.pw_uid, postgres.pw_gid)
    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=_free_port(),
        datadir=str(run / "data"),
        unixsocketdir=str(run),
        logfile=str(run / "postgresql.log"),
        startparams="-w",
        dbname="advisor_test",
        user="postgres",
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )
    executor.start()
    try:
        yield executor
    finally:
        executor.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def database(executor: PostgreSQLExecutor, name: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards; yields its SQLAlchemy URL."""
    janitor = DatabaseJanitor(user=executor.user, host=executor.host, port=executor.port, dbname=name)
    with janitor:
        yield f"postgresql+psycopg://{executor.user}@{executor.host}:{executor.port}/{name}"
