"""Cases: opening, editing, reassigning and (softly) deleting them, and who may see them.

An advisor reaches only the cases assigned to them; an admin reaches every case. References read
`K-YYYY-NNNNNN`, numbered per year from a counter row that is incremented atomically.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload

from models import (
    Applicant,
    Case,
    CaseDocument,
    CaseStatus,
    DocumentState,
    Pathway,
    ReferenceCounter,
    Role,
    User,
    db,
    utcnow,
)

from . import assessments, audit, consulates, countries, documents
from .applicants import applicant_matches, order_by
from .dbutil import insert_ignore
from .eligibility import ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE
from .errors import Conflict, DomainError, NotAllowed

CASE_HOLDERS = (Role.ADVISOR, Role.ADMIN)
OPEN_DOCUMENT_STATES = documents.OPEN_STATES


@dataclass
class CaseData:
    consulate_code: str
    planned_submission_on: dt.date | None
    intended_entry_on: dt.date | None
    notes: str
    pathway: Pathway = Pathway.DEGREE


def next_reference(year: int) -> str:
    return reserve_references(year, 1)[0]


def reserve_references(year: int, count: int) -> list[str]:
    """`count` consecutive references of `year`, taken from the counter in one atomic step."""
    db.session.execute(insert_ignore(ReferenceCounter, {"year": year, "last": 0}))
    last = db.session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last=ReferenceCounter.last + count)
        .returning(ReferenceCounter.last)
    ).scalar_one()
    return [f"K-{year}-{number:06d}" for number in range(last - count + 1, last + 1)]


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
        pathway=Pathway(data.pathway),
        planned_submission_on=data.planned_submission_on,
        intended_entry_on=data.intended_entry_on,
        notes=data.notes.strip(),
        created_by_id=by.id,
    )
    db.session.add(case)
    db.session.flush()
    audit.record("case.create", actor=by, obj=case, case_id=case.id, details=audit.snapshot(case))
    documents.sync_checklist(case, by=by, opening=True)
    return case


def update_case(case: Case, data: CaseData, *, version: int, by: User) -> None:
    """Save an edit made on the version the user saw; a newer version raises Conflict."""
    if version != case.version:
        raise Conflict()
    _check(data)
    case.consulate_code = data.consulate_code
    case.pathway = Pathway(data.pathway)
    case.planned_submission_on = data.planned_submission_on
    case.intended_entry_on = data.intended_entry_on
    case.notes = data.notes.strip()
    diff = audit.changes(case)
    if diff:
        audit.record("case.update", actor=by, obj=case, case_id=case.id, details=diff)
    if "pathway" in diff or "consulate_code" in diff:
        documents.sync_checklist(case, by=by)
    if "planned_submission_on" in diff:  # the application date, on which the age window applies
        assessments.refresh_out_of_date([case])


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

# The eligibility outcomes a list can filter on; Case.outcome is NULL until a first assessment.
NOT_ASSESSED = "not_assessed"
OUTCOMES = {ELIGIBLE: "Eligible", NEEDS_REVIEW: "Needs review", NOT_ELIGIBLE: "Not eligible",
            NOT_ASSESSED: "Not assessed"}
# Where a case's documents stand: every required line settled, some still open, or uploads to review.
COMPLETENESS = {"complete": "Documents complete", "incomplete": "Documents incomplete",
                "to_review": "Uploads to review"}
FILTERS = ("status", "advisor", "consulate", "nationality", "outcome", "documents")
USER_ID = re.compile(r"[0-9]{1,9}")  # ASCII digits only, and no number past the database's integers


def case_filters(user: User, args: Mapping[str, str | None]) -> dict[str, str]:
    """The list filters among `args` whose value is a known choice, normalised; others are dropped.

    An unknown value is ignored rather than refused, so an old bookmark or a hand-edited URL still
    shows a list. Only an admin filters by advisor: an advisor's list is always their own.
    """
    raw = {name: str(args.get(name) or "").strip() for name in FILTERS}
    found: dict[str, str] = {}
    if raw["status"] in CaseStatus.__members__.values():
        found["status"] = raw["status"]
    if user.is_admin and USER_ID.fullmatch(raw["advisor"]):
        holder = db.session.get(User, int(raw["advisor"]))
        if holder is not None and holder.role in CASE_HOLDERS:
            found["advisor"] = str(holder.id)
    if consulates.get(raw["consulate"].upper()) is not None:
        found["consulate"] = raw["consulate"].upper()
    if countries.is_valid(raw["nationality"].upper()):
        found["nationality"] = raw["nationality"].upper()
    if raw["outcome"] in OUTCOMES:
        found["outcome"] = raw["outcome"]
    if raw["documents"] in COMPLETENESS:
        found["documents"] = raw["documents"]
    return found


def search_cases(user: User, *, q: str = "", sort: str = "-updated", status: str | None = None,
                 advisor: str | None = None, consulate: str | None = None, nationality: str | None = None,
                 outcome: str | None = None, documents: str | None = None) -> Select[tuple[Case]]:
    """Visible cases matching a reference, name or passport number and the list filters, sorted by a
    whitelisted key. Filter values are checked by `case_filters`: an unknown one filters nothing."""
    filters = case_filters(user, {"status": status, "advisor": advisor, "consulate": consulate,
                                  "nationality": nationality, "outcome": outcome, "documents": documents})
    query = visible_cases(user)
    # Conditions on applicants are subqueries, found in one pass over their table; the applicants are
    # joined only to sort by name, so counting a page never reads them.
    if q.strip():
        query = query.where(_matches(q))
    if "status" in filters:
        query = query.where(Case.status == CaseStatus(filters["status"]))
    if "advisor" in filters:
        query = query.where(Case.advisor_id == int(filters["advisor"]))
    if "consulate" in filters:
        query = query.where(Case.consulate_code == filters["consulate"])
    if "nationality" in filters:
        query = query.where(Case.applicant_id.in_(
            select(Applicant.id).where(Applicant.nationality == filters["nationality"])))
    if filters.get("outcome") == NOT_ASSESSED:
        query = query.where(Case.outcome.is_(None))
    elif "outcome" in filters:
        query = query.where(Case.outcome == filters["outcome"])
    if "documents" in filters:
        query = query.where(_completeness(filters["documents"]))
    if sort.removeprefix("-") == "applicant":
        query = query.join(Case.applicant).options(contains_eager(Case.applicant))
    else:
        query = query.options(joinedload(Case.applicant, innerjoin=True))
    query = query.options(joinedload(Case.advisor, innerjoin=True))
    return query.order_by(*order_by(SORTS, sort, default="-updated"), Case.id.desc())


def _completeness(value: str) -> ColumnElement[bool]:
    """A probe of the case's own checklist lines (their unique index starts with case_id)."""
    lines = select(CaseDocument.id).where(CaseDocument.case_id == Case.id, CaseDocument.applies)
    if value == "to_review":
        return lines.where(CaseDocument.state == DocumentState.RECEIVED).exists()
    still_open = lines.where(CaseDocument.required, CaseDocument.state.in_(OPEN_DOCUMENT_STATES)).exists()
    if value == "complete":  # and a checklist at all: a case opened before checklists existed is not complete
        return and_(~still_open, lines.where(CaseDocument.required).exists())
    return still_open


REFERENCE_PART = re.compile(r"[K0-9-]+")


def _matches(q: str) -> ColumnElement[bool]:
    """The case's applicant matches the term, or its reference contains it. References are looked at
    only for a term that can be part of one: an OR with them would make every search read every case."""
    applicant = Case.applicant_id.in_(select(Applicant.id).where(applicant_matches(q)))
    term = q.strip().upper()
    if REFERENCE_PART.fullmatch(term):
        return or_(applicant, Case.reference.contains(term, autoescape=True))
    return applicant


def count_by_status(user: User) -> dict[CaseStatus, int]:
    query = (select(Case.status, func.count()).where(Case.deleted_at.is_(None)).group_by(Case.status))
    if not user.is_admin:
        query = query.where(Case.advisor_id == user.id)
    counts = {row[0]: row[1] for row in db.session.execute(query)}
    return {status: counts.get(status, 0) for status in CaseStatus}


def assignable_advisors() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(CASE_HOLDERS)).order_by(User.name)
    ))


def filter_advisors() -> list[User]:
    """Everyone a case can be assigned to, deactivated people included: they may still hold cases."""
    return list(db.session.scalars(select(User).where(User.role.in_(CASE_HOLDERS)).order_by(User.name)))
