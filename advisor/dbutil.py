"""Small database helpers that differ by dialect."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.functions import FunctionElement

from models import db


def insert_ignore(model: Any, values: dict[str, Any]) -> Executable:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values).on_conflict_do_nothing()


class add_months(FunctionElement[dt.date]):  # noqa: N801 - used like the SQL function it compiles to
    """`day` plus a whole number of months, clamped to the month's end (31 Aug + 6 → 28/29 Feb): the
    rule of `readiness.add_months`, in SQL, so lists can filter on it. `months` is a plain integer."""

    type = Date()
    name = "add_months"
    inherit_cache = True

    def __init__(self, day: Any, months: int) -> None:
        super().__init__(day, literal_column(str(int(months))))


@compiles(add_months, "postgresql")
def _add_months_postgresql(element: add_months, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(clause, **kw) for clause in element.clauses)
    # PostgreSQL's interval arithmetic already clamps to the end of a shorter month.
    return f"CAST({day} + make_interval(months => {months}) AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(clause, **kw) for clause in element.clauses)
    # SQLite rolls 31 Aug + 6 months over into March; take the same day from the first of the target
    # month instead, and clamp it to that month's last day. ISO dates compare correctly as text.
    first = f"date({day}, 'start of month', '+{months} months')"
    same_day = f"date({first}, '+' || (CAST(strftime('%d', {day}) AS INTEGER) - 1) || ' days')"
    last = f"date({first}, '+1 month', '-1 day')"
    return f"min({same_day}, {last})"
