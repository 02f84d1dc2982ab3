"""Cases: opening, editing, reassigning and (softly) deleting them, and who may see them.

An advisor reaches only the cases assigned to them; an admin reaches every case. References read
`K-YYYY-NNNNNN`, numbered per year from a counter row that is incremented atomically.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload

from models import Applicant, Case, CaseStatus, ReferenceCounter, Role, User, db, utcnow

from . import audit, consulates
from .applicants import applicant_matches, order_by
from .dbutil import insert_ignore
from .errors import Conflict, DomainError, NotAllowed


@dataclass
class CaseData:
    consulate_code: str
    planned_submission_on: dt.date | None
    intended_entry_on: dt.date | None
    notes: str


def next_reference(year: int) -> str:
    db.session.execute(insert_ignore(ReferenceCounter, {"year": year, "last": 0}))
    number = db.session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    ).scalar_one()
    return f"K-{year}-{number:06d}"


def _check(data: CaseData) -> None:
    if consulates.get(data.consulate_code) is None:
        raise DomainError("Choose a consulate from the list.")
    if (data.planned_submission_on and data.intended_entry_on
            and data.intended_entry_on < data.planned_submission_on):
        raise DomainError("The intended entry date cannot be before the planned submission date.")


def _check_assignee(advisor: User) -> None:
    if not advisor.active:
        raise DomainError(f"{advisor.name} is deactivated and cannot take cases.")


def open_case(applicant: Applicant, data: CaseData, *, advisor: User, by: User) -> Case:
    """Open a case in intake. An advisor can only open cases for themselves; an admin for anyone."""
    if not by.is_admin and advisor is not by:
        raise NotAllowed("Only an admin can open a case for another advisor.")
    _check(data)
    _check_assignee(advisor)
    case = Case(
        reference=next_reference(utcnow().year),
        applicant=applicant,
        advisor=advisor,
        status=CaseStatus.INTAKE,
        consulate_code=data.consulate_code,
        planned_submission_on=data.planned_submission_on,
        intended_entry_on=data.intended_entry_on,
        notes=data.notes.strip(),
        created_by_id=by.id,
    )
    db.session.add(case)
    db.session.flush()
    audit.record("case.create", actor=by, obj=case, case_id=case.id, details=audit.snapshot(case))
    return case


def update_case(case: Case, data: CaseData, *, version: int, by: User) -> None:
    """Save an edit made on the version the user saw; a newer version raises Conflict."""
    if version != case.version:
        raise Conflict()
    _check(data)
    case.consulate_code = data.consulate_code
    case.planned_submission_on = data.planned_submission_on
    case.intended_entry_on = data.intended_entry_on
    case.notes = data.notes.strip()
    diff = audit.changes(case)
    if diff:
        audit.record("case.update", actor=by, obj=case, case_id=case.id, details=diff)


def reassign_case(case: Case, advisor: User, *, version: int, by: User) -> None:
    """Give a case to another advisor; only an admin may."""
    if not by.is_admin:
        raise NotAllowed("Only an admin can reassign a case.")
    if version != case.version:
        raise Conflict()
    _check_assignee(advisor)
    if advisor.id == case.advisor_id:
        return
    previous = case.advisor
    case.advisor = advisor
    audit.record("case.reassign", actor=by, obj=case, case_id=case.id,
                 details={"advisor": [previous.email, advisor.email]})


def delete_case(case: Case, *, by: User) -> None:
    """Soft-delete a case; only an admin may. The row and its history stay for the audit trail."""
    if not by.is_admin:
        raise NotAllowed("Only an admin can delete a case.")
    case.deleted_at = utcnow()
    audit.record("case.delete", actor=by, obj=case, case_id=case.id)


# Finding cases ---------------------------------------------------------------------------------

def visible_cases(user: User) -> Select[tuple[Case]]:
    query = select(Case).where(Case.deleted_at.is_(None))
    if not user.is_admin:
        query = query.where(Case.advisor_id == user.id)
    return query


def get_visible_case(user: User, case_id: int) -> Case | None:
    return db.session.scalar(visible_cases(user).where(Case.id == case_id)
                             .options(joinedload(Case.applicant), joinedload(Case.advisor)))


def cases_of_applicant(user: User, applicant: Applicant) -> list[Case]:
    """The applicant's cases this user may see, advisors loaded (templates never query)."""
    return list(db.session.scalars(visible_cases(user).where(Case.applicant_id == applicant.id)
                                   .options(joinedload(Case.advisor)).order_by(Case.id)))


SORTS = {
    "reference": (Case.id,),
    "applicant": (Applicant.family_name, Applicant.given_names),
    "status": (Case.status,),
    "consulate": (Case.consulate_code,),
    "planned": (Case.planned_submission_on,),
    "updated": (Case.updated_at,),
}


def search_cases(user: User, *, q: str = "", sort: str = "-updated",
                 status: str | None = None) -> Select[tuple[Case]]:
    """Visible cases matching a reference, name or passport number, sorted by a whitelisted key."""
    query = visible_cases(user).join(Case.applicant)
    if q.strip():
        query = query.where(or_(Case.reference.icontains(q.strip(), autoescape=True), applicant_matches(q)))
    if status in CaseStatus.__members__.values():
        query = query.where(Case.status == CaseStatus(status))
    query = query.options(contains_eager(Case.applicant), joinedload(Case.advisor))
    return query.order_by(*order_by(SORTS, sort, default="-updated"), Case.id.desc())


def count_by_status(user: User) -> dict[CaseStatus, int]:
    query = (select(Case.status, func.count()).where(Case.deleted_at.is_(None)).group_by(Case.status))
    if not user.is_admin:
        query = query.where(Case.advisor_id == user.id)
    counts = {row[0]: row[1] for row in db.session.execute(query)}
    return {status: counts.get(status, 0) for status in CaseStatus}


def assignable_advisors() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_([Role.ADVISOR, Role.ADMIN]))
        .order_by(User.name)
    ))
