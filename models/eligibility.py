"""What eligibility rests on: institutions, the applicant's education and positions, and assessments."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from .applicant import Applicant
from .base import UTCDateTime, db, utcnow
from .case import Case
from .user import User


def _enum(cls: type[enum.Enum], name: str, length: int) -> Enum:
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=length,
                values_callable=lambda e: [m.value for m in e])


class DegreeLevel(enum.StrEnum):
    OTHER = "other"
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTORATE = "doctorate"


class PositionRole(enum.StrEnum):
    TEACHING = "teaching"
    RESEARCH = "research"
    OTHER = "other"


class Institution(db.Model):
    """A university or research institution, with the practice's judgement of whether it is renowned.

    Advisors may add institutions; they stay unverified until an admin decides on them.
    """

    __tablename__ = "institutions"
    __table_args__ = (UniqueConstraint("name", "country", name="uq_institutions_name_country"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    country: Mapped[str] = mapped_column(String(2))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    rank: Mapped[int | None]
    renowned: Mapped[bool | None]
    source: Mapped[str] = mapped_column(Text, default="")
    verified: Mapped[bool] = mapped_column(default=False, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Institution {self.id} {self.name!r}>"


class ApplicantRecord:
    """What a degree and a position share: whose it is, its field, its institution, its version."""

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"), index=True)
    field_code: Mapped[str] = mapped_column(String(4))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    @declared_attr
    def applicant(cls) -> Mapped[Applicant]:
        return relationship()

    @declared_attr
    def institution(cls) -> Mapped[Institution]:
        return relationship()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class Education(ApplicantRecord, db.Model):
    __tablename__ = "education"

    level: Mapped[DegreeLevel] = mapped_column(_enum(DegreeLevel, "degree_level", 16))
    awarded_on: Mapped[dt.date | None]
    pending: Mapped[bool] = mapped_column(default=False)


class Position(ApplicantRecord, db.Model):
    __tablename__ = "positions"

    role: Mapped[PositionRole] = mapped_column(_enum(PositionRole, "position_role", 16))
    started_on: Mapped[dt.date]
    ended_on: Mapped[dt.date | None]


class Assessment(db.Model):
    """An immutable snapshot: the inputs as they were, the rule-set version, the results, who and when."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    rule_set_id: Mapped[str] = mapped_column(String(32), index=True)
    assessed_on: Mapped[dt.date]
    outcome: Mapped[str] = mapped_column(String(16))
    pathway: Mapped[str | None] = mapped_column(String(24))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship()
    created_by: Mapped[User | None] = relationship()
    judgements: Mapped[list[Judgement]] = relationship(back_populates="assessment", order_by="Judgement.id")


class Judgement(db.Model):
    """The advisor's decision on a criterion the engine could not settle, with the reason."""

    __tablename__ = "judgements"
    __table_args__ = (UniqueConstraint("assessment_id", "criterion", name="uq_judgements_assessment_criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="judgements")
    created_by: Mapped[User | None] = relationship()
