"""The dashboard: what needs an advisor's attention today, across the cases they can see.

Built in a fixed number of SQL queries, whatever the number of cases: one aggregate for all the counts,
then one LIMITed query per section that loads each row with its applicant (and advisor) joined in, so
the template never queries.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true, union_all
from sqlalchemy.orm import aliased, contains_eager, joinedload

from models import Applicant, Case, CaseDocument, CaseStatus, DocumentState, Role, Task, User, db, utcnow

from . import assessments, readiness
from .cases import count_by_status, search_cases, visible_cases
from .dbutil import add_months

ROWS = 10  # rows shown per section; the count says how many there are
COUNT_CAP = 100  # a section counts no further ("100+"): the work stays the same however many cases match
DEADLINE_DAYS = 7
OPEN_STATUSES = [status for status in CaseStatus if status.is_open]

T = TypeVar("T")


@dataclass(frozen=True)
class Section(Generic[T]):
    count: int
    rows: list[T]

    @property
    def more(self) -> int:
        return self.count - len(self.rows)

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def shown_count(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else str(self.count)


@dataclass(frozen=True)
class Workload:
    advisor_id: int
    name: str
    active: bool
    by_status: dict[CaseStatus, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    idle_days: int
    rule_set_id: str
    counts: dict[CaseStatus, int]
    recent: list[Case]
    deadlines: Section[Task]
    passports: Section[Case]
    superseded: Section[Case]  # assessed under superseded rules, or no longer matching the records
    idle: Section[Case]
    reviews: Section[CaseDocument]  # uploads waiting for review
    overdue: Section[CaseDocument]  # documents requested (or asked for again) and not received by their due date
    workload: list[Workload] | None  # admins only
    open_statuses: list[CaseStatus] = field(default_factory=lambda: list(OPEN_STATUSES))

    def is_overdue(self, task: Task) -> bool:
        return task.due_on is not None and task.due_on < self.today


# What puts a case in each section ------------------------------------------------------------------

def _open() -> ColumnElement[bool]:
    return Case.status.in_(OPEN_STATUSES)


def _passport_expiring(latest_planned: dt.date | None) -> ColumnElement[bool]:
    """The passport runs out less than six months after the planned submission (needs the applicant).

    No passport can qualify that outlasts six months past the latest planned date of any case: that
    bound lets the database narrow by the indexed expiry date before doing the month arithmetic.
    """
    if latest_planned is None:
        return false()
    bound = readiness.add_months(latest_planned, readiness.PASSPORT_VALID_MONTHS)
    return and_(Case.planned_submission_on.is_not(None), Applicant.passport_expires_on < bound,
                Applicant.passport_expires_on < add_months(Case.planned_submission_on,
                                                           readiness.PASSPORT_VALID_MONTHS))


def _superseded(rule_set_id: str) -> ColumnElement[bool]:
    """Assessed under another rule set, or out of date (the flag the evidence-changing operations keep).

    Two ranges rather than "!=", so the rule_set_id index can serve them. The flag is asked as "one of the
    flagged cases", a list its index gives at once: as a plain third condition, SQLite cannot tell that
    few cases are flagged and reads every open case instead (5 ms for an advisor, 15 ms for the admin at
    10,000 cases, against 0.3 and 0.5 ms with 20 flagged)."""
    flagged = aliased(Case)
    return or_(Case.rule_set_id < rule_set_id, Case.rule_set_id > rule_set_id,
               Case.id.in_(select(flagged.id).where(flagged.assessment_out_of_date == true())))


def _idle(since: dt.datetime) -> ColumnElement[bool]:
    return Case.updated_at < since


def _due(until: dt.date) -> ColumnElement[bool]:
    return and_(Task.done_at.is_(None), Task.due_on.is_not(None), Task.due_on <= until)


# Queries --------------------------------------------------------------------------------------------

def _open_cases(user: User, *, from_applicants: bool = False) -> Select[tuple[Case]]:
    if not from_applicants:
        return visible_cases(user).join(Case.applicant).where(_open())
    # For a condition on the applicant's indexed passport expiry: "+ 0" keeps SQLite from starting at every
    # open case of the advisor (2.6 ms at 10,000 cases) instead of the few passports that qualify.
    query = select(Case).join(Case.applicant).where(Case.deleted_at.is_(None), _open())
    return query if user.is_admin else query.where(Case.advisor_id + 0 == user.id)


def _case_rows(user: User, condition: ColumnElement[bool], *order: Any, from_applicants: bool = False) -> list[Case]:
    query = (_open_cases(user, from_applicants=from_applicants).where(condition)
             .options(contains_eager(Case.applicant), joinedload(Case.advisor))
             .order_by(*order, Case.id).limit(ROWS))
    return list(db.session.scalars(query))


def _capped_count(query: Select[Any], column: Any) -> int:
    """How many rows the query has, counting to COUNT_CAP + 1 at most: past that the dashboard says "100+",
    and reading on would make the page slower the more cases there are."""
    first = query.with_only_columns(column).order_by(None).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(first)) or 0


def _section_count(user: User, condition: ColumnElement[bool], *, needs_applicant: bool = False) -> int:
    """One section's count, each on its own so its condition's index narrows the rows counted."""
    query = (_open_cases(user, from_applicants=True) if needs_applicant
             else visible_cases(user).where(_open())).where(condition)
    return _capped_count(query, Case.id)


def _deadlines(user: User, until: dt.date) -> Section[Task]:
    query = select(Task).join(Task.case).where(_due(until), _open(), Case.deleted_at.is_(None))
    if not user.is_admin:
        # Start from the tasks due (their due_on index), not from every case of the advisor: "+ 0" keeps
        # SQLite off the advisor index, which would probe thousands of cases for their few tasks.
        query = query.where(Case.advisor_id + 0 == user.id)
    count = _capped_count(query, Task.id)
    rows = db.session.scalars(query.join(Case.applicant)
                              .options(contains_eager(Task.case).contains_eager(Case.applicant),
                                       contains_eager(Task.case).joinedload(Case.advisor))
                              .order_by(Task.due_on, Task.id).limit(ROWS))
    return Section(count, list(rows))


def _documents(user: User, states: list[DocumentState], condition: ColumnElement[bool],
               order: Any) -> Section[CaseDocument]:
    """Checklist lines of open cases in these states: a count, and the first rows with case and applicant."""
    query = (select(CaseDocument).join(CaseDocument.case)
             .where(CaseDocument.state.in_(states), condition, CaseDocument.applies, _open(),
                    Case.deleted_at.is_(None)))
    if not user.is_admin:
        query = query.where(Case.advisor_id == user.id)
    count = _capped_count(query, CaseDocument.id)
    # The rows: for each state, its first lines in the order of the (state, …) index, each case checked by
    # its key, stopping at ten; then the best ten of those. Joined plainly, SQLite would read every case (a
    # Bloom filter) or sort every match (2 ms at 72,000 lines, against 0.2 ms).
    owner = aliased(Case)
    case_fits = select(owner.id).where(owner.id == CaseDocument.case_id, owner.status.in_(OPEN_STATUSES),
                                      owner.deleted_at.is_(None))
    if not user.is_admin:
        case_fits = case_fits.where(owner.advisor_id == user.id)
    firsts = [select(CaseDocument.id).where(CaseDocument.state == state, condition, CaseDocument.applies,
                                            case_fits.exists())
              .order_by(order, CaseDocument.id).limit(ROWS).subquery() for state in states]
    candidates = union_all(*(select(first.c.id) for first in firsts))
    rows = db.session.scalars(select(CaseDocument).join(CaseDocument.case).join(Case.applicant)
                              .where(CaseDocument.id.in_(candidates))
                              .options(contains_eager(CaseDocument.case).contains_eager(Case.applicant))
                              .order_by(order, CaseDocument.id).limit(ROWS))
    return Section(count, list(rows))


def _workload() -> list[Workload]:
    """Open cases per advisor and status; every active advisor appears, even with none."""
    cases_on = and_(Case.advisor_id == User.id, Case.deleted_at.is_(None), _open())
    query = (select(User.id, User.name, User.active, Case.status, func.count(Case.id))
             .outerjoin(Case, cases_on)
             .where(or_(and_(User.active.is_(True), User.role == Role.ADVISOR), Case.id.is_not(None)))
             .group_by(User.id, User.name, User.active, Case.status))
    loads: dict[int, Workload] = {}
    for user_id, name, active, status, count in db.session.execute(query):
        load = loads.setdefault(user_id, Workload(user_id, name, active))
        if status is not None:
            load.by_status[status] = count
    return sorted(loads.values(), key=lambda load: (-load.total, load.name))


def dashboard_for(user: User, *, now: dt.datetime | None = None, idle_days: int | None = None) -> Dashboard:
    """Everything the dashboard shows for this user: an advisor's own cases, or every case for an admin."""
    now = now or utcnow()
    today = now.date()
    idle_days = idle_days if idle_days is not None else int(current_app.config["DASHBOARD_IDLE_DAYS"])
    idle_since = now - dt.timedelta(days=idle_days)
    rule_set_id = assessments.current_rule_set(today).id
    latest_planned = db.session.scalar(select(func.max(Case.planned_submission_on)))
    conditions = {"passports": _passport_expiring(latest_planned), "superseded": _superseded(rule_set_id),
                  "idle": _idle(idle_since)}
    counts = {name: _section_count(user, condition, needs_applicant=name == "passports")
              for name, condition in conditions.items()}
    return Dashboard(
        today=today, idle_days=idle_days, rule_set_id=rule_set_id,
        counts=count_by_status(user),
        recent=list(db.session.scalars(search_cases(user, sort="-updated").limit(ROWS))),
        deadlines=_deadlines(user, today + dt.timedelta(days=DEADLINE_DAYS)),
        passports=Section(counts["passports"], _case_rows(
            user, conditions["passports"], Case.planned_submission_on, Applicant.passport_expires_on,
            from_applicants=True)),
        superseded=Section(counts["superseded"], _case_rows(
            user, conditions["superseded"], Case.planned_submission_on.is_(None), Case.planned_submission_on)),
        idle=Section(counts["idle"], _case_rows(user, conditions["idle"], Case.updated_at)),
        reviews=_documents(user, [DocumentState.RECEIVED], true(), CaseDocument.updated_at),
        overdue=_documents(user, [DocumentState.REQUESTED, DocumentState.REJECTED],
                           CaseDocument.request_due_on < today, CaseDocument.request_due_on),
        workload=_workload() if user.is_admin else None,
    )
