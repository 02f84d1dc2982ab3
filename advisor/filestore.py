"""The app's file storage, and how stored files follow the database transaction.

A file is written (atomically, under a fresh random key) before the rows that name it are flushed. If the
transaction then fails — a refused upload, a conflict, a crash in the commit — every file written in it is
deleted again when the transaction ends, so a failed request leaves no file and no row. A process killed
between the write and the commit can still leave a file nobody names, and one killed during the write
itself leaves a partial temporary file: `flask storage-check` finds both.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from models import DocumentFile, Packet, db

from . import storage
from .storage import Partial, Storage

_PENDING = "advisor.pending_files"
# A write still going on touches its temporary file every few milliseconds; one untouched for an hour was
# interrupted (the largest file, 40 MB, takes well under a minute even on a slow disk or link).
PARTIAL_STALE_AFTER = dt.timedelta(hours=1)
logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    folder = Path(app.instance_path) / "files"
    app.extensions["advisor.storage"] = storage.from_url(app.config.get("STORAGE_URL"), default_folder=str(folder))


def current() -> Storage:
    return current_app.extensions["advisor.storage"]  # type: ignore[no-any-return]


def write(prefix: str, data: bytes) -> str:
    """Store `data` under a new key and return it; the file goes away again unless the transaction commits."""
    store = current()
    key = storage.new_key(prefix)
    db.session.info.setdefault(_PENDING, []).append((store, key))
    store.put(key, data)
    return key


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_unclaimed_files(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction decides; a savepoint rolling back leaves its files to the outer one.
    if transaction.parent is not None:
        return
    for store, key in session.info.pop(_PENDING, []):
        try:
            store.delete(key)
        except storage.StorageError:  # the storage check reports what could not be removed now
            logger.warning("could not remove %s after a failed transaction", key, exc_info=True)


@dataclass
class Report:
    stored: int
    referenced: int
    orphans: list[str]  # stored, named by no row: left by a crash between a write and its commit
    missing: list[str]  # named by a row, not stored: lost or deleted outside the app
    strays: list[str] = field(default_factory=list)  # files whose names the app never makes: left alone
    partials: list[Partial] = field(default_factory=list)  # unfinished writes: in progress, or interrupted
    set_aside: dict[str, int] = field(default_factory=dict)  # folder → files a restore moved there: kept
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def is_interrupted(self, partial: Partial) -> bool:
        """Whether a partial write is old enough that nothing is writing it any more."""
        return self.checked_at - partial.modified_at >= PARTIAL_STALE_AFTER

    @property
    def interrupted(self) -> list[Partial]:
        return [partial for partial in self.partials if self.is_interrupted(partial)]


def check() -> Report:
    """Compare what the database names with what the storage holds."""
    referenced: set[str] = set()
    for keys in db.session.execute(
            select(DocumentFile.storage_key, DocumentFile.pages_key, DocumentFile.thumbnail_key)):
        referenced.update(keys)
    referenced.update(db.session.scalars(select(Packet.storage_key)))
    found = set(current().keys())
    stored = {key for key in found if storage.is_valid_key(key)}
    aside = {name for name in found if storage.is_set_aside(name)}
    folders = Counter(name.partition("/")[0] for name in aside)
    return Report(stored=len(stored), referenced=len(referenced), orphans=sorted(stored - referenced),
                  missing=sorted(referenced - stored), strays=sorted(found - stored - aside),
                  set_aside=dict(sorted(folders.items())),
                  partials=sorted(current().partials(), key=lambda partial: partial.name))


def remove_orphans(report: Report) -> int:
    store = current()
    for key in report.orphans:
        store.delete(key)
    return len(report.orphans)


def remove_interrupted(report: Report) -> int:
    """Delete the partial writes older than `PARTIAL_STALE_AFTER`; younger ones may still be in progress and
    are left alone, so a check running beside a large upload never breaks it."""
    store = current()
    interrupted = report.interrupted
    for partial in interrupted:
        store.remove_partial(partial)
    return len(interrupted)
