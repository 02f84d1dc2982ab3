"""Backup and restore: the database, copied consistently, together with every stored file.

SQLite is copied with its online backup API (a consistent snapshot even while the app writes); PostgreSQL
with `pg_dump --format=custom`, restored with `pg_restore --clean`. The stored files (uploads, packet
pages, thumbnails, final packets) are read through the storage interface, so a backup taken from S3
restores into a local folder and back. A manifest lists every file with its SHA-256 and is signed with an
HMAC-SHA256 keyed from the app's SECRET_KEY: an altered backup whose hashes were recomputed is refused, as
is an unsigned one unless the operator vouches for it. A restore checks all of it before it changes
anything, and afterwards the storage holds exactly the backup's files: anything else is moved aside into a
`_restored-aside-<time>/` folder, never deleted.
"""
from __future__ import annotations

import datetime as dt
import glob
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import make_url

from models import db

from . import filestore, storage

MANIFEST = "manifest.json"
FORMAT = 2  # 1: unsigned manifests, from before they were signed
_SIGNATURE = "signature"
_SCHEME = "hmac-sha256:"


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


@dataclass(frozen=True)
class Summary:
    folder: Path
    database: str
    files: int
    bytes: int
    set_aside: str | None = None  # restore: the folder (in the storage) the files not in the backup went to
    moved: int = 0


def _signing_key() -> bytes:
    # A key of its own, derived from SECRET_KEY, so a manifest signature can never stand in for a session's.
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(secret, b"advisor backup manifest v1", hashlib.sha256).digest()


def signature(manifest: dict) -> str:  # type: ignore[type-arg]
    """The HMAC of the manifest's canonical JSON (sorted keys, no spaces), without its own signature."""
    body = {name: value for name, value in manifest.items() if name != _SIGNATURE}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return _SCHEME + hmac.new(_signing_key(), canonical, hashlib.sha256).hexdigest()


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
    manifest[_SIGNATURE] = signature(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return Summary(folder=folder, database=target.name, files=len(files), bytes=total)


def _read_manifest(folder: Path, *, accept_unsigned: bool = False) -> dict:  # type: ignore[type-arg]
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as problem:
        raise BackupError(f"{folder} holds no readable backup manifest ({problem}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in (1, FORMAT):
        raise BackupError(f"{folder} was written by another version of the backup format.")
    signed = manifest.get(_SIGNATURE)
    if signed is None and not accept_unsigned:
        raise BackupError(f"The manifest in {folder} is not signed, so nothing shows that it is the one the backup "
                          f"command wrote: restore refused, nothing was changed. A backup made before manifests "
                          f"were signed can be restored with --accept-unsigned if you trust where it has been.")
    if signed is not None and not (isinstance(signed, str) and hmac.compare_digest(signed, signature(manifest))):
        raise BackupError(f"The manifest in {folder} does not carry a valid signature: the backup was altered, or "
                          f"made with another SECRET_KEY. Restore refused, nothing was changed.")
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


def restore(folder: Path, *, accept_unsigned: bool = False) -> Summary:
    """Replace the database and the stored files with a backup made by `backup`.

    Everything is checked first (signature, manifest, hashes, same kind of database); the app should be
    stopped. Afterwards the storage holds exactly the backup's files: every other file, and any whose bytes
    differ from the backup's, is moved aside into one new folder, whose name the summary gives."""
    manifest = _read_manifest(folder, accept_unsigned=accept_unsigned)
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
    store, wanted = filestore.current(), dict(manifest["files"])
    aside = storage.aside_folder(dt.datetime.now(dt.UTC))
    moved = 0
    for name in list(store.keys()):
        if storage.is_set_aside(name):  # what an earlier restore moved aside stays where it is
            continue
        if name in wanted and hashlib.sha256(store.get(name)).hexdigest() == wanted[name]:
            del wanted[name]  # already there as in the backup
            continue
        store.set_aside(name, aside)
        moved += 1
    for key in wanted:
        with (folder / "files" / key).open("rb") as stream:
            store.put(key, stream)
    total = sum((folder / "files" / key).stat().st_size for key in manifest["files"])
    return Summary(folder=folder, database=manifest["database"], files=len(manifest["files"]), bytes=total,
                   set_aside=aside if moved else None, moved=moved)
