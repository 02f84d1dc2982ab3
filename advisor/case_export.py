"""The case list as CSV: the same filters, search, sort and access control as the page, streamed.

Rows are read in batches (`yield_per`) and written as they come, so an export of every case holds
one batch in memory, not the whole list. Cells are guarded against formula injection: a spreadsheet
would run a cell starting with = + - @ (or a tab or carriage return before one) as a formula.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import lazyload

from models import Case, User, db

from . import audit
from .cases import NOT_ASSESSED

BATCH = 500
HEADER = ("Reference", "Status", "Family name", "Given names", "Nationality", "Passport number", "Consulate",
          "Advisor", "Planned submission", "Outcome", "Rule set", "Updated at (UTC)")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REFERENCE = re.compile(r"^K-\d{4}-\d{6}$", re.IGNORECASE)


def safe_cell(value: str) -> str:
    """The value, with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def row_of(case: Case) -> list[str]:
    applicant = case.applicant
    values = [
        case.reference, case.status.value, applicant.family_name, applicant.given_names, applicant.nationality,
        applicant.passport_number, case.consulate_code, case.advisor.name,
        case.planned_submission_on.isoformat() if case.planned_submission_on else "",
        case.outcome or NOT_ASSESSED, case.rule_set_id or "",
        case.updated_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
    ]
    return [safe_cell(value) for value in values]


def count(query: Select[tuple[Case]]) -> int:
    counted = query.options(lazyload("*")).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(counted)) or 0


def lines(query: Select[tuple[Case]]) -> Iterator[str]:
    """The CSV text, header first (after a UTF-8 byte-order mark, so Excel reads names like 张怡 right),
    one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    for batch in db.session.scalars(query.execution_options(yield_per=BATCH)).partitions():
        writer.writerows(row_of(case) for case in batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no case at all: the header alone
        yield buffer.getvalue()


def filename(today: dt.date) -> str:
    return f"cases-{today.isoformat()}.csv"


def record_export(*, by: User, filters: dict[str, str], q: str, sort: str, rows: int) -> None:
    """Audit an export: what was asked for and how many cases left the system."""
    details: dict[str, Any] = {**filters, "sort": sort, "rows": rows}
    if q:
        details["search"] = _loggable_search(q)
    audit.record("case.export", actor=by, details=details)


def _loggable_search(q: str) -> str | None:
    # A search may be a passport number, and the audit log never holds one in full.
    if REFERENCE.match(q) or not any(ch.isdigit() for ch in q):
        return q
    return audit.mask(q)
