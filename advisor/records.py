"""An applicant's education and positions: what the degree path and the teaching/research path rest on."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from sqlalchemy.orm import joinedload

from models import Applicant, DegreeLevel, Education, Institution, Position, PositionRole, User, db

from . import audit, isced
from .errors import Conflict, DomainError


@dataclass
class EducationData:
    level: DegreeLevel
    field_code: str
    institution: Institution
    awarded_on: dt.date | None
    pending: bool


@dataclass
class PositionData:
    role: PositionRole
    field_code: str
    institution: Institution
    started_on: dt.date
    ended_on: dt.date | None


def _check_education(data: EducationData) -> None:
    if not isced.is_detailed(data.field_code):
        raise DomainError("Choose a field from the ISCED-F 2013 list.")
    if data.pending and data.awarded_on is not None:
        raise DomainError("A pending degree has no award date yet: clear one or the other.")
    if not data.pending and data.awarded_on is None:
        raise DomainError("Enter the award date, or mark the degree as pending.")


def _check_position(data: PositionData) -> None:
    if not isced.is_detailed(data.field_code):
        raise DomainError("Choose a field from the ISCED-F 2013 list.")
    if data.ended_on is not None and data.ended_on < data.started_on:
        raise DomainError("A position cannot end before it starts.")


def _refresh(applicant: Applicant) -> None:
    """A record changed: the applicant's assessments may no longer match it."""
    from . import assessments  # assessments reads records through this module

    assessments.refresh_out_of_date(applicant.cases)


def _case_ids(applicant: Applicant) -> list[int]:
    return [case.id for case in applicant.cases if case.deleted_at is None]


def _record(action: str, obj: Education | Position, applicant: Applicant, by: User, details: dict) -> None:
    ids = _case_ids(applicant)
    audit.record(action, actor=by, obj=obj, case_id=ids[0] if len(ids) == 1 else None,
                 details={"applicant_id": applicant.id, **details})


def _assign(record: Education | Position, data: EducationData | PositionData) -> None:
    for item in fields(data):  # not asdict(), which would deep-copy the Institution row
        setattr(record, item.name, getattr(data, item.name))
    record.institution_id = data.institution.id


def _add(record: Education | Position, applicant: Applicant, data: EducationData | PositionData,
         by: User) -> None:
    record.applicant = applicant
    _assign(record, data)
    db.session.add(record)
    db.session.flush()
    _record(f"{_kind(record)}.create", record, applicant, by, audit.snapshot(record))
    _refresh(applicant)


def _update(record: Education | Position, data: EducationData | PositionData, version: int, by: User) -> None:
    """Save an edit made on the version the user saw; a newer version raises Conflict."""
    if version != record.version:
        raise Conflict()
    _assign(record, data)
    diff = audit.changes(record)
    if diff:
        _record(f"{_kind(record)}.update", record, record.applicant, by, diff)
        _refresh(record.applicant)


def _delete(record: Education | Position, by: User) -> None:
    applicant = record.applicant
    _record(f"{_kind(record)}.delete", record, applicant, by, audit.snapshot(record))
    db.session.delete(record)
    _refresh(applicant)


def _kind(record: Education | Position) -> str:
    return "education" if isinstance(record, Education) else "position"


def add_education(applicant: Applicant, data: EducationData, *, by: User) -> Education:
    _check_education(data)
    education = Education()
    _add(education, applicant, data, by)
    return education


def update_education(education: Education, data: EducationData, *, version: int, by: User) -> None:
    _check_education(data)
    _update(education, data, version, by)


def delete_education(education: Education, *, by: User) -> None:
    _delete(education, by)


def add_position(applicant: Applicant, data: PositionData, *, by: User) -> Position:
    _check_position(data)
    position = Position()
    _add(position, applicant, data, by)
    return position


def update_position(position: Position, data: PositionData, *, version: int, by: User) -> None:
    _check_position(data)
    _update(position, data, version, by)


def delete_position(position: Position, *, by: User) -> None:
    _delete(position, by)


def education_of(applicant: Applicant) -> list[Education]:
    return list(db.session.scalars(db.select(Education).where(Education.applicant_id == applicant.id)
                                   .options(joinedload(Education.institution))
                                   .order_by(Education.pending.desc(), Education.awarded_on.desc(), Education.id)))


def positions_of(applicant: Applicant) -> list[Position]:
    return list(db.session.scalars(db.select(Position).where(Position.applicant_id == applicant.id)
                                   .options(joinedload(Position.institution))
                                   .order_by(Position.started_on.desc(), Position.id)))
