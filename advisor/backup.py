"""Backup and restore: the database, copied consistently, together with every stored file.

SQLite is copied with its online backup API (a consistent snapshot even while the app writes); PostgreSQL
with `pg_dump --format=custom`, restored with `pg_restore --clean`. The stored files (uploads, packet
pages, thumbnails, final packets) are read through the storage interface, so a backup taken from S3
restores into a local folder and back. A manifest lists every file with its SHA-256; a restore checks them
before it changes anything.
"""
from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from models import db

from . import filestore, storage

MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


@dataclass(frozen=True)
class Summary:
    folder: Path
    database: str
    files: int
    bytes: int


def _tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client (Debian: postgresql-client).")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, which goes to the tools through the environment."""
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password:
        environment["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    return Path(database)


def backup(folder: Path) -> Summary:
    """Write a backup into `folder` (created; must be empty)."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: choose a new folder for each backup.")
    (folder / "files").mkdir(parents=True, exist_ok=True)
    url = db.engine.url.render_as_string(hide_password=False)
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        target = folder / "database.sqlite3"
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    elif dialect == "postgresql":
        target = folder / "database.dump"
        connection, environment = _libpq(url)
        done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), connection],
                              env=environment, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
    else:
        raise BackupError(f"Backups of {dialect} databases are not supported.")
    store, files, total = filestore.current(), {}, 0
    for key in store.keys():
        if not storage.is_valid_key(key):  # a stray file someone put there (.DS_Store…): not the app's
            continue
        data = store.get(key)
        path = folder / "files" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[key] = hashlib.sha256(data).hexdigest()
        total += len(data)
    manifest = {"format": FORMAT, "made_at": dt.datetime.now(dt.UTC).isoformat(), "dialect": dialect,
                "database": target.name, "database_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                "storage": store.url, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return Summary(folder=folder, database=target.name, files=len(files), bytes=total)


def _read_manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as problem:
        raise BackupError(f"{folder} holds no readable backup manifest ({problem}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} was written by another version of the backup format.")
    if manifest.get("database") not in ("database.sqlite3", "database.dump"):
        raise BackupError(f"The manifest in {folder} names no database copy this command writes.")
    database = folder / str(manifest["database"])
    if not database.is_file() or hashlib.sha256(database.read_bytes()).hexdigest() != manifest["database_sha256"]:
        raise BackupError(f"The database copy in {folder} is missing or damaged.")
    for key, digest in manifest["files"].items():
        if not storage.is_valid_key(key):
            raise BackupError(f"The manifest in {folder} lists {key[:80]!r}, which is not a storage key.")
        path = folder / "files" / key
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise BackupError(f"The backup's copy of {key} is missing or damaged.")
    return manifest


def restore(folder: Path) -> Summary:
    """Replace the database and put back every stored file from a backup made by `backup`.

    Everything is checked first (manifest, hashes, same kind of database); the app should be stopped."""
    manifest = _read_manifest(folder)
    dialect = db.engine.dialect.name
    if manifest["dialect"] != dialect:
        raise BackupError(f"This backup is of a {manifest['dialect']} database; the app uses {dialect}.")
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    db.engine.dispose()
    source_path = folder / manifest["database"]
    if dialect == "sqlite":
        source = sqlite3.connect(source_path)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        connection, environment = _libpq(url)
        done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               "--dbname", connection, str(source_path)], env=environment, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    store, total = filestore.current(), 0
    for key in manifest["files"]:
        data = (folder / "files" / key).read_bytes()
        store.put(key, data)
        total += len(data)
    return Summary(folder=folder, database=manifest["database"], files=len(manifest["files"]), bytes=total)
