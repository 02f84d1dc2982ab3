"""Saving safely: every write runs in a short write phase, and optimistic-lock conflicts become a clear message
that keeps the input.

A request reads in a deferred transaction (on SQLite: no write lock); `begin_write` (advisor/database.py) ends
it and begins the write phase just before the operation runs, so slow work before it holds no lock and the
operation reads fresh rows. `apply` does both for the common case.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from advisor.database import READ_ONLY, begin_write
from advisor.errors import Conflict, DomainError
from models import db

__all__ = ["apply", "begin_write", "commit", "read_only", "show_conflict", "write"]
T = TypeVar("T")


def commit() -> None:
    """Commit; a row changed by someone else between our check and our write raises Conflict."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict() from None


def read_only() -> None:
    """End the request's transaction and go on in a read-only one: on SQLite a normal transaction holds the
    write lock, and every other writer would wait for a slow read (building a packet, checking files)."""
    db.session.commit()
    db.session.connection(execution_options=READ_ONLY)


def write(change: Callable[[], T]) -> T:
    """Run one operation in a write phase and commit it; errors propagate (after a rollback)."""
    begin_write()
    try:
        result = change()
        commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def apply(change: Callable[[], object], done: str, back: str) -> Response:
    """Run one operation and commit it, then say so; or roll back and say why not (a business rule, or
    someone else's save in between). Either way, go back to `back`."""
    try:
        begin_write()
        change()
        commit()
    except DomainError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        flash(done, "success")
    return redirect(back)


def show_conflict(form: FlaskForm, obj: Any, fields: dict[str, str]) -> list[tuple[str, str, str]]:
    """After a conflict: reload the record, let the next save go through on its current version,
    and list the fields where the saved values differ from the user's input (which the form keeps)."""
    db.session.rollback()
    db.session.refresh(obj)
    form.version.data = obj.version
    form.version.raw_data = []  # the field renders the submitted (stale) value before `data`
    differences = []
    for attr, field_name in fields.items():
        saved = getattr(obj, attr)
        saved = getattr(saved, "value", saved)
        mine = form[field_name].data
        if (saved or None) != (mine or None) and str(saved or "") != str(mine or ""):
            differences.append((form[field_name].label.text, "" if saved is None else str(saved),
                                "" if mine is None else str(mine)))
    return differences
