"""An applicant's education and positions: what the degree path and the teaching/research path rest on."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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


def _case_ids(applicant: Applicant) -> list[int]:
    return [case.id for case in applicant.cases if case.deleted_at is None]


def _record(action: str, obj: Education | Position, applicant: Applicant, by: User, details: dict) -> None:
    ids = _case_ids(applicant)
    audit.record(action, actor=by, obj=obj, case_id=ids[0] if len(ids) == 1 else None,
                 details={"applicant_id": applicant.id, **details})


def add_education(applicant: Applicant, data: EducationData, *, by: User) -> Education:
    _check_education(data)
    education = Education(applicant=applicant, level=data.level, field_code=data.field_code,
                          institution=data.institution, awarded_on=data.awarded_on, pending=data.pending)
    db.session.add(education)
    db.session.flush()
    _record("education.create", education, applicant, by, audit.snapshot(education))
    return education


def update_education(education: Education, data: EducationData, *, version: int, by: User) -> None:
    if version != education.version:
        raise Conflict()
    _check_education(data)
    education.level, education.field_code = data.level, data.field_code
    education.institution = data.institution
    education.institution_id = data.institution.id
    education.awarded_on, education.pending = data.awarded_on, data.pending
    diff = audit.changes(education)
    if diff:
        _record("education.update", education, education.applicant, by, diff)


def delete_education(education: Education, *, by: User) -> None:
    _record("education.delete", education, education.applicant, by, audit.snapshot(education))
    db.session.delete(education)


def add_position(applicant: Applicant, data: PositionData, *, by: User) -> Position:
    _check_position(data)
    position = Position(applicant=applicant, role=data.role, field_code=data.field_code,
                        institution=data.institution, started_on=data.started_on, ended_on=data.ended_on)
    db.session.add(position)
    db.session.flush()
    _record("position.create", position, applicant, by, audit.snapshot(position))
    return position


def update_position(position: Position, data: PositionData, *, version: int, by: User) -> None:
    if version != position.version:
        raise Conflict()
    _check_position(data)
    position.role, position.field_code = data.role, data.field_code
    position.institution = data.institution
    position.institution_id = data.institution.id
    position.started_on, position.ended_on = data.started_on, data.ended_on
    diff = audit.changes(position)
    if diff:
        _record("position.update", position, position.applicant, by, diff)


def delete_position(position: Position, *, by: User) -> None:
    _record("position.delete", position, position.applicant, by, audit.snapshot(position))
    db.session.delete(position)


def education_of(applicant: Applicant) -> list[Education]:
    return list(db.session.scalars(db.select(Education).where(Education.applicant_id == applicant.id)
                                   .options(joinedload(Education.institution))
                                   .order_by(Education.pending.desc(), Education.awarded_on.desc(), Education.id)))


def positions_of(applicant: Applicant) -> list[Position]:
    return list(db.session.scalars(db.select(Position).where(Position.applicant_id == applicant.id)
                                   .options(joinedload(Position.institution))
                                   .order_by(Position.started_on.desc(), Position.id)))
