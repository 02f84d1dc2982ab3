"""Small database helpers that differ by dialect."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from models import db


def insert_ignore(model: Any, values: dict[str, Any]) -> Executable:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values).on_conflict_do_nothing()
