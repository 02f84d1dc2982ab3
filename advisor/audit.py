"""The audit trail: who did what, when (UTC), and what changed.

Operations call `record` after they change data; `changes` reads SQLAlchemy's attribute history, so a
diff is never written by hand. Passwords and hashes never enter the log, and passport numbers are
masked wherever they appear.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Select, inspect, select

from models import AuditEvent, Case, User, db

NEVER_LOGGED = frozenset({"password_hash", "session_token", "token_hash", "version", "updated_at",
                          "created_at", "password", "search_text"})
MASKED = frozenset({"passport_number"})


def mask(value: str | None) -> str | None:
    """Show only the last three characters of a passport number."""
    if not value:
        return value
    return "•" * max(len(value) - 3, 1) + value[-3:]


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _clean(name: str, value: Any) -> Any:
    return mask(value) if name in MASKED else _plain(value)


def changes(obj: Any) -> dict[str, list[Any]]:
    """The attributes changed on `obj` since it was loaded, as {name: [old, new]}; call before flush."""
    state = inspect(obj)
    diff: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in NEVER_LOGGED:
            continue
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            diff[name] = [_clean(name, old), _clean(name, new)]
    return diff


def snapshot(obj: Any) -> dict[str, Any]:
    """Every loggable column of a new object, for create events."""
    state = inspect(obj)
    return {
        attr.key: _clean(attr.key, getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in NEVER_LOGGED and getattr(obj, attr.key) is not None
    }


def record(
    action: str,
    *,
    actor: User | None,
    obj: Any = None,
    case_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session (flushed with the change it records, in one transaction)."""
    if obj is not None and getattr(obj, "id", None) is None:
        db.session.flush()
    event = AuditEvent(
        actor=actor,
        actor_label=actor_label or (actor.email if actor else "system"),
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else None,
        object_id=getattr(obj, "id", None),
        case_id=case_id,
        ip=request.remote_addr if has_request_context() else None,
        changes={key: value for key, value in (details or {}).items() if key not in NEVER_LOGGED},
    )
    db.session.add(event)
    return event


def search_events(*, user_id: int | None = None, case_reference: str | None = None,
                  action: str | None = None, date_from: dt.date | None = None,
                  date_to: dt.date | None = None) -> Select[tuple[AuditEvent]]:
    """Events newest first; dates are whole UTC days, both ends included; an action may be a prefix."""
    query = select(AuditEvent)
    if user_id is not None:
        query = query.where(AuditEvent.actor_id == user_id)
    if case_reference:
        query = query.join(Case, Case.id == AuditEvent.case_id).where(
            Case.reference == case_reference.strip().upper())
    if action:
        query = query.where(AuditEvent.action.startswith(action.strip(), autoescape=True))
    if date_from:
        query = query.where(AuditEvent.at >= _day_start(date_from))
    if date_to and date_to < dt.date.max:  # up to the last day there is means no upper bound
        query = query.where(AuditEvent.at < _day_start(date_to + dt.timedelta(days=1)))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def case_history(case_id: int, *, limit: int = 25) -> list[AuditEvent]:
    """The latest events of one case, newest first, for its page."""
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
