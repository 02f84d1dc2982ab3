"""Applicants: creating, editing, finding and (softly) deleting them, and who may see them.

An advisor sees the applicants of the cases assigned to them; an admin sees every applicant.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import Select, exists, literal_column, or_, select, table

from models import Applicant, Case, Sex, User, db, utcnow
from models.applicant import SEARCH_TABLE, search_form

from . import assessments, audit, documents
from .errors import Conflict, DomainError


@dataclass
class ApplicantData:
    family_name: str
    given_names: str
    chinese_name: str | None
    sex: Sex
    born_on: dt.date
    nationality: str
    residence_country: str
    passport_number: str
    passport_issued_on: dt.date
    passport_expires_on: dt.date
    email: str | None
    phone: str | None
    notes: str


def normalize_passport_number(value: str) -> str:
    return "".join(value.split()).upper()


def _assign(applicant: Applicant, data: ApplicantData) -> None:
    values = asdict(data)
    values["passport_number"] = normalize_passport_number(data.passport_number)
    values["email"] = data.email.strip().lower() if data.email else None
    for name, value in values.items():
        if type(value) is str:  # not `sex`: a StrEnum would come out of strip() as a plain str
            value = value.strip()
        setattr(applicant, name, value if value != "" or name == "notes" else None)


def create_applicant(data: ApplicantData, *, by: User) -> Applicant:
    applicant = Applicant(created_by_id=by.id)
    _assign(applicant, data)
    db.session.add(applicant)
    db.session.flush()
    audit.record("applicant.create", actor=by, obj=applicant, details=audit.snapshot(applicant))
    return applicant


def update_applicant(applicant: Applicant, data: ApplicantData, *, version: int, by: User) -> None:
    """Save an edit made on the version the user saw; a newer version raises Conflict."""
    if version != applicant.version:
        raise Conflict()
    _assign(applicant, data)
    diff = audit.changes(applicant)
    if diff:
        audit.record("applicant.update", actor=by, obj=applicant, details=diff)
    if "born_on" in diff:
        assessments.refresh_out_of_date(applicant.cases)
    if "nationality" in diff or "residence_country" in diff:
        # Living outside the country of nationality adds the proof of residence to the checklist.
        for case in applicant.cases:
            if case.deleted_at is None:
                documents.sync_checklist(case, by=by)


def delete_applicant(applicant: Applicant, *, by: User) -> None:
    """Soft-delete an applicant and their cases; only an admin may."""
    if not by.is_admin:
        raise DomainError("Only an admin can delete an applicant.")
    now = utcnow()
    applicant.deleted_at = now
    for case in applicant.cases:
        if case.deleted_at is None:
            case.deleted_at = now
            audit.record("case.delete", actor=by, obj=case, case_id=case.id)
    audit.record("applicant.delete", actor=by, obj=applicant)


def visible_applicants(user: User) -> Select[tuple[Applicant]]:
    query = select(Applicant).where(Applicant.deleted_at.is_(None))
    if not user.is_admin:
        query = query.where(exists().where(Case.applicant_id == Applicant.id, Case.advisor_id == user.id,
                                           Case.deleted_at.is_(None)))
    return query


def get_visible_applicant(user: User, applicant_id: int) -> Applicant | None:
    return db.session.scalar(visible_applicants(user).where(Applicant.id == applicant_id))


SORTS = {
    "name": (Applicant.family_name, Applicant.given_names),
    "nationality": (Applicant.nationality, Applicant.family_name),
    "born": (Applicant.born_on,),
    "updated": (Applicant.updated_at,),
}


def search_applicants(user: User, *, q: str = "", sort: str = "name") -> Select[tuple[Applicant]]:
    query = visible_applicants(user)
    if q.strip():
        # As an IN list, the few matches drive the query; as a plain condition, SQLite walks the name
        # index through every applicant to fill a page sorted by name.
        query = query.where(Applicant.id.in_(select(Applicant.id).where(applicant_matches(q))))
    return query.order_by(*order_by(SORTS, sort, default="name"), Applicant.id)


def applicant_matches(q: str):  # type: ignore[no-untyped-def]
    """A name (either order, Chinese too) or passport number containing the term, in any case.

    Terms of three characters or more go through the trigram index (models.applicant.SEARCH_INDEX), so a
    search reads the matching rows only; shorter ones compare every row, as a trigram cannot help them."""
    terms = list(dict.fromkeys([search_form(q), search_form(normalize_passport_number(q))]))
    if min(len(term) for term in terms) >= 3 and db.session.get_bind().dialect.name == "sqlite":
        phrases = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        hits = select(literal_column("rowid")).select_from(table(SEARCH_TABLE)).where(
            literal_column(SEARCH_TABLE).op("MATCH")(phrases))
        return Applicant.id.in_(hits)
    return or_(*(Applicant.search_text.contains(term, autoescape=True) for term in terms))


def order_by(sorts: dict, sort: str, *, default: str) -> list:  # type: ignore[type-arg]
    """Columns for a sort key from a whitelist; a leading '-' sorts descending. An unknown key sorts
    like the default, direction included."""
    if sort.removeprefix("-") not in sorts:
        sort = default
    descending = sort.startswith("-")
    return [column.desc() if descending else column.asc() for column in sorts[sort.removeprefix("-")]]
